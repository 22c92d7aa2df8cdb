//! Reports: per-enrollment figures read from the rollups under any attribution model for any
//! window of whole UTC days, and what is built from them (leaderboard, campaign report with
//! goal and pace, time series, funnel).

pub mod funnel;
pub mod leaderboard;
pub mod overview;
pub mod report;
pub mod timeseries;

use std::collections::HashMap;

use crate::core::auth::{AuthError, Principal};
use crate::core::exclusions::Excluded;
use crate::db::{AnyConnection, DbError};
use crate::domain::attribution::CreditKey;
use crate::domain::campaign::Model;
use crate::domain::campaign::{CostAllocation, CostKind};
use crate::domain::field::{Checks, FieldError};
use crate::domain::ids::EnrollmentId;
use crate::domain::ids::{BrandId, CampaignId, InfluencerId};
use crate::domain::leads;
use crate::domain::metrics::{self, Metrics, Sums};
use crate::domain::money::MICROS;
use crate::domain::orders::EventKind;
use crate::domain::scope::{Access, Scope};
use crate::domain::window::Window;
use crate::store::campaigns::CampaignRow;
use crate::store::enrollments::EnrollmentRow;
use crate::store::rollups::Days;
use crate::store::{self};
use std::rc::Rc;

/// Why a report was not made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("validation failed")]
    Invalid(Vec<FieldError>),
    /// Missing, another brand's, or (for an influencer) a campaign it is not in.
    #[error("no such resource")]
    NotFound,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for ReportError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}

impl From<Vec<FieldError>> for ReportError {
    fn from(errors: Vec<FieldError>) -> Self {
        Self::Invalid(errors)
    }
}

impl From<FieldError> for ReportError {
    fn from(error: FieldError) -> Self {
        Self::Invalid(vec![error])
    }
}

pub type ReportResult<T> = Result<T, ReportError>;

/// Who reads: the brand (admin or read key), or one influencer (its own rows only).
#[derive(Debug, Clone)]
pub struct Reader {
    pub brand_id: BrandId,
    pub influencer_id: Option<InfluencerId>,
}

impl Reader {
    /// The reader a principal is: an influencer key reads its own rows, admin and read keys
    /// the brand's.
    pub fn of(principal: &Principal) -> Result<Self, AuthError> {
        if let Principal::Brand(key) = principal {
            if key.scope == Scope::Influencer {
                return Ok(Self {
                    brand_id: key.brand_id.clone(),
                    influencer_id: Some(
                        key.influencer_id
                            .clone()
                            .ok_or(AuthError::Forbidden(crate::core::auth::WRONG_SCOPE))?,
                    ),
                });
            }
        }
        Ok(Self::brand(principal.brand(Access::Read)?.brand_id.clone()))
    }

    /// The whole brand.
    pub fn brand(brand_id: BrandId) -> Self {
        Self {
            brand_id,
            influencer_id: None,
        }
    }
}

/// A `model` parameter: one of the models, or absent (the credit as decided).
pub fn parse_model(checks: &mut Checks, raw: Option<&str>) -> Option<Model> {
    let raw = raw?;
    match Model::parse(raw.trim()) {
        Some(m) => Some(m),
        None => {
            checks.fail(
                "model",
                format!("must be one of {}", Model::NAMES.join(", ")),
            );
            None
        }
    }
}

/// A `sort` parameter: a metric's name, `net_revenue` by default.
pub fn parse_sort(checks: &mut Checks, field: &str, raw: Option<&str>) -> String {
    let sort = raw.unwrap_or("net_revenue").to_string();
    if !metrics::SORTABLE.contains(&sort.as_str()) {
        checks.fail(
            field,
            format!("must be one of {}", metrics::SORTABLE.join(", ")),
        );
    }
    sort
}

/// The campaign (404 for another brand's) and the enrollments the reader may see.
pub fn load_campaign(
    conn: &mut AnyConnection,
    reader: &Reader,
    campaign_id: &CampaignId,
) -> ReportResult<(CampaignRow, Vec<EnrollmentRow>)> {
    let campaign = store::campaigns::find(conn, &reader.brand_id, campaign_id)?
        .ok_or(ReportError::NotFound)?;
    let mut enrollments = store::enrollments::all_of_campaign(conn, campaign_id)?;
    if let Some(mine) = &reader.influencer_id {
        enrollments.retain(|e| &e.influencer_id == mine);
        if enrollments.is_empty() {
            // An influencer sees only campaigns it is in.
            return Err(ReportError::NotFound);
        }
    }
    Ok((campaign, enrollments))
}

/// One enrollment's figures.
#[derive(Debug, Clone)]
pub struct Row {
    pub enrollment: EnrollmentRow,
    pub handle: String,
    pub sums: Sums,
    /// How long each of its leads took to become an order of their customer (micros).
    pub lead_delays: Vec<i64>,
}

impl Row {
    pub fn metrics(&self, campaign: &CampaignRow) -> Metrics {
        let mut m = metrics::compute(&self.sums, campaign.currency);
        m.median_days_to_order = leads::median_days(&self.lead_delays);
        m
    }
}

/// What a campaign's report adds to its enrollments' rows: the costs that name no influencer
/// (when the campaign does not spread them) and their `ad_spend` part.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unassigned {
    pub costs_micros: i64,
    pub ad_spend_micros: i64,
}

impl Unassigned {
    /// Adds them to a campaign's totals.
    pub fn add_to(&self, totals: &mut Sums) {
        totals.costs_micros = totals.costs_micros.saturating_add(self.costs_micros);
        totals.paid_cost_micros = totals.paid_cost_micros.saturating_add(self.ad_spend_micros);
    }
}

/// The figures of every enrollment in a window, under a model (none: as decided), and what
/// the campaign's totals add (nothing for an influencer, who sees only its own row).
pub fn rows_and_rest(
    conn: &mut AnyConnection,
    campaign: &CampaignRow,
    enrollments: Vec<EnrollmentRow>,
    model: Option<Model>,
    window: Window,
) -> ReportResult<(Vec<Row>, Unassigned)> {
    // Each visible enrollment's place in the order asked.
    let visible: HashMap<EnrollmentId, usize> = enrollments
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.clone(), i))
        .collect();
    let (all, rest) = all_rows(conn, campaign, model, window)?;
    let mut rows: Vec<Row> = all
        .into_iter()
        .filter(|r| visible.contains_key(&r.enrollment.id))
        .collect();
    rows.sort_by_key(|r| visible[&r.enrollment.id]);
    Ok((rows, rest))
}

fn days(window: Window) -> Days {
    if window.is_all() {
        Days::All
    } else {
        Days::Between(window.from_day, window.to_day)
    }
}

/// Clicks and paid-link clicks per enrollment of a window.
type ClickCounts = (
    HashMap<EnrollmentId, store::rollups::ClickSums>,
    HashMap<EnrollmentId, i64>,
);

/// A campaign's click counts of some days, with the rules switched off or not.
type ClickKey = (CampaignId, Days, bool);

thread_local! {
    /// Within [`with_one_click_read`], the click counts read so far, by campaign and days.
    static CLICK_MEMO: std::cell::RefCell<Option<HashMap<ClickKey, ClickCounts>>> =
        const { std::cell::RefCell::new(None) };
    /// Within [`with_one_click_read`], what each campaign's exclusions take out.
    static EXCLUDED_MEMO: std::cell::RefCell<Option<HashMap<CampaignId, Option<Rc<Excluded>>>>> =
        const { std::cell::RefCell::new(None) };
}

/// What the campaign's exclusion rules take out of this report (none with `exclusions=off`),
/// read once per page.
pub fn excluded(
    conn: &mut AnyConnection,
    campaign: &CampaignRow,
) -> ReportResult<Option<Rc<Excluded>>> {
    if crate::core::exclusions::off() {
        return Ok(None);
    }
    let hit = EXCLUDED_MEMO.with(|m| {
        m.borrow()
            .as_ref()
            .and_then(|m| m.get(&campaign.id).cloned())
    });
    if let Some(hit) = hit {
        return Ok(hit);
    }
    let found = Excluded::of(conn, campaign)?.map(Rc::new);
    EXCLUDED_MEMO.with(|m| {
        if let Some(m) = m.borrow_mut().as_mut() {
            m.insert(campaign.id.clone(), found.clone());
        }
    });
    Ok(found)
}

/// Human clicks per enrollment and UTC hour, the excluded ones taken out (as negative rows:
/// callers add the rows up).
pub fn hourly_clicks(
    conn: &mut AnyConnection,
    campaign: &CampaignRow,
    from_hour: i32,
    to_hour: i32,
) -> ReportResult<Vec<store::rollups::HourClicks>> {
    let mut rows = store::rollups::hourly_clicks(conn, &campaign.id, from_hour, to_hour)?;
    if let Some(x) = excluded(conn, campaign)? {
        rows.extend(x.hours(from_hour, to_hour).map(|(enrollment_id, hour, n)| {
            store::rollups::HourClicks {
                hour,
                enrollment_id,
                clicks: -n,
            }
        }));
    }
    Ok(rows)
}

/// Funnel events per enrollment and type between two instants, the excluded ones taken out
/// (as negative rows: callers add the rows up).
pub fn event_counts(
    conn: &mut AnyConnection,
    campaign: &CampaignRow,
    from: i64,
    to: i64,
) -> ReportResult<Vec<store::events::EventCount>> {
    let mut rows = store::events::counts(conn, &campaign.id, from, to)?;
    if let Some(x) = excluded(conn, campaign)? {
        rows.extend(x.event_counts(from, to));
    }
    Ok(rows)
}

/// The credits of the campaign's orders between two instants, excluded orders left out.
pub fn credits_between(
    conn: &mut AnyConnection,
    campaign: &CampaignRow,
    key: CreditKey,
    from: i64,
    to: i64,
) -> ReportResult<Vec<store::credits::CreditRow>> {
    let mut rows = store::credits::between(conn, &campaign.id, key, from, to)?;
    if let Some(x) = excluded(conn, campaign)? {
        rows.retain(|c| !x.drops_order(&c.order_id));
    }
    Ok(rows)
}

/// Runs `work` (a page that shows one campaign under several models) reading each window's
/// click counts once: they do not depend on the model, and each read adds the clicks not
/// folded yet, the part of a report whose cost follows the click rate.
pub fn with_one_click_read<T>(work: impl FnOnce() -> T) -> T {
    /// Forgets the counts when the work ends, also by a panic: the thread serves other
    /// requests afterwards.
    struct Forget;
    impl Drop for Forget {
        fn drop(&mut self) {
            CLICK_MEMO.with(|m| *m.borrow_mut() = None);
            EXCLUDED_MEMO.with(|m| *m.borrow_mut() = None);
        }
    }
    CLICK_MEMO.with(|m| *m.borrow_mut() = Some(HashMap::new()));
    EXCLUDED_MEMO.with(|m| *m.borrow_mut() = Some(HashMap::new()));
    let _forget = Forget;
    work()
}

/// Runs one report's reading: click counts and exclusions read once, the exclusion rules
/// ignored if `exclusions` is `off` (anything but `on`/`off`, or `off` for an influencer's
/// key, is a 422 on that field).
pub fn scoped<T>(
    reader: &Reader,
    exclusions: Option<&str>,
    work: impl FnOnce() -> ReportResult<T>,
) -> ReportResult<T> {
    let mut checks = Checks::default();
    let off = crate::core::exclusions::parse_switch(&mut checks, exclusions);
    if off && reader.influencer_id.is_some() {
        // What was excluded is the brand's business: an influencer sees its figures as paid.
        checks.fail(
            "exclusions",
            "only the brand's keys may read without the rules",
        );
    }
    checks.finish()?;
    with_one_click_read(|| crate::core::exclusions::switched(off, work))
}

fn click_counts(
    conn: &mut AnyConnection,
    campaign: &CampaignRow,
    window: Window,
    excluded: Option<&Excluded>,
) -> ReportResult<ClickCounts> {
    // Keyed by the switch too: a page may read with and without the rules.
    let key = (
        campaign.id.clone(),
        days(window),
        crate::core::exclusions::off(),
    );
    if let Some(hit) = CLICK_MEMO.with(|m| m.borrow().as_ref().and_then(|m| m.get(&key).cloned())) {
        return Ok(hit);
    }
    let mut clicks = store::rollups::click_sums(conn, &campaign.id, key.1)?;
    let paid_links = store::links::paid_of_campaign(conn, &campaign.id)?;
    let mut paid_clicks = store::rollups::link_clicks(conn, &campaign.id, &paid_links, key.1)?;
    if let Some(x) = excluded {
        for (e, [all, unique, bots]) in x.clicks(key.1) {
            if let Some(c) = clicks.get_mut(&e) {
                c.clicks -= all;
                c.unique_clicks -= unique;
                c.bot_clicks -= bots;
            }
        }
        for (e, n) in x.link_clicks(&paid_links, key.1) {
            if let Some(c) = paid_clicks.get_mut(&e) {
                *c -= n;
            }
        }
    }
    let counts = (clicks, paid_clicks);
    CLICK_MEMO.with(|m| {
        if let Some(m) = m.borrow_mut().as_mut() {
            m.insert(key, counts.clone());
        }
    });
    Ok(counts)
}

/// The figures of every enrollment in a window, under a model (none: as decided).
pub fn rows(
    conn: &mut AnyConnection,
    campaign: &CampaignRow,
    enrollments: Vec<EnrollmentRow>,
    model: Option<Model>,
    window: Window,
) -> ReportResult<Vec<Row>> {
    Ok(rows_and_rest(conn, campaign, enrollments, model, window)?.0)
}

/// Every enrollment of the campaign (costs are spread over all of them, whoever reads).
fn all_rows(
    conn: &mut AnyConnection,
    campaign: &CampaignRow,
    model: Option<Model>,
    window: Window,
) -> ReportResult<(Vec<Row>, Unassigned)> {
    let enrollments = store::enrollments::all_of_campaign(conn, &campaign.id)?;
    let currency = campaign.currency;
    let excluded = excluded(conn, campaign)?;
    let (clicks, paid_clicks) = click_counts(conn, campaign, window, excluded.as_deref())?;
    let mut orders =
        store::credits::order_sums(conn, &campaign.id, CreditKey::read(model), days(window))?;
    if let Some(x) = &excluded {
        for (e, minus) in x.order_sums(CreditKey::read(model), days(window)) {
            if let Some(o) = orders.get_mut(&e) {
                o.subtract(&minus);
            }
        }
    }
    let (start, end) = (window.start_micros(), window.end_micros());
    let mut event_sums: HashMap<EnrollmentId, Vec<store::events::EventSums>> = HashMap::new();
    let mut any_ordered = false;
    let bands = (campaign.lead_band_medium, campaign.lead_band_fast);
    let mut event_rows = store::events::sums(conn, &campaign.id, bands, start, end)?;
    if let Some(x) = &excluded {
        event_rows.extend(x.event_sums(bands, start, end));
    }
    for e in event_rows {
        any_ordered |= e.ordered > 0;
        event_sums
            .entry(e.enrollment_id.clone())
            .or_default()
            .push(e);
    }
    let mut delays: HashMap<EnrollmentId, Vec<i64>> = HashMap::new();
    if any_ordered {
        for d in store::events::lead_delays(conn, &campaign.id, start, end)? {
            delays.entry(d.enrollment_id).or_default().push(d.delay);
        }
        for (e, delay) in excluded.iter().flat_map(|x| x.lead_delays(start, end)) {
            if let Some(v) = delays.get_mut(&e) {
                if let Some(i) = v.iter().position(|d| *d == delay) {
                    v.remove(i);
                }
            }
        }
    }
    let values = leads::stored_event_values(&campaign.event_values);
    let mut costs: HashMap<EnrollmentId, (i64, i64)> = HashMap::new();
    let mut rest = Unassigned::default();
    for c in store::costs::between(conn, &campaign.id, start, end)? {
        let ad = if c.kind == CostKind::AdSpend {
            c.amount_micros
        } else {
            0
        };
        match c.enrollment_id {
            Some(e) => {
                let slot = costs.entry(e).or_default();
                slot.0 = slot.0.saturating_add(c.amount_micros);
                slot.1 = slot.1.saturating_add(ad);
            }
            None => {
                rest.costs_micros = rest.costs_micros.saturating_add(c.amount_micros);
                rest.ad_spend_micros = rest.ad_spend_micros.saturating_add(ad);
            }
        }
    }
    let mut posts: HashMap<_, [i64; 8]> = HashMap::new();
    let amplified = store::costs::ad_spend_posts(conn, &campaign.id)?;
    for mut p in store::posts::of_campaign(conn, &campaign.id)? {
        p.paid |= amplified.contains(&p.post_url);
        let e = posts.entry(p.enrollment_id.clone()).or_default();
        e[0] += p.impressions;
        e[1] += p.reach;
        e[2] += p.engagements();
        e[3] += 1;
        if p.paid {
            e[4] += p.impressions;
            e[5] += p.reach;
            e[6] += p.engagements();
            e[7] += 1;
        }
    }
    let handles = store::influencers::handles(conn, enrollments.iter().map(|e| &e.influencer_id))?;
    let mut rows: Vec<Row> = enrollments
        .into_iter()
        .map(|e| {
            let mut sums = Sums {
                fee_micros: e.fee_micros,
                ..Sums::default()
            };
            if let Some(c) = clicks.get(&e.id) {
                sums.clicks = c.clicks;
                sums.unique_clicks = c.unique_clicks;
                sums.bot_clicks = c.bot_clicks;
            }
            sums.paid_clicks = paid_clicks.get(&e.id).copied().unwrap_or(0);
            if let Some(o) = orders.get(&e.id) {
                let net = o.gross_micros - o.refunded_micros;
                let self_net = o.self_gross_micros - o.self_refunded_micros;
                sums.orders = o.orders;
                sums.redemptions = o.redemptions;
                sums.conversions_micros = o.conversions_micros;
                sums.gross_micros = o.gross_micros;
                sums.refunded_micros = o.refunded_micros;
                sums.self_net_micros = self_net;
                sums.commission_micros =
                    metrics::commission(e.commission_rate_micros, net - self_net, currency);
                sums.paid_conversions_micros = o.paid_conversions_micros;
                sums.paid_gross_micros = o.paid_gross_micros;
                sums.paid_refunded_micros = o.paid_refunded_micros;
            }
            if let Some(p) = posts.get(&e.id) {
                sums.impressions = p[0];
                sums.reach = p[1];
                sums.engagements = p[2];
                sums.posts = p[3];
                sums.paid_impressions = p[4];
                sums.paid_reach = p[5];
                sums.paid_engagements = p[6];
                sums.paid_posts = p[7];
            }
            for ev in event_sums.get(&e.id).into_iter().flatten() {
                let unvalued = ev.n - ev.valued;
                let own = ev
                    .value_units
                    .saturating_mul(MICROS)
                    .saturating_add(ev.value_rest_micros);
                let by_type = unvalued.saturating_mul(values.get(&ev.kind).copied().unwrap_or(0));
                sums.event_value_micros = sums
                    .event_value_micros
                    .saturating_add(own)
                    .saturating_add(by_type);
                if ev.kind == EventKind::Lead {
                    sums.leads += ev.n;
                    sums.leads_ordered += ev.ordered;
                    match ev.band {
                        0 => sums.leads_slow += ev.n,
                        1 => sums.leads_medium += ev.n,
                        2 => sums.leads_fast += ev.n,
                        _ => {}
                    }
                }
            }
            if let Some((all, ad)) = costs.get(&e.id) {
                sums.costs_micros = *all;
                sums.paid_cost_micros = *ad;
            }
            Row {
                handle: handles.get(&e.influencer_id).cloned().unwrap_or_default(),
                lead_delays: delays.remove(&e.id).unwrap_or_default(),
                enrollment: e,
                sums,
            }
        })
        .collect();
    // Costs that name no influencer: spread for ranking and pruning, or left to the totals.
    if campaign.cost_allocation != CostAllocation::None && !rows.is_empty() {
        let nets: Vec<i64> = rows.iter().map(|r| r.sums.net_micros()).collect();
        let parts = leads::spread(rest.costs_micros, &nets, campaign.cost_allocation, currency);
        let ad_parts = leads::spread(
            rest.ad_spend_micros,
            &nets,
            campaign.cost_allocation,
            currency,
        );
        for ((r, part), ad) in rows.iter_mut().zip(parts).zip(ad_parts) {
            r.sums.costs_micros = r.sums.costs_micros.saturating_add(part);
            r.sums.paid_cost_micros = r.sums.paid_cost_micros.saturating_add(ad);
        }
        rest = Unassigned::default();
    }
    Ok((rows, rest))
}
