//! Exchange rates: an order in one currency credited to a campaign in another is converted
//! with the brand's rate.

use serde::{Deserialize, Serialize};

use crate::core::admin::AdminResult;
use crate::core::now_micros;
use crate::db::AnyConnection;
use crate::domain::field::Checks;
use crate::domain::ids::BrandId;
use crate::domain::json::decimal_text;
use crate::domain::money::{Currency, Rate};
use crate::domain::time::rfc3339;
use crate::store::{self, fx::RateRow};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateInput {
    pub base: String,
    pub quote: String,
    #[serde(deserialize_with = "decimal_text")]
    pub rate: String,
}

#[derive(Debug, Serialize)]
pub struct RateView {
    pub base: String,
    pub quote: String,
    /// Units of `quote` for one unit of `base`.
    pub rate: String,
    pub updated_at: String,
}

impl From<RateRow> for RateView {
    fn from(r: RateRow) -> Self {
        Self {
            base: r.base.code().to_string(),
            quote: r.quote.code().to_string(),
            rate: r.rate.as_str().to_string(),
            updated_at: rfc3339(r.updated_at),
        }
    }
}

/// Registers (or replaces) the rate from `base` to `quote`. An order in `base` credited to a
/// campaign in `quote` is converted with it (its inverse serves the other direction when no
/// rate is registered for it).
pub fn put(conn: &mut AnyConnection, brand_id: &BrandId, req: RateInput) -> AdminResult<RateView> {
    let mut checks = Checks::default();
    let base = checks.take(Currency::parse("base", &req.base));
    let quote = checks.take(Currency::parse("quote", &req.quote));
    if base.is_some() && base == quote {
        checks.fail("quote", "must differ from base");
    }
    let rate = checks.take(Rate::parse("rate", &req.rate));
    checks.finish()?;
    let (Some(base), Some(quote), Some(rate)) = (base, quote, rate) else {
        unreachable!("every failed check was reported");
    };
    let row = RateRow {
        brand_id: brand_id.clone(),
        base,
        quote,
        rate,
        updated_at: now_micros(),
    };
    store::fx::put(conn, &row)?;
    Ok(RateView::from(row))
}

pub fn list(conn: &mut AnyConnection, brand_id: &BrandId) -> AdminResult<Vec<RateView>> {
    Ok(store::fx::all(conn, brand_id)?
        .into_iter()
        .map(RateView::from)
        .collect())
}
