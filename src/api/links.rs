//! Tracking links: read, paused or resumed, relabelled; their figures and clicks.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::api::App;
use crate::core::admin::links::{self, UpdateLink};
use crate::core::auth::Principal;
use crate::core::exclusions;
use crate::domain::ids::LinkId;
use crate::domain::scope::Access;
use crate::domain::time::day_of_date;
use crate::web::extract::{path_id, Json, List, PageQuery, Query};
use crate::web::problem::{ApiError, ApiResult};

/// `GET /api/v1/links/{id}`
pub async fn get_link(
    app: App,
    principal: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Read)?.brand_id.clone();
    let id = path_id(&path, LinkId::parse)?;
    let public_url = app.public_url().to_string();
    let view = app
        .read(move |conn| links::get(conn, &public_url, &brand_id, &id))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `PATCH /api/v1/links/{id}`: pause or resume (a paused link still redirects, but its
/// clicks are not attributable), or relabel.
pub async fn update_link(
    app: App,
    principal: Principal,
    path: web::Path<String>,
    body: Json<UpdateLink>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let id = path_id(&path, LinkId::parse)?;
    let public_url = app.public_url().to_string();
    let view = app
        .write(move |conn| links::update(conn, &public_url, &brand_id, &id, body.0))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// First UTC day, inclusive (`YYYY-MM-DD`).
    pub from: Option<chrono::NaiveDate>,
    /// Last UTC day, inclusive.
    pub to: Option<chrono::NaiveDate>,
    /// `off`: as if the campaign had no exclusion rule.
    pub exclusions: Option<String>,
}

/// `GET /api/v1/links/{id}/stats?from=&to=`: human clicks, unique clicks, bot and prefetch
/// hits, attributable clicks; in total and by UTC day.
pub async fn link_stats(
    app: App,
    principal: Principal,
    path: web::Path<String>,
    query: Query<StatsQuery>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Read)?.brand_id.clone();
    let id = path_id(&path, LinkId::parse)?;
    let from = query.0.from.map(day_of_date).unwrap_or(i32::MIN);
    let to = query.0.to.map(day_of_date).unwrap_or(i32::MAX);
    if from > to {
        return Err(ApiError::invalid("to", "must not be before from"));
    }
    let mut checks = crate::domain::field::Checks::default();
    let off = exclusions::parse_switch(&mut checks, query.0.exclusions.as_deref());
    checks.finish().map_err(ApiError::Validation)?;
    let stats = app
        .read(move |conn| {
            exclusions::switched(off, || links::stats(conn, &brand_id, &id, from, to))
        })
        .await?;
    Ok(HttpResponse::Ok().json(stats))
}

/// `GET /api/v1/links/{id}/clicks`: the link's clicks, newest first (never addresses or
/// visitor hashes).
pub async fn list_clicks(
    app: App,
    principal: Principal,
    path: web::Path<String>,
    query: Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Read)?.brand_id.clone();
    let id = path_id(&path, LinkId::parse)?;
    let page = query.0.page()?;
    let p = page.clone();
    let rows = app
        .read(move |conn| links::clicks(conn, &brand_id, &id, &p))
        .await?;
    Ok(HttpResponse::Ok().json(List::from_rows(rows, &page, |r| r.id.to_string(), |r| r)))
}
