//! Storefront calls: orders (attributed on arrival), refunds, funnel events, and the exchange
//! rates that convert orders into their campaigns' currencies.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::api::extract::{Checks, Json};
use crate::api::views;
use crate::auth::Principal;
use crate::domain::money::Currency;
use crate::domain::orders::{parse_external_id, EventInput, OrderInput, RefundInput};
use crate::domain::scope::Access;
use crate::error::{ApiError, ApiResult};
use crate::ingest::{self, Recorded};
use crate::state::AppState;
use crate::store::orders::{self as store, RateRow};

/// 201 for what was recorded now, 200 for a resend of what was recorded before.
pub fn recorded<T: Serialize>(r: Recorded<T>) -> HttpResponse {
    let status = if r.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    HttpResponse::build(status).json(r.view)
}

/// The brand of a key that may report storefront data (storefront or admin).
fn storefront_brand(principal: &Principal) -> ApiResult<String> {
    Ok(principal.brand(Access::Storefront)?.brand_id.clone())
}

/// `POST /api/v1/orders`
pub async fn create_order(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<OrderInput>,
) -> ApiResult<HttpResponse> {
    let brand_id = storefront_brand(&principal)?;
    let order = body
        .0
        .validate(crate::db::now_micros())
        .map_err(ApiError::Validation)?;
    let writes = state.writes.clone();
    let result = state
        .db(move |conn| ingest::record_order(conn, &writes, &brand_id, order, "api"))
        .await?;
    Ok(recorded(result))
}

/// `GET /api/v1/orders/{order_id}`: the order as recorded, with its attribution, assists and
/// refunds so far.
pub async fn get_order(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let brand_id = match principal.brand(Access::Read) {
        Ok(key) => key.brand_id.clone(),
        Err(_) => storefront_brand(&principal)?,
    };
    let order_id = parse_external_id("order_id", &path).map_err(|_| ApiError::not_found())?;
    let view = state
        .db(move |conn| {
            let order =
                store::find_order(conn, &brand_id, &order_id)?.ok_or_else(ApiError::not_found)?;
            ingest::stored_order_view(conn, order)
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `POST /api/v1/orders/{order_id}/refunds`
pub async fn create_refund(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
    body: Json<RefundInput>,
) -> ApiResult<HttpResponse> {
    let brand_id = storefront_brand(&principal)?;
    let order_id = parse_external_id("order_id", &path).map_err(|_| ApiError::not_found())?;
    let input = body.0;
    let result = state
        .db(move |conn| {
            let order = store::find_order(conn, &brand_id, &order_id)?
                .ok_or_else(|| ApiError::NotFound("no order with this order_id".into()))?;
            let refund = input
                .validate(ingest::order_currency(&order), crate::db::now_micros())
                .map_err(ApiError::Validation)?;
            ingest::record_refund(conn, &brand_id, &order, refund)
        })
        .await?;
    Ok(recorded(result))
}

/// `POST /api/v1/events`
pub async fn create_event(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<EventInput>,
) -> ApiResult<HttpResponse> {
    let brand_id = storefront_brand(&principal)?;
    let event = body
        .0
        .validate(crate::db::now_micros())
        .map_err(ApiError::Validation)?;
    let result = state
        .db(move |conn| ingest::record_event(conn, &brand_id, event))
        .await?;
    Ok(recorded(result))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateInput {
    pub base: String,
    pub quote: String,
    #[serde(deserialize_with = "crate::domain::orders::decimal_text")]
    pub rate: String,
}

#[derive(Debug, Serialize)]
pub struct RateView {
    pub base: String,
    pub quote: String,
    /// Units of `quote` for one unit of `base`.
    pub rate: String,
    pub updated_at: String,
}

impl From<RateRow> for RateView {
    fn from(r: RateRow) -> Self {
        Self {
            base: r.base,
            quote: r.quote,
            rate: r.rate,
            updated_at: views::time(r.updated_at),
        }
    }
}

/// The largest rate accepted: beyond it a typo is likelier than a currency.
const MAX_RATE: i64 = 1_000_000;

/// `PUT /api/v1/fx-rates`: registers (or replaces) the rate from `base` to `quote`. An order
/// in `base` credited to a campaign in `quote` is converted with it (the inverse serves the
/// other direction when no rate is registered for it).
pub async fn put_rate(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<RateInput>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let req = body.0;
    let mut checks = Checks::default();
    let base = checks.take(Currency::parse("base", &req.base));
    let quote = checks.take(Currency::parse("quote", &req.quote));
    if base.is_some() && base == quote {
        checks.fail("quote", "must differ from base");
    }
    let rate = match req.rate.trim().parse::<Decimal>() {
        Ok(r) if r > Decimal::ZERO && r <= Decimal::from(MAX_RATE) && r.scale() <= 12 => {
            Some(r.normalize())
        }
        Ok(_) => {
            checks.fail(
                "rate",
                format!("must be greater than 0 and at most {MAX_RATE}, with at most 12 decimals"),
            );
            None
        }
        Err(_) => {
            checks.fail("rate", "must be a decimal such as \"1.0842\"");
            None
        }
    };
    checks.finish()?;
    let (base, quote, rate) = (
        base.expect("checked"),
        quote.expect("checked"),
        rate.expect("checked"),
    );
    let row = RateRow {
        brand_id,
        base: base.code().to_string(),
        quote: quote.code().to_string(),
        rate: rate.to_string(),
        updated_at: crate::db::now_micros(),
    };
    let view = state
        .db(move |conn| {
            store::put_rate(conn, &row)?;
            Ok(RateView::from(row))
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Serialize)]
pub struct RateList {
    pub items: Vec<RateView>,
}

/// `GET /api/v1/fx-rates`
pub async fn list_rates(
    state: web::Data<AppState>,
    principal: Principal,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Read)?.brand_id.clone();
    let items = state
        .db(move |conn| Ok(store::rates(conn, &brand_id)?))
        .await?;
    Ok(HttpResponse::Ok().json(RateList {
        items: items.into_iter().map(RateView::from).collect(),
    }))
}
