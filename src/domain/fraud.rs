//! Fraud signals: tests over an enrollment's stored figures, each a flag with its reason and
//! figures. A flag changes no credit; a brand acts on it (an exclusion, a prune) or not.

use serde::Serialize;
use serde_json::{json, Value};

use crate::domain::names::named_enum;

named_enum! {
    /// What a flag suspects.
    pub enum FlagKind {
        /// Many clicks, few distinct visitors or automation, no orders against the campaign's
        /// conversion rate.
        ClickFarm = "click_farm",
        /// One customer ordering again and again through the same influencer.
        RepeatOrders = "repeat_orders",
        /// The code redeemed by shoppers who never clicked the influencer's links.
        CodeLeak = "code_leak",
        /// A day of orders far above the enrollment's own history.
        ConversionSpike = "conversion_spike",
        /// Clicks before the campaign started.
        EarlyClicks = "early_clicks",
    }
}

/// A test that failed: what, why in words, and the figures behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub kind: FlagKind,
    /// What the flag is about within the enrollment (a day, a customer), so that each is
    /// announced once; empty when it is the enrollment as a whole.
    pub subject: String,
    pub reason: String,
    pub figures: Value,
}

/// The smallest sample the tests judge: fewer clicks or orders say nothing.
pub const MIN_CLICKS: i64 = 50;
/// A probability below this is taken as not chance.
pub const SIGNIFICANCE: f64 = 0.001;

/// An enrollment's clicks and orders, all time.
#[derive(Debug, Clone, Copy, Default)]
pub struct Traffic {
    /// Counted clicks (bots and prefetches excluded).
    pub clicks: i64,
    /// Of them, distinct visitors per day.
    pub unique_clicks: i64,
    /// Clicks from automation (bots, link previews, prefetches), stored but never counted.
    pub bot_clicks: i64,
    /// Orders credited.
    pub orders: i64,
}

/// A click farm: any of few distinct visitors (under a quarter of the clicks), mostly
/// automation (over half of all requests), or no order where the campaign's conversion rate
/// (`rate`, orders per click of the other enrollments) makes none that unlikely
/// (`(1 − rate)^clicks` below [`SIGNIFICANCE`]).
pub fn click_farm(t: Traffic, rate: Option<f64>) -> Option<Finding> {
    let mut why = Vec::new();
    let all = t.clicks + t.bot_clicks;
    if t.clicks >= MIN_CLICKS && (t.unique_clicks as f64) < 0.25 * t.clicks as f64 {
        why.push(format!(
            "{} clicks from {} distinct visitors",
            t.clicks, t.unique_clicks
        ));
    }
    if all >= MIN_CLICKS && t.bot_clicks * 2 > all {
        why.push(format!(
            "{} of {} requests from bots or automation",
            t.bot_clicks, all
        ));
    }
    let mut chance = None;
    if let Some(rate) = rate.filter(|r| *r > 0.0 && *r < 1.0) {
        if t.clicks >= MIN_CLICKS && t.orders == 0 {
            let p = (1.0 - rate).powf(t.clicks as f64);
            if p < SIGNIFICANCE {
                chance = Some(p);
                why.push(format!(
                    "no order from {} clicks where the campaign converts {:.2}% (chance {:.1e})",
                    t.clicks,
                    rate * 100.0,
                    p
                ));
            }
        }
    }
    if why.is_empty() {
        return None;
    }
    Some(Finding {
        kind: FlagKind::ClickFarm,
        subject: String::new(),
        reason: why.join("; "),
        figures: json!({
            "clicks": t.clicks,
            "unique_clicks": t.unique_clicks,
            "bot_clicks": t.bot_clicks,
            "orders": t.orders,
            "campaign_conversion_rate": rate,
            "chance_of_no_order": chance,
        }),
    })
}

/// `P(X ≥ k)` for `X` Poisson with mean `lambda`.
pub fn poisson_tail(k: i64, lambda: f64) -> f64 {
    if k <= 0 {
        return 1.0;
    }
    // 1 − P(X < k), summed in a stable way.
    let mut term = (-lambda).exp();
    let mut below = term;
    for i in 1..k {
        term *= lambda / i as f64;
        below += term;
    }
    (1.0 - below).max(0.0)
}

/// Days of history a spike is judged against.
pub const SPIKE_HISTORY_DAYS: i32 = 7;
/// The fewest orders in a day that can be a spike.
pub const SPIKE_MIN_ORDERS: i64 = 5;

/// The most unlikely day of orders given the days before it: `daily` is (UTC day, orders),
/// sorted by day, from `first_day` (the first day the enrollment sold). A day counts
/// when at least [`SPIKE_HISTORY_DAYS`] came before it, it has [`SPIKE_MIN_ORDERS`] orders or
/// more, and a Poisson count at the earlier days' mean (at least 0.1 a day) reaches it with a
/// probability under [`SIGNIFICANCE`].
pub fn conversion_spike(first_day: i32, daily: &[(i32, i64)]) -> Option<Finding> {
    let mut worst: Option<(f64, i32, i64, f64)> = None;
    let mut before = 0i64;
    for &(day, orders) in daily {
        let history = day - first_day;
        if history >= SPIKE_HISTORY_DAYS && orders >= SPIKE_MIN_ORDERS {
            let mean = (before as f64 / f64::from(history)).max(0.1);
            let p = poisson_tail(orders, mean);
            if p < SIGNIFICANCE && worst.is_none_or(|w| p < w.0) {
                worst = Some((p, day, orders, mean));
            }
        }
        before += orders;
    }
    let (p, day, orders, mean) = worst?;
    let date = crate::domain::time::date_of_day(day).to_string();
    Some(Finding {
        kind: FlagKind::ConversionSpike,
        subject: date.clone(),
        reason: format!(
            "{orders} orders on {date} against {mean:.2} a day before (chance {p:.1e})"
        ),
        figures: json!({"day": date, "orders": orders, "daily_mean_before": mean, "chance": p}),
    })
}

/// Orders of one customer through one influencer that make a flag: this many within a day.
pub const REPEAT_ORDERS: usize = 3;
const DAY_MICROS: i64 = 86_400_000_000;

/// Repeated orders: [`REPEAT_ORDERS`] or more of one customer (`customer`, its stored
/// reference) within 24 hours. `times` are the orders' instants,
/// sorted.
pub fn repeat_orders(customer: &str, times: &[i64]) -> Option<Finding> {
    let n = REPEAT_ORDERS;
    let (most, from) = (0..times.len().saturating_sub(n - 1))
        .filter(|&i| times[i + n - 1] - times[i] <= DAY_MICROS)
        .map(|i| {
            let end = times[i] + DAY_MICROS;
            (times[i..].iter().take_while(|t| **t <= end).count(), i)
        })
        .max()?;
    // A hash prefix: enough to tell customers apart, nothing to recognise one by (a
    // storefront's reference may be its own customer number).
    let tag: String = crate::domain::keys::sha256_hex(customer)
        .chars()
        .take(12)
        .collect();
    Some(Finding {
        kind: FlagKind::RepeatOrders,
        subject: tag.clone(),
        reason: format!(
            "one customer ordered {most} times within 24 hours ({} in all)",
            times.len()
        ),
        figures: json!({
            "customer": tag,
            "orders_in_24h": most,
            "orders": times.len(),
            "first_at": crate::domain::time::rfc3339(times[from]),
        }),
    })
}

/// The fewest redemptions a leak is judged on.
pub const LEAK_MIN_REDEMPTIONS: i64 = 10;

/// Code leakage: most of the code's redemptions (80% or more of at least
/// [`LEAK_MIN_REDEMPTIONS`]) came with no click on any of the influencer's links.
pub fn code_leak(redemptions: i64, without_click: i64) -> Option<Finding> {
    if redemptions < LEAK_MIN_REDEMPTIONS || without_click * 5 < redemptions * 4 {
        return None;
    }
    Some(Finding {
        kind: FlagKind::CodeLeak,
        subject: String::new(),
        reason: format!(
            "{without_click} of {redemptions} redemptions of the code without a click on the influencer's links"
        ),
        figures: json!({
            "redemptions": redemptions,
            "redemptions_without_click": without_click,
        }),
    })
}

/// The fewest clicks before the start that make a flag.
pub const EARLY_MIN_CLICKS: i64 = 10;

/// Clicks before the campaign started (counted by the hour: a click in the starting hour
/// counts as on time).
pub fn early_clicks(clicks_before: i64, starts_at: i64) -> Option<Finding> {
    (clicks_before >= EARLY_MIN_CLICKS).then(|| Finding {
        kind: FlagKind::EarlyClicks,
        subject: String::new(),
        reason: format!(
            "{clicks_before} clicks before the campaign started ({})",
            crate::domain::time::rfc3339(starts_at)
        ),
        figures: json!({"clicks_before_start": clicks_before, "starts_at": crate::domain::time::rfc3339(starts_at)}),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_tail_matches_known_values() {
        // P(X >= 1 | 1) = 1 - e^-1
        assert!((poisson_tail(1, 1.0) - (1.0 - (-1.0f64).exp())).abs() < 1e-12);
        // P(X >= 3 | 0.5) = 1 - e^-0.5 (1 + 0.5 + 0.125) = 0.014388...
        assert!((poisson_tail(3, 0.5) - 0.014_387_677).abs() < 1e-8);
        assert_eq!(poisson_tail(0, 3.0), 1.0);
    }

    #[test]
    fn click_farms_are_told_from_quiet_influencers() {
        let honest = Traffic {
            clicks: 400,
            unique_clicks: 380,
            bot_clicks: 20,
            orders: 8,
        };
        assert_eq!(click_farm(honest, Some(0.02)), None);
        // Few distinct visitors.
        let farm = Traffic {
            clicks: 400,
            unique_clicks: 40,
            bot_clicks: 0,
            orders: 3,
        };
        assert!(click_farm(farm, Some(0.02))
            .unwrap()
            .reason
            .contains("40 distinct"));
        // No order where 2% convert: 0.98^400 = 3e-4.
        let dry = Traffic {
            clicks: 400,
            unique_clicks: 390,
            bot_clicks: 0,
            orders: 0,
        };
        assert!(click_farm(dry, Some(0.02))
            .unwrap()
            .reason
            .contains("no order"));
        // 0.98^100 = 0.13: could be chance.
        assert_eq!(
            click_farm(
                Traffic {
                    clicks: 100,
                    unique_clicks: 95,
                    bot_clicks: 0,
                    orders: 0
                },
                Some(0.02)
            ),
            None
        );
        // Mostly automation.
        let bots = Traffic {
            clicks: 40,
            unique_clicks: 40,
            bot_clicks: 200,
            orders: 1,
        };
        assert!(click_farm(bots, None)
            .unwrap()
            .reason
            .contains("200 of 240"));
        // Too small to judge.
        assert_eq!(
            click_farm(
                Traffic {
                    clicks: 20,
                    unique_clicks: 1,
                    bot_clicks: 0,
                    orders: 0
                },
                Some(0.5)
            ),
            None
        );
    }

    #[test]
    fn a_spike_stands_out_from_its_own_history_only() {
        let steady: Vec<(i32, i64)> = (0..20).map(|d| (100 + d, 4)).collect();
        assert_eq!(conversion_spike(100, &steady), None);
        let mut spiked = steady.clone();
        spiked[15].1 = 30;
        let f = conversion_spike(100, &spiked).unwrap();
        assert_eq!(f.figures["orders"], 30);
        assert_eq!(f.subject, crate::domain::time::date_of_day(115).to_string());
        // Too early to judge: no history before it.
        assert_eq!(conversion_spike(100, &[(101, 50)]), None);
    }

    #[test]
    fn repeat_orders_need_three_within_a_day() {
        let h = 3_600_000_000;
        assert_eq!(repeat_orders("abc", &[0, 10 * h, 30 * h]), None);
        let f = repeat_orders("abcdef0123456789", &[0, h, 2 * h, 3 * h, 90 * h]).unwrap();
        assert_eq!(f.figures["orders_in_24h"], 4);
        assert_eq!(
            f.subject,
            &crate::domain::keys::sha256_hex("abcdef0123456789")[..12]
        );
    }

    #[test]
    fn leaks_and_early_clicks() {
        assert_eq!(code_leak(9, 9), None);
        assert!(code_leak(10, 8).is_some());
        assert_eq!(code_leak(10, 7), None);
        assert_eq!(early_clicks(9, 0), None);
        assert!(early_clicks(10, 0).is_some());
    }
}
