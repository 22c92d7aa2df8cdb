//! Storefront connections, and the native webhooks they sign: Shopify `orders/create` and
//! `refunds/create`, WooCommerce order deliveries. No bearer key on the webhooks: core
//! verifies each body with the brand's secret.

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Serialize;

use crate::api::{recorded, App};
use crate::core::admin::integrations::{self, IntegrationInput};
use crate::core::auth::Principal;
use crate::core::ingest::webhooks::{self, Delivery, Verified};
use crate::core::ingest::IngestError;
use crate::core::shop_sync;
use crate::domain::ids::{BrandId, JobId};
use crate::domain::integrations::Platform;
use crate::domain::outbox::JobStatus;
use crate::domain::scope::Access;
use crate::web::extract::{path_id, Json, List, Query, StatusPageQuery};
use crate::web::problem::{ApiError, ApiResult};
use crate::web::ratelimit;

/// Webhook bodies may be larger than API bodies (orders with many line items).
const WEBHOOK_LIMIT: usize = 2 * 1024 * 1024;

/// Sets the parts given of the calling brand's connection to a platform (webhook secret, shop
/// URL, API credentials). Secrets are sealed at rest and never returned or logged.
async fn put_integration(
    app: App,
    principal: Principal,
    platform: Platform,
    body: IntegrationInput,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let public_url = app.public_url().to_string();
    let sealer = app.sealer();
    let view = app
        .write(move |conn| integrations::put(conn, &sealer, &public_url, &brand_id, platform, body))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// The connection, secrets masked.
async fn get_integration(
    app: App,
    principal: Principal,
    platform: Platform,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Read)?.brand_id.clone();
    let public_url = app.public_url().to_string();
    let sealer = app.sealer();
    let view = app
        .read(move |conn| integrations::get(conn, &sealer, &public_url, &brand_id, platform))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Disconnects the store.
async fn delete_integration(
    app: App,
    principal: Principal,
    platform: Platform,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    app.write(move |conn| integrations::delete(conn, &brand_id, platform))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `{platform}` of a path: `shopify` or `woocommerce`; anything else does not exist.
fn platform(raw: &str) -> Result<Platform, ApiError> {
    Platform::parse(raw).ok_or_else(ApiError::not_found)
}

/// `POST /api/v1/integrations/{platform}/check`: calls the shop once (a read) with the stored
/// credentials and says whether they work and which scopes are missing.
pub async fn check_integration(
    app: App,
    principal: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let platform = platform(&path)?;
    let view = app.check_shop(brand_id, platform).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `GET /api/v1/integrations/{platform}/sync?status=failed`: the shop's sync jobs, newest
/// first.
pub async fn list_sync(
    app: App,
    principal: Principal,
    path: web::Path<String>,
    query: Query<StatusPageQuery<JobStatus>>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Read)?.brand_id.clone();
    let platform = platform(&path)?;
    let (status, page) = query.0.split()?;
    let p = page.clone();
    let rows = app
        .read(move |conn| shop_sync::list(conn, &brand_id, platform, status, &p))
        .await?;
    Ok(HttpResponse::Ok().json(List::from_rows(rows, &page, |r| r.id.to_string(), |r| r)))
}

/// `POST /api/v1/integrations/{platform}/sync/{job_id}/retry`: queues a failed (or waiting)
/// job again, due now.
pub async fn retry_sync(
    app: App,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let (raw_platform, raw_job) = path.into_inner();
    let platform = platform(&raw_platform)?;
    let job_id = path_id(&raw_job, JobId::parse)?;
    let view = app
        .read(move |conn| shop_sync::retry(conn, &brand_id, platform, &job_id))
        .await?;
    app.nudge_outbox();
    Ok(HttpResponse::Ok().json(view))
}

/// `PUT /api/v1/integrations/shopify`
pub async fn put_shopify(
    app: App,
    principal: Principal,
    body: Json<IntegrationInput>,
) -> ApiResult<HttpResponse> {
    put_integration(app, principal, Platform::Shopify, body.0).await
}

/// `GET /api/v1/integrations/shopify`
pub async fn get_shopify(app: App, principal: Principal) -> ApiResult<HttpResponse> {
    get_integration(app, principal, Platform::Shopify).await
}

/// `DELETE /api/v1/integrations/shopify`
pub async fn delete_shopify(app: App, principal: Principal) -> ApiResult<HttpResponse> {
    delete_integration(app, principal, Platform::Shopify).await
}

/// `PUT /api/v1/integrations/woocommerce`
pub async fn put_woocommerce(
    app: App,
    principal: Principal,
    body: Json<IntegrationInput>,
) -> ApiResult<HttpResponse> {
    put_integration(app, principal, Platform::WooCommerce, body.0).await
}

/// `GET /api/v1/integrations/woocommerce`
pub async fn get_woocommerce(app: App, principal: Principal) -> ApiResult<HttpResponse> {
    get_integration(app, principal, Platform::WooCommerce).await
}

/// `DELETE /api/v1/integrations/woocommerce`
pub async fn delete_woocommerce(app: App, principal: Principal) -> ApiResult<HttpResponse> {
    delete_integration(app, principal, Platform::WooCommerce).await
}

/// A body must arrive whole within this time: a client trickling one is cut off.
const BODY_DEADLINE: Duration = Duration::from_secs(10);

/// Reads a webhook body up to [`WEBHOOK_LIMIT`], within [`BODY_DEADLINE`], while holding one
/// of the instance's few body reads (`ratelimit::webhook_body_permit`).
async fn read_body(request: &HttpRequest, mut payload: web::Payload) -> ApiResult<Vec<u8>> {
    let _permit = ratelimit::webhook_body_permit(request)?;
    let read = async {
        let mut body = Vec::new();
        while let Some(chunk) = payload.next().await {
            let chunk =
                chunk.map_err(|e| ApiError::BadRequest(format!("cannot read the body: {e}")))?;
            if body.len() + chunk.len() > WEBHOOK_LIMIT {
                return Err(ApiError::PayloadTooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    actix_web::rt::time::timeout(BODY_DEADLINE, read)
        .await
        .map_err(|_| {
            // A body trickled past the deadline to a real store's path: counted like a failed
            // signature, so one slow sender is soon refused outright.
            ratelimit::failed_authentication(request, "webhook_body_timeout");
            ApiError::RequestTimeout
        })?
}

/// What the webhook endpoints answer when a delivery needs no recording.
#[derive(Debug, Serialize)]
struct Ignored {
    status: &'static str,
    reason: String,
}

fn respond(delivery: Delivery) -> HttpResponse {
    match delivery {
        Delivery::Order(r) => recorded(r),
        Delivery::Refund(r) => recorded(r),
        Delivery::Ignored(reason) => HttpResponse::Ok().json(Ignored {
            status: "ignored",
            reason,
        }),
        Delivery::Rejected(reason) => HttpResponse::Ok().json(Ignored {
            status: "rejected",
            reason,
        }),
        Delivery::Ping => HttpResponse::Ok().json(Ignored {
            status: "ok",
            reason: "webhook ping received".into(),
        }),
    }
}

/// A failed signature (or a path with no secret behind it): counted against the client's
/// address, never against the store's budget.
fn refused(request: &HttpRequest, e: IngestError) -> ApiError {
    if matches!(e, IngestError::BadSignature(_)) {
        ratelimit::failed_authentication(request, "webhook_signature");
    }
    e.into()
}

/// What a delivery may be once received.
enum Received {
    Verified(Verified),
    /// WooCommerce's unsigned creation ping.
    Ping,
}

/// A delivery, in the order that keeps junk cheap: the brand and its secret from the path
/// (answered at once, before any of the body, when there is none), then the body (bounded in
/// size, time and how many are read at once), then its signature, and only then the store's
/// budget.
async fn receive(
    app: &App,
    platform: Platform,
    request: &HttpRequest,
    path: &str,
    payload: web::Payload,
) -> ApiResult<Received> {
    let brand_id = path_id(path, BrandId::parse)?;
    let sealer = app.sealer();
    let endpoint = app
        .read(move |conn| webhooks::endpoint(conn, &sealer, &brand_id, platform))
        .await
        .map_err(|e| refused(request, e))?;
    let body = read_body(request, payload).await?;
    let signature = request
        .headers()
        .get(platform.signature_header())
        .and_then(|v| v.to_str().ok());
    if platform == Platform::WooCommerce && webhooks::is_woocommerce_ping(signature, &body) {
        return Ok(Received::Ping);
    }
    let verified = endpoint
        .verify(signature, body)
        .map_err(|e| refused(request, e))?;
    ratelimit::verified_sender(request);
    ratelimit::spend_store_budget(request, platform, verified.brand_id())?;
    Ok(Received::Verified(verified))
}

/// A verified Shopify delivery (Shopify sends no unsigned ping).
async fn shopify_delivery(
    app: &App,
    request: &HttpRequest,
    path: &str,
    payload: web::Payload,
) -> ApiResult<Verified> {
    match receive(app, Platform::Shopify, request, path, payload).await? {
        Received::Verified(delivery) => Ok(delivery),
        Received::Ping => Err(refused(
            request,
            IngestError::BadSignature(Platform::Shopify),
        )),
    }
}

/// `POST /api/v1/integrations/shopify/{brand_id}/orders`: an `orders/create` (or
/// `orders/updated`, `orders/paid`) delivery. Refunds already on the order are recorded too.
pub async fn shopify_order(
    app: App,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let delivery = shopify_delivery(&app, &request, &path, payload).await?;
    let writes = app.writes();
    let delivery = app
        .read(move |conn| webhooks::shopify_order(conn, &writes, &delivery))
        .await?;
    app.nudge_outbox();
    Ok(respond(delivery))
}

/// `POST /api/v1/integrations/shopify/{brand_id}/refunds`: a `refunds/create` delivery.
pub async fn shopify_refund(
    app: App,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let delivery = shopify_delivery(&app, &request, &path, payload).await?;
    let delivery = app
        .read(move |conn| webhooks::shopify_refund(conn, &delivery))
        .await?;
    app.nudge_outbox();
    Ok(respond(delivery))
}

/// `POST /api/v1/integrations/woocommerce/{brand_id}/orders`: any order delivery (created,
/// updated); the unsigned ping sent when the webhook is created gets a 200.
pub async fn woocommerce_order(
    app: App,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let delivery = match receive(&app, Platform::WooCommerce, &request, &path, payload).await? {
        Received::Verified(delivery) => delivery,
        Received::Ping => return Ok(respond(Delivery::Ping)),
    };
    let writes = app.writes();
    let delivery = app
        .read(move |conn| webhooks::woocommerce_order(conn, &writes, &delivery))
        .await?;
    app.nudge_outbox();
    Ok(respond(delivery))
}
