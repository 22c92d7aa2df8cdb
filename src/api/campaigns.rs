//! Campaigns of a brand.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::api::extract::{nullable, path_id, Checks, Json, List, PageQuery, Query};
use crate::api::views;
use crate::auth::Principal;
use crate::db::AnyConnection;
use crate::domain::campaign::{self, GoalMetric, Model, Status};
use crate::domain::money::{self, Currency};
use crate::domain::urls::Destination;
use crate::domain::{scope::Access, text};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::state::AppState;
use crate::store::campaigns::{self as store, CampaignRow, CampaignUpdate};

/// A goal: a metric and a positive target (a decimal string or a number).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoalInput {
    pub metric: GoalMetric,
    pub target: serde_json::Value,
}

impl GoalInput {
    /// `(metric, target in micro-units)`.
    pub fn parse(&self, field: &str) -> Result<(String, i64), FieldError> {
        let target = money::parse_positive_value(&format!("{field}.target"), &self.target)?;
        Ok((self.metric.as_str().to_string(), target))
    }
}

#[derive(Debug, Serialize)]
pub struct GoalView {
    pub metric: String,
    pub target: String,
}

pub fn goal_view(
    metric: Option<&str>,
    target: Option<i64>,
    currency: Currency,
) -> Option<GoalView> {
    let (metric, target) = (metric?, target?);
    let target = if metric == GoalMetric::NetRevenue.as_str() {
        money::format_amount(target, currency)
    } else {
        money::format_rate(target)
    };
    Some(GoalView {
        metric: metric.to_string(),
        target,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributionInput {
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub model: Option<Model>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub window_days: Option<i64>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub code_priority: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCampaign {
    pub name: String,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub slug: Option<String>,
    pub destination_url: String,
    pub currency: String,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub budget: Option<String>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub status: Option<Status>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub goal: Option<GoalInput>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub attribution: Option<AttributionInput>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub holding_days: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateCampaign {
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub slug: Option<String>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub destination_url: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub budget: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub starts_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "nullable")]
    pub ends_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub status: Option<Status>,
    #[serde(default, deserialize_with = "nullable")]
    pub goal: Option<Option<GoalInput>>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub attribution: Option<AttributionInput>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub holding_days: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct AttributionView {
    pub model: String,
    pub window_days: i32,
    pub code_priority: bool,
}

#[derive(Debug, Serialize)]
pub struct CampaignView {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub destination_url: String,
    pub currency: String,
    pub budget: Option<String>,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub status: String,
    pub goal: Option<GoalView>,
    pub attribution: AttributionView,
    pub holding_days: i32,
    pub created_at: String,
    pub updated_at: String,
}

/// The stored currency; rows only ever hold valid codes.
pub fn currency_of(row: &CampaignRow) -> Currency {
    Currency::parse("currency", &row.currency)
        .unwrap_or_else(|_| Currency::parse("currency", "EUR").expect("EUR is an ISO 4217 code"))
}

impl From<CampaignRow> for CampaignView {
    fn from(row: CampaignRow) -> Self {
        let currency = currency_of(&row);
        Self {
            goal: goal_view(row.goal_metric.as_deref(), row.goal_target_micros, currency),
            budget: row.budget_micros.map(|b| money::format_amount(b, currency)),
            starts_at: views::opt_time(row.starts_at),
            ends_at: views::opt_time(row.ends_at),
            attribution: AttributionView {
                model: row.attribution_model,
                window_days: row.window_days,
                code_priority: row.code_priority,
            },
            id: row.id,
            name: row.name,
            slug: row.slug,
            destination_url: row.destination_url,
            currency: row.currency,
            status: row.status,
            holding_days: row.holding_days,
            created_at: views::time(row.created_at),
            updated_at: views::time(row.updated_at),
        }
    }
}

/// A free slug derived from `base`: `base`, `base-2`, `base-3`…
pub fn free_slug(conn: &mut AnyConnection, brand_id: &str, base: &str) -> ApiResult<String> {
    if !store::slug_taken(conn, brand_id, base)? {
        return Ok(base.to_string());
    }
    for n in 2..1000 {
        let candidate = format!("{base}-{n}");
        if !store::slug_taken(conn, brand_id, &candidate)? {
            return Ok(candidate);
        }
    }
    Ok(format!("{base}-{}", uuid::Uuid::now_v7().simple()))
}

fn conflict_on_slug(e: diesel::result::Error) -> ApiError {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => ApiError::Conflict("a campaign with this slug already exists in this brand".into()),
        other => other.into(),
    }
}

fn check_dates(checks: &mut Checks, starts: Option<i64>, ends: Option<i64>) {
    if let (Some(s), Some(e)) = (starts, ends) {
        if e <= s {
            checks.fail("ends_at", "must be after starts_at");
        }
    }
}

/// Validated settings of a new campaign; shared with successor campaigns.
pub fn new_campaign_row(
    brand_id: &str,
    req: CreateCampaign,
) -> Result<(CampaignRow, bool), ApiError> {
    let mut checks = Checks::default();
    let name = checks.take(text::required("name", &req.name, 200));
    let slug = req
        .slug
        .as_deref()
        .and_then(|s| checks.take(campaign::parse_slug("slug", s)));
    let destination = checks.take(Destination::parse("destination_url", &req.destination_url));
    let currency = checks.take(Currency::parse("currency", &req.currency));
    let budget = req
        .budget
        .as_deref()
        .and_then(|b| checks.take(money::parse_amount("budget", b)));
    let starts_at = req.starts_at.map(|t| t.timestamp_micros());
    let ends_at = req.ends_at.map(|t| t.timestamp_micros());
    check_dates(&mut checks, starts_at, ends_at);
    let goal = req.goal.as_ref().and_then(|g| checks.take(g.parse("goal")));
    let attribution = req.attribution.unwrap_or_default();
    let window_days = match attribution.window_days {
        Some(d) => checks.take(campaign::check_window_days("attribution.window_days", d)),
        None => Some(campaign::DEFAULT_WINDOW_DAYS),
    };
    let holding_days = match req.holding_days {
        Some(d) => checks.take(campaign::check_holding_days("holding_days", d)),
        None => Some(campaign::DEFAULT_HOLDING_DAYS),
    };
    let status = req.status.unwrap_or(Status::Active);
    checks.finish()?;
    let name = name.unwrap_or_default();
    let explicit_slug = slug.is_some();
    let now = crate::db::now_micros();
    let row = CampaignRow {
        id: uuid::Uuid::now_v7().to_string(),
        brand_id: brand_id.to_string(),
        slug: slug.unwrap_or_else(|| campaign::slugify(&name)),
        name,
        destination_url: destination
            .map(|d| d.as_str().to_string())
            .unwrap_or_default(),
        currency: currency.map(|c| c.code().to_string()).unwrap_or_default(),
        budget_micros: budget,
        starts_at,
        ends_at,
        status: status.as_str().into(),
        goal_metric: goal.as_ref().map(|g| g.0.clone()),
        goal_target_micros: goal.map(|g| g.1),
        attribution_model: attribution
            .model
            .unwrap_or(Model::LastClick)
            .as_str()
            .into(),
        window_days: window_days.unwrap_or(campaign::DEFAULT_WINDOW_DAYS),
        code_priority: attribution.code_priority.unwrap_or(true),
        holding_days: holding_days.unwrap_or(campaign::DEFAULT_HOLDING_DAYS),
        created_at: now,
        updated_at: now,
    };
    Ok((row, explicit_slug))
}

/// Inserts a new campaign; a derived slug is made unique, an explicit one that clashes is 409.
pub fn insert_campaign(
    conn: &mut AnyConnection,
    mut row: CampaignRow,
    explicit_slug: bool,
) -> ApiResult<CampaignRow> {
    if explicit_slug {
        if store::slug_taken(conn, &row.brand_id, &row.slug)? {
            return Err(ApiError::Conflict(
                "a campaign with this slug already exists in this brand".into(),
            ));
        }
    } else {
        row.slug = free_slug(conn, &row.brand_id, &row.slug)?;
    }
    store::insert(conn, &row).map_err(conflict_on_slug)?;
    Ok(row)
}

/// `POST /api/v1/campaigns`
pub async fn create_campaign(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<CreateCampaign>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let (row, explicit_slug) = new_campaign_row(&brand_id, body.0)?;
    let row = state
        .db(move |conn| insert_campaign(conn, row, explicit_slug))
        .await?;
    Ok(HttpResponse::Created().json(CampaignView::from(row)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    pub status: Option<Status>,
}

/// `GET /api/v1/campaigns?status=`
pub async fn list_campaigns(
    state: web::Data<AppState>,
    principal: Principal,
    query: Query<CampaignQuery>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Read)?.brand_id.clone();
    let q = query.0;
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .page()?;
    let status = q.status.map(Status::as_str);
    let p = page.clone();
    let rows = state
        .db(move |conn| {
            Ok(store::list(
                conn,
                &brand_id,
                status,
                p.after.as_deref(),
                p.limit + 1,
            )?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(List::from_rows(
        rows,
        &page,
        |r| r.id.clone(),
        CampaignView::from,
    )))
}

/// `GET /api/v1/campaigns/{id}`
pub async fn get_campaign(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Read)?.brand_id.clone();
    let id = path_id(&path)?;
    let row = state
        .db(move |conn| store::find(conn, &brand_id, &id)?.ok_or_else(ApiError::not_found))
        .await?;
    Ok(HttpResponse::Ok().json(CampaignView::from(row)))
}

/// `PATCH /api/v1/campaigns/{id}`: any setting but the currency; status moves only along
/// draft → active ⇄ paused → ended.
pub async fn update_campaign(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
    body: Json<UpdateCampaign>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let id = path_id(&path)?;
    let req = body.0;
    let updated = state
        .db(move |conn| {
            let current = store::find(conn, &brand_id, &id)?.ok_or_else(ApiError::not_found)?;
            let changes = campaign_changes(&current, req)?;
            if let Some(slug) = &changes.slug {
                if *slug != current.slug && store::slug_taken(conn, &brand_id, slug)? {
                    return Err(ApiError::Conflict(
                        "a campaign with this slug already exists in this brand".into(),
                    ));
                }
            }
            store::update(conn, &id, &changes).map_err(conflict_on_slug)?;
            store::find(conn, &brand_id, &id)?.ok_or_else(ApiError::not_found)
        })
        .await?;
    state.tracking.cache.invalidate_campaign(&updated.id);
    Ok(HttpResponse::Ok().json(CampaignView::from(updated)))
}

fn campaign_changes(
    current: &CampaignRow,
    req: UpdateCampaign,
) -> Result<CampaignUpdate, ApiError> {
    let mut checks = Checks::default();
    let mut changes = CampaignUpdate {
        updated_at: Some(crate::db::now_micros()),
        ..Default::default()
    };
    changes.name = req
        .name
        .as_deref()
        .and_then(|n| checks.take(text::required("name", n, 200)));
    changes.slug = req
        .slug
        .as_deref()
        .and_then(|s| checks.take(campaign::parse_slug("slug", s)));
    changes.destination_url = req
        .destination_url
        .as_deref()
        .and_then(|d| checks.take(Destination::parse("destination_url", d)))
        .map(|d| d.as_str().to_string());
    changes.budget_micros = match req.budget {
        None => None,
        Some(None) => Some(None),
        Some(Some(b)) => checks.take(money::parse_amount("budget", &b)).map(Some),
    };
    changes.starts_at = req.starts_at.map(|t| t.map(|t| t.timestamp_micros()));
    changes.ends_at = req.ends_at.map(|t| t.map(|t| t.timestamp_micros()));
    check_dates(
        &mut checks,
        changes.starts_at.unwrap_or(current.starts_at),
        changes.ends_at.unwrap_or(current.ends_at),
    );
    if let Some(next) = req.status {
        let now = Status::parse(&current.status).unwrap_or(Status::Active);
        if now.can_become(next) {
            changes.status = Some(next.as_str().into());
        } else {
            checks.fail(
                "status",
                format!("cannot change from {} to {}", now.as_str(), next.as_str()),
            );
        }
    }
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
    if let Some(a) = req.attribution {
        changes.attribution_model = a.model.map(|m| m.as_str().to_string());
        changes.window_days = a
            .window_days
            .and_then(|d| checks.take(campaign::check_window_days("attribution.window_days", d)));
        changes.code_priority = a.code_priority;
    }
    changes.holding_days = req
        .holding_days
        .and_then(|d| checks.take(campaign::check_holding_days("holding_days", d)));
    checks.finish()?;
    Ok(changes)
}
