//! Funnel events and their counts.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};

use crate::db::schema::events;
use crate::db::sql::{Bind, Fixed};
use crate::db::types::row;
use crate::db::{with_backend, AnyConnection};
use crate::domain::ids::{BrandId, CampaignId, ClickId, EnrollmentId, EventId, InfluencerId};
use crate::domain::orders::EventKind;

row! {
    #[derive(Debug, Clone, Insertable)]
    pub struct EventRow in events {
        pub id: EventId,
        pub brand_id: BrandId,
        pub external_id: String,
        pub fingerprint: String,
        pub kind: EventKind,
        pub click_id: ClickId,
        pub campaign_id: Option<CampaignId>,
        pub enrollment_id: Option<EnrollmentId>,
        pub influencer_id: Option<InfluencerId>,
        pub occurred_at: i64,
        pub created_at: i64,
        pub customer_ref: Option<String>,
        pub value_micros: Option<i64>,
        pub score: Option<i32>,
        /// The customer's first order at or after the event.
        pub first_order_at: Option<i64>,
    }
}

/// An event of the brand by the storefront's `event_id`.
pub fn find(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    external_id: &str,
) -> QueryResult<Option<EventRow>> {
    events::table
        .filter(events::brand_id.eq(brand_id))
        .filter(events::external_id.eq(external_id))
        .select(EventRow::as_select())
        .first(conn)
        .optional()
}

pub fn insert(conn: &mut AnyConnection, event: &EventRow) -> QueryResult<()> {
    diesel::insert_into(events::table)
        .values(event)
        .execute(conn)
        .map(|_| ())
}

/// Events of one kind and enrollment, counted.
#[derive(Debug, Clone, QueryableByName)]
pub struct EventCount {
    #[diesel(sql_type = Text)]
    pub enrollment_id: EnrollmentId,
    #[diesel(sql_type = Text)]
    pub kind: EventKind,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

const EVENT_COUNTS: &str = "SELECT enrollment_id, kind, CAST(COUNT(*) AS BIGINT) AS n FROM events \
     WHERE campaign_id = ? AND occurred_at >= ? AND occurred_at < ? \
     AND enrollment_id IS NOT NULL GROUP BY enrollment_id, kind";

/// Per enrollment, type and score band (−1 unscored, 0 slow, 1 medium, 2 fast: the rule of
/// `domain::leads::LeadBands`, with the thresholds bound): how many events, how many
/// carry their own value and its sum, how many were followed by an order of their customer.
const EVENT_SUMS: &str = "SELECT enrollment_id, kind, \
     CAST(CASE WHEN score IS NULL THEN -1 WHEN score >= ? THEN 2 WHEN score >= ? THEN 1 \
     ELSE 0 END AS INTEGER) AS band, CAST(COUNT(*) AS BIGINT) AS n, \
     CAST(COUNT(value_micros) AS BIGINT) AS valued, \
     CAST(COALESCE(SUM(value_micros / 1000000), 0) AS BIGINT) AS value_units, \
     CAST(COALESCE(SUM(value_micros % 1000000), 0) AS BIGINT) AS value_rest_micros, \
     CAST(COUNT(first_order_at) AS BIGINT) AS ordered FROM events \
     WHERE campaign_id = ? AND occurred_at >= ? AND occurred_at < ? \
     AND enrollment_id IS NOT NULL GROUP BY enrollment_id, kind, band";

/// Leads followed by an order of their customer: how long it took.
const LEAD_DELAYS: &str = "SELECT enrollment_id, first_order_at - occurred_at AS delay \
     FROM events WHERE campaign_id = ? AND occurred_at >= ? AND occurred_at < ? \
     AND kind = 'lead' AND enrollment_id IS NOT NULL AND first_order_at IS NOT NULL";

pub const STATEMENTS: &[&str] = &[EVENT_COUNTS, EVENT_SUMS, LEAD_DELAYS];

#[derive(Debug, Clone, QueryableByName)]
pub struct EventSums {
    #[diesel(sql_type = Text)]
    pub enrollment_id: EnrollmentId,
    #[diesel(sql_type = Text)]
    pub kind: EventKind,
    #[diesel(sql_type = Integer)]
    pub band: i32,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
    #[diesel(sql_type = BigInt)]
    pub valued: i64,
    /// The events' own values, summed as whole units and the micro-units left (so that no
    /// sum of bounded values can overflow).
    #[diesel(sql_type = BigInt)]
    pub value_units: i64,
    #[diesel(sql_type = BigInt)]
    pub value_rest_micros: i64,
    #[diesel(sql_type = BigInt)]
    pub ordered: i64,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct LeadDelay {
    #[diesel(sql_type = Text)]
    pub enrollment_id: EnrollmentId,
    #[diesel(sql_type = BigInt)]
    pub delay: i64,
}

fn window_query<'a>(
    sql: &'static str,
    campaign_id: &'a CampaignId,
    from: i64,
    to: i64,
) -> Fixed<'a> {
    Fixed::new(
        sql,
        vec![
            Bind::Text(campaign_id.as_str()),
            Bind::BigInt(from),
            Bind::BigInt(to),
        ],
    )
}

/// The sums of a campaign's events between two instants.
pub fn sums(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
    (medium, fast): (i32, i32),
    from: i64,
    to: i64,
) -> QueryResult<Vec<EventSums>> {
    let mut query = window_query(EVENT_SUMS, campaign_id, from, to);
    query
        .binds
        .splice(0..0, [Bind::Int(fast), Bind::Int(medium)]);
    with_backend!(conn, |c| query.load(c))
}

/// How long each lead of the window took to become an order of its customer.
pub fn lead_delays(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
    from: i64,
    to: i64,
) -> QueryResult<Vec<LeadDelay>> {
    let query = window_query(LEAD_DELAYS, campaign_id, from, to);
    with_backend!(conn, |c| query.load(c))
}

/// Funnel events per enrollment and type between two instants.
pub fn counts(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
    from: i64,
    to: i64,
) -> QueryResult<Vec<EventCount>> {
    let query = window_query(EVENT_COUNTS, campaign_id, from, to);
    with_backend!(conn, |c| query.load(c))
}
