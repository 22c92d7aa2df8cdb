//! The campaign loop: prune and reinstate (with their log), the successor campaign, payouts
//! and the influencer's own view.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::api::reports::wants_csv;
use crate::api::App;
use crate::core::auth::Principal;
use crate::core::campaign_loop::payouts::{self, MarkPaid, PayoutLine};
use crate::core::campaign_loop::prune::{self, PruneInput, Request};
use crate::core::campaign_loop::successor::{self, SuccessorInput};
use crate::core::reporting::Reader;
use crate::domain::ids::CampaignId;
use crate::domain::scope::Access;
use crate::web::csv::{csv_of, PAYOUT_COLUMNS};
use crate::web::extract::{path_id, Json};
use crate::web::problem::ApiResult;

/// `POST /api/v1/campaigns/{campaign_id}/prune`: a dry run by default.
pub async fn prune(
    app: App,
    principal: Principal,
    path: web::Path<String>,
    body: Json<PruneInput>,
) -> ApiResult<HttpResponse> {
    let key = principal.brand(Access::Write)?.clone();
    let campaign_id = path_id(&path, CampaignId::parse)?;
    let request = Request::parse(&body.0)?;
    let result = app
        .write(move |conn| prune::prune(conn, &key, &campaign_id, &request))
        .await?;
    Ok(HttpResponse::Ok().json(result))
}

/// `POST /api/v1/campaigns/{campaign_id}/influencers/{influencer_id}/reinstate`
pub async fn reinstate(
    app: App,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let key = principal.brand(Access::Write)?.clone();
    let (campaign_id, influencer_id) = crate::api::enrollments::pair(&path)?;
    let view = app
        .write(move |conn| prune::reinstate(conn, &key, &campaign_id, &influencer_id))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `GET /api/v1/campaigns/{campaign_id}/prune-log`: newest first.
pub async fn prune_log(
    app: App,
    principal: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let reader = Reader::brand(principal.brand(Access::Read)?.brand_id.clone());
    let campaign_id = path_id(&path, CampaignId::parse)?;
    let log = app
        .read(move |conn| prune::log(conn, &reader, &campaign_id))
        .await?;
    Ok(HttpResponse::Ok().json(log))
}

/// `POST /api/v1/campaigns/{campaign_id}/successor`: a new campaign with this one's settings
/// and its best influencers.
pub async fn successor(
    app: App,
    principal: Principal,
    path: web::Path<String>,
    body: Json<SuccessorInput>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let campaign_id = path_id(&path, CampaignId::parse)?;
    let public_url = app.public_url().to_string();
    let result = app
        .write(move |conn| successor::successor(conn, &public_url, &brand_id, &campaign_id, body.0))
        .await?;
    Ok(HttpResponse::Created().json(result))
}

/// `GET /api/v1/campaigns/{campaign_id}/payouts` (JSON, or CSV when `Accept` prefers it).
pub async fn list_payouts(
    app: App,
    principal: Principal,
    path: web::Path<String>,
    request: HttpRequest,
) -> ApiResult<HttpResponse> {
    let reader = Reader::of(&principal)?;
    let campaign_id = path_id(&path, CampaignId::parse)?;
    let list = app
        .read(move |conn| payouts::list(conn, &reader, &campaign_id))
        .await?;
    if wants_csv(&request) {
        let body = csv_of::<PayoutLine>(&PAYOUT_COLUMNS, &list.items)?;
        return Ok(HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
            .body(body));
    }
    Ok(HttpResponse::Ok().json(list))
}

/// `POST /api/v1/campaigns/{campaign_id}/payouts/{influencer_id}/mark-paid`: a payment of at
/// most the approved balance.
pub async fn mark_paid(
    app: App,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: Json<MarkPaid>,
) -> ApiResult<HttpResponse> {
    let key = principal.brand(Access::Write)?.clone();
    let (campaign_id, influencer_id) = crate::api::enrollments::pair(&path)?;
    let view = app
        .read(move |conn| payouts::mark_paid(conn, &key, &campaign_id, &influencer_id, body.0))
        .await?;
    app.nudge_outbox();
    Ok(HttpResponse::Created().json(view))
}

/// `GET /api/v1/me`: the influencer's own enrollments, links, codes, figures and earnings
/// (influencer keys only).
pub async fn me(app: App, principal: Principal) -> ApiResult<HttpResponse> {
    let (key, influencer_id) = principal.influencer()?;
    let (brand_id, influencer_id) = (key.brand_id.clone(), influencer_id.clone());
    let public_url = app.public_url().to_string();
    let me = app
        .read(move |conn| payouts::me(conn, &public_url, &brand_id, &influencer_id))
        .await?;
    Ok(HttpResponse::Ok().json(me))
}
