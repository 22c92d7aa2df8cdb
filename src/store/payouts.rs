//! Payments made to influencers.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::db::schema::payouts;
use crate::db::sql::{Bind, Fixed};
use crate::db::types::row;
use crate::db::{with_backend, AnyConnection};
use crate::domain::ids::{BrandId, CampaignId, EnrollmentId, InfluencerId, KeyId, PayoutId};

row! {
    #[derive(Debug, Clone, Insertable)]
    #[diesel(treat_none_as_default_value = false)]
    pub struct PayoutRow in payouts {
        pub id: PayoutId,
        pub brand_id: BrandId,
        pub campaign_id: CampaignId,
        pub enrollment_id: EnrollmentId,
        pub influencer_id: InfluencerId,
        pub amount_micros: i64,
        /// The brand's name for the payment (a transfer id); one payment per reference.
        pub reference: Option<String>,
        /// The key that recorded it.
        pub key_id: KeyId,
        pub paid_at: i64,
    }
}

pub fn insert(conn: &mut AnyConnection, row: &PayoutRow) -> QueryResult<()> {
    diesel::insert_into(payouts::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Whether a payment of the campaign already has this reference.
pub fn reference_taken(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
    reference: &str,
) -> QueryResult<bool> {
    let n: i64 = payouts::table
        .filter(payouts::campaign_id.eq(campaign_id))
        .filter(payouts::reference.eq(reference))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

#[derive(Debug, Clone, QueryableByName)]
struct Paid {
    #[diesel(sql_type = Text)]
    enrollment_id: EnrollmentId,
    #[diesel(sql_type = BigInt)]
    paid: i64,
}

const PAID: &str = "SELECT enrollment_id, CAST(SUM(amount_micros) AS BIGINT) AS paid FROM payouts \
     WHERE campaign_id = ? GROUP BY enrollment_id";

pub const STATEMENTS: &[&str] = &[PAID];

/// Paid so far per enrollment of the campaign.
pub fn paid(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
) -> QueryResult<HashMap<EnrollmentId, i64>> {
    let query = Fixed::new(PAID, vec![Bind::Text(campaign_id.as_str())]);
    let rows: Vec<Paid> = with_backend!(conn, |c| query.load(c))?;
    Ok(rows
        .into_iter()
        .map(|p| (p.enrollment_id, p.paid))
        .collect())
}
