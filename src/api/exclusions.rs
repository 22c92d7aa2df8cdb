//! Exclusion rules of a campaign: made, listed (deleted ones too, as the audit) and deleted
//! with a reason.

use actix_web::{web, HttpResponse};

use crate::api::App;
use crate::core::auth::Principal;
use crate::core::exclusions::{self, DeleteQuery, ExclusionInput, ExclusionStatus};
use crate::domain::ids::{CampaignId, ExclusionId};
use crate::domain::scope::Access;
use crate::web::extract::{path_id, Json, List, Query, StatusPageQuery};
use crate::web::problem::ApiResult;

/// `POST /api/v1/campaigns/{campaign_id}/exclusions`
pub async fn create_exclusion(
    app: App,
    principal: Principal,
    path: web::Path<String>,
    body: Json<ExclusionInput>,
) -> ApiResult<HttpResponse> {
    let key = principal.brand(Access::Write)?;
    let (brand_id, by) = (key.brand_id.clone(), key.key_id.to_string());
    let campaign_id = path_id(&path, CampaignId::parse)?;
    let view = app
        .read(move |conn| exclusions::create(conn, &brand_id, &by, &campaign_id, body.0))
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// `GET /api/v1/campaigns/{campaign_id}/exclusions`
pub async fn list_exclusions(
    app: App,
    principal: Principal,
    path: web::Path<String>,
    query: Query<StatusPageQuery<ExclusionStatus>>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Read)?.brand_id.clone();
    let campaign_id = path_id(&path, CampaignId::parse)?;
    let (status, page) = query.0.split()?;
    let p = page.clone();
    let rows = app
        .read(move |conn| exclusions::list(conn, &brand_id, &campaign_id, status, &p))
        .await?;
    Ok(HttpResponse::Ok().json(List::from_rows(rows, &page, |r| r.id.to_string(), |r| r)))
}

/// `DELETE /api/v1/campaigns/{campaign_id}/exclusions/{exclusion_id}?reason=…`
pub async fn delete_exclusion(
    app: App,
    principal: Principal,
    path: web::Path<(String, String)>,
    query: Query<DeleteQuery>,
) -> ApiResult<HttpResponse> {
    let key = principal.brand(Access::Write)?;
    let (brand_id, by) = (key.brand_id.clone(), key.key_id.to_string());
    let campaign_id = path_id(&path.0, CampaignId::parse)?;
    let id = path_id(&path.1, ExclusionId::parse)?;
    app.read(move |conn| exclusions::delete(conn, &brand_id, &by, &campaign_id, &id, query.0))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
