//! What the fraud signals read: orders' touches and customers, daily orders, clicks before a
//! campaign's start.

use diesel::prelude::*;

use crate::db::schema::{attributions, enrollment_daily, enrollment_hourly, order_touches, orders};
use crate::db::AnyConnection;
use crate::domain::attribution::{CreditKey, Via};
use crate::domain::ids::{CampaignId, EnrollmentId, OrderId};

/// A touch of one of the campaign's orders: (order, enrollment, through a click or a code,
/// counted).
pub type Touch = (OrderId, EnrollmentId, Via, bool);

pub fn touches(conn: &mut AnyConnection, campaign_id: &CampaignId) -> QueryResult<Vec<Touch>> {
    let rows: Vec<(String, String, String, bool)> = order_touches::table
        .filter(order_touches::campaign_id.eq(campaign_id))
        .select((
            order_touches::order_id,
            order_touches::enrollment_id,
            order_touches::via,
            order_touches::attributable,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(o, e, v, a)| {
            Some((
                OrderId::stored(o),
                EnrollmentId::stored(e),
                Via::parse(&v)?,
                a,
            ))
        })
        .collect())
}

/// The campaign's credited orders that name a customer: (enrollment, customer reference,
/// when, order), one row per order and enrollment.
pub fn customer_orders(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
) -> QueryResult<Vec<(EnrollmentId, String, i64, OrderId)>> {
    let rows: Vec<(String, Option<String>, i64, String)> = attributions::table
        .inner_join(orders::table.on(orders::id.eq(attributions::order_id)))
        .filter(attributions::campaign_id.eq(campaign_id))
        .filter(orders::customer_ref.is_not_null())
        .select((
            attributions::enrollment_id,
            orders::customer_ref,
            orders::occurred_at,
            attributions::order_id,
        ))
        .distinct()
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(e, c, t, o)| Some((EnrollmentId::stored(e), c?, t, OrderId::stored(o))))
        .collect())
}

/// Orders per enrollment and UTC day, as decided: (enrollment, day, orders), by day.
pub fn daily_orders(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
) -> QueryResult<Vec<(EnrollmentId, i32, i64)>> {
    let rows: Vec<(String, i32, i64)> = enrollment_daily::table
        .filter(enrollment_daily::campaign_id.eq(campaign_id))
        .filter(
            enrollment_daily::model
                .eq_any([CreditKey::AsDecided.as_str(), CreditKey::Any.as_str()]),
        )
        .filter(enrollment_daily::orders.gt(0))
        .order(enrollment_daily::day.asc())
        .select((
            enrollment_daily::enrollment_id,
            enrollment_daily::day,
            enrollment_daily::orders,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(e, d, n)| (EnrollmentId::stored(e), d, n))
        .collect())
}

/// Counted clicks per enrollment in the hours before `hour` (folded clicks only: those of the
/// last seconds wait for the next look).
pub fn clicks_before(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
    hour: i32,
) -> QueryResult<Vec<(EnrollmentId, i64)>> {
    let rows: Vec<(String, i64)> = enrollment_hourly::table
        .filter(enrollment_hourly::campaign_id.eq(campaign_id))
        .filter(enrollment_hourly::hour.lt(hour))
        .select((enrollment_hourly::enrollment_id, enrollment_hourly::clicks))
        .load(conn)?;
    let mut sums: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    for (e, n) in rows {
        *sums.entry(e).or_default() += n;
    }
    Ok(sums
        .into_iter()
        .map(|(e, n)| (EnrollmentId::stored(e), n))
        .collect())
}
