//! Enrollments: an influencer in a campaign, with its terms, links and discount codes.

use actix_web::{web, HttpResponse};
use diesel::Connection;
use serde::{Deserialize, Serialize};

use crate::api::campaigns::{currency_of, goal_view, GoalInput, GoalView};
use crate::api::codes::{self, code_view, CodeView, CreateCode, DiscountInput};
use crate::api::extract::{nullable, path_id, Checks, Json, List, PageQuery, Query};
use crate::api::links::{self, link_view, CreateLink, LinkView};
use crate::api::views;
use crate::auth::Principal;
use crate::db::AnyConnection;
use crate::domain::money;
use crate::domain::scope::Access;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::campaigns::{self as campaigns_store, CampaignRow};
use crate::store::enrollments::{self as store, EnrollmentRow, EnrollmentUpdate};
use crate::store::influencers as influencers_store;

#[derive(Debug, Serialize)]
pub struct EnrollmentView {
    pub enrollment_id: String,
    pub campaign_id: String,
    pub influencer_id: String,
    pub handle: String,
    pub status: String,
    pub fee: String,
    pub commission_rate: String,
    pub currency: String,
    pub goal: Option<GoalView>,
    pub created_at: String,
    pub pruned_at: Option<String>,
    pub links: Vec<LinkView>,
    pub discount_codes: Vec<CodeView>,
}

/// Views of enrollments of one campaign, with their links and codes, loaded in three queries.
pub fn enrollment_views(
    conn: &mut AnyConnection,
    public_url: &str,
    campaign: &CampaignRow,
    rows: Vec<EnrollmentRow>,
) -> ApiResult<Vec<EnrollmentView>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let influencer_ids: Vec<String> = rows.iter().map(|r| r.influencer_id.clone()).collect();
    let handles = influencers_store::handles(conn, &influencer_ids)?;
    let mut all_links = store::links_of(conn, &ids)?;
    let mut all_codes = store::codes_of(conn, &ids)?;
    let currency = currency_of(campaign);
    Ok(rows
        .into_iter()
        .map(|row| {
            let handle = handles
                .iter()
                .find(|(id, _)| *id == row.influencer_id)
                .map(|(_, h)| h.clone())
                .unwrap_or_default();
            let (mine, rest): (Vec<_>, Vec<_>) =
                all_links.drain(..).partition(|l| l.enrollment_id == row.id);
            all_links = rest;
            let (my_codes, rest): (Vec<_>, Vec<_>) =
                all_codes.drain(..).partition(|c| c.enrollment_id == row.id);
            all_codes = rest;
            EnrollmentView {
                links: mine
                    .into_iter()
                    .map(|l| link_view(public_url, campaign, &handle, l))
                    .collect(),
                discount_codes: my_codes
                    .into_iter()
                    .map(|c| {
                        let mut v = code_view(currency, c);
                        // A pruned influencer's codes are stopped whatever their own status.
                        if row.status == "pruned" {
                            v.status = "pruned".into();
                        }
                        v
                    })
                    .collect(),
                goal: goal_view(row.goal_metric.as_deref(), row.goal_target_micros, currency),
                fee: money::format_amount(row.fee_micros, currency),
                commission_rate: money::format_rate(row.commission_rate_micros),
                currency: currency.code().to_string(),
                created_at: views::time(row.created_at),
                pruned_at: views::opt_time(row.pruned_at),
                enrollment_id: row.id,
                campaign_id: row.campaign_id,
                influencer_id: row.influencer_id,
                status: row.status,
                handle,
            }
        })
        .collect())
}

/// Puts a new link in the redirect cache (replacing a negative entry a scan may have left),
/// so that its first click is as fast as the rest.
async fn prime_redirect(state: &web::Data<AppState>, code: String) {
    let key = code.clone();
    match state
        .db(move |conn| Ok(crate::tracking::load_link(conn, &code)?))
        .await
    {
        Ok(Some(link)) => state.tracking.cache.insert(key, std::sync::Arc::new(link)),
        // The link is committed; the next click loads it instead.
        _ => state.tracking.cache.invalidate(|_| false),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enroll {
    pub influencer_id: String,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub fee: Option<String>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub commission_rate: Option<String>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub goal: Option<GoalInput>,
    /// A vanity discount code (e.g. `ANNA15`); generated from the handle when absent.
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub code: Option<String>,
    /// The discount of the code; 10 percent when absent.
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub discount: Option<DiscountInput>,
}

#[derive(Debug, Serialize)]
pub struct EnrolledView {
    #[serde(flatten)]
    pub enrollment: EnrollmentView,
    pub link: LinkView,
    pub discount_code: CodeView,
}

fn campaign_of(conn: &mut AnyConnection, brand_id: &str, id: &str) -> ApiResult<CampaignRow> {
    campaigns_store::find(conn, brand_id, id)?.ok_or_else(ApiError::not_found)
}

/// An influencer id from a body: malformed is a 422, unknown or foreign a 404.
fn body_id(field: &str, raw: &str) -> ApiResult<String> {
    uuid::Uuid::parse_str(raw.trim())
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| ApiError::invalid(field, "must be a UUID"))
}

/// `POST /api/v1/campaigns/{id}/influencers`: enrolls an influencer and, in the same
/// transaction, issues its default tracking link and discount code.
pub async fn enroll_influencer(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
    body: Json<Enroll>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let campaign_id = path_id(&path)?;
    let req = body.0;
    let influencer_id = body_id("influencer_id", &req.influencer_id)?;
    let mut checks = Checks::default();
    let fee = match req.fee.as_deref() {
        Some(f) => checks.take(money::parse_amount("fee", f)),
        None => Some(0),
    };
    let rate = match req.commission_rate.as_deref() {
        Some(r) => checks.take(money::parse_rate("commission_rate", r)),
        None => Some(0),
    };
    let goal = req.goal.as_ref().and_then(|g| checks.take(g.parse("goal")));
    let discount = match &req.discount {
        Some(d) => checks.take(d.parse("discount")),
        None => Some((
            codes::DEFAULT_DISCOUNT.0.to_string(),
            codes::DEFAULT_DISCOUNT.1,
        )),
    };
    // Checked now for the field name; the row is built once the handle is known.
    if let Some(c) = req.code.as_deref() {
        checks.take(crate::domain::codes::parse_vanity_code("code", c));
    }
    checks.finish()?;
    let public_url = state.public_url.clone();
    let view = state
        .db(move |conn| {
            let campaign = campaign_of(conn, &brand_id, &campaign_id)?;
            let influencer = influencers_store::find_row(conn, &brand_id, &influencer_id)?
                .ok_or_else(|| ApiError::NotFound("no such influencer".into()))?;
            if campaign.status == "ended" {
                return Err(ApiError::Conflict("the campaign has ended".into()));
            }
            if store::find(conn, &campaign_id, &influencer_id)?.is_some() {
                return Err(ApiError::Conflict(
                    "this influencer is already enrolled in this campaign".into(),
                ));
            }
            let enrollment = EnrollmentRow {
                id: uuid::Uuid::now_v7().to_string(),
                brand_id: brand_id.clone(),
                campaign_id: campaign_id.clone(),
                influencer_id: influencer_id.clone(),
                status: "active".into(),
                fee_micros: fee.unwrap_or(0),
                commission_rate_micros: rate.unwrap_or(0),
                goal_metric: goal.as_ref().map(|g| g.0.clone()),
                goal_target_micros: goal.as_ref().map(|g| g.1),
                created_at: crate::db::now_micros(),
                pruned_at: None,
            };
            let mut link = links::new_link_row(
                &brand_id,
                &campaign_id,
                &enrollment.id,
                &influencer_id,
                CreateLink::default(),
            )?;
            let mut checks = Checks::default();
            let mut code = codes::new_code_row(
                &mut checks,
                (&brand_id, &campaign_id, &enrollment.id, &influencer_id),
                &influencer.handle,
                "code",
                req.code.as_deref(),
                discount.clone().unwrap_or_default(),
                None,
                None,
            );
            checks.finish()?;
            conn.transaction(|conn| {
                store::insert(conn, &enrollment).map_err(|e| match e {
                    diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::UniqueViolation,
                        _,
                    ) => ApiError::Conflict(
                        "this influencer is already enrolled in this campaign".into(),
                    ),
                    other => other.into(),
                })?;
                store::insert_link(conn, &mut link, crate::domain::codes::new_link_code)?;
                codes::insert_code(conn, &mut code, &influencer.handle)?;
                Ok::<_, ApiError>(())
            })?;
            let handle = influencer.handle.clone();
            let mut views = enrollment_views(conn, &public_url, &campaign, vec![enrollment])?;
            let enrollment = views.pop().ok_or_else(ApiError::not_found)?;
            let currency = currency_of(&campaign);
            Ok(EnrolledView {
                link: link_view(&public_url, &campaign, &handle, link),
                discount_code: code_view(currency, code.row),
                enrollment,
            })
        })
        .await?;
    prime_redirect(&state, view.link.code.clone()).await;
    tracing::info!(enrollment_id = %view.enrollment.enrollment_id, "influencer enrolled");
    Ok(HttpResponse::Created().json(view))
}

/// `GET /api/v1/campaigns/{id}/influencers`: enrollments with their links and codes.
pub async fn list_enrollments(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
    query: Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Read)?.brand_id.clone();
    let campaign_id = path_id(&path)?;
    let page = query.0.page()?;
    let public_url = state.public_url.clone();
    let p = page.clone();
    let (rows, campaign) = state
        .db(move |conn| {
            let campaign = campaign_of(conn, &brand_id, &campaign_id)?;
            let rows =
                store::list_for_campaign(conn, &campaign_id, p.after.as_deref(), p.limit + 1)?;
            Ok((rows, campaign))
        })
        .await?;
    let list = List::from_rows(rows, &page, |r| r.id.clone(), |r| r);
    let next_cursor = list.next_cursor;
    let items = state
        .db(move |conn| enrollment_views(conn, &public_url, &campaign, list.items))
        .await?;
    Ok(HttpResponse::Ok().json(List { items, next_cursor }))
}

/// Finds the enrollment named by a `/campaigns/{id}/influencers/{influencer_id}` path.
fn enrollment_at(
    conn: &mut AnyConnection,
    brand_id: &str,
    campaign_id: &str,
    influencer_id: &str,
) -> ApiResult<(CampaignRow, EnrollmentRow)> {
    let campaign = campaign_of(conn, brand_id, campaign_id)?;
    let enrollment =
        store::find(conn, campaign_id, influencer_id)?.ok_or_else(ApiError::not_found)?;
    Ok((campaign, enrollment))
}

fn pair(path: &(String, String)) -> ApiResult<(String, String)> {
    Ok((path_id(&path.0)?, path_id(&path.1)?))
}

/// `GET /api/v1/campaigns/{id}/influencers/{influencer_id}`
pub async fn get_enrollment(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Read)?.brand_id.clone();
    let (campaign_id, influencer_id) = pair(&path)?;
    let public_url = state.public_url.clone();
    let view = state
        .db(move |conn| {
            let (campaign, enrollment) =
                enrollment_at(conn, &brand_id, &campaign_id, &influencer_id)?;
            enrollment_views(conn, &public_url, &campaign, vec![enrollment])?
                .pop()
                .ok_or_else(ApiError::not_found)
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateEnrollment {
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub fee: Option<String>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub commission_rate: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub goal: Option<Option<GoalInput>>,
}

/// `PATCH /api/v1/campaigns/{id}/influencers/{influencer_id}`: fee, commission rate, goal.
pub async fn update_enrollment(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: Json<UpdateEnrollment>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let (campaign_id, influencer_id) = pair(&path)?;
    let req = body.0;
    let mut checks = Checks::default();
    let mut changes = EnrollmentUpdate {
        fee_micros: req
            .fee
            .as_deref()
            .and_then(|f| checks.take(money::parse_amount("fee", f))),
        commission_rate_micros: req
            .commission_rate
            .as_deref()
            .and_then(|r| checks.take(money::parse_rate("commission_rate", r))),
        ..Default::default()
    };
    match req.goal {
        None => {}
        Some(None) => {
            changes.goal_metric = Some(None);
            changes.goal_target_micros = Some(None);
        }
        Some(Some(goal)) => {
            if let Some((metric, target)) = checks.take(goal.parse("goal")) {
                changes.goal_metric = Some(Some(metric));
                changes.goal_target_micros = Some(Some(target));
            }
        }
    }
    checks.finish()?;
    let public_url = state.public_url.clone();
    let view = state
        .db(move |conn| {
            let (campaign, enrollment) =
                enrollment_at(conn, &brand_id, &campaign_id, &influencer_id)?;
            if changes.fee_micros.is_some()
                || changes.commission_rate_micros.is_some()
                || changes.goal_metric.is_some()
            {
                store::update(conn, &enrollment.id, &changes)?;
            }
            let enrollment =
                store::find(conn, &campaign_id, &influencer_id)?.ok_or_else(ApiError::not_found)?;
            enrollment_views(conn, &public_url, &campaign, vec![enrollment])?
                .pop()
                .ok_or_else(ApiError::not_found)
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `POST /api/v1/campaigns/{id}/influencers/{influencer_id}/links`: another tracking link
/// (e.g. one per post), with its own destination, label and UTM overrides.
pub async fn create_link(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: Json<CreateLink>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let (campaign_id, influencer_id) = pair(&path)?;
    let req = body.0;
    let public_url = state.public_url.clone();
    let view = state
        .db(move |conn| {
            let (campaign, enrollment) =
                enrollment_at(conn, &brand_id, &campaign_id, &influencer_id)?;
            let mut link =
                links::new_link_row(&brand_id, &campaign_id, &enrollment.id, &influencer_id, req)?;
            store::insert_link(conn, &mut link, crate::domain::codes::new_link_code)?;
            let (_, handle) = links::link_context(conn, &brand_id, &link)?;
            Ok(link_view(&public_url, &campaign, &handle, link))
        })
        .await?;
    prime_redirect(&state, view.code.clone()).await;
    Ok(HttpResponse::Created().json(view))
}

/// `POST /api/v1/campaigns/{id}/influencers/{influencer_id}/codes`: another discount code,
/// vanity or generated.
pub async fn create_code(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: Json<CreateCode>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let (campaign_id, influencer_id) = pair(&path)?;
    let req = body.0;
    let mut checks = Checks::default();
    let discount = checks.take(req.discount.parse("discount"));
    if let Some(c) = req.code.as_deref() {
        checks.take(crate::domain::codes::parse_vanity_code("code", c));
    }
    if req.max_redemptions.is_some_and(|m| m < 1) {
        checks.fail("max_redemptions", "must be at least 1");
    }
    checks.finish()?;
    let view = state
        .db(move |conn| {
            let (campaign, enrollment) =
                enrollment_at(conn, &brand_id, &campaign_id, &influencer_id)?;
            if enrollment.status == "pruned" {
                return Err(ApiError::Conflict(
                    "the influencer was pruned from this campaign; reinstate the enrollment first"
                        .into(),
                ));
            }
            let handle = influencers_store::handles(conn, std::slice::from_ref(&influencer_id))?
                .pop()
                .map(|(_, h)| h)
                .unwrap_or_default();
            let mut checks = Checks::default();
            let mut code = codes::new_code_row(
                &mut checks,
                (&brand_id, &campaign_id, &enrollment.id, &influencer_id),
                &handle,
                "code",
                req.code.as_deref(),
                discount.unwrap_or_default(),
                req.max_redemptions,
                req.expires_at.map(|t| t.timestamp_micros()),
            );
            checks.finish()?;
            codes::insert_code(conn, &mut code, &handle)?;
            Ok(code_view(currency_of(&campaign), code.row))
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}
