//! Orders: resolved against the brand's codes and clicks, attributed under the campaigns'
//! models (and every other model, for reports), converted into each campaign's currency,
//! recorded once.

use std::collections::HashMap;

use serde::Serialize;

use crate::core::ingest::{IngestError, IngestResult, Recorded};
use crate::core::now_micros;
use crate::db::{AnyConnection, GroupCommit};
use crate::domain::attribution::{self, CreditKey, Rules, Touch, Via};
use crate::domain::campaign::{EnrollmentStatus, Model};
use crate::domain::codes::{self, CodeState};
use crate::domain::field::FieldError;
use crate::domain::hooks::EventType;
use crate::domain::ids::{
    BrandId, CampaignId, CodeId, EnrollmentId, InfluencerId, LinkId, OrderId,
};
use crate::domain::money::{self, Currency};
use crate::domain::orders::{NewOrder, OrderSource};
use crate::domain::time::rfc3339;
use crate::store::campaigns::CampaignRow;
use crate::store::customers::CustomerTouchRow;
use crate::store::enrollments::EnrollmentRow;
use crate::store::orders::{AttributionRow, OrderRow, TouchRow};
use crate::store::{self};

#[derive(Debug, Serialize)]
pub struct CreditView {
    pub influencer_id: InfluencerId,
    pub handle: String,
    pub campaign_id: CampaignId,
    pub enrollment_id: EnrollmentId,
    /// Fraction of the order, 0 to 1.
    pub share: f64,
    pub credited_amount: String,
    /// The campaign's currency (the order's amount converted when it differs).
    pub currency: String,
    pub via: Via,
    /// The click id or discount code that made the touch.
    pub touch: String,
}

#[derive(Debug, Serialize)]
pub struct AssistView {
    pub influencer_id: InfluencerId,
    pub handle: String,
    pub campaign_id: CampaignId,
    pub enrollment_id: EnrollmentId,
    pub via: Via,
    pub touch: String,
}

#[derive(Debug, Serialize)]
pub struct OrderView {
    pub order_id: String,
    /// `attributed` or `unattributed`.
    pub status: &'static str,
    pub amount: String,
    pub currency: String,
    pub occurred_at: String,
    pub refunded: String,
    pub self_referral: bool,
    /// The model that split the credit; `null` when a discount code won by priority.
    pub model: Option<Model>,
    pub attribution: Vec<CreditView>,
    pub assists: Vec<AssistView>,
}

/// Why the order's write transaction gave up.
enum Fail {
    /// The same `order_id` committed concurrently: answered like a resend.
    Duplicate,
    /// A code's last redemption was taken after it was read: plan again.
    Retry,
    Other(IngestError),
}

impl From<diesel::result::Error> for Fail {
    fn from(e: diesel::result::Error) -> Self {
        if crate::db::is_duplicate(Some(&e)) {
            Fail::Duplicate
        } else {
            Fail::Other(e.into())
        }
    }
}

/// Records an order and attributes it, or answers the stored result of the same order (a
/// different body under the same `order_id` is refused).
pub fn record(
    conn: &mut AnyConnection,
    writes: &GroupCommit,
    brand_id: &BrandId,
    order: NewOrder,
    source: OrderSource,
) -> IngestResult<Recorded<OrderView>> {
    if let Some(existing) = store::orders::find(conn, brand_id, &order.external_id)? {
        return replay(conn, existing, &order.fingerprint);
    }
    let mut tries = 0;
    loop {
        tries += 1;
        // Touches and credit are worked out before the write lock is taken (they only read);
        // the write transaction only writes, so writers hold the lock briefly. What may change
        // in between is guarded in the transaction itself: a code's last redemption (retry)
        // and the order id (a concurrent duplicate).
        let plan = plan(conn, brand_id, &order, source)?;
        match apply(conn, writes, plan) {
            Ok((row, touches, credits)) => {
                metrics::counter!("orders_recorded_total", "source" => source.as_str())
                    .increment(1);
                return Ok(Recorded {
                    created: true,
                    view: order_view(conn, row, &touches, &credits)?,
                });
            }
            Err(Fail::Retry) if tries < 3 => continue,
            Err(Fail::Retry) => {
                return Err(IngestError::Contended(
                    "the order's discount codes changed while it was recorded; retry",
                ))
            }
            Err(Fail::Duplicate) => {
                let existing = store::orders::find(conn, brand_id, &order.external_id)?
                    .ok_or(IngestError::InFlight("order_id"))?;
                return replay(conn, existing, &order.fingerprint);
            }
            Err(Fail::Other(e)) => return Err(e),
        }
    }
}

/// Everything an order writes, worked out from what it touches.
struct OrderPlan {
    row: OrderRow,
    touches: Vec<TouchRow>,
    /// The credit as decided (each campaign's own model).
    credits: Vec<AttributionRow>,
    /// The credit under every key, for reports that ask for another model.
    by_key: Vec<(CreditKey, Vec<AttributionRow>)>,
    /// Codes the order redeems, sorted so that concurrent orders lock them in one order.
    redeemed: Vec<CodeId>,
    /// Positions of the touches made through a paid link.
    paid: Vec<i32>,
    /// The order's clicks and codes, bound to its customer.
    binds: Vec<CustomerTouchRow>,
}

fn plan(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    order: &NewOrder,
    source: OrderSource,
) -> IngestResult<OrderPlan> {
    let order_pk = OrderId::new();
    let Resolved {
        touches,
        mut redeemed,
        mut currencies,
        links,
    } = resolve_touches(conn, brand_id, &order_pk, order)?;
    let mut paid_links: HashMap<LinkId, bool> = HashMap::new();
    let mut paid = Vec::new();
    for (touch, link) in touches.iter().zip(&links) {
        let Some(link) = link else { continue };
        let is_paid = match paid_links.get(link) {
            Some(p) => *p,
            None => {
                let p = store::links::is_paid(conn, link)?;
                paid_links.insert(link.clone(), p);
                p
            }
        };
        if is_paid {
            paid.push(touch.position);
        }
    }
    let binds = customer_binds(order, &touches, &links);
    let credits = credit(conn, brand_id, order, &touches, None, &mut currencies)?;
    let mut by_key = Vec::with_capacity(Model::ALL.len() + 1);
    by_key.push((CreditKey::AsDecided, credits.clone()));
    for m in Model::ALL {
        let under = credit(conn, brand_id, order, &touches, Some(*m), &mut currencies)?;
        by_key.push((CreditKey::Model(*m), under));
    }
    // The same under every key (a code that won, one eligible touch): stored once.
    let same = |a: &[AttributionRow], b: &[AttributionRow]| {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| {
                x.position == y.position
                    && x.share_micros == y.share_micros
                    && x.credited_micros == y.credited_micros
            })
    };
    if by_key.iter().all(|(_, c)| same(c, &credits)) {
        by_key = vec![(CreditKey::Any, credits.clone())];
    }
    let credited: Vec<InfluencerId> = credits.iter().map(|c| c.influencer_id.clone()).collect();
    let row = OrderRow {
        id: order_pk,
        brand_id: brand_id.clone(),
        external_id: order.external_id.clone(),
        fingerprint: order.fingerprint.clone(),
        source,
        amount_micros: order.amount_micros,
        currency: order.currency,
        occurred_at: order.occurred_at,
        customer_ref: order.customer_ref.clone(),
        discount_codes: serde_json::to_string(&order.discount_codes).unwrap_or_default(),
        click_ids: serde_json::to_string(&order.click_ids).unwrap_or_default(),
        self_referral: is_self_referral(conn, order.customer_ref.as_deref(), &credited)?,
        attributed: !credits.is_empty(),
        refunded_micros: 0,
        created_at: now_micros(),
    };
    redeemed.sort();
    Ok(OrderPlan {
        row,
        touches,
        credits,
        by_key,
        redeemed,
        paid,
        binds,
    })
}

/// Writes a planned order, its touches, credits and rollups, and counts its codes' redemptions
/// (committed together with other threads' orders on SQLite, see [`GroupCommit`]).
fn apply(
    conn: &mut AnyConnection,
    writes: &GroupCommit,
    plan: OrderPlan,
) -> Result<(OrderRow, Vec<TouchRow>, Vec<AttributionRow>), Fail> {
    writes.run(conn, move |conn| {
        let OrderPlan {
            row,
            touches,
            credits,
            by_key,
            redeemed,
            paid,
            binds,
        } = plan;
        store::orders::insert(conn, &row, &touches, &credits)?;
        if let Some(customer) = &row.customer_ref {
            store::customers::bind(conn, &binds)?;
            store::customers::ordered(conn, &row.brand_id, customer, row.occurred_at)?;
        }
        let redeemed_enrollments: Vec<(&CampaignId, &EnrollmentId)> = touches
            .iter()
            .filter(|t| t.via == Via::Code && t.attributable)
            .map(|t| (&t.campaign_id, &t.enrollment_id))
            .collect();
        store::credits::record(conn, &row, &by_key, &redeemed_enrollments, &paid)?;
        for code_id in &redeemed {
            if !store::codes::add_redemption(conn, code_id)? {
                // Another order took the code's last redemption after we read it.
                return Err(Fail::Retry);
            }
        }
        if row.attributed {
            // The event carries the order as the API answers it.
            crate::core::hooks::emit(conn, &row.brand_id, EventType::OrderAttributed, |conn| {
                let view = order_view(conn, row.clone(), &touches, &credits)?;
                Ok::<_, IngestError>(serde_json::to_value(view).unwrap_or_default())
            })
            .map_err(Fail::Other)?;
        }
        Ok((row, touches, credits))
    })
}

fn replay(
    conn: &mut AnyConnection,
    existing: OrderRow,
    fingerprint: &str,
) -> IngestResult<Recorded<OrderView>> {
    if existing.fingerprint != fingerprint {
        return Err(IngestError::BodyChanged {
            what: "order",
            id: existing.external_id,
        });
    }
    Ok(Recorded {
        created: false,
        view: stored_view(conn, existing)?,
    })
}

/// A row read once per id: from `seen`, or loaded and kept there.
fn memo<K: std::hash::Hash + Eq + Clone, T: Clone>(
    seen: &mut HashMap<K, T>,
    id: &K,
    load: impl FnOnce() -> diesel::QueryResult<Option<T>>,
) -> IngestResult<Option<T>> {
    if let Some(row) = seen.get(id) {
        return Ok(Some(row.clone()));
    }
    let found = load()?;
    if let Some(row) = &found {
        seen.insert(id.clone(), row.clone());
    }
    Ok(found)
}

/// What an order touched: its touches, the codes it redeems and the currency of each
/// campaign among them.
struct Resolved {
    touches: Vec<TouchRow>,
    redeemed: Vec<CodeId>,
    currencies: HashMap<CampaignId, Currency>,
    /// The link of each touch made through a click.
    links: Vec<Option<LinkId>>,
}

/// How a code or a click reached an order.
struct Reached {
    campaign_id: CampaignId,
    enrollment_id: EnrollmentId,
    influencer_id: InfluencerId,
    via: Via,
    /// The code, or the click id.
    key: String,
    at: i64,
    attributable: bool,
}

/// The touches of an order, resolved against this brand's codes and clicks. Unknown codes and
/// clicks are no touches (they stay on the order as reported). Each enrollment and campaign
/// is read once however many touches share it.
fn resolve_touches(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    order_pk: &OrderId,
    order: &NewOrder,
) -> IngestResult<Resolved> {
    let mut touches = Vec::new();
    let mut redeemed = Vec::new();
    let mut campaigns: HashMap<CampaignId, CampaignRow> = HashMap::new();
    let mut enrollments: HashMap<EnrollmentId, EnrollmentRow> = HashMap::new();
    let mut enrollment = |conn: &mut AnyConnection, id: &EnrollmentId| {
        memo(&mut enrollments, id, || {
            store::enrollments::find_by_id(conn, id)
        })
    };
    let mut campaign = |conn: &mut AnyConnection, id: &CampaignId| {
        memo(&mut campaigns, id, || {
            store::campaigns::find(conn, brand_id, id)
        })
    };
    // A touch at the next position.
    let touch = |touches: &Vec<TouchRow>, campaign: &CampaignRow, reached: Reached| TouchRow {
        order_id: order_pk.clone(),
        position: touches.len() as i32,
        brand_id: brand_id.clone(),
        campaign_id: reached.campaign_id,
        enrollment_id: reached.enrollment_id,
        influencer_id: reached.influencer_id,
        via: reached.via,
        touch_key: reached.key,
        at: reached.at,
        attributable: reached.attributable,
        model: campaign.attribution_model,
        window_days: campaign.window_days,
        code_priority: campaign.code_priority,
    };
    let mut links = Vec::new();
    for code in &order.discount_codes {
        let Some(row) = store::codes::find_by_text(conn, brand_id, code)? else {
            continue;
        };
        let Some(enrollment) = enrollment(conn, &row.enrollment_id)? else {
            continue;
        };
        let Some(c) = campaign(conn, &row.campaign_id)? else {
            continue;
        };
        // The same rules as the storefront's code lookup, judged at the order's time, and
        // the campaign's dates like clicks.
        let usable = codes::usable(
            CodeState {
                code_status: row.status,
                enrollment_status: enrollment.status,
                campaign_status: c.status,
                expires_at: row.expires_at,
                max_redemptions: row.max_redemptions,
                redemptions: row.redemptions,
            },
            order.occurred_at,
        )
        .is_ok()
            && c.starts_at.is_none_or(|t| order.occurred_at >= t)
            && c.ends_at.is_none_or(|t| order.occurred_at < t);
        if usable {
            redeemed.push(row.id.clone());
        }
        let reached = Reached {
            campaign_id: row.campaign_id,
            enrollment_id: row.enrollment_id,
            influencer_id: row.influencer_id,
            via: Via::Code,
            key: row.code,
            at: order.occurred_at,
            attributable: usable,
        };
        touches.push(touch(&touches, &c, reached));
        links.push(None);
    }
    for click_id in &order.click_ids {
        let Some(click) = store::clicks::find(conn, brand_id, click_id)? else {
            continue;
        };
        let Some(enrollment) = enrollment(conn, &click.enrollment_id)? else {
            continue;
        };
        let Some(c) = campaign(conn, &click.campaign_id)? else {
            continue;
        };
        let reached = Reached {
            campaign_id: click.campaign_id,
            enrollment_id: click.enrollment_id,
            influencer_id: click.influencer_id,
            via: Via::Click,
            key: click.id.into_string(),
            at: click.ts,
            attributable: click.attributable && enrollment.status == EnrollmentStatus::Active,
        };
        touches.push(touch(&touches, &c, reached));
        links.push(Some(click.link_id));
    }
    // An order that names its customer and no code or click of ours (a shop's own sale
    // code is none): credited from the customer's earlier touches, each within its own
    // campaign's identity window (kept as the touch's window).
    if let (Some(customer), true) = (order.customer_ref.as_deref(), touches.is_empty()) {
        let since = order.occurred_at - i64::from(MAX_IDENTITY_WINDOW_DAYS) * MICROS_PER_DAY;
        for known in store::customers::touches(conn, brand_id, customer, since, order.occurred_at)?
        {
            let Some(enrollment) = enrollment(conn, &known.enrollment_id)? else {
                continue;
            };
            let Some(c) = campaign(conn, &known.campaign_id)? else {
                continue;
            };
            if order.occurred_at - known.at > i64::from(c.identity_window_days) * MICROS_PER_DAY {
                continue;
            }
            let reached = Reached {
                campaign_id: known.campaign_id,
                enrollment_id: known.enrollment_id,
                influencer_id: known.influencer_id,
                via: Via::Customer,
                key: known.touch_key,
                at: known.at,
                attributable: known.attributable && enrollment.status == EnrollmentStatus::Active,
            };
            let mut t = touch(&touches, &c, reached);
            t.window_days = c.identity_window_days;
            touches.push(t);
            links.push(known.link_id);
        }
    }
    let currencies = campaigns
        .iter()
        .map(|(id, c)| (id.clone(), c.currency))
        .collect();
    Ok(Resolved {
        touches,
        redeemed,
        currencies,
        links,
    })
}

const MICROS_PER_DAY: i64 = 86_400_000_000;
const MAX_IDENTITY_WINDOW_DAYS: i32 = 730;

/// The order's clicks and codes, bound to the customer it names (an order that names only
/// its customer binds nothing new).
fn customer_binds(
    order: &NewOrder,
    touches: &[TouchRow],
    links: &[Option<LinkId>],
) -> Vec<CustomerTouchRow> {
    let Some(customer) = &order.customer_ref else {
        return Vec::new();
    };
    touches
        .iter()
        .zip(links)
        .filter(|(t, _)| t.via != Via::Customer)
        .map(|(t, link)| CustomerTouchRow {
            brand_id: t.brand_id.clone(),
            customer_ref: customer.clone(),
            via: t.via,
            touch_key: t.touch_key.clone(),
            campaign_id: t.campaign_id.clone(),
            enrollment_id: t.enrollment_id.clone(),
            influencer_id: t.influencer_id.clone(),
            link_id: link.clone(),
            at: t.at,
            attributable: t.attributable,
            created_at: now_micros(),
        })
        .collect()
}

/// The domain's view of stored touches.
pub fn domain_touches(rows: &[TouchRow]) -> Vec<Touch> {
    rows.iter()
        .map(|t| Touch {
            key: t.touch_key.clone(),
            via: t.via,
            at: t.at,
            attributable: t.attributable,
            rules: Rules {
                model: t.model,
                window_days: t.window_days,
                code_priority: t.code_priority,
            },
        })
        .collect()
}

/// Converts an amount into another currency with the brand's registered rate (or the inverse
/// of the reverse rate), rounded half away from zero to the target's minor unit.
pub fn convert(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    micros: i64,
    from: Currency,
    to: Currency,
) -> IngestResult<i64> {
    if from == to {
        return Ok(micros);
    }
    let rate = match store::fx::rate(conn, brand_id, from, to)? {
        Some(r) => r,
        None => store::fx::rate(conn, brand_id, to, from)?
            .map(|r| r.inverse())
            .ok_or_else(|| {
                IngestError::NoRate(format!(
                    "no exchange rate from {} to {}; register one with PUT /api/v1/fx-rates",
                    from.code(),
                    to.code()
                ))
            })?,
    };
    Ok(rate
        .convert(micros, to)
        .ok_or_else(|| FieldError::new("amount", "is too large once converted"))?)
}

/// Whether the customer is one of the credited influencers (by e-mail or handle).
fn is_self_referral(
    conn: &mut AnyConnection,
    customer_ref: Option<&str>,
    influencer_ids: &[InfluencerId],
) -> IngestResult<bool> {
    let Some(customer) = customer_ref.map(|c| c.trim().to_lowercase()) else {
        return Ok(false);
    };
    for id in influencer_ids {
        if let Some((handle_norm, email)) = store::influencers::contact(conn, id)? {
            let email = email.map(|e| e.trim().to_lowercase());
            let email_hash = email.as_deref().map(crate::domain::keys::sha256_hex);
            if handle_norm == customer.trim_start_matches('@')
                || email.as_deref() == Some(customer.as_str())
                || email_hash.as_deref() == Some(customer.as_str())
            {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// The credit of each touch, in its campaign's currency. Each group of credits in one
/// currency is converted as a whole and split again by the same weights, so the credits of
/// an order sum exactly to its (converted) amount.
fn credit(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    order: &NewOrder,
    touches: &[TouchRow],
    model: Option<Model>,
    currencies_of: &mut HashMap<CampaignId, Currency>,
) -> IngestResult<Vec<AttributionRow>> {
    let unit = order.currency.minor_unit_micros();
    let decision = attribution::attribute(
        &domain_touches(touches),
        order.occurred_at,
        order.amount_micros / unit,
        model,
    );
    let mut currencies: Vec<Currency> = Vec::with_capacity(decision.credits.len());
    for c in &decision.credits {
        let campaign_id = &touches[c.touch].campaign_id;
        let cur = match currencies_of.get(campaign_id) {
            Some(cur) => *cur,
            None => {
                let campaign = store::campaigns::find(conn, brand_id, campaign_id)?
                    .ok_or_else(|| IngestError::NotFound("no such resource".into()))?;
                currencies_of.insert(campaign_id.clone(), campaign.currency);
                campaign.currency
            }
        };
        currencies.push(cur);
    }
    let mut credited = vec![0_i64; decision.credits.len()];
    let mut groups: Vec<Currency> = currencies.clone();
    groups.sort_by_key(|c| c.code());
    groups.dedup();
    for target in groups {
        let members: Vec<usize> = (0..currencies.len())
            .filter(|&i| currencies[i] == target)
            .collect();
        let group_micros: i64 = members
            .iter()
            .map(|&i| decision.credits[i].amount * unit)
            .sum();
        let converted = convert(conn, brand_id, group_micros, order.currency, target)?;
        let target_unit = target.minor_unit_micros();
        let weights: Vec<u128> = members
            .iter()
            .map(|&i| decision.credits[i].amount.max(0) as u128)
            .collect();
        let parts = if weights.iter().all(|w| *w == 0) {
            // A zero-amount order: nothing to split.
            vec![0; members.len()]
        } else {
            attribution::allocate(converted / target_unit, &weights)
        };
        for (&i, part) in members.iter().zip(parts) {
            credited[i] = part * target_unit;
        }
    }
    Ok(decision
        .credits
        .iter()
        .zip(currencies)
        .zip(credited)
        .map(|((c, cur), amount)| {
            let touch = &touches[c.touch];
            AttributionRow {
                order_id: touch.order_id.clone(),
                position: touch.position,
                brand_id: brand_id.clone(),
                campaign_id: touch.campaign_id.clone(),
                enrollment_id: touch.enrollment_id.clone(),
                influencer_id: touch.influencer_id.clone(),
                via: touch.via,
                model: decision.model,
                share_micros: c.share,
                credited_micros: amount,
                currency: cur,
                occurred_at: order.occurred_at,
            }
        })
        .collect())
}

/// The view of a stored order.
pub fn stored_view(conn: &mut AnyConnection, order: OrderRow) -> IngestResult<OrderView> {
    let touches = store::orders::touches_of(conn, &order.id)?;
    let credits = store::orders::attributions_of(conn, &order.id)?;
    order_view(conn, order, &touches, &credits)
}

/// An order of the brand by its `order_id`, as recorded.
pub fn get(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    order_id: &str,
) -> IngestResult<OrderView> {
    let order = store::orders::find(conn, brand_id, order_id)?
        .ok_or_else(|| IngestError::NotFound("no such resource".into()))?;
    stored_view(conn, order)
}

fn order_view(
    conn: &mut AnyConnection,
    order: OrderRow,
    touches: &[TouchRow],
    credits: &[AttributionRow],
) -> IngestResult<OrderView> {
    let handles = store::influencers::handles(conn, touches.iter().map(|t| &t.influencer_id))?;
    let handle = |id: &InfluencerId| handles.get(id).cloned().unwrap_or_default();
    let domain = domain_touches(touches);
    // The credits in attribution's order (oldest touch first), whether they were just decided
    // or read back by position, so that a resend answers exactly what the first answer said.
    let order_of = |c: &AttributionRow| {
        touches
            .iter()
            .position(|t| t.position == c.position)
            .map(|i| attribution::touch_order(&domain[i]))
    };
    let mut credits: Vec<&AttributionRow> = credits.iter().collect();
    credits.sort_by(|a, b| order_of(a).cmp(&order_of(b)));
    let attribution = credits
        .iter()
        .map(|c| CreditView {
            influencer_id: c.influencer_id.clone(),
            handle: handle(&c.influencer_id),
            campaign_id: c.campaign_id.clone(),
            enrollment_id: c.enrollment_id.clone(),
            share: c.share_micros as f64 / attribution::SHARE_ONE as f64,
            credited_amount: money::format_amount(c.credited_micros, c.currency),
            currency: c.currency.code().to_string(),
            via: c.via,
            touch: touches
                .iter()
                .find(|t| t.position == c.position)
                .map(|t| t.touch_key.clone())
                .unwrap_or_default(),
        })
        .collect();
    let assists = touches
        .iter()
        .zip(&domain)
        .filter(|(t, d)| {
            attribution::eligible(d, order.occurred_at)
                && !credits.iter().any(|c| c.position == t.position)
        })
        .map(|(t, _)| AssistView {
            influencer_id: t.influencer_id.clone(),
            handle: handle(&t.influencer_id),
            campaign_id: t.campaign_id.clone(),
            enrollment_id: t.enrollment_id.clone(),
            via: t.via,
            touch: t.touch_key.clone(),
        })
        .collect();
    Ok(OrderView {
        status: if credits.is_empty() {
            "unattributed"
        } else {
            "attributed"
        },
        amount: money::format_amount(order.amount_micros, order.currency),
        refunded: money::format_amount(order.refunded_micros, order.currency),
        currency: order.currency.code().to_string(),
        occurred_at: rfc3339(order.occurred_at),
        self_referral: order.self_referral,
        model: credits.first().and_then(|c| c.model),
        order_id: order.external_id,
        attribution,
        assists,
    })
}

/// Hashes the customer e-mails an older version stored in plain text (REST orders were not
/// hashed before); run at start, in batches. Returns how many were hashed.
pub fn hash_stored_emails(conn: &mut AnyConnection) -> Result<usize, crate::db::DbError> {
    let (mut hashed, mut after) = (0, None);
    loop {
        let batch = store::orders::customer_refs_with_at(conn, after.as_ref(), 500)?;
        let Some((last, _)) = batch.last() else {
            return Ok(hashed);
        };
        after = Some(last.clone());
        for (id, r) in &batch {
            let stored = crate::domain::orders::stored_customer_ref(r);
            if stored != *r {
                store::orders::set_customer_ref(conn, id, &stored)?;
                hashed += 1;
            }
        }
    }
}
