//! Orders with their touches and attributions, and refunds.

use diesel::prelude::*;

use crate::db::schema::{attributions, order_touches, orders, refunds};
use crate::db::types::row;
use crate::db::{insert_rows, with_backend, AnyConnection};
use crate::domain::attribution::Via;
use crate::domain::campaign::Model;
use crate::domain::ids::{BrandId, CampaignId, EnrollmentId, InfluencerId, OrderId, RefundId};
use crate::domain::money::Currency;
use crate::domain::orders::OrderSource;

row! {
    #[derive(Debug, Clone, Insertable)]
    pub struct OrderRow in orders {
        pub id: OrderId,
        pub brand_id: BrandId,
        pub external_id: String,
        pub fingerprint: String,
        pub source: OrderSource,
        pub amount_micros: i64,
        pub currency: Currency,
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
}

row! {
    #[derive(Debug, Clone, Insertable)]
    pub struct TouchRow in order_touches {
        pub order_id: OrderId,
        pub position: i32,
        pub brand_id: BrandId,
        pub campaign_id: CampaignId,
        pub enrollment_id: EnrollmentId,
        pub influencer_id: InfluencerId,
        pub via: Via,
        pub touch_key: String,
        pub at: i64,
        pub attributable: bool,
        pub model: Model,
        pub window_days: i32,
        pub code_priority: bool,
    }
}

row! {
    #[derive(Debug, Clone, Insertable)]
    #[diesel(treat_none_as_default_value = false)]
    pub struct AttributionRow in attributions {
        pub order_id: OrderId,
        pub position: i32,
        pub brand_id: BrandId,
        pub campaign_id: CampaignId,
        pub enrollment_id: EnrollmentId,
        pub influencer_id: InfluencerId,
        pub via: Via,
        pub model: Option<Model>,
        pub share_micros: i64,
        pub credited_micros: i64,
        pub currency: Currency,
        pub occurred_at: i64,
    }
}

row! {
    #[derive(Debug, Clone, Insertable)]
    pub struct RefundRow in refunds {
        pub id: RefundId,
        pub brand_id: BrandId,
        pub order_id: OrderId,
        pub external_id: String,
        pub fingerprint: String,
        pub amount_micros: i64,
        pub occurred_at: i64,
        pub created_at: i64,
    }
}

/// Rows per multi-row statement on PostgreSQL.
const CHUNK: usize = 500;

/// An order of the brand by the storefront's `order_id`.
pub fn find(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    external_id: &str,
) -> QueryResult<Option<OrderRow>> {
    with_backend!(conn, |c| orders::table
        .filter(orders::brand_id.eq(brand_id))
        .filter(orders::external_id.eq(external_id))
        .select(OrderRow::as_select())
        .first(c)
        .optional())
}

pub fn insert(
    conn: &mut AnyConnection,
    order: &OrderRow,
    touches: &[TouchRow],
    credits: &[AttributionRow],
) -> QueryResult<()> {
    with_backend!(conn, |c| diesel::insert_into(orders::table)
        .values(order)
        .execute(c))?;
    insert_rows!(conn, touches, CHUNK, |rows| diesel::insert_into(
        order_touches::table
    )
    .values(rows));
    insert_rows!(conn, credits, CHUNK, |rows| diesel::insert_into(
        attributions::table
    )
    .values(rows));
    Ok(())
}

pub fn touches_of(conn: &mut AnyConnection, order_id: &OrderId) -> QueryResult<Vec<TouchRow>> {
    with_backend!(conn, |c| order_touches::table
        .filter(order_touches::order_id.eq(order_id))
        .order(order_touches::position.asc())
        .select(TouchRow::as_select())
        .load(c))
}

pub fn attributions_of(
    conn: &mut AnyConnection,
    order_id: &OrderId,
) -> QueryResult<Vec<AttributionRow>> {
    with_backend!(conn, |c| attributions::table
        .filter(attributions::order_id.eq(order_id))
        .order(attributions::position.asc())
        .select(AttributionRow::as_select())
        .load(c))
}

/// A refund of the brand by the storefront's `refund_id`.
pub fn find_refund(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
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

/// Orders whose customer reference holds an `@` after its first character: e-mails stored in
/// plain text by versions before they were hashed on every path (at most `limit`, by id after
/// `after`).
pub fn customer_refs_with_at(
    conn: &mut AnyConnection,
    after: Option<&OrderId>,
    limit: i64,
) -> QueryResult<Vec<(OrderId, String)>> {
    let mut query = orders::table
        .filter(orders::customer_ref.like("_%@%"))
        .select((orders::id, orders::customer_ref))
        .order(orders::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(orders::id.gt(after.clone()));
    }
    let rows: Vec<(OrderId, Option<String>)> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, r)| r.map(|r| (id, r)))
        .collect())
}

pub fn set_customer_ref(conn: &mut AnyConnection, id: &OrderId, value: &str) -> QueryResult<()> {
    diesel::update(orders::table.find(id))
        .set(orders::customer_ref.eq(Some(value)))
        .execute(conn)
        .map(|_| ())
}
