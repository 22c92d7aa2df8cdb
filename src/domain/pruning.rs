//! Pruning: which enrollments fail a campaign's rules. Pure: figures in, verdicts out.
//!
//! An enrollment with fewer clicks than `min_clicks_for_judgement` is not judged
//! (`insufficient_data`). Money and count rules compare exact figures. The conversion-rate
//! rule is statistical: a rate observed below the minimum fails only when the whole Wilson
//! 95% interval is below it; when the interval still reaches the minimum the sample is too
//! small to call it (`insufficient_data`), so a small unlucky sample is never pruned as a
//! failure. `bottom_percent` prunes that share of the judged enrollments, worst first by
//! `rank_by` (default net revenue).

use serde::Serialize;

use crate::domain::metrics::{self, Metrics, Sums};
use crate::domain::money::{self, Currency, MICROS};
use crate::domain::names::named_enum;

named_enum! {
    /// What an entry of a campaign's prune log did.
    pub enum PruneAction {
        Prune = "prune",
        Reinstate = "reinstate",
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rules {
    pub min_roi: Option<f64>,
    /// Micro-units of the campaign's currency.
    pub min_net_revenue: Option<i64>,
    /// Millionths of a conversion.
    pub min_conversions: Option<i64>,
    /// 0 to 1.
    pub min_conversion_rate: Option<f64>,
    /// 0 to 100.
    pub bottom_percent: Option<f64>,
    pub min_clicks_for_judgement: i64,
    pub rank_by: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Reason {
    pub rule: &'static str,
    pub threshold: String,
    pub actual: Option<String>,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Pruned(Vec<Reason>),
    Kept,
    InsufficientData(String),
}

fn rate(x: f64) -> String {
    format!("{:.6}", x)
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

/// The verdict on each enrollment, in the order given.
pub fn judge(rules: &Rules, rows: &[(Sums, Metrics)], currency: Currency) -> Vec<Verdict> {
    let mut verdicts: Vec<Verdict> = Vec::with_capacity(rows.len());
    for (s, m) in rows {
        if s.clicks < rules.min_clicks_for_judgement {
            verdicts.push(Verdict::InsufficientData(format!(
                "{} clicks, fewer than the {} needed for a judgement",
                s.clicks, rules.min_clicks_for_judgement
            )));
            continue;
        }
        let mut reasons = Vec::new();
        let mut unsure = None;
        if let Some(min) = rules.min_roi {
            // No cost, no ROI: nothing to judge by it.
            if let Some(roi) = m.roi {
                if roi < min {
                    reasons.push(Reason {
                        rule: "min_roi",
                        threshold: rate(min),
                        actual: Some(rate(roi)),
                        detail: format!(
                            "ROI {} is below {} (net revenue {}, cost {})",
                            rate(roi),
                            rate(min),
                            m.net_revenue,
                            m.cost
                        ),
                    });
                }
            }
        }
        if let Some(min) = rules.min_net_revenue {
            if s.net_micros() < min {
                reasons.push(Reason {
                    rule: "min_net_revenue",
                    threshold: money::format_amount(min, currency),
                    actual: Some(m.net_revenue.clone()),
                    detail: format!(
                        "net revenue {} is below {}",
                        m.net_revenue,
                        money::format_amount(min, currency)
                    ),
                });
            }
        }
        if let Some(min) = rules.min_conversions {
            if s.conversions_micros < min {
                reasons.push(Reason {
                    rule: "min_conversions",
                    threshold: money::format_rate(min),
                    actual: Some(money::format_rate(s.conversions_micros)),
                    detail: format!(
                        "{} conversions, fewer than {}",
                        money::format_rate(s.conversions_micros),
                        money::format_rate(min)
                    ),
                });
            }
        }
        if let Some(min) = rules.min_conversion_rate {
            let conversions = s.conversions_micros as f64 / MICROS as f64;
            let trials = s.unique_clicks as f64;
            let observed = m.conversion_rate;
            match (observed, metrics::wilson_upper_bound(conversions, trials)) {
                (Some(r), Some(upper)) if r < min => {
                    let lower = m.conversion_rate_lower_bound.unwrap_or(0.0);
                    if upper < min {
                        reasons.push(Reason {
                            rule: "min_conversion_rate",
                            threshold: rate(min),
                            actual: Some(rate(r)),
                            detail: format!(
                                "conversion rate {} over {} unique clicks; even the Wilson 95% interval [{}, {}] is below {}",
                                rate(r),
                                s.unique_clicks,
                                rate(lower),
                                rate(upper),
                                rate(min)
                            ),
                        });
                    } else {
                        unsure = Some(format!(
                            "conversion rate {} over {} unique clicks is below {}, but its Wilson 95% interval [{}, {}] still reaches it: too few clicks to tell",
                            rate(r),
                            s.unique_clicks,
                            rate(min),
                            rate(lower),
                            rate(upper)
                        ));
                    }
                }
                (None, _) => {
                    unsure = Some("no unique clicks: no conversion rate to judge".to_string());
                }
                _ => {}
            }
        }
        verdicts.push(match (reasons.is_empty(), unsure) {
            (false, _) => Verdict::Pruned(reasons),
            (true, Some(why)) => Verdict::InsufficientData(why),
            (true, None) => Verdict::Kept,
        });
    }
    if let Some(pct) = rules.bottom_percent {
        let judged: Vec<usize> = (0..rows.len())
            .filter(|&i| !matches!(verdicts[i], Verdict::InsufficientData(_)))
            .collect();
        let n = judged.len();
        let cut = ((n as f64) * pct / 100.0).floor() as usize;
        // Worst first: lowest of a metric where more is better, highest where less is better
        // (costs); an enrollment without the figure is not ranked among the worst; ties keep
        // the given order.
        let lower_is_better = metrics::LOWER_IS_BETTER.contains(&rules.rank_by.as_str());
        let mut order: Vec<usize> = judged
            .iter()
            .copied()
            .filter(|&i| rows[i].1.sort_value(&rules.rank_by).is_some())
            .collect();
        order.sort_by(|&a, &b| {
            let x = rows[a].1.sort_value(&rules.rank_by).unwrap_or_default();
            let y = rows[b].1.sort_value(&rules.rank_by).unwrap_or_default();
            let o = x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal);
            if lower_is_better {
                o.reverse()
            } else {
                o
            }
        });
        for (rank, &i) in order.iter().take(cut).enumerate() {
            let actual = rows[i].1.sort_value(&rules.rank_by).map(rate);
            let reason = Reason {
                rule: "bottom_percent",
                threshold: rate(pct),
                actual: actual.clone(),
                detail: format!(
                    "{} is rank {} of {} from the bottom by {}; the bottom {}% ({}) are pruned",
                    actual.unwrap_or_else(|| "no figure".into()),
                    rank + 1,
                    n,
                    rules.rank_by,
                    rate(pct),
                    cut
                ),
            };
            match &mut verdicts[i] {
                Verdict::Pruned(reasons) => reasons.push(reason),
                v => *v = Verdict::Pruned(vec![reason]),
            }
        }
    }
    verdicts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::parse("c", "EUR").unwrap()
    }

    fn row(clicks: i64, unique: i64, conversions: f64, net: i64, fee: i64) -> (Sums, Metrics) {
        let s = Sums {
            clicks,
            unique_clicks: unique,
            conversions_micros: (conversions * MICROS as f64) as i64,
            gross_micros: net * MICROS,
            fee_micros: fee * MICROS,
            ..Sums::default()
        };
        let m = metrics::compute(&s, eur());
        (s, m)
    }

    #[test]
    fn money_and_count_rules_say_why() {
        let rules = Rules {
            min_net_revenue: Some(100 * MICROS),
            min_roi: Some(0.0),
            min_conversions: Some(2 * MICROS),
            rank_by: "net_revenue".into(),
            ..Rules::default()
        };
        let rows = [row(100, 80, 1.0, 50, 100), row(100, 80, 5.0, 500, 100)];
        let v = judge(&rules, &rows, eur());
        match &v[0] {
            Verdict::Pruned(reasons) => {
                let rules: Vec<&str> = reasons.iter().map(|r| r.rule).collect();
                assert_eq!(rules, ["min_roi", "min_net_revenue", "min_conversions"]);
                assert_eq!(reasons[1].actual.as_deref(), Some("50.00"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(v[1], Verdict::Kept);
    }

    #[test]
    fn a_small_unlucky_sample_is_not_a_failure() {
        let rules = Rules {
            min_conversion_rate: Some(0.05),
            rank_by: "net_revenue".into(),
            ..Rules::default()
        };
        // 0 of 10: observed 0%, but 5% is well inside the interval.
        // 0 of 1,000: the whole interval is below 5%.
        // 80 of 1,000: above.
        let rows = [
            row(10, 10, 0.0, 0, 0),
            row(1000, 1000, 0.0, 0, 0),
            row(1000, 1000, 80.0, 0, 0),
            row(0, 0, 0.0, 0, 0),
        ];
        let v = judge(&rules, &rows, eur());
        assert!(matches!(v[0], Verdict::InsufficientData(_)), "{:?}", v[0]);
        assert!(matches!(v[1], Verdict::Pruned(_)), "{:?}", v[1]);
        assert_eq!(v[2], Verdict::Kept);
        assert!(matches!(v[3], Verdict::InsufficientData(_)));
    }

    #[test]
    fn bottom_percent_takes_the_worst_of_the_judged() {
        let rules = Rules {
            bottom_percent: Some(50.0),
            min_clicks_for_judgement: 10,
            rank_by: "net_revenue".into(),
            ..Rules::default()
        };
        let rows = [
            row(100, 50, 1.0, 300, 0),
            row(100, 50, 1.0, 100, 0),
            row(5, 5, 0.0, 0, 0),
            row(100, 50, 1.0, 200, 0),
            row(100, 50, 1.0, 400, 0),
        ];
        let v = judge(&rules, &rows, eur());
        assert!(matches!(v[2], Verdict::InsufficientData(_)));
        let pruned: Vec<usize> = (0..5)
            .filter(|&i| matches!(v[i], Verdict::Pruned(_)))
            .collect();
        assert_eq!(pruned, [1, 3]);
    }
}
