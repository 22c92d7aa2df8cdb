//! The costs of a campaign besides fees and commissions.

use actix_web::{web, HttpResponse};

use crate::api::App;
use crate::core::admin::costs::{self, CostInput, CostUpdate};
use crate::core::auth::Principal;
use crate::domain::ids::{CampaignId, CostId};
use crate::domain::scope::Access;
use crate::web::extract::{path_id, Json, List, PageQuery, Query};
use crate::web::problem::ApiResult;

/// `POST /api/v1/campaigns/{campaign_id}/costs`
pub async fn create_cost(
    app: App,
    principal: Principal,
    path: web::Path<String>,
    body: Json<CostInput>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let campaign_id = path_id(&path, CampaignId::parse)?;
    let view = app
        .read(move |conn| costs::create(conn, &brand_id, &campaign_id, body.0))
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// `GET /api/v1/campaigns/{campaign_id}/costs`
pub async fn list_costs(
    app: App,
    principal: Principal,
    path: web::Path<String>,
    query: Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Read)?.brand_id.clone();
    let campaign_id = path_id(&path, CampaignId::parse)?;
    let page = query.0.page()?;
    let p = page.clone();
    let (rows, _) = app
        .read(move |conn| costs::list(conn, &brand_id, &campaign_id, &p))
        .await?;
    Ok(HttpResponse::Ok().json(List::from_rows(rows, &page, |r| r.id.to_string(), |r| r)))
}

fn ids(path: &(String, String)) -> ApiResult<(CampaignId, CostId)> {
    Ok((
        path_id(&path.0, CampaignId::parse)?,
        path_id(&path.1, CostId::parse)?,
    ))
}

/// `PATCH /api/v1/campaigns/{campaign_id}/costs/{cost_id}`
pub async fn update_cost(
    app: App,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: Json<CostUpdate>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let (campaign_id, id) = ids(&path)?;
    let view = app
        .read(move |conn| costs::update(conn, &brand_id, &campaign_id, &id, body.0))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `DELETE /api/v1/campaigns/{campaign_id}/costs/{cost_id}`
pub async fn delete_cost(
    app: App,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let (campaign_id, id) = ids(&path)?;
    app.read(move |conn| costs::delete(conn, &brand_id, &campaign_id, &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
