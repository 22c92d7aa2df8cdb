//! Storefront calls: orders (attributed on arrival), refunds, funnel events; and the
//! exchange rates that convert orders into their campaigns' currencies.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::api::{recorded, App};
use crate::core::admin::fx::{self, RateInput, RateView};
use crate::core::auth::Principal;
use crate::core::ingest::{events, orders, refunds};
use crate::core::now_micros;
use crate::domain::orders::{parse_external_id, EventInput, OrderInput, OrderSource, RefundInput};
use crate::domain::scope::Access;
use crate::web::extract::Json;
use crate::web::problem::{ApiError, ApiResult};

/// The brand of a key that may report storefront data (storefront or admin).
fn storefront_brand(principal: &Principal) -> ApiResult<crate::domain::ids::BrandId> {
    Ok(principal.brand(Access::Storefront)?.brand_id.clone())
}

/// An `order_id` in a path: one that cannot exist is a 404.
fn order_id(raw: &str) -> ApiResult<String> {
    parse_external_id("order_id", raw).map_err(|_| ApiError::not_found())
}

/// `POST /api/v1/orders`
pub async fn create_order(
    app: App,
    principal: Principal,
    body: Json<OrderInput>,
) -> ApiResult<HttpResponse> {
    let brand_id = storefront_brand(&principal)?;
    let order = body
        .0
        .validate(now_micros())
        .map_err(ApiError::Validation)?;
    let writes = app.writes();
    let result = app
        .read(move |conn| orders::record(conn, &writes, &brand_id, order, OrderSource::Api))
        .await?;
    app.nudge_outbox();
    Ok(recorded(result))
}

/// `GET /api/v1/orders/{order_id}`: the order as recorded, with its attribution, assists and
/// refunds so far.
pub async fn get_order(
    app: App,
    principal: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let brand_id = match principal.brand(Access::Read) {
        Ok(key) => key.brand_id.clone(),
        Err(_) => storefront_brand(&principal)?,
    };
    let order_id = order_id(&path)?;
    let view = app
        .read(move |conn| orders::get(conn, &brand_id, &order_id))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `POST /api/v1/orders/{order_id}/refunds`
pub async fn create_refund(
    app: App,
    principal: Principal,
    path: web::Path<String>,
    body: Json<RefundInput>,
) -> ApiResult<HttpResponse> {
    let brand_id = storefront_brand(&principal)?;
    let order_id = order_id(&path)?;
    let result = app
        .read(move |conn| refunds::record_input(conn, &brand_id, &order_id, body.0))
        .await?;
    app.nudge_outbox();
    Ok(recorded(result))
}

/// `POST /api/v1/events`
pub async fn create_event(
    app: App,
    principal: Principal,
    body: Json<EventInput>,
) -> ApiResult<HttpResponse> {
    let brand_id = storefront_brand(&principal)?;
    let event = body
        .0
        .validate(now_micros())
        .map_err(ApiError::Validation)?;
    let result = app
        .read(move |conn| events::record(conn, &brand_id, event))
        .await?;
    Ok(recorded(result))
}

/// `PUT /api/v1/fx-rates`: registers (or replaces) the rate from `base` to `quote`.
pub async fn put_rate(
    app: App,
    principal: Principal,
    body: Json<RateInput>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let view = app
        .read(move |conn| fx::put(conn, &brand_id, body.0))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Serialize)]
pub struct RateList {
    pub items: Vec<RateView>,
}

/// `GET /api/v1/fx-rates`
pub async fn list_rates(app: App, principal: Principal) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Read)?.brand_id.clone();
    let items = app.read(move |conn| fx::list(conn, &brand_id)).await?;
    Ok(HttpResponse::Ok().json(RateList { items }))
}
