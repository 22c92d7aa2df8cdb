//! Goals: how far a campaign (or an influencer) is, and whether it keeps pace.

use serde::Serialize;

use crate::domain::campaign::GoalMetric;
use crate::domain::metrics::Sums;
use crate::domain::money::{self, Currency, MICROS};

#[derive(Debug, Serialize)]
pub struct GoalProgress {
    pub metric: GoalMetric,
    pub target: String,
    pub actual: String,
    /// actual / target
    pub progress: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct Pace {
    /// Share of the campaign's dates elapsed (0 to 1).
    pub elapsed: f64,
    /// Where the goal's metric should be by now if it grew linearly over the dates.
    pub expected: String,
    /// actual / expected
    pub pace: Option<f64>,
    pub on_track: Option<bool>,
}

/// A goal's figure as text: money (net revenue, event value) in the currency, counts and ROI
/// as plain decimals.
pub fn goal_text(metric: GoalMetric, micros: i64, currency: Currency) -> String {
    match metric {
        GoalMetric::NetRevenue | GoalMetric::EventValue => money::format_amount(micros, currency),
        _ => money::format_rate(micros),
    }
}

/// A goal's metric as micro-units: money, counts, or ROI in millionths (rounded half away
/// from zero; 0 while nothing was spent).
fn actual(metric: GoalMetric, s: &Sums) -> i64 {
    match metric {
        GoalMetric::NetRevenue => s.net_micros(),
        GoalMetric::Conversions => s.conversions_micros,
        GoalMetric::Clicks => s.clicks * MICROS,
        GoalMetric::Leads => s.leads * MICROS,
        GoalMetric::EventValue => s.event_value_micros,
        GoalMetric::Roi => {
            let cost = i128::from(s.cost_micros());
            if cost <= 0 {
                return 0;
            }
            let num =
                (i128::from(s.net_micros()) - i128::from(s.cost_micros())) * i128::from(MICROS);
            let rounded = if num >= 0 {
                (2 * num + cost) / (2 * cost)
            } else {
                -((-2 * num + cost) / (2 * cost))
            };
            rounded.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
        }
    }
}

fn ratio(num: i64, den: i64) -> Option<f64> {
    (den != 0).then(|| (num as f64 / den as f64 * 1e6).round() / 1e6)
}

/// Where a goal stands.
pub fn progress(
    metric: Option<GoalMetric>,
    target: Option<i64>,
    s: &Sums,
    currency: Currency,
) -> Option<GoalProgress> {
    let (metric, target) = (metric?, target?);
    let actual = actual(metric, s);
    Some(GoalProgress {
        metric,
        target: goal_text(metric, target, currency),
        actual: goal_text(metric, actual, currency),
        progress: ratio(actual, target),
    })
}

/// Whether a goal keeps the pace of a campaign running from `start` to `end`, at `now`.
pub fn pace(
    metric: GoalMetric,
    target: i64,
    s: &Sums,
    (start, end): (i64, i64),
    now: i64,
    currency: Currency,
) -> Option<Pace> {
    // A ratio does not accumulate over time: ROI has no pace.
    if end <= start || metric == GoalMetric::Roi {
        return None;
    }
    let elapsed = ((now - start) as f64 / (end - start) as f64).clamp(0.0, 1.0);
    let unit = if matches!(metric, GoalMetric::NetRevenue | GoalMetric::EventValue) {
        currency.minor_unit_micros()
    } else {
        1
    };
    let expected = ((target as f64 * elapsed) / unit as f64).round() as i64 * unit;
    let actual = actual(metric, s);
    Some(Pace {
        elapsed: (elapsed * 1e6).round() / 1e6,
        expected: goal_text(metric, expected, currency),
        pace: ratio(actual, expected),
        on_track: (expected != 0).then_some(actual >= expected),
    })
}
