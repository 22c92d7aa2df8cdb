//! Campaigns of a brand.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::api::App;
use crate::core::admin::campaigns::{self, CampaignView, CreateCampaign, UpdateCampaign};
use crate::core::auth::Principal;
use crate::domain::campaign::CampaignStatus;
use crate::domain::ids::CampaignId;
use crate::domain::scope::Access;
use crate::web::extract::{path_id, Json, List, PageQuery, Query};
use crate::web::problem::ApiResult;

/// `POST /api/v1/campaigns`
pub async fn create_campaign(
    app: App,
    principal: Principal,
    body: Json<CreateCampaign>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let row = app
        .read(move |conn| campaigns::create(conn, &brand_id, body.0))
        .await?;
    Ok(HttpResponse::Created().json(CampaignView::from(row)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    pub status: Option<CampaignStatus>,
}

/// `GET /api/v1/campaigns?status=`
pub async fn list_campaigns(
    app: App,
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
    let p = page.clone();
    let rows = app
        .read(move |conn| campaigns::list(conn, &brand_id, q.status, &p))
        .await?;
    Ok(HttpResponse::Ok().json(List::from_rows(
        rows,
        &page,
        |r| r.id.to_string(),
        CampaignView::from,
    )))
}

/// `GET /api/v1/campaigns/{id}`
pub async fn get_campaign(
    app: App,
    principal: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Read)?.brand_id.clone();
    let id = path_id(&path, CampaignId::parse)?;
    let row = app
        .read(move |conn| campaigns::get(conn, &brand_id, &id))
        .await?;
    Ok(HttpResponse::Ok().json(CampaignView::from(row)))
}

/// `PATCH /api/v1/campaigns/{id}`: any setting but the currency; status moves only along
/// draft → active ⇄ paused → ended.
pub async fn update_campaign(
    app: App,
    principal: Principal,
    path: web::Path<String>,
    body: Json<UpdateCampaign>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let id = path_id(&path, CampaignId::parse)?;
    let updated = app
        .write(move |conn| campaigns::update(conn, &brand_id, &id, body.0))
        .await?;
    Ok(HttpResponse::Ok().json(CampaignView::from(updated)))
}
