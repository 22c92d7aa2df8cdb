//! What is known of a customer (by its stored `customer_ref`): the touches that brought it,
//! and when its leads turned into orders.

use diesel::prelude::*;

use crate::db::schema::{customer_touches, events, orders};
use crate::db::types::row;
use crate::db::{with_backend, AnyConnection};
use crate::domain::attribution::Via;
use crate::domain::ids::{BrandId, CampaignId, EnrollmentId, InfluencerId, LinkId};

row! {
    /// A click or code of an event or order that named the customer.
    #[derive(Debug, Clone, Insertable)]
    #[diesel(treat_none_as_default_value = false)]
    pub struct CustomerTouchRow in customer_touches {
        pub brand_id: BrandId,
        pub customer_ref: String,
        /// `click` or `code`: how the touch first reached the customer.
        pub via: Via,
        pub touch_key: String,
        pub campaign_id: CampaignId,
        pub enrollment_id: EnrollmentId,
        pub influencer_id: InfluencerId,
        pub link_id: Option<LinkId>,
        pub at: i64,
        pub attributable: bool,
        pub created_at: i64,
    }
}

/// Binds touches to their customer. A touch bound before (a code used again) moves to the
/// later use, with whether it could earn credit then.
pub fn bind(conn: &mut AnyConnection, rows: &[CustomerTouchRow]) -> QueryResult<()> {
    for row in rows {
        let key = customer_touches::table
            .filter(customer_touches::brand_id.eq(&row.brand_id))
            .filter(customer_touches::customer_ref.eq(&row.customer_ref))
            .filter(customer_touches::via.eq(row.via))
            .filter(customer_touches::touch_key.eq(&row.touch_key));
        let bound: Option<i64> = key.select(customer_touches::at).first(conn).optional()?;
        match bound {
            None => {
                with_backend!(conn, |c| diesel::insert_into(customer_touches::table)
                    .values(row)
                    .on_conflict_do_nothing()
                    .execute(c))?;
            }
            Some(at) if at < row.at => {
                diesel::update(key)
                    .set((
                        customer_touches::at.eq(row.at),
                        customer_touches::attributable.eq(row.attributable),
                    ))
                    .execute(conn)?;
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// The customer's latest touches (at most 100) from `since` to `until` (inclusive), oldest
/// first.
pub fn touches(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    customer_ref: &str,
    since: i64,
    until: i64,
) -> QueryResult<Vec<CustomerTouchRow>> {
    customer_touches::table
        .filter(customer_touches::brand_id.eq(brand_id))
        .filter(customer_touches::customer_ref.eq(customer_ref))
        .filter(customer_touches::at.ge(since))
        .filter(customer_touches::at.le(until))
        .order((
            customer_touches::at.desc(),
            customer_touches::touch_key.desc(),
        ))
        .limit(100)
        .select(CustomerTouchRow::as_select())
        .load(conn)
        .map(|mut rows: Vec<CustomerTouchRow>| {
            rows.reverse();
            rows
        })
}

/// An order of the customer at `at`: each of its events at or before it whose first order is
/// unknown or later now has this one.
pub fn ordered(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    customer_ref: &str,
    at: i64,
) -> QueryResult<usize> {
    diesel::update(
        events::table
            .filter(events::brand_id.eq(brand_id))
            .filter(events::customer_ref.eq(customer_ref))
            .filter(events::occurred_at.le(at))
            .filter(
                events::first_order_at
                    .is_null()
                    .or(events::first_order_at.gt(at)),
            ),
    )
    .set(events::first_order_at.eq(at))
    .execute(conn)
}

/// The customer's first order at or after `at`, for an event recorded after its orders.
pub fn first_order_from(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    customer_ref: &str,
    at: i64,
) -> QueryResult<Option<i64>> {
    orders::table
        .filter(orders::brand_id.eq(brand_id))
        .filter(orders::customer_ref.eq(customer_ref))
        .filter(orders::occurred_at.ge(at))
        .select(diesel::dsl::min(orders::occurred_at))
        .first(conn)
}
