//! A brand's exchange rates.

use diesel::prelude::*;

use crate::db::schema::fx_rates;
use crate::db::types::row;
use crate::db::{with_backend, AnyConnection};
use crate::domain::ids::BrandId;
use crate::domain::money::{Currency, Rate};

row! {
    #[derive(Debug, Clone, Insertable)]
    pub struct RateRow in fx_rates {
        pub brand_id: BrandId,
        pub base: Currency,
        pub quote: Currency,
        /// Units of `quote` for one unit of `base`.
        pub rate: Rate,
        pub updated_at: i64,
    }
}

pub fn all(conn: &mut AnyConnection, brand_id: &BrandId) -> QueryResult<Vec<RateRow>> {
    fx_rates::table
        .filter(fx_rates::brand_id.eq(brand_id))
        .order((fx_rates::base.asc(), fx_rates::quote.asc()))
        .select(RateRow::as_select())
        .load(conn)
}

/// The rate from `base` to `quote`, when registered.
pub fn rate(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    base: Currency,
    quote: Currency,
) -> QueryResult<Option<Rate>> {
    fx_rates::table
        .filter(fx_rates::brand_id.eq(brand_id))
        .filter(fx_rates::base.eq(base))
        .filter(fx_rates::quote.eq(quote))
        .select(fx_rates::rate)
        .first(conn)
        .optional()
}

/// Registers a rate, replacing the one before.
pub fn put(conn: &mut AnyConnection, row: &RateRow) -> QueryResult<()> {
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
