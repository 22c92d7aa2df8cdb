//! Enrollments: an influencer in a campaign, with its terms, links and discount codes.

use actix_web::{web, HttpResponse};

use crate::api::App;
use crate::core::admin::codes::CreateCode;
use crate::core::admin::enrollments::{self, Enroll, UpdateEnrollment};
use crate::core::admin::links::{self, CreateLink};
use crate::core::auth::Principal;
use crate::domain::ids::{CampaignId, InfluencerId};
use crate::domain::scope::Access;
use crate::web::extract::{path_id, Json, List, PageQuery, Query};
use crate::web::problem::ApiResult;

/// A `/campaigns/{campaign_id}/influencers/{influencer_id}` path.
pub fn pair(path: &(String, String)) -> ApiResult<(CampaignId, InfluencerId)> {
    Ok((
        path_id(&path.0, CampaignId::parse)?,
        path_id(&path.1, InfluencerId::parse)?,
    ))
}

/// `POST /api/v1/campaigns/{id}/influencers`: enrolls an influencer and issues its default
/// tracking link and discount code.
pub async fn enroll_influencer(
    app: App,
    principal: Principal,
    path: web::Path<String>,
    body: Json<Enroll>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let campaign_id = path_id(&path, CampaignId::parse)?;
    let public_url = app.public_url().to_string();
    let view = app
        .write(move |conn| enrollments::enroll(conn, &public_url, &brand_id, &campaign_id, body.0))
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// `GET /api/v1/campaigns/{id}/influencers`: enrollments with their links and codes.
pub async fn list_enrollments(
    app: App,
    principal: Principal,
    path: web::Path<String>,
    query: Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Read)?.brand_id.clone();
    let campaign_id = path_id(&path, CampaignId::parse)?;
    let page = query.0.page()?;
    let p = page.clone();
    let public_url = app.public_url().to_string();
    let rows = app
        .read(move |conn| enrollments::list(conn, &public_url, &brand_id, &campaign_id, &p))
        .await?;
    Ok(HttpResponse::Ok().json(List::from_rows(
        rows,
        &page,
        |r| r.enrollment_id.to_string(),
        |r| r,
    )))
}

/// `GET /api/v1/campaigns/{id}/influencers/{influencer_id}`
pub async fn get_enrollment(
    app: App,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Read)?.brand_id.clone();
    let (campaign_id, influencer_id) = pair(&path)?;
    let public_url = app.public_url().to_string();
    let view = app
        .read(move |conn| {
            enrollments::get(conn, &public_url, &brand_id, &campaign_id, &influencer_id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `PATCH /api/v1/campaigns/{id}/influencers/{influencer_id}`: fee, commission rate, goal.
pub async fn update_enrollment(
    app: App,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: Json<UpdateEnrollment>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let (campaign_id, influencer_id) = pair(&path)?;
    let public_url = app.public_url().to_string();
    let view = app
        .read(move |conn| {
            enrollments::update(
                conn,
                &public_url,
                &brand_id,
                &campaign_id,
                &influencer_id,
                body.0,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `POST /api/v1/campaigns/{id}/influencers/{influencer_id}/links`: another tracking link
/// (e.g. one per post), with its own destination, label and UTM overrides.
pub async fn create_link(
    app: App,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: Json<CreateLink>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let (campaign_id, influencer_id) = pair(&path)?;
    let public_url = app.public_url().to_string();
    let view = app
        .write(move |conn| {
            links::create(
                conn,
                &public_url,
                &brand_id,
                &campaign_id,
                &influencer_id,
                body.0,
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// `POST /api/v1/campaigns/{id}/influencers/{influencer_id}/codes`: another discount code,
/// vanity or generated.
pub async fn create_code(
    app: App,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: Json<CreateCode>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let (campaign_id, influencer_id) = pair(&path)?;
    let view = app
        .write(move |conn| {
            enrollments::create_code(conn, &brand_id, &campaign_id, &influencer_id, body.0)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}
