//! Funnel events and their counts.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

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

pub const STATEMENTS: &[&str] = &[EVENT_COUNTS];

/// Funnel events per enrollment and type between two instants.
pub fn counts(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
    from: i64,
    to: i64,
) -> QueryResult<Vec<EventCount>> {
    let query = Fixed::new(
        EVENT_COUNTS,
        vec![
            Bind::Text(campaign_id.as_str()),
            Bind::BigInt(from),
            Bind::BigInt(to),
        ],
    );
    with_backend!(conn, |c| query.load(c))
}
