//! Native storefront webhooks: Shopify `orders/create` and `refunds/create`, WooCommerce order
//! deliveries. No bearer key: each body is verified with the brand's webhook secret, then
//! recorded like the orders and refunds of the REST API.

use crate::core::ingest::orders::{self, OrderView};
use crate::core::ingest::refunds::{self, RefundView};
use crate::core::ingest::{IngestError, IngestResult, Recorded};
use crate::core::now_micros;
use crate::db::{AnyConnection, GroupCommit};
use crate::domain::ids::BrandId;
use crate::domain::integrations::{self, shopify, woocommerce, Platform};
use crate::domain::orders::{NewRefund, OrderInput, OrderSource};
use crate::domain::secrets::Sealer;
use crate::store;

/// What a delivery led to.
#[derive(Debug)]
pub enum Delivery {
    Order(Recorded<OrderView>),
    Refund(Recorded<RefundView>),
    /// Nothing to record, and why (a 4xx would only make the platform retry).
    Ignored(String),
    /// Signed, but not something that can ever be recorded (a negative amount, a payload that
    /// breaks a rule): answered 2xx so that the platform stops retrying, and kept with the
    /// reason in `webhook_rejections`.
    Rejected(String),
    /// WooCommerce's creation ping.
    Ping,
}

fn source(platform: Platform) -> OrderSource {
    match platform {
        Platform::Shopify => OrderSource::Shopify,
        Platform::WooCommerce => OrderSource::WooCommerce,
    }
}

/// A brand's webhook endpoint for a platform, found from the path before any of the body is
/// read: a brand that does not exist or has no secret for the platform answers at once.
pub struct Endpoint {
    brand_id: BrandId,
    platform: Platform,
    secret: String,
}

/// A delivery whose signature verified: only [`Endpoint::verify`] makes one, and only a
/// verified delivery is recorded.
pub struct Verified {
    brand_id: BrandId,
    platform: Platform,
    body: Vec<u8>,
}

impl Verified {
    pub fn brand_id(&self) -> &BrandId {
        &self.brand_id
    }
}

fn rejected_signature(platform: Platform) -> IngestError {
    metrics::counter!("webhooks_rejected_total", "platform" => platform.as_str(), "reason" => "signature")
        .increment(1);
    IngestError::BadSignature(platform)
}

/// The endpoint of a brand and platform; an unknown brand answers like a missing secret.
pub fn endpoint(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    brand_id: &BrandId,
    platform: Platform,
) -> IngestResult<Endpoint> {
    let Some(stored) = store::integrations::webhook_secret(conn, brand_id, platform)? else {
        return Err(rejected_signature(platform));
    };
    // Secrets that do not open are caught at start; one that fails now was written by an
    // instance with another key.
    let secret = sealer
        .open(&stored)
        .map_err(|e| IngestError::Unreadable(format!("the brand's webhook secret: {e}")))?
        .into_plain();
    Ok(Endpoint {
        brand_id: brand_id.clone(),
        platform,
        secret,
    })
}

impl Endpoint {
    /// The body, verified against the brand's secret for the platform.
    pub fn verify(self, signature: Option<&str>, body: Vec<u8>) -> IngestResult<Verified> {
        match signature {
            Some(signature)
                if integrations::verify_signature(self.secret.as_bytes(), &body, signature) =>
            {
                Ok(Verified {
                    brand_id: self.brand_id,
                    platform: self.platform,
                    body,
                })
            }
            _ => Err(rejected_signature(self.platform)),
        }
    }
}

/// A payload that can never be recorded becomes a rejection (kept with its reason, counted,
/// answered 2xx); anything a retry may fix (a missing exchange rate, a conflict, the database)
/// stays an error so that the platform retries.
fn settle(
    conn: &mut AnyConnection,
    delivery: &Verified,
    result: IngestResult<Delivery>,
) -> IngestResult<Delivery> {
    let reason = match result {
        Err(IngestError::Invalid(errors)) => errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; "),
        Err(IngestError::Malformed(detail)) => detail,
        other => return other,
    };
    let platform = delivery.platform;
    store::integrations::record_rejection(
        conn,
        &delivery.brand_id,
        platform,
        &reason,
        now_micros(),
    )?;
    metrics::counter!("webhooks_rejected_total", "platform" => platform.as_str(), "reason" => "invalid")
        .increment(1);
    tracing::warn!(platform = platform.as_str(), %reason, "a signed webhook delivery was rejected");
    Ok(Delivery::Rejected(reason))
}

/// Records a webhook's order. A redelivery answers the stored order; a later delivery that
/// changed what we credit (an edited order) keeps the first version and says so in the note,
/// logged and counted. A transient conflict (a concurrent delivery of the same order) is an
/// error, so that the platform retries.
fn record_order(
    conn: &mut AnyConnection,
    writes: &GroupCommit,
    brand_id: &BrandId,
    platform: Platform,
    input: OrderInput,
) -> IngestResult<(Option<Recorded<OrderView>>, Option<String>)> {
    let order = integrations::validate_order(platform, input, now_micros())?;
    let external_id = order.external_id.clone();
    match orders::record(conn, writes, brand_id, order, source(platform)) {
        Ok(r) => Ok((Some(r), None)),
        Err(IngestError::BodyChanged { .. }) => {
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

/// Records a platform refund of `amount_micros`, capped at what remains of the order; a
/// redelivery (same refund id) answers the stored refund. `None` when nothing remains.
fn record_refund(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    order_external_id: &str,
    refund_id: String,
    amount_micros: i64,
    occurred_at: i64,
) -> IngestResult<Option<Recorded<RefundView>>> {
    let Some(mut order) = store::orders::find(conn, brand_id, order_external_id)? else {
        return Err(IngestError::NotFound(format!(
            "order {order_external_id} is not recorded (yet); the platform will retry"
        )));
    };
    if let Some(existing) = store::orders::find_refund(conn, brand_id, &refund_id)? {
        if existing.order_id != order.id {
            return Err(IngestError::RefundOfAnotherOrder(refund_id));
        }
        let current = store::orders::find(conn, brand_id, order_external_id)?.unwrap_or(order);
        return Ok(Some(Recorded {
            created: false,
            view: refunds::view(&current, &existing),
        }));
    }
    // Capped at what remains; if a concurrent refund takes part of it in between, capped
    // again on the next try.
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
        match refunds::record(conn, brand_id, &order, refund) {
            Ok(r) => return Ok(Some(r)),
            Err(IngestError::RefundExceeds { .. }) => {
                order = refunds::order_of(conn, brand_id, order_external_id)?;
            }
            Err(e) => return Err(e),
        }
    }
    Err(IngestError::Contended(
        "the order is being refunded concurrently; retry",
    ))
}

/// An `orders/create` (or `orders/updated`, `orders/paid`) delivery. Refunds already on the
/// order are recorded too.
pub fn shopify_order(
    conn: &mut AnyConnection,
    writes: &GroupCommit,
    delivery: &Verified,
) -> IngestResult<Delivery> {
    let result = record_shopify_order(conn, writes, &delivery.brand_id, &delivery.body);
    settle(conn, delivery, result)
}

fn record_shopify_order(
    conn: &mut AnyConnection,
    writes: &GroupCommit,
    brand_id: &BrandId,
    body: &[u8],
) -> IngestResult<Delivery> {
    let order = shopify::Order::parse(body)?;
    if order.is_test() {
        return Ok(Delivery::Ignored(
            "a test order (test: true) is not recorded".into(),
        ));
    }
    let input = order.input();
    // Everything that can be refused is read before anything is written: the refunds' amounts
    // too (their conversion comes later, once the order's currency is known).
    let currency = crate::domain::money::Currency::parse("currency", &input.currency)?;
    for refund in order.refunds() {
        refund.amount_micros(currency, |micros, _| Ok::<_, IngestError>(micros))?;
    }
    let external_id = input.order_id.clone();
    let (result, note) = record_order(conn, writes, brand_id, Platform::Shopify, input)?;
    let stored = refunds::order_of(conn, brand_id, &external_id)?;
    let now = now_micros();
    for refund in order.refunds() {
        let amount = refund.amount_micros(stored.currency, |micros, paid_in| {
            orders::convert(conn, brand_id, micros, paid_in, stored.currency)
        })?;
        record_refund(
            conn,
            brand_id,
            &external_id,
            refund.refund_id(),
            amount,
            refund.occurred_at(now),
        )?;
    }
    if let Some(note) = note {
        return Ok(Delivery::Ignored(format!(
            "{note}; its refunds are recorded"
        )));
    }
    // The view after any refunds recorded from the same delivery.
    let stored = refunds::order_of(conn, brand_id, &external_id)?;
    Ok(Delivery::Order(Recorded {
        created: result.is_some_and(|r| r.created),
        view: orders::stored_view(conn, stored)?,
    }))
}

/// A `refunds/create` delivery.
pub fn shopify_refund(conn: &mut AnyConnection, delivery: &Verified) -> IngestResult<Delivery> {
    let result = record_shopify_refund(conn, &delivery.brand_id, &delivery.body);
    settle(conn, delivery, result)
}

fn record_shopify_refund(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    body: &[u8],
) -> IngestResult<Delivery> {
    let refund = shopify::Refund::parse(body)?;
    let shopify_id = refund.shopify_order_id()?;
    let external_id = shopify::order_id(&shopify_id);
    let order = store::orders::find(conn, brand_id, &external_id)?.ok_or_else(|| {
        IngestError::NotFound(format!(
            "Shopify order {shopify_id} is not recorded (yet); Shopify will retry"
        ))
    })?;
    let amount = refund.amount_micros(order.currency, |micros, paid_in| {
        orders::convert(conn, brand_id, micros, paid_in, order.currency)
    })?;
    if amount == 0 {
        return Ok(Delivery::Ignored(
            "no successful refund transaction (nothing was paid back)".into(),
        ));
    }
    let recorded = record_refund(
        conn,
        brand_id,
        &external_id,
        refund.refund_id(),
        amount,
        refund.occurred_at(now_micros()),
    )?;
    Ok(match recorded {
        Some(r) => Delivery::Refund(r),
        None => Delivery::Ignored(format!("order {shopify_id} is already fully refunded")),
    })
}

/// Any WooCommerce order delivery (created, updated). A paid order is recorded once; later
/// deliveries add its refunds, and a cancellation refunds what is left. The unsigned ping
/// sent when the webhook is created (`webhook_id=N`) is answered as such.
pub fn woocommerce_order(
    conn: &mut AnyConnection,
    writes: &GroupCommit,
    delivery: &Verified,
) -> IngestResult<Delivery> {
    let result = record_woocommerce_order(conn, writes, &delivery.brand_id, &delivery.body);
    settle(conn, delivery, result)
}

/// WooCommerce's unsigned creation ping (`webhook_id=N`), answered 200 without a signature.
pub fn is_woocommerce_ping(signature: Option<&str>, body: &[u8]) -> bool {
    signature.is_none() && woocommerce::is_ping(body)
}

fn record_woocommerce_order(
    conn: &mut AnyConnection,
    writes: &GroupCommit,
    brand_id: &BrandId,
    body: &[u8],
) -> IngestResult<Delivery> {
    let order = woocommerce::Order::parse(body)?;
    let currency = order.currency()?;
    // Everything that can be refused is read before anything is written.
    let listed_refunds = order.refunds(currency)?;
    let status = order.status();
    let external_id = order.external_id();
    let mut created = false;
    if store::orders::find(conn, brand_id, &external_id)?.is_none() {
        if !order.is_sold() {
            return Ok(Delivery::Ignored(format!(
                "order status is {status}: recorded once it is paid (processing or completed)"
            )));
        }
        let input = order.input(currency)?;
        let (result, note) = record_order(conn, writes, brand_id, Platform::WooCommerce, input)?;
        created = result.is_some_and(|r| r.created);
        if let Some(note) = note {
            tracing::debug!(%note, "woocommerce order recorded concurrently");
        }
    }
    let occurred_at = order.modified_at(now_micros());
    for refund in listed_refunds {
        record_refund(
            conn,
            brand_id,
            &external_id,
            refund.refund_id,
            refund.amount_micros,
            occurred_at,
        )?;
    }
    if order.is_undone() {
        // Whatever the listed refunds left: taken back in full.
        record_refund(
            conn,
            brand_id,
            &external_id,
            format!("{external_id}:{status}"),
            i64::MAX / 2,
            occurred_at,
        )?;
    }
    let stored = refunds::order_of(conn, brand_id, &external_id)?;
    Ok(Delivery::Order(Recorded {
        created,
        view: orders::stored_view(conn, stored)?,
    }))
}
