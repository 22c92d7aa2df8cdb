//! Refunds of recorded orders: never beyond the order, each one once.

use serde::Serialize;

use crate::core::ingest::{IngestError, IngestResult, Recorded};
use crate::core::now_micros;
use crate::db::AnyConnection;
use crate::domain::hooks::EventType;
use crate::domain::ids::{BrandId, RefundId};
use crate::domain::money;
use crate::domain::orders::{NewRefund, RefundInput};
use crate::domain::time::rfc3339;
use crate::store::orders::{OrderRow, RefundRow};
use crate::store::{self};

#[derive(Debug, Serialize)]
pub struct RefundView {
    pub refund_id: String,
    pub order_id: String,
    pub amount: String,
    pub currency: String,
    pub occurred_at: String,
    /// Everything refunded on the order so far.
    pub order_refunded: String,
    /// The order's amount less its refunds.
    pub order_net: String,
}

/// A refund as shown, beside its order's current totals.
pub fn view(order: &OrderRow, refund: &RefundRow) -> RefundView {
    let c = order.currency;
    RefundView {
        refund_id: refund.external_id.clone(),
        order_id: order.external_id.clone(),
        amount: money::format_amount(refund.amount_micros, c),
        currency: c.code().to_string(),
        occurred_at: rfc3339(refund.occurred_at),
        order_refunded: money::format_amount(order.refunded_micros, c),
        order_net: money::format_amount(order.amount_micros - order.refunded_micros, c),
    }
}

/// The order of the brand a refund is for.
pub fn order_of(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    order_id: &str,
) -> IngestResult<OrderRow> {
    store::orders::find(conn, brand_id, order_id)?
        .ok_or_else(|| IngestError::NotFound("no order with this order_id".into()))
}

/// Records a refund reported through the API: validated against its order's currency.
pub fn record_input(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    order_id: &str,
    input: RefundInput,
) -> IngestResult<Recorded<RefundView>> {
    let order = order_of(conn, brand_id, order_id)?;
    let refund = input.validate(order.currency, now_micros())?;
    record(conn, brand_id, &order, refund)
}

/// Records a (partial or full) refund of an order, once: a resend answers the stored refund,
/// the same `refund_id` with another body is refused, and refunds never exceed the order.
pub fn record(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    order: &OrderRow,
    refund: NewRefund,
) -> IngestResult<Recorded<RefundView>> {
    if let Some(existing) = store::orders::find_refund(conn, brand_id, &refund.external_id)? {
        return replay(conn, brand_id, order, &refund, existing);
    }
    let row = RefundRow {
        id: RefundId::new(),
        brand_id: brand_id.clone(),
        order_id: order.id.clone(),
        external_id: refund.external_id.clone(),
        fingerprint: refund.fingerprint.clone(),
        amount_micros: refund.amount_micros,
        occurred_at: refund.occurred_at,
        created_at: now_micros(),
    };
    let written = crate::db::write_transaction(conn, |conn| {
        if !store::orders::insert_refund(conn, &row)? {
            let current = order_of(conn, brand_id, &order.external_id)?;
            return Err(IngestError::RefundExceeds {
                refunded: money::format_amount(current.refunded_micros, current.currency),
                amount: money::format_amount(current.amount_micros, current.currency),
            });
        }
        let current = order_of(conn, brand_id, &order.external_id)?;
        // The credits of the order, under every model, follow the refund.
        store::credits::apply_refund(conn, &current)?;
        let shown = view(&current, &row);
        if current.attributed {
            crate::core::hooks::emit(conn, brand_id, EventType::OrderRefunded, |_| {
                Ok::<_, IngestError>(serde_json::to_value(&shown).unwrap_or_default())
            })?;
        }
        Ok(shown)
    });
    match written {
        Ok(view) => Ok(Recorded {
            created: true,
            view,
        }),
        // The same refund_id committed concurrently: answered like a resend.
        Err(IngestError::Db(e)) if e.is_duplicate() => {
            let existing = store::orders::find_refund(conn, brand_id, &refund.external_id)?
                .ok_or(IngestError::InFlight("refund_id"))?;
            replay(conn, brand_id, order, &refund, existing)
        }
        Err(e) => Err(e),
    }
}

fn replay(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    order: &OrderRow,
    refund: &NewRefund,
    existing: RefundRow,
) -> IngestResult<Recorded<RefundView>> {
    if existing.fingerprint != refund.fingerprint || existing.order_id != order.id {
        return Err(IngestError::BodyChanged {
            what: "refund",
            id: existing.external_id,
        });
    }
    let current = order_of(conn, brand_id, &order.external_id)?;
    Ok(Recorded {
        created: false,
        view: view(&current, &existing),
    })
}
