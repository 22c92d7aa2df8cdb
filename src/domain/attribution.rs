//! Attribution: which influencer touches earn an order, and how much of it, to the cent.
//!
//! Every touch of an order (discount codes it carried, clicks it reported) is kept; this
//! module decides, without I/O, which touches are eligible and how credit is split under a
//! model. Credited amounts are whole minor units (cents) and always sum to the order amount;
//! shares are millionths and always sum to exactly one.

use crate::domain::campaign::Model;
use crate::domain::names::named_enum;

pub const SHARE_ONE: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400_000_000;
/// Half-life of `time_decay`: a touch a week older than another weighs half as much.
const HALF_LIFE_DAYS: f64 = 7.0;

named_enum! {
    /// How a touch reached an order: the discount code it carried, a click it reported, or
    /// an earlier click or code of the customer it named (`customer_ref`).
    pub enum Via {
        Code = "code",
        Click = "click",
        Customer = "customer",
    }
}

/// The key a credit is stored and read under: as the order's campaigns decided it (each its
/// own model), under one model (reports recompute under any), or the same under every key
/// (a code that won, a single eligible touch), stored once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CreditKey {
    AsDecided,
    Model(Model),
    Any,
}

impl CreditKey {
    /// The key a report reads: the model asked for, or the credit as decided.
    pub fn read(model: Option<Model>) -> Self {
        model.map_or(Self::AsDecided, Self::Model)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AsDecided => "campaign",
            Self::Model(m) => m.as_str(),
            Self::Any => "*",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "campaign" => Some(Self::AsDecided),
            "*" => Some(Self::Any),
            other => Model::parse(other).map(Self::Model),
        }
    }
}

impl std::fmt::Display for CreditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The attribution settings of the campaign a touch belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    pub model: Model,
    pub window_days: i32,
    pub code_priority: bool,
}

/// One touch of an order, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Touch {
    /// Stable identity (click id, or the code), for deterministic ordering.
    pub key: String,
    pub via: Via,
    /// When the touch happened (a click's time; for a code, the order's time).
    pub at: i64,
    /// The touch could earn credit at all: an attributable human click, or a code of an
    /// enrollment that was not pruned.
    pub attributable: bool,
    pub rules: Rules,
}

/// The credit of one touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credit {
    /// Index into the touches given.
    pub touch: usize,
    /// Millionths of the order.
    pub share: i64,
    /// Minor units of the order's currency.
    pub amount: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The model that split the credit (`None` when a code won by priority, or nothing did).
    pub model: Option<Model>,
    pub credits: Vec<Credit>,
    /// Eligible touches that earned nothing.
    pub assists: Vec<usize>,
}

impl Decision {
    pub fn is_attributed(&self) -> bool {
        !self.credits.is_empty()
    }
}

/// Whether a touch may share in an order placed at `order_at`: attributable, not after the
/// order, and (for clicks) inside its campaign's window.
pub fn eligible(touch: &Touch, order_at: i64) -> bool {
    if !touch.attributable {
        return false;
    }
    match touch.via {
        Via::Code => true,
        // A customer's earlier touch is a click in time: its window is the campaign's
        // identity window (stored as the touch's `window_days`).
        Via::Click | Via::Customer => {
            touch.at <= order_at
                && order_at - touch.at <= i64::from(touch.rules.window_days) * MICROS_PER_DAY
        }
    }
}

/// The order in which touches are weighed and their credits listed: oldest first, ties
/// broken by kind and key so that the result never depends on input order.
pub fn touch_order(touch: &Touch) -> (i64, bool, &str) {
    (touch.at, touch.via == Via::Code, &touch.key)
}

/// Decides the credit of an order of `amount` minor units placed at `order_at`.
/// `model` overrides the campaigns' own models (reports recompute under any model).
pub fn attribute(touches: &[Touch], order_at: i64, amount: i64, model: Option<Model>) -> Decision {
    let mut eligible_touches: Vec<usize> = (0..touches.len())
        .filter(|&i| eligible(&touches[i], order_at))
        .collect();
    eligible_touches.sort_by(|&a, &b| touch_order(&touches[a]).cmp(&touch_order(&touches[b])));
    if eligible_touches.is_empty() {
        return Decision {
            model: None,
            credits: Vec::new(),
            assists: Vec::new(),
        };
    }

    let priority_codes: Vec<usize> = eligible_touches
        .iter()
        .copied()
        .filter(|&i| touches[i].via == Via::Code && touches[i].rules.code_priority)
        .collect();
    let (credited, used_model, weights) = if !priority_codes.is_empty() {
        let weights = vec![1u128; priority_codes.len()];
        (priority_codes, None, weights)
    } else {
        let last = *eligible_touches.last().expect("not empty");
        let model = model.unwrap_or(touches[last].rules.model);
        let times: Vec<i64> = eligible_touches.iter().map(|&i| touches[i].at).collect();
        let weights = model_weights(model, &times, order_at);
        (eligible_touches.clone(), Some(model), weights)
    };

    let shares = allocate(SHARE_ONE, &weights);
    let amounts = allocate(amount, &weights);
    let credits: Vec<Credit> = credited
        .iter()
        .zip(shares.iter().zip(&amounts))
        .filter(|(_, (share, amount))| **share > 0 || **amount > 0)
        .map(|(&touch, (&share, &amount))| Credit {
            touch,
            share,
            amount,
        })
        .collect();
    let assists = eligible_touches
        .into_iter()
        .filter(|i| !credits.iter().any(|c| c.touch == *i))
        .collect();
    Decision {
        model: used_model,
        credits,
        assists,
    }
}

/// Integer weights of touches ordered oldest first.
fn model_weights(model: Model, times: &[i64], order_at: i64) -> Vec<u128> {
    let n = times.len();
    let mut w = vec![0u128; n];
    match model {
        Model::LastClick => w[n - 1] = 1,
        Model::FirstClick => w[0] = 1,
        Model::Linear => w.iter_mut().for_each(|x| *x = 1),
        Model::PositionBased => match n {
            1 => w[0] = 1,
            2 => w.iter_mut().for_each(|x| *x = 1),
            _ => {
                // 40% / 20% split over the middle / 40%, in units of 1/(5(n-2)).
                let middle = (n - 2) as u128;
                w[0] = 2 * middle;
                w[n - 1] = 2 * middle;
                for x in &mut w[1..n - 1] {
                    *x = 1;
                }
            }
        },
        Model::TimeDecay => {
            for (x, &at) in w.iter_mut().zip(times) {
                let age_days = (order_at - at).max(0) as f64 / MICROS_PER_DAY as f64;
                // 2^(−age/7), as an integer with 2^40 resolution; never zero, so every
                // eligible touch keeps some credit.
                let weight = (-age_days / HALF_LIFE_DAYS).exp2() * (1u64 << 40) as f64;
                *x = (weight as u128).max(1);
            }
        }
    }
    w
}

/// Splits `total` units in proportion to `weights`, exactly: floors first, then the leftover
/// units one by one to the largest remainders (ties to the later touch, the conversion
/// point), so the parts always sum to `total`.
pub fn allocate(total: i64, weights: &[u128]) -> Vec<i64> {
    let sum: u128 = weights.iter().sum();
    if weights.is_empty() || sum == 0 {
        return vec![0; weights.len()];
    }
    let total_u = total.unsigned_abs() as u128;
    let mut parts: Vec<i64> = Vec::with_capacity(weights.len());
    let mut remainders: Vec<(u128, usize)> = Vec::with_capacity(weights.len());
    for (i, &w) in weights.iter().enumerate() {
        let exact = total_u * w;
        parts.push((exact / sum) as i64);
        remainders.push((exact % sum, i));
    }
    let given: i64 = parts.iter().sum();
    let mut left = total_u as i64 - given;
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    for (_, i) in remainders {
        if left == 0 {
            break;
        }
        if weights[i] > 0 {
            parts[i] += 1;
            left -= 1;
        }
    }
    if total < 0 {
        parts.iter_mut().for_each(|p| *p = -*p);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DAY: i64 = MICROS_PER_DAY;

    fn rules(model: Model) -> Rules {
        Rules {
            model,
            window_days: 30,
            code_priority: true,
        }
    }

    fn click(key: &str, at: i64, model: Model) -> Touch {
        Touch {
            key: key.into(),
            via: Via::Click,
            at,
            attributable: true,
            rules: rules(model),
        }
    }

    fn code(key: &str, at: i64, priority: bool) -> Touch {
        Touch {
            key: key.into(),
            via: Via::Code,
            at,
            attributable: true,
            rules: Rules {
                code_priority: priority,
                ..rules(Model::LastClick)
            },
        }
    }

    fn amounts(d: &Decision) -> Vec<(usize, i64)> {
        d.credits.iter().map(|c| (c.touch, c.amount)).collect()
    }

    #[test]
    fn last_and_first_click() {
        let order = 10 * DAY;
        let touches = [
            click("a", DAY, Model::LastClick),
            click("b", 2 * DAY, Model::LastClick),
        ];
        let d = attribute(&touches, order, 10_000, None);
        assert_eq!(amounts(&d), [(1, 10_000)]);
        assert_eq!(d.assists, [0]);
        let d = attribute(&touches, order, 10_000, Some(Model::FirstClick));
        assert_eq!(amounts(&d), [(0, 10_000)]);
        assert_eq!(d.model, Some(Model::FirstClick));
    }

    #[test]
    fn linear_credit_adds_up_to_the_cent() {
        let touches = [
            click("a", DAY, Model::Linear),
            click("b", 2 * DAY, Model::Linear),
            click("c", 3 * DAY, Model::Linear),
        ];
        // 100.00 over three touches: 33.33 + 33.33 + 33.34, the extra cent to the last.
        let d = attribute(&touches, 4 * DAY, 10_000, None);
        assert_eq!(amounts(&d), [(0, 3_333), (1, 3_333), (2, 3_334)]);
        let shares: Vec<i64> = d.credits.iter().map(|c| c.share).collect();
        assert_eq!(shares, [333_333, 333_333, 333_334]);
    }

    #[test]
    fn position_based_is_40_20_40() {
        let touches: Vec<Touch> = (0..4)
            .map(|i| click(&format!("t{i}"), (i + 1) * DAY, Model::PositionBased))
            .collect();
        let d = attribute(&touches, 5 * DAY, 10_000, None);
        assert_eq!(
            amounts(&d),
            [(0, 4_000), (1, 1_000), (2, 1_000), (3, 4_000)]
        );
        let two = &touches[..2];
        assert_eq!(
            amounts(&attribute(two, 5 * DAY, 10_001, None)),
            [(0, 5_000), (1, 5_001)]
        );
        assert_eq!(
            amounts(&attribute(&touches[..1], 5 * DAY, 7, None)),
            [(0, 7)]
        );
    }

    #[test]
    fn time_decay_halves_per_week() {
        let touches = [
            click("old", 0, Model::TimeDecay),
            click("new", 7 * DAY, Model::TimeDecay),
        ];
        let d = attribute(&touches, 7 * DAY, 3_000, None);
        assert_eq!(amounts(&d), [(0, 1_000), (1, 2_000)]);
    }

    #[test]
    fn codes_win_with_priority_and_share_without() {
        let touches = [
            click("a", DAY, Model::LastClick),
            code("ANNA15", 2 * DAY, true),
        ];
        let d = attribute(&touches, 2 * DAY, 5_000, None);
        assert_eq!(amounts(&d), [(1, 5_000)]);
        assert_eq!(d.model, None);
        assert_eq!(d.assists, [0]);
        // Without priority the code is one more touch of the same campaign, at order time.
        let mut same_campaign = code("ANNA15", 2 * DAY, false);
        same_campaign.rules.model = Model::Linear;
        let touches = [click("a", DAY, Model::Linear), same_campaign];
        let d = attribute(&touches, 2 * DAY, 5_000, None);
        assert_eq!(amounts(&d), [(0, 2_500), (1, 2_500)]);
    }

    #[test]
    fn ineligible_touches_earn_nothing() {
        let mut paused = click("p", DAY, Model::LastClick);
        paused.attributable = false;
        let late = click("late", 3 * DAY, Model::LastClick);
        let stale = click("stale", 0, Model::LastClick);
        let d = attribute(&[paused, late, stale], 2 * DAY + 1, 100, None);
        assert_eq!(amounts(&d), [(2, 100)]);
        let d = attribute(&[click("stale", 0, Model::LastClick)], 31 * DAY, 100, None);
        assert!(!d.is_attributed());
        let mut pruned = code("X", DAY, true);
        pruned.attributable = false;
        assert!(!attribute(&[pruned], DAY, 100, None).is_attributed());
    }

    #[test]
    fn input_order_does_not_matter() {
        let a = click("a", DAY, Model::Linear);
        let b = click("b", DAY, Model::Linear);
        let c = click("c", DAY, Model::Linear);
        let d1 = attribute(&[a.clone(), b.clone(), c.clone()], 2 * DAY, 100, None);
        let d2 = attribute(&[c, b, a], 2 * DAY, 100, None);
        let by_key = |d: &Decision, t: &[&str]| -> Vec<(String, i64)> {
            let mut v: Vec<(String, i64)> = d
                .credits
                .iter()
                .map(|c| (t[c.touch].to_string(), c.amount))
                .collect();
            v.sort();
            v
        };
        assert_eq!(by_key(&d1, &["a", "b", "c"]), by_key(&d2, &["c", "b", "a"]));
    }

    fn any_model() -> impl Strategy<Value = Model> {
        prop_oneof![
            Just(Model::LastClick),
            Just(Model::FirstClick),
            Just(Model::Linear),
            Just(Model::TimeDecay),
            Just(Model::PositionBased),
        ]
    }

    proptest! {
        #[test]
        fn shares_sum_to_one_and_amounts_to_the_order(
            model in any_model(),
            ages in proptest::collection::vec(-5 * DAY..40 * DAY, 0..12),
            codes in 0usize..3,
            priority in any::<bool>(),
            amount in 0i64..10_000_000_000,
        ) {
            let order_at = 100 * DAY;
            let mut touches: Vec<Touch> = ages
                .iter()
                .enumerate()
                .map(|(i, age)| click(&format!("c{i}"), order_at - age, model))
                .collect();
            for i in 0..codes {
                touches.push(code(&format!("K{i}"), order_at, priority));
            }
            let d = attribute(&touches, order_at, amount, None);
            if d.is_attributed() {
                prop_assert_eq!(d.credits.iter().map(|c| c.share).sum::<i64>(), SHARE_ONE);
                prop_assert_eq!(d.credits.iter().map(|c| c.amount).sum::<i64>(), amount);
            }
            for c in &d.credits {
                let t = &touches[c.touch];
                prop_assert!(t.at <= order_at, "credited a touch after the order");
                prop_assert!(order_at - t.at <= 30 * DAY, "credited a touch outside the window");
                prop_assert!(c.share >= 0 && c.amount >= 0);
            }
            let eligible_count = touches.iter().filter(|t| eligible(t, order_at)).count();
            prop_assert_eq!(d.credits.len() + d.assists.len(), eligible_count);
        }

        #[test]
        fn allocation_is_exact(total in -1_000_000_000i64..1_000_000_000, weights in proptest::collection::vec(0u128..1_000_000, 1..20)) {
            let parts = allocate(total, &weights);
            if weights.iter().sum::<u128>() > 0 {
                prop_assert_eq!(parts.iter().sum::<i64>(), total);
            }
        }
    }
}
