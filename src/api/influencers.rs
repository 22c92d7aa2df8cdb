//! Influencers of a brand.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::api::App;
use crate::core::admin::influencers::ListFilter;
use crate::core::admin::influencers::{self, CreateInfluencer, InfluencerView, UpdateInfluencer};
use crate::core::auth::Principal;
use crate::domain::ids::InfluencerId;
use crate::domain::scope::Access;
use crate::web::extract::{path_id, Json, List, PageQuery, Query};
use crate::web::problem::ApiResult;

/// `POST /api/v1/influencers`
pub async fn create_influencer(
    app: App,
    principal: Principal,
    body: Json<CreateInfluencer>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let created = app
        .read(move |conn| influencers::create(conn, &brand_id, body.0))
        .await?;
    Ok(HttpResponse::Created().json(InfluencerView::from(created)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfluencerQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    pub tag: Option<String>,
    pub platform: Option<String>,
    /// Part of the handle (case-insensitive).
    pub q: Option<String>,
}

/// `GET /api/v1/influencers?tag=&platform=&q=`
pub async fn list_influencers(
    app: App,
    principal: Principal,
    query: Query<InfluencerQuery>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Read)?.brand_id.clone();
    let q = query.0;
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .page()?;
    let filter = ListFilter {
        tag: q.tag.filter(|s| !s.is_empty()),
        platform: q.platform.filter(|s| !s.is_empty()),
        search: q.q.filter(|s| !s.is_empty()),
    };
    let p = page.clone();
    let rows = app
        .read(move |conn| influencers::list(conn, &brand_id, &filter, &p))
        .await?;
    Ok(HttpResponse::Ok().json(List::from_rows(
        rows,
        &page,
        |r| r.row.id.to_string(),
        InfluencerView::from,
    )))
}

/// `GET /api/v1/influencers/{id}`
pub async fn get_influencer(
    app: App,
    principal: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Read)?.brand_id.clone();
    let id = path_id(&path, InfluencerId::parse)?;
    let found = app
        .read(move |conn| influencers::get(conn, &brand_id, &id))
        .await?;
    Ok(HttpResponse::Ok().json(InfluencerView::from(found)))
}

/// `PATCH /api/v1/influencers/{id}`: any of handle, display name, e-mail, platforms, tags.
pub async fn update_influencer(
    app: App,
    principal: Principal,
    path: web::Path<String>,
    body: Json<UpdateInfluencer>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let id = path_id(&path, InfluencerId::parse)?;
    let updated = app
        .write(move |conn| influencers::update(conn, &brand_id, &id, body.0))
        .await?;
    Ok(HttpResponse::Ok().json(InfluencerView::from(updated)))
}

/// `DELETE /api/v1/influencers/{id}`: removed from lists and lookups; its history stays.
pub async fn delete_influencer(
    app: App,
    principal: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let id = path_id(&path, InfluencerId::parse)?;
    app.read(move |conn| influencers::delete(conn, &brand_id, &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
