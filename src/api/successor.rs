//! The next campaign: the same settings, the best of this one, and new names.

use actix_web::{web, HttpResponse};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::campaigns::{currency_of, free_slug, CampaignView};
use crate::api::codes;
use crate::api::enrollments::{enrollment_views, EnrollmentView};
use crate::api::extract::{path_id, Checks, Json};
use crate::api::links::{self, CreateLink};
use crate::api::reports::{self, rank, Reader, Window};
use crate::auth::Principal;
use crate::db::schema::discount_codes;
use crate::domain::campaign::slugify;
use crate::domain::metrics::{self, SORTABLE};
use crate::domain::scope::Access;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::campaigns::{self as campaigns_store, CampaignRow};
use crate::store::enrollments::{self as enrollments_store, EnrollmentRow};

const MAX_ADDED: usize = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuccessorInput {
    pub name: String,
    pub keep_top: i64,
    /// The metric to rank by (default net_revenue, highest first).
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub sort: Option<String>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub model: Option<String>,
    #[serde(default)]
    pub add_influencer_ids: Vec<String>,
    #[serde(default)]
    pub carry_codes: bool,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub starts_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub ends_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Serialize)]
pub struct Successor {
    pub campaign: CampaignView,
    pub predecessor_id: String,
    /// Influencers kept from the predecessor, best first.
    pub kept: Vec<String>,
    pub added: Vec<String>,
    pub carried_codes: bool,
    pub enrollments: Vec<EnrollmentView>,
}

/// `POST /api/v1/campaigns/{campaign_id}/successor`: a new campaign with this one's settings
/// (destination, currency, attribution, goal, holding period), the `keep_top` best enrollments
/// by `sort` (pruned ones never) with their terms, plus `add_influencer_ids` (no fee, no
/// commission until set). Each gets a fresh link; codes are fresh too, or, with
/// `carry_codes`, the old ones move to the new campaign so audiences keep what they know.
pub async fn successor(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
    body: Json<SuccessorInput>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let campaign_id = path_id(&path)?;
    let req = body.0;
    let mut checks = Checks::default();
    let name = req.name.trim().to_string();
    if name.is_empty() || req.name.chars().count() > 200 || name.chars().any(char::is_control) {
        checks.fail("name", "must be 1 to 200 printable characters");
    }
    if !(0..=10_000).contains(&req.keep_top) {
        checks.fail("keep_top", "must be between 0 and 10000");
    }
    let sort = req.sort.clone().unwrap_or_else(|| "net_revenue".into());
    if !SORTABLE.contains(&sort.as_str()) {
        checks.fail("sort", format!("must be one of {}", SORTABLE.join(", ")));
    }
    let model = reports::parse_model(&mut checks, req.model.as_deref());
    if req.add_influencer_ids.len() > MAX_ADDED {
        checks.fail("add_influencer_ids", format!("at most {MAX_ADDED}"));
    }
    let mut added_ids: Vec<String> = Vec::new();
    for (i, raw) in req.add_influencer_ids.iter().enumerate() {
        match uuid::Uuid::parse_str(raw.trim()) {
            Ok(u) => {
                let id = u.hyphenated().to_string();
                if !added_ids.contains(&id) {
                    added_ids.push(id);
                }
            }
            Err(_) => checks.fail(format!("add_influencer_ids[{i}]"), "must be a UUID"),
        }
    }
    let starts_at = req.starts_at.map(|t| t.timestamp_micros());
    let ends_at = req.ends_at.map(|t| t.timestamp_micros());
    if let (Some(s), Some(e)) = (starts_at, ends_at) {
        if e <= s {
            checks.fail("ends_at", "must be after starts_at");
        }
    }
    checks.finish()?;
    let public_url = state.public_url.clone();
    let result = state
        .db(move |conn| {
            let reader = Reader {
                brand_id: brand_id.clone(),
                influencer_id: None,
            };
            let (old, all) = reports::load_campaign(conn, &reader, &campaign_id)?;
            let currency = currency_of(&old);
            // The best, pruned ones never.
            let candidates: Vec<EnrollmentRow> =
                all.into_iter().filter(|e| e.status != "pruned").collect();
            let rows = reports::rows(conn, &old, candidates, model, Window::all())?;
            let ranked = rank(
                rows.into_iter()
                    .map(|r| {
                        let m = metrics::compute(&r.sums, currency);
                        (r, m)
                    })
                    .collect(),
                &sort,
                // The best first: highest, or lowest for costs.
                !metrics::LOWER_IS_BETTER.contains(&sort.as_str()),
            );
            let kept: Vec<String> = ranked
                .iter()
                .take(req.keep_top as usize)
                .map(|r| r.enrollment_id.clone())
                .collect();
            let mut kept_rows: Vec<EnrollmentRow> = Vec::new();
            for id in &kept {
                kept_rows.push(
                    enrollments_store::find_by_id(conn, id)?.ok_or_else(ApiError::not_found)?,
                );
            }
            // Added influencers: of this brand, not deleted, not already kept.
            let mut added: Vec<(String, String)> = Vec::new();
            for (i, id) in added_ids.iter().enumerate() {
                let inf =
                    crate::store::influencers::find_row(conn, &brand_id, id)?.ok_or_else(|| {
                        ApiError::Validation(vec![crate::error::FieldError::new(
                            format!("add_influencer_ids[{i}]"),
                            "no influencer of this brand has this id",
                        )])
                    })?;
                if !kept_rows.iter().any(|k| k.influencer_id == inf.id) {
                    added.push((inf.id, inf.handle));
                }
            }
            let now = crate::db::now_micros();
            let new_campaign = CampaignRow {
                id: uuid::Uuid::now_v7().to_string(),
                brand_id: brand_id.clone(),
                slug: free_slug(conn, &brand_id, &slugify(&name))?,
                name: name.clone(),
                destination_url: old.destination_url.clone(),
                currency: old.currency.clone(),
                budget_micros: old.budget_micros,
                starts_at,
                ends_at,
                status: "active".into(),
                goal_metric: old.goal_metric.clone(),
                goal_target_micros: old.goal_target_micros,
                attribution_model: old.attribution_model.clone(),
                window_days: old.window_days,
                code_priority: old.code_priority,
                holding_days: old.holding_days,
                created_at: now,
                updated_at: now,
            };
            let handles: std::collections::HashMap<String, String> =
                crate::store::influencers::handles(
                    conn,
                    &kept_rows
                        .iter()
                        .map(|e| e.influencer_id.clone())
                        .collect::<Vec<_>>(),
                )?
                .into_iter()
                .collect();
            let mut new_enrollments = Vec::new();
            crate::db::write_transaction::<_, ApiError, _>(conn, |conn| {
                campaigns_store::insert(conn, &new_campaign)?;
                let mut enroll = |conn: &mut crate::db::AnyConnection,
                                  from: Option<&EnrollmentRow>,
                                  influencer_id: &str,
                                  handle: &str|
                 -> ApiResult<()> {
                    let row = EnrollmentRow {
                        id: uuid::Uuid::now_v7().to_string(),
                        brand_id: brand_id.clone(),
                        campaign_id: new_campaign.id.clone(),
                        influencer_id: influencer_id.to_string(),
                        status: "active".into(),
                        fee_micros: from.map_or(0, |f| f.fee_micros),
                        commission_rate_micros: from.map_or(0, |f| f.commission_rate_micros),
                        goal_metric: from.and_then(|f| f.goal_metric.clone()),
                        goal_target_micros: from.and_then(|f| f.goal_target_micros),
                        created_at: now,
                        pruned_at: None,
                    };
                    enrollments_store::insert(conn, &row)?;
                    let mut link = links::new_link_row(
                        &brand_id,
                        &new_campaign.id,
                        &row.id,
                        influencer_id,
                        CreateLink::default(),
                    )?;
                    enrollments_store::insert_link(
                        conn,
                        &mut link,
                        crate::domain::codes::new_link_code,
                    )?;
                    let old_codes = match from {
                        Some(f) => enrollments_store::codes_of(conn, std::slice::from_ref(&f.id))?,
                        None => vec![],
                    };
                    if req.carry_codes && !old_codes.is_empty() {
                        diesel::update(
                            discount_codes::table
                                .filter(discount_codes::enrollment_id.eq(&from.expect("kept").id)),
                        )
                        .set((
                            discount_codes::enrollment_id.eq(&row.id),
                            discount_codes::campaign_id.eq(&new_campaign.id),
                        ))
                        .execute(conn)?;
                    } else {
                        let discount = old_codes
                            .first()
                            .map(|c| (c.discount_type.clone(), c.discount_value_micros))
                            .unwrap_or((
                                codes::DEFAULT_DISCOUNT.0.to_string(),
                                codes::DEFAULT_DISCOUNT.1,
                            ));
                        let mut checks = Checks::default();
                        let mut code = codes::new_code_row(
                            &mut checks,
                            (&brand_id, &new_campaign.id, &row.id, influencer_id),
                            handle,
                            "code",
                            None,
                            discount,
                            None,
                            None,
                        );
                        checks.finish()?;
                        codes::insert_code(conn, &mut code, handle)?;
                    }
                    new_enrollments.push(row);
                    Ok(())
                };
                for k in &kept_rows {
                    let handle = handles.get(&k.influencer_id).cloned().unwrap_or_default();
                    enroll(conn, Some(k), &k.influencer_id, &handle)?;
                }
                for (id, handle) in &added {
                    enroll(conn, None, id, handle)?;
                }
                Ok(())
            })?;
            let views = enrollment_views(conn, &public_url, &new_campaign, new_enrollments)?;
            Ok(Successor {
                predecessor_id: old.id.clone(),
                kept: kept_rows.iter().map(|e| e.influencer_id.clone()).collect(),
                added: added.into_iter().map(|(id, _)| id).collect(),
                carried_codes: req.carry_codes,
                enrollments: views,
                campaign: CampaignView::from(new_campaign),
            })
        })
        .await?;
    if result.carried_codes {
        // Carried codes now belong to the new campaign; links of the old one are unchanged.
        state
            .tracking
            .cache
            .invalidate_campaign(&result.predecessor_id);
    }
    Ok(HttpResponse::Created().json(result))
}
