//! The metrics of an enrollment or a campaign, exactly as `docs/API.md` defines them,
//! from summed counts and money. Money stays in integer micro-units until it is formatted;
//! ratios are computed from the exact sums; any x/0 is `None` (`null` in JSON).

use rust_decimal::prelude::*;
use serde::Serialize;

use crate::domain::money::{self, Currency, MICROS};

/// Everything the metrics are computed from, summed over a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sums {
    pub clicks: i64,
    pub unique_clicks: i64,
    pub bot_clicks: i64,
    /// Orders that credited anything.
    pub orders: i64,
    pub redemptions: i64,
    /// Sum of attribution shares, in millionths.
    pub conversions_micros: i64,
    pub gross_micros: i64,
    pub refunded_micros: i64,
    /// Net revenue of self-referred orders (earns no commission).
    pub self_net_micros: i64,
    pub fee_micros: i64,
    /// Commission on the commissionable net revenue, rounded per enrollment to the minor unit.
    pub commission_micros: i64,
    pub impressions: i64,
    pub reach: i64,
    /// Likes + comments + shares + saves.
    pub engagements: i64,
    /// Events of type `lead`, and by score band (unscored leads are in no band).
    pub leads: i64,
    pub leads_slow: i64,
    pub leads_medium: i64,
    pub leads_fast: i64,
    /// Leads whose customer ordered at or after the lead.
    pub leads_ordered: i64,
    /// Each event's `value`, or its campaign's value for its type.
    pub event_value_micros: i64,
    /// Recorded costs besides fee and commission (with its part of the unassigned ones when
    /// the campaign spreads them).
    pub costs_micros: i64,
    /// The paid side: clicks of paid links and what they brought, `ad_spend` costs, paid
    /// posts' figures.
    pub paid_clicks: i64,
    pub paid_conversions_micros: i64,
    pub paid_gross_micros: i64,
    pub paid_refunded_micros: i64,
    pub paid_cost_micros: i64,
    pub paid_impressions: i64,
    pub paid_reach: i64,
    pub paid_engagements: i64,
    /// Posts recorded, and those paid.
    pub posts: i64,
    pub paid_posts: i64,
}

impl Sums {
    pub fn add(&mut self, o: &Sums) {
        self.clicks += o.clicks;
        self.unique_clicks += o.unique_clicks;
        self.bot_clicks += o.bot_clicks;
        self.orders += o.orders;
        self.redemptions += o.redemptions;
        self.conversions_micros += o.conversions_micros;
        self.gross_micros += o.gross_micros;
        self.refunded_micros += o.refunded_micros;
        self.self_net_micros += o.self_net_micros;
        self.fee_micros += o.fee_micros;
        self.commission_micros += o.commission_micros;
        self.impressions += o.impressions;
        self.reach += o.reach;
        self.engagements += o.engagements;
        self.leads += o.leads;
        self.leads_slow += o.leads_slow;
        self.leads_medium += o.leads_medium;
        self.leads_fast += o.leads_fast;
        self.leads_ordered += o.leads_ordered;
        self.event_value_micros = self.event_value_micros.saturating_add(o.event_value_micros);
        self.costs_micros = self.costs_micros.saturating_add(o.costs_micros);
        self.paid_clicks += o.paid_clicks;
        self.paid_conversions_micros += o.paid_conversions_micros;
        self.paid_gross_micros += o.paid_gross_micros;
        self.paid_refunded_micros += o.paid_refunded_micros;
        self.paid_cost_micros = self.paid_cost_micros.saturating_add(o.paid_cost_micros);
        self.paid_impressions += o.paid_impressions;
        self.paid_reach += o.paid_reach;
        self.paid_engagements += o.paid_engagements;
        self.posts += o.posts;
        self.paid_posts += o.paid_posts;
    }

    pub fn net_micros(&self) -> i64 {
        self.gross_micros - self.refunded_micros
    }

    /// Fee + commission + every recorded cost.
    pub fn cost_micros(&self) -> i64 {
        (self.fee_micros + self.commission_micros).saturating_add(self.costs_micros)
    }

    /// `(net revenue + event value − cost) / cost`'s numerator.
    pub fn value_micros(&self) -> i64 {
        self.net_micros().saturating_add(self.event_value_micros)
    }
}

/// Commission on net revenue: `rate` (millionths) × net, rounded half away from zero to the
/// currency's minor unit.
pub fn commission(rate_millionths: i64, commissionable_micros: i64, currency: Currency) -> i64 {
    let unit = currency.minor_unit_micros() as i128;
    let exact = i128::from(rate_millionths) * i128::from(commissionable_micros.max(0));
    let den = i128::from(MICROS) * unit;
    (((2 * exact + den) / (2 * den)) * unit) as i64
}

/// The metrics of one row (an enrollment, or a campaign's total).
#[derive(Debug, Clone, Serialize)]
pub struct Metrics {
    pub clicks: i64,
    pub unique_clicks: i64,
    pub bot_clicks: i64,
    pub conversions: f64,
    pub orders: i64,
    pub redemptions: i64,
    pub gross_revenue: String,
    pub refunds: String,
    pub net_revenue: String,
    pub fee: String,
    pub commission: String,
    /// Recorded costs besides fee and commission.
    pub costs: String,
    pub cost: String,
    pub roi: Option<f64>,
    pub roas: Option<f64>,
    pub cpc: Option<String>,
    pub cpa: Option<String>,
    pub epc: Option<String>,
    pub aov: Option<String>,
    pub conversion_rate: Option<f64>,
    pub conversion_rate_lower_bound: Option<f64>,
    pub impressions: i64,
    pub reach: i64,
    pub ctr: Option<f64>,
    pub cpm: Option<String>,
    pub engagement_rate: Option<f64>,
    pub engagement_rate_by_reach: Option<f64>,
    pub leads: i64,
    pub leads_slow: i64,
    pub leads_medium: i64,
    pub leads_fast: i64,
    pub cost_per_lead: Option<String>,
    pub event_value: String,
    pub lead_to_customer_rate: Option<f64>,
    /// Filled in by the report (a median is not a sum).
    pub median_days_to_order: Option<f64>,
    pub roi_with_event_value: Option<f64>,
    pub currency: String,
}

/// One side of the paid / organic split.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub posts: i64,
    pub impressions: i64,
    pub reach: i64,
    pub engagements: i64,
    pub engagement_rate: Option<f64>,
    pub clicks: i64,
    pub conversions: f64,
    pub net_revenue: String,
    pub cost: String,
    pub cpm: Option<String>,
    pub cpa: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PaidOrganic {
    pub paid: Side,
    pub organic: Side,
}

/// Paid and organic results: the paid side is paid posts, paid links' clicks and what they
/// brought, and `ad_spend` costs; organic is everything else.
pub fn paid_organic(s: &Sums, currency: Currency) -> PaidOrganic {
    let side = |posts: i64,
                impressions: i64,
                reach: i64,
                engagements: i64,
                clicks: i64,
                conversions_micros: i64,
                net: i64,
                cost: i64| Side {
        posts,
        impressions,
        reach,
        engagements,
        engagement_rate: ratio(engagements, impressions),
        clicks,
        conversions: round6(conversions_micros as f64 / MICROS as f64),
        net_revenue: money::format_amount(net, currency),
        cost: money::format_amount(cost, currency),
        cpm: money_per(
            cost.checked_mul(1000).unwrap_or(i64::MAX),
            Decimal::from(impressions),
            currency,
        ),
        cpa: money_per(cost, Decimal::new(conversions_micros, 6), currency),
    };
    let paid_net = s.paid_gross_micros - s.paid_refunded_micros;
    PaidOrganic {
        paid: side(
            s.paid_posts,
            s.paid_impressions,
            s.paid_reach,
            s.paid_engagements,
            s.paid_clicks,
            s.paid_conversions_micros,
            paid_net,
            s.paid_cost_micros,
        ),
        organic: side(
            s.posts - s.paid_posts,
            s.impressions - s.paid_impressions,
            s.reach - s.paid_reach,
            s.engagements - s.paid_engagements,
            s.clicks - s.paid_clicks,
            s.conversions_micros - s.paid_conversions_micros,
            s.net_micros() - paid_net,
            s.cost_micros().saturating_sub(s.paid_cost_micros),
        ),
    }
}

/// The names a leaderboard may sort by.
pub const SORTABLE: &[&str] = &[
    "clicks",
    "unique_clicks",
    "bot_clicks",
    "conversions",
    "orders",
    "redemptions",
    "gross_revenue",
    "refunds",
    "net_revenue",
    "fee",
    "commission",
    "cost",
    "roi",
    "roas",
    "cpc",
    "cpa",
    "epc",
    "aov",
    "conversion_rate",
    "conversion_rate_lower_bound",
    "ctr",
    "cpm",
    "engagement_rate",
    "engagement_rate_by_reach",
    "costs",
    "leads",
    "leads_fast",
    "cost_per_lead",
    "event_value",
    "lead_to_customer_rate",
    "roi_with_event_value",
];

/// Metrics where a lower figure is the better one.
pub const LOWER_IS_BETTER: &[&str] = &[
    "bot_clicks",
    "refunds",
    "fee",
    "commission",
    "cost",
    "cpc",
    "cpa",
    "cpm",
    "costs",
    "cost_per_lead",
];

/// Sorts rows by the metric `sort`, nulls last in either direction, ties by handle then id;
/// `key` gives a row's metrics, handle and id.
pub fn rank<T>(
    rows: &mut [T],
    key: impl Fn(&T) -> (&Metrics, &str, &str),
    sort: &str,
    descending: bool,
) {
    rows.sort_by(|a, b| {
        let ((ma, ha, ia), (mb, hb, ib)) = (key(a), key(b));
        let by_value = match (ma.sort_value(sort), mb.sort_value(sort)) {
            (Some(a), Some(b)) => {
                let o = a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal);
                if descending {
                    o.reverse()
                } else {
                    o
                }
            }
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        by_value.then_with(|| ha.cmp(hb)).then_with(|| ia.cmp(ib))
    });
}

fn ratio(num: i64, den: i64) -> Option<f64> {
    (den != 0).then(|| round6(num as f64 / den as f64))
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Money divided by a count (or by millionths of a count), as a decimal string with the
/// currency's digits plus two (cost per click can be a fraction of a cent).
fn money_per(micros: i64, per: Decimal, currency: Currency) -> Option<String> {
    if per.is_zero() {
        return None;
    }
    let value = Decimal::new(micros, 6).checked_div(per)?;
    let digits = currency.minor_digits() + 2;
    let mut v = value.round_dp_with_strategy(digits, RoundingStrategy::MidpointAwayFromZero);
    v = v.normalize();
    if v.scale() < currency.minor_digits() {
        v.rescale(currency.minor_digits());
    }
    Some(v.to_string())
}

/// The Wilson score interval at 95% for `successes` of `trials`: `(lower, upper)`.
pub fn wilson_interval(successes: f64, trials: f64) -> Option<(f64, f64)> {
    if trials <= 0.0 {
        return None;
    }
    let z = 1.959_963_984_540_054_f64;
    let p = (successes / trials).clamp(0.0, 1.0);
    let z2 = z * z;
    let centre = p + z2 / (2.0 * trials);
    let margin = z * ((p * (1.0 - p) + z2 / (4.0 * trials)) / trials).sqrt();
    let scale = 1.0 + z2 / trials;
    Some((
        round6(((centre - margin) / scale).max(0.0)),
        round6(((centre + margin) / scale).min(1.0)),
    ))
}

/// The interval's lower bound.
pub fn wilson_lower_bound(successes: f64, trials: f64) -> Option<f64> {
    wilson_interval(successes, trials).map(|(lower, _)| lower)
}

/// The interval's upper bound.
pub fn wilson_upper_bound(successes: f64, trials: f64) -> Option<f64> {
    wilson_interval(successes, trials).map(|(_, upper)| upper)
}

pub fn compute(s: &Sums, currency: Currency) -> Metrics {
    let net = s.net_micros();
    let cost = s.cost_micros();
    let fmt = |m: i64| money::format_amount(m, currency);
    let conversions = Decimal::new(s.conversions_micros, 6);
    Metrics {
        clicks: s.clicks,
        unique_clicks: s.unique_clicks,
        bot_clicks: s.bot_clicks,
        conversions: round6(s.conversions_micros as f64 / MICROS as f64),
        orders: s.orders,
        redemptions: s.redemptions,
        gross_revenue: fmt(s.gross_micros),
        refunds: fmt(s.refunded_micros),
        net_revenue: fmt(net),
        fee: fmt(s.fee_micros),
        commission: fmt(s.commission_micros),
        costs: fmt(s.costs_micros),
        cost: fmt(cost),
        roi: ratio(net.saturating_sub(cost), cost),
        roas: ratio(net, cost),
        cpc: money_per(cost, Decimal::from(s.clicks), currency),
        cpa: money_per(cost, conversions, currency),
        epc: money_per(net, Decimal::from(s.clicks), currency),
        aov: money_per(net, conversions, currency),
        conversion_rate: (s.unique_clicks != 0)
            .then(|| round6(s.conversions_micros as f64 / MICROS as f64 / s.unique_clicks as f64)),
        conversion_rate_lower_bound: wilson_lower_bound(
            s.conversions_micros as f64 / MICROS as f64,
            s.unique_clicks as f64,
        ),
        impressions: s.impressions,
        reach: s.reach,
        ctr: ratio(s.clicks, s.impressions),
        cpm: money_per(
            cost.checked_mul(1000).unwrap_or(i64::MAX),
            Decimal::from(s.impressions),
            currency,
        ),
        engagement_rate: ratio(s.engagements, s.impressions),
        engagement_rate_by_reach: ratio(s.engagements, s.reach),
        leads: s.leads,
        leads_slow: s.leads_slow,
        leads_medium: s.leads_medium,
        leads_fast: s.leads_fast,
        cost_per_lead: money_per(cost, Decimal::from(s.leads), currency),
        event_value: fmt(s.event_value_micros),
        lead_to_customer_rate: ratio(s.leads_ordered, s.leads),
        median_days_to_order: None,
        roi_with_event_value: ratio(s.value_micros().saturating_sub(cost), cost),
        currency: currency.code().to_string(),
    }
}

impl Metrics {
    /// The value of a sortable metric, for ordering (`None` for null).
    pub fn sort_value(&self, name: &str) -> Option<f64> {
        let money = |s: &str| s.parse::<f64>().ok();
        match name {
            "clicks" => Some(self.clicks as f64),
            "unique_clicks" => Some(self.unique_clicks as f64),
            "bot_clicks" => Some(self.bot_clicks as f64),
            "conversions" => Some(self.conversions),
            "orders" => Some(self.orders as f64),
            "redemptions" => Some(self.redemptions as f64),
            "gross_revenue" => money(&self.gross_revenue),
            "refunds" => money(&self.refunds),
            "net_revenue" => money(&self.net_revenue),
            "fee" => money(&self.fee),
            "commission" => money(&self.commission),
            "cost" => money(&self.cost),
            "roi" => self.roi,
            "roas" => self.roas,
            "cpc" => self.cpc.as_deref().and_then(money),
            "cpa" => self.cpa.as_deref().and_then(money),
            "epc" => self.epc.as_deref().and_then(money),
            "aov" => self.aov.as_deref().and_then(money),
            "conversion_rate" => self.conversion_rate,
            "conversion_rate_lower_bound" => self.conversion_rate_lower_bound,
            "ctr" => self.ctr,
            "cpm" => self.cpm.as_deref().and_then(money),
            "engagement_rate" => self.engagement_rate,
            "engagement_rate_by_reach" => self.engagement_rate_by_reach,
            "costs" => money(&self.costs),
            "leads" => Some(self.leads as f64),
            "leads_fast" => Some(self.leads_fast as f64),
            "cost_per_lead" => self.cost_per_lead.as_deref().and_then(money),
            "event_value" => money(&self.event_value),
            "lead_to_customer_rate" => self.lead_to_customer_rate,
            "roi_with_event_value" => self.roi_with_event_value,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::parse("c", "EUR").unwrap()
    }

    #[test]
    fn metrics_follow_the_definitions() {
        // 400 clicks (250 unique), 10 conversions worth 1,000.00 gross, 100.00 refunded;
        // fee 200.00, commission 10% of 900.00 = 90.00 → cost 290.00.
        let s = Sums {
            clicks: 400,
            unique_clicks: 250,
            conversions_micros: 10 * MICROS,
            orders: 10,
            gross_micros: 1_000 * MICROS,
            refunded_micros: 100 * MICROS,
            fee_micros: 200 * MICROS,
            commission_micros: commission(100_000, 900 * MICROS, eur()),
            impressions: 20_000,
            reach: 15_000,
            engagements: 1_200,
            ..Sums::default()
        };
        let m = compute(&s, eur());
        assert_eq!(m.net_revenue, "900.00");
        assert_eq!(m.commission, "90.00");
        assert_eq!(m.cost, "290.00");
        assert_eq!(m.roi, Some(round6(610.0 / 290.0)));
        assert_eq!(m.roas, Some(round6(900.0 / 290.0)));
        assert_eq!(m.cpc.as_deref(), Some("0.725"));
        assert_eq!(m.cpa.as_deref(), Some("29.00"));
        assert_eq!(m.epc.as_deref(), Some("2.25"));
        assert_eq!(m.aov.as_deref(), Some("90.00"));
        assert_eq!(m.conversion_rate, Some(0.04));
        assert_eq!(m.ctr, Some(0.02));
        assert_eq!(m.cpm.as_deref(), Some("14.50"));
        assert_eq!(m.engagement_rate, Some(0.06));
        assert_eq!(m.engagement_rate_by_reach, Some(0.08));
        let lb = m.conversion_rate_lower_bound.unwrap();
        assert!(lb > 0.02 && lb < 0.04, "{lb}");
    }

    #[test]
    fn division_by_zero_is_null() {
        let m = compute(&Sums::default(), eur());
        assert_eq!((m.roi, m.roas, m.cpc, m.cpa), (None, None, None, None));
        assert_eq!(
            (m.conversion_rate, m.ctr, m.engagement_rate),
            (None, None, None)
        );
        assert_eq!(m.conversion_rate_lower_bound, None);
        assert_eq!(m.cost, "0.00");
    }

    #[test]
    fn commission_rounds_half_away_from_zero_to_the_cent() {
        // 12.5% of 0.04 = 0.005 → 0.01
        assert_eq!(commission(125_000, 40_000, eur()), 10_000);
        assert_eq!(commission(125_000, 0, eur()), 0);
        let jpy = Currency::parse("c", "JPY").unwrap();
        assert_eq!(commission(100_000, 1_005 * MICROS, jpy), 101 * MICROS);
    }

    #[test]
    fn wilson_is_below_the_observed_rate_and_tightens_with_data() {
        let small = wilson_lower_bound(1.0, 10.0).unwrap();
        let large = wilson_lower_bound(100.0, 1000.0).unwrap();
        assert!(small < large && large < 0.1);
        assert_eq!(wilson_lower_bound(0.0, 0.0), None);
    }
}
