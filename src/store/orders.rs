//! Orders with their touches and attributions, refunds, funnel events, exchange rates and
//! webhook secrets.

use diesel::prelude::*;

use crate::db::schema::{
    attributions, events, fx_rates, integrations, order_touches, orders, refunds,
};
use crate::db::AnyConnection;
use crate::with_backend;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = orders)]
pub struct OrderRow {
    pub id: String,
    pub brand_id: String,
    pub external_id: String,
    pub fingerprint: String,
    pub source: String,
    pub amount_micros: i64,
    pub currency: String,
    pub occurred_at: i64,
    pub customer_ref: Option<String>,
    /// JSON array of the codes reported.
    pub discount_codes: String,
    /// JSON array of the click ids reported.
    pub click_ids: String,
    pub self_referral: bool,
    pub attributed: bool,
    pub refunded_micros: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_touches)]
pub struct TouchRow {
    pub order_id: String,
    pub position: i32,
    pub brand_id: String,
    pub campaign_id: String,
    pub enrollment_id: String,
    pub influencer_id: String,
    pub via: String,
    pub touch_key: String,
    pub at: i64,
    pub attributable: bool,
    pub model: String,
    pub window_days: i32,
    pub code_priority: bool,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = attributions, treat_none_as_default_value = false)]
pub struct AttributionRow {
    pub order_id: String,
    pub position: i32,
    pub brand_id: String,
    pub campaign_id: String,
    pub enrollment_id: String,
    pub influencer_id: String,
    pub via: String,
    pub model: Option<String>,
    pub share_micros: i64,
    pub credited_micros: i64,
    pub currency: String,
    pub occurred_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refunds)]
pub struct RefundRow {
    pub id: String,
    pub brand_id: String,
    pub order_id: String,
    pub external_id: String,
    pub fingerprint: String,
    pub amount_micros: i64,
    pub occurred_at: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = events)]
pub struct EventRow {
    pub id: String,
    pub brand_id: String,
    pub external_id: String,
    pub fingerprint: String,
    pub kind: String,
    pub click_id: String,
    pub campaign_id: Option<String>,
    pub enrollment_id: Option<String>,
    pub influencer_id: Option<String>,
    pub occurred_at: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = fx_rates)]
pub struct RateRow {
    pub brand_id: String,
    pub base: String,
    pub quote: String,
    pub rate: String,
    pub updated_at: i64,
}

/// Rows per multi-row statement on PostgreSQL.
const CHUNK: usize = 500;

pub fn find_order(
    conn: &mut AnyConnection,
    brand_id: &str,
    external_id: &str,
) -> QueryResult<Option<OrderRow>> {
    crate::with_backend!(conn, |c| orders::table
        .filter(orders::brand_id.eq(brand_id))
        .filter(orders::external_id.eq(external_id))
        .select(OrderRow::as_select())
        .first(c)
        .optional())
}

pub fn insert_order(
    conn: &mut AnyConnection,
    order: &OrderRow,
    touches: &[TouchRow],
    credits: &[AttributionRow],
) -> QueryResult<()> {
    crate::with_backend!(conn, |c| diesel::insert_into(orders::table)
        .values(order)
        .execute(c))?;
    crate::write_rows!(conn, touches, CHUNK, |rows| diesel::insert_into(
        order_touches::table
    )
    .values(rows));
    crate::write_rows!(conn, credits, CHUNK, |rows| diesel::insert_into(
        attributions::table
    )
    .values(rows));
    Ok(())
}

pub fn touches_of(conn: &mut AnyConnection, order_id: &str) -> QueryResult<Vec<TouchRow>> {
    crate::with_backend!(conn, |c| order_touches::table
        .filter(order_touches::order_id.eq(order_id))
        .order(order_touches::position.asc())
        .select(TouchRow::as_select())
        .load(c))
}

pub fn attributions_of(
    conn: &mut AnyConnection,
    order_id: &str,
) -> QueryResult<Vec<AttributionRow>> {
    crate::with_backend!(conn, |c| attributions::table
        .filter(attributions::order_id.eq(order_id))
        .order(attributions::position.asc())
        .select(AttributionRow::as_select())
        .load(c))
}

pub fn find_refund(
    conn: &mut AnyConnection,
    brand_id: &str,
    external_id: &str,
) -> QueryResult<Option<RefundRow>> {
    refunds::table
        .filter(refunds::brand_id.eq(brand_id))
        .filter(refunds::external_id.eq(external_id))
        .select(RefundRow::as_select())
        .first(conn)
        .optional()
}

/// Records a refund if the order's refunds stay within its amount; `Ok(false)` otherwise.
/// The check and the increment are one statement, so concurrent refunds cannot overshoot.
pub fn insert_refund(conn: &mut AnyConnection, refund: &RefundRow) -> QueryResult<bool> {
    let updated = diesel::update(
        orders::table
            .filter(orders::id.eq(&refund.order_id))
            .filter((orders::refunded_micros + refund.amount_micros).le(orders::amount_micros)),
    )
    .set(orders::refunded_micros.eq(orders::refunded_micros + refund.amount_micros))
    .execute(conn)?;
    if updated == 0 {
        return Ok(false);
    }
    diesel::insert_into(refunds::table)
        .values(refund)
        .execute(conn)?;
    Ok(true)
}

pub fn refunds_of(conn: &mut AnyConnection, order_id: &str) -> QueryResult<Vec<RefundRow>> {
    refunds::table
        .filter(refunds::order_id.eq(order_id))
        .order(refunds::occurred_at.asc())
        .select(RefundRow::as_select())
        .load(conn)
}

pub fn find_event(
    conn: &mut AnyConnection,
    brand_id: &str,
    external_id: &str,
) -> QueryResult<Option<EventRow>> {
    events::table
        .filter(events::brand_id.eq(brand_id))
        .filter(events::external_id.eq(external_id))
        .select(EventRow::as_select())
        .first(conn)
        .optional()
}

pub fn insert_event(conn: &mut AnyConnection, event: &EventRow) -> QueryResult<()> {
    diesel::insert_into(events::table)
        .values(event)
        .execute(conn)
        .map(|_| ())
}

pub fn rates(conn: &mut AnyConnection, brand_id: &str) -> QueryResult<Vec<RateRow>> {
    fx_rates::table
        .filter(fx_rates::brand_id.eq(brand_id))
        .order((fx_rates::base.asc(), fx_rates::quote.asc()))
        .select(RateRow::as_select())
        .load(conn)
}

pub fn rate(
    conn: &mut AnyConnection,
    brand_id: &str,
    base: &str,
    quote: &str,
) -> QueryResult<Option<String>> {
    fx_rates::table
        .filter(fx_rates::brand_id.eq(brand_id))
        .filter(fx_rates::base.eq(base))
        .filter(fx_rates::quote.eq(quote))
        .select(fx_rates::rate)
        .first(conn)
        .optional()
}

pub fn put_rate(conn: &mut AnyConnection, row: &RateRow) -> QueryResult<()> {
    with_backend!(conn, |c| diesel::insert_into(fx_rates::table)
        .values(row)
        .on_conflict((fx_rates::brand_id, fx_rates::base, fx_rates::quote))
        .do_update()
        .set((
            fx_rates::rate.eq(&row.rate),
            fx_rates::updated_at.eq(row.updated_at),
        ))
        .execute(c))
    .map(|_| ())
}

pub fn webhook_secret(
    conn: &mut AnyConnection,
    brand_id: &str,
    platform: &str,
) -> QueryResult<Option<String>> {
    integrations::table
        .filter(integrations::brand_id.eq(brand_id))
        .filter(integrations::platform.eq(platform))
        .select(integrations::webhook_secret)
        .first(conn)
        .optional()
}

pub fn put_webhook_secret(
    conn: &mut AnyConnection,
    brand_id: &str,
    platform: &str,
    secret: &str,
    at: i64,
) -> QueryResult<()> {
    with_backend!(conn, |c| diesel::insert_into(integrations::table)
        .values((
            integrations::brand_id.eq(brand_id),
            integrations::platform.eq(platform),
            integrations::webhook_secret.eq(secret),
            integrations::updated_at.eq(at),
        ))
        .on_conflict((integrations::brand_id, integrations::platform))
        .do_update()
        .set((
            integrations::webhook_secret.eq(secret),
            integrations::updated_at.eq(at),
        ))
        .execute(c))
    .map(|_| ())
}
