//! Leads and the value of events: score bands, the money value of each event type, how long
//! a lead takes to become an order, and how a cost is spread over enrollments.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::attribution::allocate;
use crate::domain::campaign::CostAllocation;
use crate::domain::field::FieldError;
use crate::domain::money::{self, Currency};
use crate::domain::orders::{check_event_value, parse_money, EventKind};

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Where a lead's score puts it: below `medium` slow, from `medium` medium, from `fast` fast
/// (reports count the bands in SQL: `store::events::sums`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LeadBands {
    pub medium: i32,
    pub fast: i32,
}

pub const DEFAULT_BANDS: LeadBands = LeadBands {
    medium: 40,
    fast: 70,
};

impl LeadBands {
    /// Both thresholds between 0 and 100, `medium` at most `fast`.
    pub fn check(medium: i64, fast: i64) -> Result<Self, FieldError> {
        for (name, v) in [("lead_bands.medium", medium), ("lead_bands.fast", fast)] {
            if !(0..=100).contains(&v) {
                return Err(FieldError::new(name, "must be between 0 and 100"));
            }
        }
        if medium > fast {
            return Err(FieldError::new(
                "lead_bands.fast",
                "must be at least lead_bands.medium",
            ));
        }
        Ok(Self {
            medium: medium as i32,
            fast: fast as i32,
        })
    }
}

/// The money value of each event type, in micro-units of the campaign's currency.
pub type EventValues = BTreeMap<EventKind, i64>;

/// Event values as the API takes them: `{"lead": "20.00", ...}`, each a non-negative amount
/// with no more decimals than the currency's.
pub fn parse_event_values(
    raw: &serde_json::Map<String, serde_json::Value>,
    currency: Currency,
) -> Result<EventValues, FieldError> {
    let mut out = EventValues::new();
    for (name, value) in raw {
        let field = format!("event_values.{name}");
        let kind = EventKind::parse(name).ok_or_else(|| {
            FieldError::new(
                &field,
                format!(
                    "is not an event type (one of {})",
                    EventKind::NAMES.join(", ")
                ),
            )
        })?;
        let text = match value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => return Err(FieldError::new(&field, "must be a decimal string")),
        };
        let micros = parse_money(&field, &text, currency)?;
        out.insert(kind, check_event_value(&field, micros)?);
    }
    Ok(out)
}

/// Event values as stored (JSON of micro-units), read back; anything unreadable is none.
pub fn stored_event_values(text: &str) -> EventValues {
    let map: BTreeMap<String, i64> = serde_json::from_str(text).unwrap_or_default();
    map.into_iter()
        .filter_map(|(k, v)| EventKind::parse(&k).map(|k| (k, v)))
        .collect()
}

pub fn store_event_values(values: &EventValues) -> String {
    let map: BTreeMap<&str, i64> = values.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    serde_json::to_string(&map).unwrap_or_else(|_| "{}".into())
}

/// Event values as shown: `{"lead": "20.00"}`.
pub fn event_values_view(values: &EventValues, currency: Currency) -> BTreeMap<String, String> {
    values
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), money::format_amount(*v, currency)))
        .collect()
}

/// The median of the delays from a lead to its customer's first order, in days (six
/// decimals); `None` without any.
pub fn median_days(delays: &[i64]) -> Option<f64> {
    if delays.is_empty() {
        return None;
    }
    let mut delays_micros = delays.to_vec();
    delays_micros.sort_unstable();
    let n = delays_micros.len();
    let twice = if n % 2 == 1 {
        2 * i128::from(delays_micros[n / 2])
    } else {
        i128::from(delays_micros[n / 2 - 1]) + i128::from(delays_micros[n / 2])
    };
    let days = twice as f64 / 2.0 / MICROS_PER_DAY as f64;
    Some((days * 1e6).round() / 1e6)
}

/// Spreads `total` micro-units over enrollments whose net revenues are `nets` under a rule,
/// exactly to the currency's minor unit (the parts always sum to `total`). `by_net_revenue`
/// weighs each positive net revenue and falls back to an even split when none is positive.
pub fn spread(total: i64, nets: &[i64], rule: CostAllocation, currency: Currency) -> Vec<i64> {
    if rule == CostAllocation::None || nets.is_empty() {
        return vec![0; nets.len()];
    }
    let unit = currency.minor_unit_micros();
    let mut weights: Vec<u128> = match rule {
        CostAllocation::ByNetRevenue => nets.iter().map(|n| (*n).max(0) as u128).collect(),
        _ => vec![1; nets.len()],
    };
    if weights.iter().all(|w| *w == 0) {
        weights = vec![1; nets.len()];
    }
    allocate(total / unit, &weights)
        .into_iter()
        .map(|p| p * unit)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::MICROS;

    fn eur() -> Currency {
        Currency::parse("c", "EUR").unwrap()
    }

    #[test]
    fn band_thresholds_are_scores_in_order() {
        assert_eq!(LeadBands::check(40, 70), Ok(DEFAULT_BANDS));
        assert!(LeadBands::check(50, 40).is_err());
        assert!(LeadBands::check(0, 101).is_err());
        assert!(LeadBands::check(30, 30).is_ok());
    }

    #[test]
    fn event_values_take_the_currency_digits_and_known_types() {
        let raw = serde_json::json!({"lead": "20.00", "signup": 5});
        let v = parse_event_values(raw.as_object().unwrap(), eur()).unwrap();
        assert_eq!(v[&EventKind::Lead], 20 * MICROS);
        assert_eq!(v[&EventKind::Signup], 5 * MICROS);
        assert_eq!(stored_event_values(&store_event_values(&v)), v);
        let bad = serde_json::json!({"lead": "0.001"});
        assert_eq!(
            parse_event_values(bad.as_object().unwrap(), eur())
                .unwrap_err()
                .field,
            "event_values.lead"
        );
        let unknown = serde_json::json!({"purchase": "1.00"});
        assert!(parse_event_values(unknown.as_object().unwrap(), eur()).is_err());
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        let day = MICROS_PER_DAY;
        assert_eq!(median_days(&[]), None);
        assert_eq!(median_days(&[60 * day, 2 * day, 10 * day]), Some(10.0));
        assert_eq!(median_days(&[3 * day, day]), Some(2.0));
        assert_eq!(median_days(&[day / 2]), Some(0.5));
    }

    #[test]
    fn spreads_sum_to_the_total_to_the_cent() {
        // 100.00 over nets 200, 100, 0 by net revenue: 66.67 / 33.33 / 0.
        let parts = spread(
            100 * MICROS,
            &[200 * MICROS, 100 * MICROS, 0],
            CostAllocation::ByNetRevenue,
            eur(),
        );
        assert_eq!(parts, vec![66_670_000, 33_330_000, 0]);
        let even = spread(100 * MICROS, &[5, 5, 5], CostAllocation::Even, eur());
        assert_eq!(even.iter().sum::<i64>(), 100 * MICROS);
        assert_eq!(even, vec![33_330_000, 33_330_000, 33_340_000]);
        // Nobody earned anything: evenly.
        let fallback = spread(
            10 * MICROS,
            &[0, -5 * MICROS],
            CostAllocation::ByNetRevenue,
            eur(),
        );
        assert_eq!(fallback, vec![5 * MICROS, 5 * MICROS]);
        assert_eq!(
            spread(10 * MICROS, &[1, 2], CostAllocation::None, eur()),
            vec![0, 0]
        );
    }
}
