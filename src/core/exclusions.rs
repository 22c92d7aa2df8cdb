//! Exclusion rules of a campaign, and what they take out of its figures. Nothing is deleted
//! or rewritten: the rollups keep counting everything, and readers subtract what the rules in
//! force match at the moment they read ([`Excluded`]), so a rule applies retroactively from
//! the moment it exists and deleting it brings everything back.

use std::cell::Cell;
use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::core::admin::{campaign_of, AdminError, AdminResult, Conflict, Page};
use crate::core::now_micros;
use crate::db::AnyConnection;
use crate::domain::attribution::CreditKey;
use crate::domain::exclusions::{ClickFacts, Rule};
use crate::domain::field::{Checks, FieldError};
use crate::domain::ids::{BrandId, CampaignId, EnrollmentId, ExclusionId, LinkId, OrderId};
use crate::domain::json::non_null;
use crate::domain::text;
use crate::domain::time::{rfc3339, utc_day, utc_hour, MICROS_PER_DAY};
use crate::domain::traffic::ClickKind;
use crate::store::campaigns::CampaignRow;
use crate::store::credits::{CreditRow, OrderSums};
use crate::store::events::{EventCount, EventSums};
use crate::store::exclusions::{ClickFilter, ExclusionRow, ScannedEvent};
use crate::store::rollups::Days;
use crate::store::{self};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    #[serde(default, deserialize_with = "non_null")]
    pub visitor: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub link_id: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub referrer_host: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub from: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "non_null")]
    pub to: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "non_null")]
    pub order_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExclusionInput {
    pub rule: RuleInput,
    pub reason: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    pub reason: Option<String>,
}

/// Which rules a list shows (all without it).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExclusionStatus {
    Active,
    Deleted,
}

#[derive(Debug, Serialize)]
pub struct RuleView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visitor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_id: Option<LinkId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referrer_host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
}

/// Who deleted a rule, when and why.
#[derive(Debug, Serialize)]
pub struct Deletion {
    pub by: String,
    pub reason: String,
    pub at: String,
}

/// What a rule in force takes out now.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Matched {
    pub clicks: i64,
    pub orders: i64,
}

#[derive(Debug, Serialize)]
pub struct ExclusionView {
    pub id: ExclusionId,
    pub campaign_id: CampaignId,
    pub rule: RuleView,
    pub reason: String,
    /// The id of the key that made it.
    pub created_by: String,
    pub created_at: String,
    pub active: bool,
    pub deleted: Option<Deletion>,
    /// For a rule in force: the clicks and orders it matches now (a click or order matched
    /// by two rules counts in both).
    pub matched: Option<Matched>,
}

impl ExclusionView {
    fn of(row: ExclusionRow, matched: Option<Matched>) -> Self {
        let deleted = row.deleted_at.map(|at| Deletion {
            by: row.deleted_by.clone().unwrap_or_default(),
            reason: row.deleted_reason.clone().unwrap_or_default(),
            at: rfc3339(at),
        });
        Self {
            id: row.id,
            campaign_id: row.campaign_id,
            rule: RuleView {
                visitor: row.visitor,
                link_id: row.link_id,
                referrer_host: row.referrer_host,
                from: row.from_at.map(rfc3339),
                to: row.to_at.map(rfc3339),
                order_id: row.order_id,
            },
            reason: row.reason,
            created_by: row.created_by,
            created_at: rfc3339(row.created_at),
            active: deleted.is_none(),
            matched: if deleted.is_none() { matched } else { None },
            deleted,
        }
    }
}

fn rule_of(row: &ExclusionRow) -> Rule {
    Rule {
        visitor: row.visitor.clone(),
        link_id: row.link_id.clone(),
        referrer_host: row.referrer_host.clone(),
        from: row.from_at,
        to: row.to_at,
        order_id: row.order_id.clone(),
    }
}

/// Makes a rule; it applies at once, to everything not yet paid.
pub fn create(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    by: &str,
    campaign_id: &CampaignId,
    input: ExclusionInput,
) -> AdminResult<ExclusionView> {
    let campaign = campaign_of(conn, brand_id, campaign_id)?;
    let mut checks = Checks::default();
    let r = &input.rule;
    let rule = Rule::check(
        &mut checks,
        r.visitor.as_deref(),
        r.link_id.as_deref(),
        r.referrer_host.as_deref(),
        r.from.map(|t| t.timestamp_micros()),
        r.to.map(|t| t.timestamp_micros()),
        r.order_id.as_deref(),
    );
    let why = checks.take(text::required("reason", &input.reason, 500));
    checks.finish()?;
    let (Some(rule), Some(why)) = (rule, why) else {
        unreachable!("every failed check was reported");
    };
    if let Some(link_id) = &rule.link_id {
        // Another brand's link answers like a missing one.
        let link =
            store::links::find(conn, brand_id, link_id)?.ok_or_else(AdminError::not_found)?;
        if link.campaign_id != campaign.id {
            return Err(FieldError::new("rule.link_id", "is not a link of this campaign").into());
        }
    }
    let row = ExclusionRow {
        id: ExclusionId::new(),
        brand_id: brand_id.clone(),
        campaign_id: campaign.id.clone(),
        visitor: rule.visitor,
        link_id: rule.link_id,
        referrer_host: rule.referrer_host,
        from_at: rule.from,
        to_at: rule.to,
        order_id: rule.order_id,
        reason: why,
        created_by: by.to_string(),
        created_at: now_micros(),
        deleted_by: None,
        deleted_reason: None,
        deleted_at: None,
    };
    crate::db::write_transaction(conn, |conn| store::exclusions::insert(conn, &row))?;
    // The rule is made: what it matches is news, and a failure to count it is no reason to
    // answer as if it were not (the list counts again).
    let matched = match Excluded::compute(conn, &campaign, std::slice::from_ref(&row)) {
        Ok(found) => Some(
            found
                .and_then(|e| e.matched.get(&row.id).copied())
                .unwrap_or_default(),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "counting what a new exclusion rule matches");
            None
        }
    };
    Ok(ExclusionView::of(row, matched))
}

/// Takes a rule out of force: what it matched counts again. The rule stays listed, with who
/// deleted it and why.
pub fn delete(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    by: &str,
    campaign_id: &CampaignId,
    id: &ExclusionId,
    query: DeleteQuery,
) -> AdminResult<()> {
    campaign_of(conn, brand_id, campaign_id)?;
    let why = text::required("reason", query.reason.as_deref().unwrap_or_default(), 500)?;
    store::exclusions::find(conn, brand_id, campaign_id, id)?.ok_or_else(AdminError::not_found)?;
    let done = crate::db::write_transaction(conn, |conn| {
        store::exclusions::delete(conn, id, by, &why, now_micros())
    })?;
    if !done {
        return Err(AdminError::Conflict(Conflict::ExclusionDeleted));
    }
    Ok(())
}

/// A page of the campaign's rules, oldest first, deleted ones included unless `status` says.
pub fn list(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    campaign_id: &CampaignId,
    status: Option<ExclusionStatus>,
    page: &Page,
) -> AdminResult<Vec<ExclusionView>> {
    let active = status.map(|s| matches!(s, ExclusionStatus::Active));
    let campaign = campaign_of(conn, brand_id, campaign_id)?;
    let rows = store::exclusions::page(
        conn,
        campaign_id,
        active,
        page.after.as_deref(),
        page.fetch(),
    )?;
    let live: Vec<ExclusionRow> = rows
        .iter()
        .filter(|r| r.deleted_at.is_none())
        .cloned()
        .collect();
    let matched = Excluded::compute(conn, &campaign, &live)?
        .map(|e| e.matched)
        .unwrap_or_default();
    Ok(rows
        .into_iter()
        .map(|r| {
            let m = matched.get(&r.id).copied().unwrap_or_default();
            ExclusionView::of(r, Some(m))
        })
        .collect())
}

/// Visitors whose clicks are looked up by name (in lists of 500); more, and the campaign's
/// human clicks are read whole.
const MAX_VISITOR_LOOKUPS: usize = 2_000;

thread_local! {
    /// Set while a report is read with `?exclusions=off`.
    static OFF: Cell<bool> = const { Cell::new(false) };
}

/// Runs `work` (one report) with the rules in force ignored when `off`: the figures as if no
/// rule existed, to compare.
pub fn switched<T>(off: bool, work: impl FnOnce() -> T) -> T {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            OFF.with(|o| o.set(self.0));
        }
    }
    let _restore = Restore(OFF.with(|o| o.replace(off)));
    work()
}

/// Whether the rules are switched off for the report being read.
pub fn off() -> bool {
    OFF.with(Cell::get)
}

/// `exclusions=on|off` of a report's query.
pub fn parse_switch(checks: &mut Checks, raw: Option<&str>) -> bool {
    match raw {
        None | Some("on") => false,
        Some("off") => true,
        Some(_) => {
            checks.fail("exclusions", "must be on or off");
            false
        }
    }
}

/// A link's counts of a day that excluded clicks make: clicks, unique clicks, bot clicks,
/// attributable clicks (as the fold counts them).
type LinkDay = (EnrollmentId, [i64; 4]);

/// What the rules in force take out of a campaign's figures, read once per report.
#[derive(Debug, Default)]
pub struct Excluded {
    by_link_day: HashMap<(LinkId, i32), LinkDay>,
    hourly: HashMap<(EnrollmentId, i32), i64>,
    orders: HashSet<OrderId>,
    credits: Vec<CreditRow>,
    /// Per excluded order: the enrollments whose code it redeemed.
    redemptions: Vec<(OrderId, EnrollmentId)>,
    /// Per excluded order: (occurred_at, created_at).
    when: HashMap<OrderId, (i64, i64)>,
    /// Funnel events that came through an excluded click.
    events: Vec<ScannedEvent>,
    matched: HashMap<ExclusionId, Matched>,
}

impl Excluded {
    /// What the campaign's rules in force take out, unless the report was asked without them.
    pub fn of(
        conn: &mut AnyConnection,
        campaign: &CampaignRow,
    ) -> Result<Option<Self>, diesel::result::Error> {
        if off() {
            return Ok(None);
        }
        let rules = store::exclusions::active(conn, &campaign.id)?;
        Self::compute(conn, campaign, &rules)
    }

    fn compute(
        conn: &mut AnyConnection,
        campaign: &CampaignRow,
        rows: &[ExclusionRow],
    ) -> Result<Option<Self>, diesel::result::Error> {
        if rows.is_empty() {
            return Ok(None);
        }
        let rules: Vec<(&ExclusionId, Rule)> = rows.iter().map(|r| (&r.id, rule_of(r))).collect();
        let mut out = Self::default();
        let mut order_rule: HashMap<OrderId, BTreeSet<&ExclusionId>> = HashMap::new();
        let click_rules: Vec<&(&ExclusionId, Rule)> =
            rules.iter().filter(|(_, r)| r.is_about_clicks()).collect();
        let mut click_rule: HashMap<String, Vec<&ExclusionId>> = HashMap::new();
        if !click_rules.is_empty() {
            let filters: Vec<ClickFilter<'_>> = click_rules
                .iter()
                .map(|(_, r)| ClickFilter {
                    visitor: r.visitor.as_deref(),
                    link_id: r.link_id.as_ref(),
                    referrer_host: r.referrer_host.as_deref(),
                    from: r.from,
                    to: r.to,
                })
                .collect();
            let clicks = store::exclusions::matching_clicks(conn, &campaign.id, &filters)?;
            // Per link, day and visitor: excluded human clicks.
            let mut excluded_humans: HashMap<(LinkId, i32, String), i64> = HashMap::new();
            for c in &clicks {
                let facts = ClickFacts {
                    visitor_hash: &c.visitor_hash,
                    link_id: &c.link_id,
                    referrer_host: c.referrer_host.as_deref(),
                    ts: c.ts,
                };
                let by: Vec<&ExclusionId> = click_rules
                    .iter()
                    .filter(|(_, r)| r.matches(&facts))
                    .map(|(id, _)| *id)
                    .collect();
                if by.is_empty() {
                    continue;
                }
                let human = c.kind == ClickKind::Human;
                let day = utc_day(c.ts);
                for id in &by {
                    out.matched.entry((*id).clone()).or_default().clicks += 1;
                }
                let sum = &mut out
                    .by_link_day
                    .entry((c.link_id.clone(), day))
                    .or_insert_with(|| (c.enrollment_id.clone(), [0; 4]))
                    .1;
                if human {
                    sum[0] += 1;
                    sum[3] += i64::from(c.attributable);
                    *out.hourly
                        .entry((c.enrollment_id.clone(), utc_hour(c.ts)))
                        .or_default() += 1;
                    *excluded_humans
                        .entry((c.link_id.clone(), day, c.visitor_hash.clone()))
                        .or_default() += 1;
                } else {
                    sum[2] += 1;
                }
                click_rule.insert(c.id.as_str().to_string(), by);
            }
            // A visitor leaves a link's unique clicks of a day when all its clicks there do:
            // count its human clicks there (by visitor when few are involved, else all).
            if !excluded_humans.is_empty() {
                let mut visitors: Vec<&str> =
                    excluded_humans.keys().map(|(_, _, v)| v.as_str()).collect();
                visitors.sort_unstable();
                visitors.dedup();
                let first_day = excluded_humans
                    .keys()
                    .map(|(_, d, _)| *d)
                    .min()
                    .unwrap_or(0);
                let from = i64::from(first_day) * MICROS_PER_DAY;
                let few = (visitors.len() <= MAX_VISITOR_LOOKUPS).then_some(visitors.as_slice());
                let mut all: HashMap<(LinkId, i32, String), i64> = HashMap::new();
                for (link, visitor, ts) in
                    store::exclusions::human_clicks(conn, &campaign.id, few, from)?
                {
                    *all.entry((link, utc_day(ts), visitor)).or_default() += 1;
                }
                for (key, excluded) in &excluded_humans {
                    if all.get(key).copied().unwrap_or(0) <= *excluded {
                        if let Some((_, sum)) = out.by_link_day.get_mut(&(key.0.clone(), key.1)) {
                            sum[1] += 1;
                        }
                    }
                }
            }
            let keys: HashSet<&str> = click_rule.keys().map(String::as_str).collect();
            out.events = store::exclusions::events_through(conn, &campaign.id, &keys)?;
            for (order, key) in store::exclusions::orders_through(conn, &campaign.id, &keys)? {
                let by = order_rule.entry(order).or_default();
                by.extend(click_rule.get(&key).into_iter().flatten().copied());
            }
        }
        let named: Vec<(&ExclusionId, String)> = rules
            .iter()
            .filter_map(|(id, r)| r.order_id.clone().map(|o| (*id, o)))
            .collect();
        if !named.is_empty() {
            let external: Vec<String> = named.iter().map(|(_, o)| o.clone()).collect();
            for (order, external_id) in
                store::exclusions::orders_named(conn, &campaign.brand_id, &external)?
            {
                let by = order_rule.entry(order).or_default();
                by.extend(
                    named
                        .iter()
                        .filter(|(_, o)| *o == external_id)
                        .map(|(id, _)| *id),
                );
            }
        }
        let order_ids: Vec<OrderId> = order_rule.keys().cloned().collect();
        let shares = store::exclusions::shares(conn, &campaign.id, &order_ids)?;
        // An order counts for a rule only if it gave this campaign something.
        let in_campaign: HashSet<&OrderId> = shares
            .credits
            .iter()
            .map(|c| &c.order_id)
            .chain(shares.redemptions.iter().map(|(o, _)| o))
            .collect();
        for (order, by) in &order_rule {
            if in_campaign.contains(order) {
                for id in by {
                    out.matched.entry((*id).clone()).or_default().orders += 1;
                }
            }
        }
        out.orders = order_rule.into_keys().collect();
        out.when = shares
            .orders
            .into_iter()
            .map(|(id, occurred, created)| (id, (occurred, created)))
            .collect();
        out.credits = shares.credits;
        out.redemptions = shares.redemptions;
        Ok(Some(out))
    }

    /// Whether the order is excluded (its credits leave every figure).
    pub fn drops_order(&self, id: &OrderId) -> bool {
        self.orders.contains(id)
    }

    /// Per enrollment: clicks, unique clicks and bot clicks to take out of the days.
    pub fn clicks(&self, days: Days) -> HashMap<EnrollmentId, [i64; 3]> {
        let mut out: HashMap<EnrollmentId, [i64; 3]> = HashMap::new();
        for ((_, day), (enrollment, sum)) in &self.by_link_day {
            if days.contains(*day) {
                let o = out.entry(enrollment.clone()).or_default();
                o[0] += sum[0];
                o[1] += sum[1];
                o[2] += sum[2];
            }
        }
        out
    }

    /// Per enrollment: human clicks of these links to take out of the days.
    pub fn link_clicks(&self, links: &[LinkId], days: Days) -> HashMap<EnrollmentId, i64> {
        let mut out: HashMap<EnrollmentId, i64> = HashMap::new();
        for ((link, day), (enrollment, sum)) in &self.by_link_day {
            if days.contains(*day) && links.contains(link) {
                *out.entry(enrollment.clone()).or_default() += sum[0];
            }
        }
        out
    }

    /// A link's counts of a day to take out: clicks, unique, bot, attributable.
    pub fn link_day(&self, link: &LinkId, day: i32) -> [i64; 4] {
        self.by_link_day
            .get(&(link.clone(), day))
            .map(|(_, s)| *s)
            .unwrap_or_default()
    }

    /// Human clicks to take out per enrollment and UTC hour between two hours (inclusive).
    pub fn hours(&self, from: i32, to: i32) -> impl Iterator<Item = (EnrollmentId, i32, i64)> + '_ {
        self.hourly
            .iter()
            .filter(move |((_, h), _)| (from..=to).contains(h))
            .map(|((e, h), n)| (e.clone(), *h, *n))
    }

    fn day_of(&self, order: &OrderId) -> Option<i32> {
        self.when.get(order).map(|(occurred, _)| utc_day(*occurred))
    }

    /// Per enrollment: the order sums under `key` that the excluded orders make in the days,
    /// counted as `store::credits::record` and `apply_refund` count them.
    pub fn order_sums(&self, key: CreditKey, days: Days) -> HashMap<EnrollmentId, OrderSums> {
        let mut out: HashMap<EnrollmentId, OrderSums> = HashMap::new();
        let mut counted: BTreeSet<(&OrderId, CreditKey, &EnrollmentId)> = BTreeSet::new();
        for c in &self.credits {
            if !(c.model == key || c.model == CreditKey::Any)
                || !days.contains(utc_day(c.occurred_at))
            {
                continue;
            }
            let s = out
                .entry(c.enrollment_id.clone())
                .or_insert_with(|| OrderSums::zero(c.enrollment_id.clone()));
            if counted.insert((&c.order_id, c.model, &c.enrollment_id)) {
                s.orders += 1;
            }
            s.conversions_micros += c.share_micros;
            s.gross_micros += c.credited_micros;
            s.refunded_micros += c.refunded_micros;
            if c.self_referral {
                s.self_gross_micros += c.credited_micros;
                s.self_refunded_micros += c.refunded_micros;
            }
            if c.paid {
                s.paid_conversions_micros += c.share_micros;
                s.paid_gross_micros += c.credited_micros;
                s.paid_refunded_micros += c.refunded_micros;
            }
        }
        for (order, enrollment) in &self.redemptions {
            if self.day_of(order).is_some_and(|d| days.contains(d)) {
                out.entry(enrollment.clone())
                    .or_insert_with(|| OrderSums::zero(enrollment.clone()))
                    .redemptions += 1;
            }
        }
        out
    }

    /// The excluded events in `[from, to)`, with an enrollment.
    fn events_between(
        &self,
        from: i64,
        to: i64,
    ) -> impl Iterator<Item = (&ScannedEvent, &EnrollmentId)> {
        self.events
            .iter()
            .filter(move |e| e.occurred_at >= from && e.occurred_at < to)
            .filter_map(|e| e.enrollment_id.as_ref().map(|id| (e, id)))
    }

    /// What the excluded events add to `store::events::sums` (bands as `(medium, fast)`),
    /// as rows to add: one negative row per event.
    pub fn event_sums(&self, (medium, fast): (i32, i32), from: i64, to: i64) -> Vec<EventSums> {
        self.events_between(from, to)
            .map(|(e, enrollment)| EventSums {
                enrollment_id: enrollment.clone(),
                kind: e.kind,
                band: match e.score {
                    None => -1,
                    Some(s) if s >= fast => 2,
                    Some(s) if s >= medium => 1,
                    Some(_) => 0,
                },
                n: -1,
                valued: -i64::from(e.value_micros.is_some()),
                value_units: -e.value_micros.map_or(0, |v| v / 1_000_000),
                value_rest_micros: -e.value_micros.map_or(0, |v| v % 1_000_000),
                ordered: -i64::from(e.first_order_at.is_some()),
            })
            .collect()
    }

    /// What the excluded events add to `store::events::counts`, as negative rows.
    pub fn event_counts(&self, from: i64, to: i64) -> Vec<EventCount> {
        self.events_between(from, to)
            .map(|(e, enrollment)| EventCount {
                enrollment_id: enrollment.clone(),
                kind: e.kind,
                n: -1,
            })
            .collect()
    }

    /// The delays (to their customer's order) of the excluded leads in `[from, to)`.
    pub fn lead_delays(&self, from: i64, to: i64) -> Vec<(EnrollmentId, i64)> {
        self.events_between(from, to)
            .filter(|(e, _)| e.kind == crate::domain::orders::EventKind::Lead)
            .filter_map(|(e, id)| e.first_order_at.map(|o| (id.clone(), o - e.occurred_at)))
            .collect()
    }

    /// Per enrollment: commissionable net of the excluded orders received at or before the
    /// cutoff, and after it (as `store::credits::earned` sums them).
    pub fn earned(&self, cutoff: i64) -> HashMap<EnrollmentId, (i64, i64)> {
        let mut out: HashMap<EnrollmentId, (i64, i64)> = HashMap::new();
        for c in &self.credits {
            if !matches!(c.model, CreditKey::AsDecided | CreditKey::Any) || c.self_referral {
                continue;
            }
            let net = c.credited_micros - c.refunded_micros;
            let received = self
                .when
                .get(&c.order_id)
                .map_or(0, |(_, created)| *created);
            let slot = out.entry(c.enrollment_id.clone()).or_default();
            if received <= cutoff {
                slot.0 += net;
            } else {
                slot.1 += net;
            }
        }
        out
    }
}
