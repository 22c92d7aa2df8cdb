//! Storefront connections, and the native webhooks they sign: Shopify `orders/create` and
//! `refunds/create`, WooCommerce order deliveries. No bearer key on the webhooks: core
//! verifies each body with the brand's secret.

use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Serialize;

use crate::api::{recorded, App};
use crate::core::admin::integrations::{self, IntegrationInput};
use crate::core::auth::Principal;
use crate::core::ingest::webhooks::{self, Delivery};
use crate::domain::ids::BrandId;
use crate::domain::integrations::Platform;
use crate::domain::scope::Access;
use crate::web::extract::{path_id, Json};
use crate::web::problem::{ApiError, ApiResult};

/// Webhook bodies may be larger than API bodies (orders with many line items).
const WEBHOOK_LIMIT: usize = 2 * 1024 * 1024;

/// `PUT /api/v1/integrations/{platform}`: stores the secret that signs this platform's
/// webhooks for the calling brand. The secret is never returned or logged.
pub async fn put_integration(
    app: App,
    principal: Principal,
    path: web::Path<String>,
    body: Json<IntegrationInput>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let platform = Platform::parse(&path).ok_or_else(ApiError::not_found)?;
    let public_url = app.public_url().to_string();
    let view = app
        .read(move |conn| integrations::put(conn, &public_url, &brand_id, platform, body.0))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Reads a webhook body up to [`WEBHOOK_LIMIT`].
async fn read_body(mut payload: web::Payload) -> ApiResult<web::Bytes> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("cannot read the body: {e}")))?;
        if body.len() + chunk.len() > WEBHOOK_LIMIT {
            return Err(ApiError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
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
        Delivery::Ping => HttpResponse::Ok().json(Ignored {
            status: "ok",
            reason: "webhook ping received".into(),
        }),
    }
}

/// A delivery: the brand from the path, the body, the platform's signature header.
struct Received {
    brand_id: BrandId,
    body: web::Bytes,
    signature: Option<String>,
}

async fn receive(
    platform: Platform,
    request: &HttpRequest,
    path: &str,
    payload: web::Payload,
) -> ApiResult<Received> {
    let brand_id = path_id(path, BrandId::parse)?;
    let body = read_body(payload).await?;
    let signature = request
        .headers()
        .get(platform.signature_header())
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok(Received {
        brand_id,
        body,
        signature,
    })
}

/// `POST /api/v1/integrations/shopify/{brand_id}/orders`: an `orders/create` (or
/// `orders/updated`, `orders/paid`) delivery. Refunds already on the order are recorded too.
pub async fn shopify_order(
    app: App,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let r = receive(Platform::Shopify, &request, &path, payload).await?;
    let writes = app.writes();
    let delivery = app
        .read(move |conn| {
            webhooks::shopify_order(conn, &writes, &r.brand_id, r.signature.as_deref(), &r.body)
        })
        .await?;
    Ok(respond(delivery))
}

/// `POST /api/v1/integrations/shopify/{brand_id}/refunds`: a `refunds/create` delivery.
pub async fn shopify_refund(
    app: App,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let r = receive(Platform::Shopify, &request, &path, payload).await?;
    let delivery = app
        .read(move |conn| {
            webhooks::shopify_refund(conn, &r.brand_id, r.signature.as_deref(), &r.body)
        })
        .await?;
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
    let r = receive(Platform::WooCommerce, &request, &path, payload).await?;
    let writes = app.writes();
    let delivery = app
        .read(move |conn| {
            webhooks::woocommerce_order(conn, &writes, &r.brand_id, r.signature.as_deref(), &r.body)
        })
        .await?;
    Ok(respond(delivery))
}
