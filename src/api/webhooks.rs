//! Native storefront webhooks: Shopify `orders/create` and `refunds/create`, WooCommerce order
//! deliveries. No bearer key: each body is verified with the brand's webhook secret (base64
//! HMAC-SHA256 of the raw bytes, compared in constant time), then mapped onto the same
//! order and refund recording as `POST /api/v1/orders`.
//!
//! Revenue credited is the subtotal after discounts, before tax and shipping: Shopify's
//! `subtotal_price`, WooCommerce's sum of `line_items[].total`. Refund amounts (which include
//! tax and shipping on both platforms) are capped at what remains of that subtotal.

use actix_web::http::header::HeaderMap;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use chrono::{DateTime, NaiveDateTime, Utc};
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::api::extract::Json;
use crate::api::orders::recorded;
use crate::auth::Principal;
use crate::db::AnyConnection;
use crate::domain::money::{self, Currency};
use crate::domain::orders::{parse_money, NewOrder, NewRefund, OrderInput};
use crate::domain::scope::Access;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::ingest;
use crate::state::AppState;
use crate::store::orders as store;

/// Webhook bodies may be larger than API bodies (orders with many line items).
const WEBHOOK_LIMIT: usize = 2 * 1024 * 1024;
/// The query parameter (and note attribute) that carries our click id.
const CLICK_PARAM: &str = "itk_click";
const MAX_CLICK_IDS: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Shopify,
    WooCommerce,
}

impl Platform {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "shopify" => Some(Self::Shopify),
            "woocommerce" => Some(Self::WooCommerce),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Shopify => "shopify",
            Self::WooCommerce => "woocommerce",
        }
    }

    fn signature_header(self) -> &'static str {
        match self {
            Self::Shopify => "x-shopify-hmac-sha256",
            Self::WooCommerce => "x-wc-webhook-signature",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationInput {
    pub webhook_secret: String,
}

#[derive(Debug, Serialize)]
pub struct IntegrationView {
    pub platform: &'static str,
    pub configured: bool,
    /// Where to point the platform's webhooks.
    pub webhook_urls: Vec<String>,
}

/// `PUT /api/v1/integrations/{platform}`: stores the secret that signs this platform's
/// webhooks for the calling brand. The secret is never returned or logged.
pub async fn put_integration(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
    body: Json<IntegrationInput>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let platform = Platform::parse(&path).ok_or_else(ApiError::not_found)?;
    let secret = body.0.webhook_secret;
    if secret.trim() != secret
        || !(8..=512).contains(&secret.chars().count())
        || secret.chars().any(char::is_control)
    {
        return Err(ApiError::invalid(
            "webhook_secret",
            "must be 8 to 512 printable characters without surrounding spaces",
        ));
    }
    let base = format!(
        "{}/api/v1/integrations/{}/{}",
        state.public_url,
        platform.as_str(),
        brand_id
    );
    let webhook_urls = match platform {
        Platform::Shopify => vec![format!("{base}/orders"), format!("{base}/refunds")],
        Platform::WooCommerce => vec![format!("{base}/orders")],
    };
    state
        .db(move |conn| {
            store::put_webhook_secret(
                conn,
                &brand_id,
                platform.as_str(),
                &secret,
                crate::db::now_micros(),
            )?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Ok().json(IntegrationView {
        platform: platform.as_str(),
        configured: true,
        webhook_urls,
    }))
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

/// Whether `signature` (base64) is the HMAC-SHA256 of `body` under `secret`, compared in
/// constant time.
pub fn verify_signature(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// The brand's secret for the platform, and the body verified against it; 401 otherwise
/// (an unknown brand answers like a wrong signature).
fn verify(
    conn: &mut AnyConnection,
    brand_id: &str,
    platform: Platform,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<()> {
    let unverified = || {
        metrics::counter!("webhooks_rejected_total", "platform" => platform.as_str()).increment(1);
        ApiError::BadSignature(format!(
            "the {} header does not verify with this brand's {} webhook secret",
            platform.signature_header(),
            platform.as_str()
        ))
    };
    let signature = headers
        .get(platform.signature_header())
        .and_then(|v| v.to_str().ok())
        .ok_or_else(unverified)?;
    let secret =
        store::webhook_secret(conn, brand_id, platform.as_str())?.ok_or_else(unverified)?;
    if verify_signature(secret.as_bytes(), body, signature) {
        Ok(())
    } else {
        Err(unverified())
    }
}

fn parse_brand(raw: &str) -> ApiResult<String> {
    uuid::Uuid::parse_str(raw)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| ApiError::not_found())
}

/// Parses a webhook body, naming the failing field.
fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        if e.inner().is_syntax() || e.inner().is_eof() {
            ApiError::BadRequest(format!("malformed JSON: {}", e.inner()))
        } else {
            ApiError::invalid(
                if field == "." { "body".into() } else { field },
                e.inner().to_string(),
            )
        }
    })
}

/// Ids are numbers on both platforms; accept strings too.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Id {
    Number(u64),
    Text(String),
}

impl Id {
    fn text(&self) -> String {
        match self {
            Self::Number(n) => n.to_string(),
            Self::Text(s) => s.trim().to_string(),
        }
    }
}

/// A decimal as either platform spells it (string or number).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Amount {
    Text(String),
    Number(serde_json::Number),
}

impl Amount {
    fn text(&self) -> String {
        match self {
            Self::Text(s) => s.clone(),
            Self::Number(n) => n.to_string(),
        }
    }
}

/// Our click ids in a text: every `itk_click` query parameter of a URL (absolute or a path),
/// or a comma/space separated list of ids.
fn click_ids_in(text: &str, out: &mut Vec<String>) {
    let text = text.trim();
    if text.contains('?') || text.contains("://") {
        let base = url::Url::parse("https://storefront.invalid/").expect("static URL");
        if let Ok(u) = base.join(text) {
            for (k, v) in u.query_pairs() {
                if k == CLICK_PARAM {
                    // A list, never a URL again: searching nested URLs took one parse of the
                    // rest per `?itk_click=` (quadratic time, unbounded recursion) on text
                    // shoppers control.
                    click_id_list(&v, out);
                }
            }
        }
        return;
    }
    click_id_list(text, out);
}

/// Click ids in a comma/space separated list (`id` or `id:timestamp` each).
fn click_id_list(text: &str, out: &mut Vec<String>) {
    for part in text.split([',', ' ', ';']) {
        // The script stores `id` or `id:timestamp`.
        let id = part.split(':').next().unwrap_or_default();
        if let Ok(u) = uuid::Uuid::parse_str(id.trim()) {
            let id = u.hyphenated().to_string();
            if !out.contains(&id) && out.len() < MAX_CLICK_IDS {
                out.push(id);
            }
        }
    }
}

fn is_click_key(key: &str) -> bool {
    let key = key.trim().trim_start_matches('_').to_ascii_lowercase();
    key == "itk_click" || key == "itk_clicks" || key == "itk_click_ids"
}

fn value_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(items) => Some(
            items
                .iter()
                .filter_map(|i| i.as_str())
                .collect::<Vec<_>>()
                .join(","),
        ),
        _ => None,
    }
}

/// What the webhook endpoints answer when a delivery needs no recording.
#[derive(Debug, Serialize)]
struct Ignored {
    status: &'static str,
    reason: String,
}

/// What a delivery led to (built off the async runtime, answered on it).
enum Outcome {
    Order(ingest::Recorded<ingest::OrderView>),
    Refund(ingest::Recorded<ingest::RefundView>),
    Ignored(String),
}

fn ignored(reason: String) -> Outcome {
    Outcome::Ignored(reason)
}

impl Outcome {
    fn respond(self) -> HttpResponse {
        match self {
            Self::Order(r) => recorded(r),
            Self::Refund(r) => recorded(r),
            Self::Ignored(reason) => HttpResponse::Ok().json(Ignored {
                status: "ignored",
                reason,
            }),
        }
    }
}

/// Records a webhook's order. A redelivery answers the stored order; a later delivery that
/// changed what we credit (an edited order) keeps the first version and says so (a 4xx would
/// only make the platform retry), logged and counted.
fn record_webhook_order(
    conn: &mut AnyConnection,
    writes: &crate::db::GroupCommit,
    brand_id: &str,
    platform: Platform,
    input: OrderInput,
) -> ApiResult<(Option<ingest::Recorded<ingest::OrderView>>, Option<String>)> {
    let order = validate_webhook_order(platform, input, crate::db::now_micros())?;
    let external_id = order.external_id.clone();
    match ingest::record_order(conn, writes, brand_id, order, platform.as_str()) {
        Ok(r) => Ok((Some(r), None)),
        Err(ApiError::Conflict(_)) => {
            metrics::counter!("webhook_order_changes_ignored_total", "platform" => platform.as_str())
                .increment(1);
            tracing::warn!(
                platform = platform.as_str(),
                order_id = %external_id,
                "a webhook redelivered an order with different amounts, codes or clicks; the first version stays recorded"
            );
            Ok((
                None,
                Some(format!(
                    "order {external_id} is already recorded with different amounts, codes or clicks; the first version is kept"
                )),
            ))
        }
        Err(e) => Err(e),
    }
}

/// A mapped webhook order, made lenient and validated, errors named as the platform names
/// the fields.
fn validate_webhook_order(platform: Platform, input: OrderInput, now: i64) -> ApiResult<NewOrder> {
    lenient(input).validate(now).map_err(|errors| {
        ApiError::Validation(
            errors
                .into_iter()
                .map(|e| rename_field(platform, e))
                .collect(),
        )
    })
}

/// What a storefront cannot fix on its side is dropped rather than refused (a refusal would
/// only make the platform retry the same body): codes we could never have issued (empty,
/// longer than 64 or with control characters) and codes beyond the twentieth. The
/// customer's e-mail is kept only as the SHA-256 of its lower-case form, which is all the
/// self-referral check needs.
fn lenient(mut input: OrderInput) -> OrderInput {
    input.discount_codes.retain(|c| {
        let c = c.trim();
        !c.is_empty() && c.len() <= 64 && !c.chars().any(char::is_control)
    });
    input.discount_codes.truncate(20);
    input.customer_ref = input
        .customer_ref
        .map(|email| crate::domain::keys::sha256_hex(&email.trim().to_lowercase()));
    input
}

/// Field names of our order model mapped back to the platform's.
fn rename_field(platform: Platform, e: FieldError) -> FieldError {
    let field = match (e.field.as_str(), platform) {
        ("order_id", _) => "id".to_string(),
        ("amount", Platform::Shopify) => "subtotal_price".to_string(),
        ("amount", Platform::WooCommerce) => "line_items".to_string(),
        ("discount_codes", Platform::Shopify) => "discount_codes".to_string(),
        ("discount_codes", Platform::WooCommerce) => "coupon_lines".to_string(),
        _ => e.field.clone(),
    };
    FieldError::new(field, e.message)
}

/// Records a platform refund of `amount_micros`, capped at what remains of the order; a
/// redelivery (same refund id) answers the stored refund.
fn record_webhook_refund(
    conn: &mut AnyConnection,
    brand_id: &str,
    order_external_id: &str,
    refund_id: String,
    amount_micros: i64,
    occurred_at: i64,
) -> ApiResult<Option<ingest::Recorded<ingest::RefundView>>> {
    let Some(order) = store::find_order(conn, brand_id, order_external_id)? else {
        return Err(ApiError::NotFound(format!(
            "order {order_external_id} is not recorded (yet); the platform will retry"
        )));
    };
    if let Some(existing) = store::find_refund(conn, brand_id, &refund_id)? {
        if existing.order_id != order.id {
            return Err(ApiError::Conflict(format!(
                "refund {refund_id} belongs to another order"
            )));
        }
        let current = store::find_order(conn, brand_id, order_external_id)?.unwrap_or(order);
        return Ok(Some(ingest::Recorded {
            created: false,
            view: ingest::refund_view(&current, &existing, current.refunded_micros),
        }));
    }
    // Capped at what remains; if a concurrent refund takes part of it in between, capped
    // again on the next try.
    let mut order = order;
    for _ in 0..3 {
        let amount = amount_micros.min(order.amount_micros - order.refunded_micros);
        if amount <= 0 {
            return Ok(None);
        }
        let refund = NewRefund {
            external_id: refund_id.clone(),
            amount_micros: amount,
            occurred_at,
            // The platform's refund id names the refund: a redelivery is the same refund.
            fingerprint: "webhook".into(),
        };
        match ingest::record_refund(conn, brand_id, &order, refund) {
            Ok(r) => return Ok(Some(r)),
            Err(ApiError::Validation(_)) => {
                order = store::find_order(conn, brand_id, order_external_id)?
                    .ok_or_else(ApiError::not_found)?;
            }
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::Conflict(
        "the order is being refunded concurrently; retry".into(),
    ))
}

fn micros_of(field: &str, raw: &str, currency: Currency) -> ApiResult<i64> {
    parse_money(field, raw.trim().trim_start_matches('-'), currency)
        .map_err(|e| ApiError::Validation(vec![e]))
}

// ---------------------------------------------------------------------------------------------
// Shopify

#[derive(Debug, Deserialize)]
struct ShopifyCode {
    code: String,
}

#[derive(Debug, Deserialize)]
struct NoteAttribute {
    name: String,
    value: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct ShopifyCustomer {
    email: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ShopifyTransaction {
    kind: Option<String>,
    currency: Option<String>,
    status: Option<String>,
    amount: Option<Amount>,
}

#[derive(Debug, Deserialize)]
struct ShopifyRefund {
    id: Id,
    order_id: Option<Id>,
    created_at: Option<DateTime<chrono::FixedOffset>>,
    processed_at: Option<DateTime<chrono::FixedOffset>>,
    #[serde(default)]
    transactions: Vec<ShopifyTransaction>,
}

impl ShopifyRefund {
    /// The money refunded: successful `refund` transactions.
    /// Transactions in another currency than the order's (the presentment currency of a
    /// multi-currency shop) are converted with the brand's rates.
    fn amount_micros(
        &self,
        conn: &mut AnyConnection,
        brand_id: &str,
        currency: Currency,
    ) -> ApiResult<i64> {
        self.amount_micros_with(currency, |micros, paid_in| {
            ingest::convert(conn, brand_id, micros, paid_in, currency)
        })
    }

    /// [`Self::amount_micros`] with the currency conversion given (pure, for fuzzing).
    fn amount_micros_with(
        &self,
        currency: Currency,
        mut convert: impl FnMut(i64, Currency) -> ApiResult<i64>,
    ) -> ApiResult<i64> {
        let mut total: i64 = 0;
        for (i, t) in self.transactions.iter().enumerate() {
            if t.kind.as_deref() == Some("refund") && t.status.as_deref() == Some("success") {
                if let Some(a) = &t.amount {
                    let field = format!("transactions[{i}].amount");
                    let paid_in = match t.currency.as_deref() {
                        Some(c) => Currency::parse(&format!("transactions[{i}].currency"), c)
                            .map_err(|e| ApiError::Validation(vec![e]))?,
                        None => currency,
                    };
                    let micros = micros_of(&field, &a.text(), paid_in)?;
                    let micros = convert(micros, paid_in)?;
                    total = total
                        .checked_add(micros)
                        .ok_or_else(|| ApiError::invalid(field, "is too large"))?;
                }
            }
        }
        Ok(total)
    }

    fn occurred_at(&self) -> i64 {
        self.processed_at
            .or(self.created_at)
            .map(|t| t.timestamp_micros())
            .unwrap_or_else(crate::db::now_micros)
    }
}

#[derive(Debug, Deserialize)]
struct ShopifyOrder {
    id: Id,
    currency: String,
    subtotal_price: Amount,
    created_at: Option<DateTime<chrono::FixedOffset>>,
    processed_at: Option<DateTime<chrono::FixedOffset>>,
    #[serde(default)]
    discount_codes: Vec<ShopifyCode>,
    landing_site: Option<String>,
    #[serde(default)]
    note_attributes: Vec<NoteAttribute>,
    email: Option<String>,
    customer: Option<ShopifyCustomer>,
    #[serde(default)]
    refunds: Vec<ShopifyRefund>,
    #[serde(default)]
    test: bool,
}

fn shopify_order_id(id: &str) -> String {
    format!("shopify:{id}")
}

fn shopify_refund_id(id: &str) -> String {
    format!("shopify:{id}")
}

impl ShopifyOrder {
    fn input(&self) -> OrderInput {
        let mut click_ids = Vec::new();
        for attribute in &self.note_attributes {
            if is_click_key(&attribute.name) {
                if let Some(v) = value_text(&attribute.value) {
                    click_ids_in(&v, &mut click_ids);
                }
            }
        }
        if let Some(landing) = &self.landing_site {
            click_ids_in(landing, &mut click_ids);
        }
        let email = self
            .customer
            .as_ref()
            .and_then(|c| c.email.clone())
            .or_else(|| self.email.clone())
            .filter(|e| !e.trim().is_empty());
        OrderInput {
            order_id: shopify_order_id(&self.id.text()),
            amount: self.subtotal_price.text(),
            currency: self.currency.clone(),
            occurred_at: self
                .processed_at
                .or(self.created_at)
                .map(|t| t.with_timezone(&Utc)),
            discount_codes: self.discount_codes.iter().map(|c| c.code.clone()).collect(),
            click_ids,
            customer_ref: email.map(|e| e.trim().to_lowercase()),
        }
    }
}

/// `POST /api/v1/integrations/shopify/{brand_id}/orders`: an `orders/create` (or
/// `orders/updated`, `orders/paid`) delivery. Refunds already on the order are recorded too.
pub async fn shopify_order(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let brand_id = parse_brand(&path)?;
    let body = read_body(payload).await?;
    let headers = request.headers().clone();
    let writes = state.writes.clone();
    state
        .db(move |conn| {
            verify(conn, &brand_id, Platform::Shopify, &headers, &body)?;
            let order: ShopifyOrder = unwrap_root(&body, "order")?;
            if order.test {
                return Ok(ignored("a test order (test: true) is not recorded".into()));
            }
            let input = order.input();
            let external_id = input.order_id.clone();
            let (result, note) =
                record_webhook_order(conn, &writes, &brand_id, Platform::Shopify, input)?;
            let stored = store::find_order(conn, &brand_id, &external_id)?
                .ok_or_else(ApiError::not_found)?;
            let currency = ingest::order_currency(&stored);
            for refund in &order.refunds {
                let amount = refund.amount_micros(conn, &brand_id, currency)?;
                record_webhook_refund(
                    conn,
                    &brand_id,
                    &external_id,
                    shopify_refund_id(&refund.id.text()),
                    amount,
                    refund.occurred_at(),
                )?;
            }
            if let Some(note) = note {
                return Ok(ignored(format!("{note}; its refunds are recorded")));
            }
            // The view after any refunds recorded from the same delivery.
            let stored = store::find_order(conn, &brand_id, &external_id)?
                .ok_or_else(ApiError::not_found)?;
            Ok(Outcome::Order(ingest::Recorded {
                created: result.is_some_and(|r| r.created),
                view: ingest::stored_order_view(conn, stored)?,
            }))
        })
        .await
        .map(Outcome::respond)
}

/// `POST /api/v1/integrations/shopify/{brand_id}/refunds`: a `refunds/create` delivery.
pub async fn shopify_refund(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let brand_id = parse_brand(&path)?;
    let body = read_body(payload).await?;
    let headers = request.headers().clone();
    state
        .db(move |conn| {
            verify(conn, &brand_id, Platform::Shopify, &headers, &body)?;
            let refund: ShopifyRefund = unwrap_root(&body, "refund")?;
            let order_id = refund
                .order_id
                .as_ref()
                .map(Id::text)
                .ok_or_else(|| ApiError::invalid("order_id", "is required"))?;
            let external_id = shopify_order_id(&order_id);
            let order = store::find_order(conn, &brand_id, &external_id)?.ok_or_else(|| {
                ApiError::NotFound(format!(
                    "Shopify order {order_id} is not recorded (yet); Shopify will retry"
                ))
            })?;
            let amount = refund.amount_micros(conn, &brand_id, ingest::order_currency(&order))?;
            if amount == 0 {
                return Ok(ignored(
                    "no successful refund transaction (nothing was paid back)".into(),
                ));
            }
            match record_webhook_refund(
                conn,
                &brand_id,
                &external_id,
                shopify_refund_id(&refund.id.text()),
                amount,
                refund.occurred_at(),
            )? {
                Some(r) => Ok(Outcome::Refund(r)),
                None => Ok(ignored(format!(
                    "order {order_id} is already fully refunded"
                ))),
            }
        })
        .await
        .map(Outcome::respond)
}

/// Parses a body that may come wrapped as `{"order": {...}}` (the REST shape) or bare (the
/// webhook shape).
fn unwrap_root<T: serde::de::DeserializeOwned>(body: &[u8], root: &str) -> ApiResult<T> {
    let value: serde_json::Value = parse_body(body)?;
    if let serde_json::Value::Object(map) = &value {
        if map.len() == 1 {
            if let Some(inner) = map.get(root) {
                return parse_body(inner.to_string().as_bytes());
            }
        }
    }
    parse_body(body)
}

// ---------------------------------------------------------------------------------------------
// WooCommerce

#[derive(Debug, Deserialize)]
struct WooLine {
    total: Amount,
}

#[derive(Debug, Deserialize)]
struct WooCoupon {
    code: String,
}

#[derive(Debug, Deserialize)]
struct WooRefund {
    id: Id,
    total: Amount,
}

#[derive(Debug, Deserialize)]
struct WooBilling {
    email: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WooMeta {
    key: String,
    value: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct WooOrder {
    id: Id,
    status: String,
    currency: String,
    date_created_gmt: Option<String>,
    date_paid_gmt: Option<String>,
    date_modified_gmt: Option<String>,
    #[serde(default)]
    line_items: Vec<WooLine>,
    #[serde(default)]
    coupon_lines: Vec<WooCoupon>,
    #[serde(default)]
    refunds: Vec<WooRefund>,
    billing: Option<WooBilling>,
    #[serde(default)]
    meta_data: Vec<WooMeta>,
}

/// Statuses of an order that was paid (or is being paid offline) and counts as a sale.
const WOO_SOLD: [&str; 4] = ["processing", "completed", "on-hold", "refunded"];
/// Statuses that take a recorded sale back entirely.
const WOO_UNDONE: [&str; 2] = ["cancelled", "failed"];

fn woo_time(raw: Option<&str>) -> Option<DateTime<Utc>> {
    let raw = raw?.trim();
    NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S")
        .ok()
        .map(|t| t.and_utc())
        .or_else(|| {
            DateTime::parse_from_rfc3339(raw)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        })
}

impl WooOrder {
    fn external_id(&self) -> String {
        format!("woocommerce:{}", self.id.text())
    }

    fn input(&self, currency: Currency) -> ApiResult<OrderInput> {
        let mut subtotal = 0_i64;
        for (i, line) in self.line_items.iter().enumerate() {
            let line = micros_of(
                &format!("line_items[{i}].total"),
                &line.total.text(),
                currency,
            )?;
            subtotal = subtotal
                .checked_add(line)
                .ok_or_else(|| ApiError::invalid("line_items", "add up to too much"))?;
        }
        let mut click_ids = Vec::new();
        for meta in &self.meta_data {
            let key = meta.key.as_str();
            if is_click_key(key) || key == "_wc_order_attribution_session_entry" {
                if let Some(v) = value_text(&meta.value) {
                    click_ids_in(&v, &mut click_ids);
                }
            }
        }
        let email = self
            .billing
            .as_ref()
            .and_then(|b| b.email.clone())
            .filter(|e| !e.trim().is_empty());
        Ok(OrderInput {
            order_id: self.external_id(),
            amount: money::format_amount(subtotal, currency),
            currency: self.currency.clone(),
            occurred_at: woo_time(self.date_paid_gmt.as_deref())
                .or_else(|| woo_time(self.date_created_gmt.as_deref())),
            discount_codes: self.coupon_lines.iter().map(|c| c.code.clone()).collect(),
            click_ids,
            customer_ref: email.map(|e| e.trim().to_lowercase()),
        })
    }
}

/// `POST /api/v1/integrations/woocommerce/{brand_id}/orders`: any order delivery (created,
/// updated). A paid order is recorded once; later deliveries add its refunds, and a
/// cancellation refunds what is left. The unsigned ping sent when the webhook is created
/// (`webhook_id=N`) gets a 200.
pub async fn woocommerce_order(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let brand_id = parse_brand(&path)?;
    let body = read_body(payload).await?;
    let headers = request.headers().clone();
    if headers
        .get(Platform::WooCommerce.signature_header())
        .is_none()
        && is_woo_ping(&body)
    {
        return Ok(HttpResponse::Ok().json(Ignored {
            status: "ok",
            reason: "webhook ping received".into(),
        }));
    }
    let writes = state.writes.clone();
    state
        .db(move |conn| {
            verify(conn, &brand_id, Platform::WooCommerce, &headers, &body)?;
            let order: WooOrder = parse_body(&body)?;
            let currency = Currency::parse("currency", &order.currency).map_err(|e| ApiError::Validation(vec![e]))?;
            let status = order.status.trim().to_ascii_lowercase();
            let external_id = order.external_id();
            let existing = store::find_order(conn, &brand_id, &external_id)?;
            let sold = WOO_SOLD.contains(&status.as_str());
            let mut created = false;
            if existing.is_none() {
                if !sold {
                    return Ok(ignored(format!(
                        "order status is {status}: recorded once it is paid (processing or completed)"
                    )));
                }
                let (result, note) = record_webhook_order(conn, &writes, &brand_id, Platform::WooCommerce, order.input(currency)?)?;
                created = result.is_some_and(|r| r.created);
                if let Some(note) = note {
                    tracing::debug!(%note, "woocommerce order recorded concurrently");
                }
            }
            // Refunds carry no time of their own in the order body: the delivery's modification time.
            let occurred_at = woo_time(order.date_modified_gmt.as_deref())
                .map(|t| t.timestamp_micros())
                .unwrap_or_else(crate::db::now_micros);
            for refund in &order.refunds {
                let amount = micros_of("refunds.total", &refund.total.text(), currency)?;
                record_webhook_refund(
                    conn,
                    &brand_id,
                    &external_id,
                    format!("woocommerce:refund:{}", refund.id.text()),
                    amount,
                    occurred_at,
                )?;
            }
            if WOO_UNDONE.contains(&status.as_str()) || status == "refunded" {
                // Whatever the listed refunds left: taken back in full.
                record_webhook_refund(
                    conn,
                    &brand_id,
                    &external_id,
                    format!("{external_id}:{status}"),
                    i64::MAX / 2,
                    occurred_at,
                )?;
            }
            let stored = store::find_order(conn, &brand_id, &external_id)?.ok_or_else(ApiError::not_found)?;
            Ok(Outcome::Order(ingest::Recorded {
                created,
                view: ingest::stored_order_view(conn, stored)?,
            }))
        })
        .await
        .map(Outcome::respond)
}

/// WooCommerce's creation ping: a form body `webhook_id=N`.
fn is_woo_ping(body: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(body) else {
        return false;
    };
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(text.trim()).unwrap_or_default();
    pairs.len() == 1 && pairs[0].0 == "webhook_id" && pairs[0].1.chars().all(|c| c.is_ascii_digit())
}

/// The handlers' pure steps, from a body's bytes to what they would record, without a
/// signature or a database. Only for the fuzz targets in `fuzz/`.
#[doc(hidden)]
pub mod fuzzing {
    use super::*;

    /// A refund as a delivery gives it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct MappedRefund {
        pub refund_id: String,
        pub amount_micros: i64,
    }

    /// An order delivery as the handler would record it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct MappedOrder {
        pub order: NewOrder,
        /// The refunds the order lists.
        pub refunds: Vec<MappedRefund>,
        /// WooCommerce's status, trimmed and lower-case.
        pub status: Option<String>,
    }

    /// A Shopify order delivery (`None` for a test order). `convert(micros, from, to)` stands
    /// for the brand's exchange rates.
    pub fn shopify_order(
        body: &[u8],
        now: i64,
        mut convert: impl FnMut(i64, Currency, Currency) -> ApiResult<i64>,
    ) -> ApiResult<Option<MappedOrder>> {
        let order: ShopifyOrder = unwrap_root(body, "order")?;
        if order.test {
            return Ok(None);
        }
        let new = validate_webhook_order(Platform::Shopify, order.input(), now)?;
        let currency = new.currency;
        let refunds = order
            .refunds
            .iter()
            .map(|r| {
                Ok(MappedRefund {
                    refund_id: shopify_refund_id(&r.id.text()),
                    amount_micros: r
                        .amount_micros_with(currency, |m, from| convert(m, from, currency))?,
                })
            })
            .collect::<ApiResult<_>>()?;
        Ok(Some(MappedOrder {
            order: new,
            refunds,
            status: None,
        }))
    }

    /// A Shopify `refunds/create` delivery for an order in `currency`: the order's id and the
    /// refund.
    pub fn shopify_refund(
        body: &[u8],
        currency: Currency,
        mut convert: impl FnMut(i64, Currency, Currency) -> ApiResult<i64>,
    ) -> ApiResult<(String, MappedRefund)> {
        let refund: ShopifyRefund = unwrap_root(body, "refund")?;
        let order_id = refund
            .order_id
            .as_ref()
            .map(Id::text)
            .ok_or_else(|| ApiError::invalid("order_id", "is required"))?;
        let amount_micros =
            refund.amount_micros_with(currency, |m, from| convert(m, from, currency))?;
        Ok((
            shopify_order_id(&order_id),
            MappedRefund {
                refund_id: shopify_refund_id(&refund.id.text()),
                amount_micros,
            },
        ))
    }

    /// A WooCommerce order delivery, whatever its status.
    pub fn woo_order(body: &[u8], now: i64) -> ApiResult<MappedOrder> {
        let order: WooOrder = parse_body(body)?;
        let currency = Currency::parse("currency", &order.currency)
            .map_err(|e| ApiError::Validation(vec![e]))?;
        let new = validate_webhook_order(Platform::WooCommerce, order.input(currency)?, now)?;
        let refunds = order
            .refunds
            .iter()
            .map(|r| {
                Ok(MappedRefund {
                    refund_id: format!("woocommerce:refund:{}", r.id.text()),
                    amount_micros: micros_of("refunds.total", &r.total.text(), currency)?,
                })
            })
            .collect::<ApiResult<_>>()?;
        Ok(MappedOrder {
            order: new,
            refunds,
            status: Some(order.status.trim().to_ascii_lowercase()),
        })
    }

    pub fn is_woo_ping(body: &[u8]) -> bool {
        super::is_woo_ping(body)
    }

    pub fn click_ids_in(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        super::click_ids_in(text, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_click_ids_in_urls_and_lists() {
        let id = "0193a5a0-7f3e-7c4e-9a5b-1c2d3e4f5a6b";
        let mut out = Vec::new();
        click_ids_in(
            &format!("/products/x?utm_source=ig&itk_click={id}"),
            &mut out,
        );
        click_ids_in(&format!("https://shop.example/?itk_click={id}"), &mut out);
        assert_eq!(out, [id]);
        let other = "0193a5a0-7f3e-7c4e-9a5b-000000000001";
        click_ids_in(
            &format!("{id}:1763800000, {other}:1763800001 garbage"),
            &mut out,
        );
        assert_eq!(out, [id, other]);
        click_ids_in("http://www.example.com?source=abc", &mut out);
        assert_eq!(out.len(), 2);
    }

    /// Found while writing `fuzz/fuzz_targets/webhook_shopify_order.rs` and confirmed with it:
    /// a landing URL nesting `?itk_click=` 2,400 times (a 26 KB body) took 13 s of CPU in the
    /// fuzz build, time quadratic in the length and one stack frame per level.
    #[test]
    fn click_ids_are_not_searched_in_nested_urls() {
        let id = "0193a5a0-7f3e-7c4e-9a5b-1c2d3e4f5a6b";
        let deep = format!("/p{}{id}", "?itk_click=".repeat(20_000));
        let mut out = Vec::new();
        click_ids_in(&deep, &mut out);
        assert!(out.is_empty(), "{out:?}");
        click_ids_in(&format!("/p?itk_click={id}:1763800000,garbage"), &mut out);
        assert_eq!(out, [id]);
    }

    #[test]
    fn signatures_verify_only_with_the_right_secret_and_body() {
        let sig = {
            let mut mac = Hmac::<Sha256>::new_from_slice(b"test_secret").unwrap();
            mac.update(b"{}");
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        };
        assert!(verify_signature(b"test_secret", b"{}", &sig));
        assert!(!verify_signature(b"test_secret", b"{ }", &sig));
        assert!(!verify_signature(b"other", b"{}", &sig));
        assert!(!verify_signature(b"test_secret", b"{}", "not base64!"));
    }

    #[test]
    fn recognises_the_woocommerce_ping() {
        assert!(is_woo_ping(b"webhook_id=12"));
        assert!(!is_woo_ping(b"webhook_id=12&x=1"));
        assert!(!is_woo_ping(b"{\"id\":1}"));
    }
}
