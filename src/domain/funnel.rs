//! The funnel: clicks, the events storefronts report, orders.

use serde::Serialize;

use crate::domain::orders::EventKind;

/// The stages in order: clicks, each event kind, orders.
pub const STAGES: [&str; 8] = [
    "clicks",
    "landing_view",
    "lead",
    "signup",
    "trial",
    "add_to_cart",
    "checkout_started",
    "orders",
];

/// The stage an event counts in.
pub fn stage_of(kind: EventKind) -> usize {
    STAGES
        .iter()
        .position(|s| *s == kind.as_str())
        .expect("every event kind is a stage")
}

#[derive(Debug, Default, Serialize, Clone)]
pub struct Stage {
    pub stage: &'static str,
    pub count: f64,
    /// This stage over the previous one (`null` when the previous is 0).
    pub step_conversion: Option<f64>,
}

/// Counts per stage, with each step's conversion.
pub fn stages(counts: &[f64; 8]) -> Vec<Stage> {
    let mut out: Vec<Stage> = Vec::with_capacity(8);
    for (i, name) in STAGES.iter().enumerate() {
        let step = if i == 0 {
            None
        } else {
            let prev = counts[i - 1];
            (prev != 0.0).then(|| (counts[i] / prev * 1e6).round() / 1e6)
        };
        out.push(Stage {
            stage: name,
            count: counts[i],
            step_conversion: step,
        });
    }
    out
}

/// The stage where most is lost: among the stages in `used` (those the campaign has any count
/// in, in funnel order), the one with the lowest conversion from the used stage before it
/// (the earlier on a tie); `None` with fewer than two, or when nothing reached any of them.
pub fn bottleneck(counts: &[f64; 8], used: &[usize]) -> Option<&'static str> {
    weakest_step(counts, used).map(|i| STAGES[i])
}

/// The index of [`bottleneck`]'s stage, for funnels of any stages.
pub fn weakest_step(counts: &[f64], used: &[usize]) -> Option<usize> {
    let mut worst: Option<(f64, usize)> = None;
    for pair in used.windows(2) {
        let (prev, this) = (counts[pair[0]], counts[pair[1]]);
        if prev <= 0.0 {
            continue;
        }
        let rate = this / prev;
        if worst.is_none_or(|(w, _)| rate < w) {
            worst = Some((rate, pair[1]));
        }
    }
    worst.map(|(_, i)| i)
}

/// The stages with a count in these totals.
pub fn used(total: &[f64]) -> Vec<usize> {
    (0..total.len()).filter(|&i| total[i] > 0.0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bottleneck_is_the_weakest_step_between_used_stages() {
        // clicks 100 → lead 20 (0.2) → signup 15 (0.75) → orders 3 (0.2): the earlier 0.2.
        let c = [100.0, 0.0, 20.0, 15.0, 0.0, 0.0, 0.0, 3.0];
        assert_eq!(bottleneck(&c, &used(&c)), Some("lead"));
        let c = [100.0, 0.0, 20.0, 15.0, 0.0, 0.0, 0.0, 1.0];
        assert_eq!(bottleneck(&c, &used(&c)), Some("orders"));
        let only = [10.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        assert_eq!(bottleneck(&only, &used(&only)), None);
    }

    #[test]
    fn every_event_kind_has_its_stage() {
        for kind in EventKind::ALL {
            assert_eq!(STAGES[stage_of(*kind)], kind.as_str());
        }
        let s = stages(&[10.0, 5.0, 0.0, 1.0, 0.0, 0.0, 0.0, 2.0]);
        assert_eq!(s[1].step_conversion, Some(0.5));
        assert_eq!(s[3].step_conversion, None);
    }
}
