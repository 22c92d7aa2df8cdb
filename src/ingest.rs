//! Recording orders, refunds and funnel events, whatever their source: resolve the touches,
//! attribute, convert currencies, persist — once, however often the same thing is sent.

use std::collections::HashMap;

use rust_decimal::prelude::*;
use serde::Serialize;

use crate::api::views;
use crate::db::{AnyConnection, GroupCommit};
use crate::domain::attribution::{self, Rules, Touch, Via};
use crate::domain::campaign::Model;
use crate::domain::money::{self, Currency};
use crate::domain::orders::{minor_unit_micros, NewEvent, NewOrder, NewRefund};
use crate::error::{ApiError, ApiResult};
use crate::store;
use crate::store::orders::{AttributionRow, EventRow, OrderRow, RefundRow, TouchRow};

#[derive(Debug, Serialize)]
pub struct CreditView {
    pub influencer_id: String,
    pub handle: String,
    pub campaign_id: String,
    pub enrollment_id: String,
    /// Fraction of the order, 0 to 1.
    pub share: f64,
    pub credited_amount: String,
    /// The campaign's currency (the order's amount converted when it differs).
    pub currency: String,
    pub via: String,
    /// The click id or discount code that made the touch.
    pub touch: String,
}

#[derive(Debug, Serialize)]
pub struct AssistView {
    pub influencer_id: String,
    pub handle: String,
    pub campaign_id: String,
    pub enrollment_id: String,
    pub via: String,
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
    pub model: Option<String>,
    pub attribution: Vec<CreditView>,
    pub assists: Vec<AssistView>,
}

pub struct Recorded<T> {
    pub created: bool,
    pub view: T,
}

/// Why a write transaction gave up: a concurrent duplicate (resolved by reading the winner),
/// or any other error.
enum Fail {
    Duplicate,
    /// What the transaction read changed before it wrote: run it again.
    Retry,
    Api(ApiError),
}

impl From<diesel::result::Error> for Fail {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => Fail::Duplicate,
            other => Fail::Api(other.into()),
        }
    }
}

impl From<ApiError> for Fail {
    fn from(e: ApiError) -> Self {
        Fail::Api(e)
    }
}

fn currency(code: &str) -> Currency {
    Currency::parse("currency", code).unwrap_or_else(|_| Currency::parse("c", "EUR").expect("EUR"))
}

fn rules_of(campaign: &store::campaigns::CampaignRow) -> Rules {
    Rules {
        model: Model::parse(&campaign.attribution_model).unwrap_or(Model::LastClick),
        window_days: campaign.window_days,
        code_priority: campaign.code_priority,
    }
}

/// A row read once per id: from `seen`, or loaded and kept there.
fn memo<T: Clone>(
    seen: &mut HashMap<String, T>,
    id: &str,
    load: impl FnOnce() -> diesel::QueryResult<Option<T>>,
) -> ApiResult<Option<T>> {
    if let Some(row) = seen.get(id) {
        return Ok(Some(row.clone()));
    }
    let found = load()?;
    if let Some(row) = &found {
        seen.insert(id.to_string(), row.clone());
    }
    Ok(found)
}

/// What an order touched: its touches, the codes it redeems and the currency of each
/// campaign among them.
struct Resolved {
    touches: Vec<TouchRow>,
    redeemed: Vec<String>,
    currencies: HashMap<String, Currency>,
}

/// The touches of an order, resolved against this brand's codes and clicks. Unknown codes and
/// clicks are no touches (they stay on the order as reported). Each enrollment and campaign
/// is read once however many touches share it.
fn resolve_touches(
    conn: &mut AnyConnection,
    brand_id: &str,
    order_pk: &str,
    order: &NewOrder,
) -> ApiResult<Resolved> {
    let mut touches = Vec::new();
    let mut redeemed = Vec::new();
    let mut campaigns: HashMap<String, store::campaigns::CampaignRow> = HashMap::new();
    let mut enrollments: HashMap<String, store::enrollments::EnrollmentRow> = HashMap::new();
    let mut enrollment = |conn: &mut AnyConnection, id: &str| {
        memo(&mut enrollments, id, || {
            store::enrollments::find_by_id(conn, id)
        })
    };
    let mut campaign = |conn: &mut AnyConnection, id: &str| {
        memo(&mut campaigns, id, || {
            store::campaigns::find(conn, brand_id, id)
        })
    };
    for code in &order.discount_codes {
        let Some(row) = store::enrollments::find_code_by_text(conn, brand_id, code)? else {
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
        let usable = crate::domain::codes::usable(
            crate::domain::codes::CodeState {
                code_status: &row.status,
                enrollment_status: &enrollment.status,
                campaign_status: &c.status,
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
        let rules = rules_of(&c);
        touches.push(TouchRow {
            order_id: order_pk.to_string(),
            position: touches.len() as i32,
            brand_id: brand_id.to_string(),
            campaign_id: row.campaign_id,
            enrollment_id: row.enrollment_id,
            influencer_id: row.influencer_id,
            via: Via::Code.as_str().into(),
            touch_key: row.code,
            at: order.occurred_at,
            attributable: usable,
            model: rules.model.as_str().into(),
            window_days: rules.window_days,
            code_priority: rules.code_priority,
        });
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
        let rules = rules_of(&c);
        touches.push(TouchRow {
            order_id: order_pk.to_string(),
            position: touches.len() as i32,
            brand_id: brand_id.to_string(),
            campaign_id: click.campaign_id,
            enrollment_id: click.enrollment_id,
            influencer_id: click.influencer_id,
            via: Via::Click.as_str().into(),
            touch_key: click.id,
            at: click.ts,
            attributable: click.attributable && enrollment.status == "active",
            model: rules.model.as_str().into(),
            window_days: rules.window_days,
            code_priority: rules.code_priority,
        });
    }
    let currencies = campaigns
        .iter()
        .map(|(id, c)| (id.clone(), currency(&c.currency)))
        .collect();
    Ok(Resolved {
        touches,
        redeemed,
        currencies,
    })
}

/// The domain's view of stored touches.
pub fn domain_touches(rows: &[TouchRow]) -> Vec<Touch> {
    rows.iter()
        .map(|t| Touch {
            key: t.touch_key.clone(),
            via: Via::parse(&t.via).unwrap_or(Via::Click),
            at: t.at,
            attributable: t.attributable,
            rules: Rules {
                model: Model::parse(&t.model).unwrap_or(Model::LastClick),
                window_days: t.window_days,
                code_priority: t.code_priority,
            },
        })
        .collect()
}

/// Converts an amount to another currency with the brand's registered rate (or the inverse
/// of the reverse rate), rounded half away from zero to the target's minor unit.
pub fn convert(
    conn: &mut AnyConnection,
    brand_id: &str,
    micros: i64,
    from: Currency,
    to: Currency,
) -> ApiResult<i64> {
    if from == to {
        return Ok(micros);
    }
    let direct = store::orders::rate(conn, brand_id, from.code(), to.code())?
        .and_then(|r| Decimal::from_str(&r).ok());
    let rate = match direct {
        Some(r) => r,
        None => store::orders::rate(conn, brand_id, to.code(), from.code())?
            .and_then(|r| Decimal::from_str(&r).ok())
            .filter(|r| !r.is_zero())
            .map(|r| Decimal::ONE / r)
            .ok_or_else(|| {
                ApiError::invalid(
                    "currency",
                    format!(
                        "no exchange rate from {} to {}; register one with PUT /api/v1/fx-rates",
                        from.code(),
                        to.code()
                    ),
                )
            })?,
    };
    let unit = Decimal::from(minor_unit_micros(to));
    Decimal::from(micros)
        .checked_mul(rate)
        .and_then(|d| d.checked_div(unit))
        .map(|d| d.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero))
        .and_then(|d| d.checked_mul(unit))
        .and_then(|d| d.to_i64())
        .filter(|m| m.abs() <= money::MAX_MICROS)
        .ok_or_else(|| ApiError::invalid("amount", "is too large once converted"))
}

/// Whether the customer is one of the credited influencers (by e-mail or handle).
fn is_self_referral(
    conn: &mut AnyConnection,
    customer_ref: Option<&str>,
    influencer_ids: &[String],
) -> ApiResult<bool> {
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
    brand_id: &str,
    order: &NewOrder,
    touches: &[TouchRow],
    model: Option<Model>,
    currencies_of: &mut HashMap<String, Currency>,
) -> ApiResult<Vec<AttributionRow>> {
    let unit = minor_unit_micros(order.currency);
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
                    .ok_or_else(ApiError::not_found)?;
                let cur = currency(&campaign.currency);
                currencies_of.insert(campaign_id.clone(), cur);
                cur
            }
        };
        currencies.push(cur);
    }
    let mut credited = vec![0_i64; decision.credits.len()];
    let mut groups: Vec<Currency> = currencies.clone();
    groups.dedup();
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
        let target_unit = minor_unit_micros(target);
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
                brand_id: brand_id.to_string(),
                campaign_id: touch.campaign_id.clone(),
                enrollment_id: touch.enrollment_id.clone(),
                influencer_id: touch.influencer_id.clone(),
                via: touch.via.clone(),
                model: decision.model.map(|m| m.as_str().to_string()),
                share_micros: c.share,
                credited_micros: amount,
                currency: cur.code().to_string(),
                occurred_at: order.occurred_at,
            }
        })
        .collect())
}

/// Records an order and attributes it, or answers the stored result of the same order.
pub fn record_order(
    conn: &mut AnyConnection,
    writes: &GroupCommit,
    brand_id: &str,
    order: NewOrder,
    source: &str,
) -> ApiResult<Recorded<OrderView>> {
    if let Some(existing) = store::orders::find_order(conn, brand_id, &order.external_id)? {
        return replay_order(conn, existing, &order.fingerprint);
    }
    let mut tries = 0;
    let attempt = loop {
        tries += 1;
        // Touches and credit are worked out before the write lock is taken (they only read);
        // the transaction only writes, so writers hold the lock briefly. What may change in
        // between is guarded in the transaction itself: a code's last redemption (retry) and
        // the order id (a concurrent duplicate).
        let result = (|| -> Result<OrderView, Fail> {
            let order_pk = uuid::Uuid::now_v7().to_string();
            let Resolved {
                touches,
                redeemed,
                currencies: mut currencies_of,
            } = resolve_touches(conn, brand_id, &order_pk, &order)?;
            let credits = credit(conn, brand_id, &order, &touches, None, &mut currencies_of)?;
            // The credit as decided (each campaign's own model), and under every model for
            // reports that ask for another.
            let mut by_model = Vec::with_capacity(Model::ALL.len() + 1);
            by_model.push((store::reports::AS_DECIDED, credits.clone()));
            for m in Model::ALL {
                by_model.push((
                    m.as_str(),
                    credit(
                        conn,
                        brand_id,
                        &order,
                        &touches,
                        Some(m),
                        &mut currencies_of,
                    )?,
                ));
            }
            // The same under every model (a code that won, one eligible touch): stored once.
            let same = |a: &[AttributionRow], b: &[AttributionRow]| {
                a.len() == b.len()
                    && a.iter().zip(b).all(|(x, y)| {
                        x.position == y.position
                            && x.share_micros == y.share_micros
                            && x.credited_micros == y.credited_micros
                    })
            };
            if by_model.iter().all(|(_, c)| same(c, &credits)) {
                by_model = vec![(store::reports::ANY_MODEL, credits.clone())];
            }
            let credited_influencers: Vec<String> =
                credits.iter().map(|c| c.influencer_id.clone()).collect();
            let row = OrderRow {
                id: order_pk.clone(),
                brand_id: brand_id.to_string(),
                external_id: order.external_id.clone(),
                fingerprint: order.fingerprint.clone(),
                source: source.to_string(),
                amount_micros: order.amount_micros,
                currency: order.currency.code().to_string(),
                occurred_at: order.occurred_at,
                customer_ref: order.customer_ref.clone(),
                discount_codes: serde_json::to_string(&order.discount_codes).unwrap_or_default(),
                click_ids: serde_json::to_string(&order.click_ids).unwrap_or_default(),
                self_referral: is_self_referral(
                    conn,
                    order.customer_ref.as_deref(),
                    &credited_influencers,
                )?,
                attributed: !credits.is_empty(),
                refunded_micros: 0,
                created_at: crate::db::now_micros(),
            };
            // Locked in one order whatever the order of the codes, so concurrent orders with
            // the same codes cannot deadlock on PostgreSQL.
            let mut redeemed = redeemed;
            redeemed.sort();
            // Committed together with other threads' orders on SQLite (see `GroupCommit`).
            let (row, touches, credits) = writes.run(conn, move |conn| {
                store::orders::insert_order(conn, &row, &touches, &credits)?;
                let redeemed_enrollments: Vec<(&str, &str)> = touches
                    .iter()
                    .filter(|t| t.via == Via::Code.as_str() && t.attributable)
                    .map(|t| (t.campaign_id.as_str(), t.enrollment_id.as_str()))
                    .collect();
                store::reports::record_credits(conn, &row, &by_model, &redeemed_enrollments)?;
                for code_id in &redeemed {
                    if !store::enrollments::add_redemption(conn, code_id)? {
                        // Another order took the code's last redemption after we read it.
                        return Err(Fail::Retry);
                    }
                }
                Ok::<_, Fail>((row, touches, credits))
            })?;
            Ok(order_view(conn, row, &touches, &credits)?)
        })();
        match result {
            Err(Fail::Retry) if tries < 3 => continue,
            other => break other,
        }
    };
    match attempt {
        Ok(view) => {
            metrics::counter!("orders_recorded_total", "source" => source.to_string()).increment(1);
            Ok(Recorded {
                created: true,
                view,
            })
        }
        Err(Fail::Api(e)) => Err(e),
        Err(Fail::Retry) => Err(ApiError::Conflict(
            "the order's discount codes changed while it was recorded; retry".into(),
        )),
        // The same order_id committed concurrently: answer like a resend.
        Err(Fail::Duplicate) => {
            let existing = store::orders::find_order(conn, brand_id, &order.external_id)?
                .ok_or_else(|| {
                    ApiError::Conflict("order_id is being recorded concurrently; retry".into())
                })?;
            replay_order(conn, existing, &order.fingerprint)
        }
    }
}

fn replay_order(
    conn: &mut AnyConnection,
    existing: OrderRow,
    fingerprint: &str,
) -> ApiResult<Recorded<OrderView>> {
    if existing.fingerprint != fingerprint {
        return Err(ApiError::Conflict(format!(
            "order {} was already recorded with a different body",
            existing.external_id
        )));
    }
    let view = stored_order_view(conn, existing)?;
    Ok(Recorded {
        created: false,
        view,
    })
}

/// The view of a stored order.
pub fn stored_order_view(conn: &mut AnyConnection, order: OrderRow) -> ApiResult<OrderView> {
    let touches = store::orders::touches_of(conn, &order.id)?;
    let credits = store::orders::attributions_of(conn, &order.id)?;
    order_view(conn, order, &touches, &credits)
}

fn order_view(
    conn: &mut AnyConnection,
    order: OrderRow,
    touches: &[TouchRow],
    credits: &[AttributionRow],
) -> ApiResult<OrderView> {
    let mut ids: Vec<String> = touches.iter().map(|t| t.influencer_id.clone()).collect();
    ids.sort_unstable();
    ids.dedup();
    let handles: HashMap<String, String> = if ids.is_empty() {
        HashMap::new()
    } else {
        store::influencers::handles(conn, &ids)?
            .into_iter()
            .collect()
    };
    let handle = |id: &str| handles.get(id).cloned().unwrap_or_default();
    let order_currency = currency(&order.currency);
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
            credited_amount: money::format_amount(c.credited_micros, currency(&c.currency)),
            currency: c.currency.clone(),
            via: c.via.clone(),
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
            via: t.via.clone(),
            touch: t.touch_key.clone(),
        })
        .collect();
    Ok(OrderView {
        status: if credits.is_empty() {
            "unattributed"
        } else {
            "attributed"
        },
        amount: money::format_amount(order.amount_micros, order_currency),
        refunded: money::format_amount(order.refunded_micros, order_currency),
        currency: order.currency,
        occurred_at: views::time(order.occurred_at),
        self_referral: order.self_referral,
        model: credits.first().and_then(|c| c.model.clone()),
        order_id: order.external_id,
        attribution,
        assists,
    })
}

#[derive(Debug, Serialize)]
pub struct RefundView {
    pub refund_id: String,
    pub order_id: String,
    pub amount: String,
    pub currency: String,
    pub occurred_at: String,
    /// Everything refunded on the order so far.
    pub order_refunded: String,
    /// The order's amount less its refunds.
    pub order_net: String,
}

pub fn refund_view(order: &OrderRow, refund: &RefundRow, refunded: i64) -> RefundView {
    let c = currency(&order.currency);
    RefundView {
        refund_id: refund.external_id.clone(),
        order_id: order.external_id.clone(),
        amount: money::format_amount(refund.amount_micros, c),
        currency: order.currency.clone(),
        occurred_at: views::time(refund.occurred_at),
        order_refunded: money::format_amount(refunded, c),
        order_net: money::format_amount(order.amount_micros - refunded, c),
    }
}

/// The currency of a recorded order.
pub fn order_currency(order: &OrderRow) -> Currency {
    currency(&order.currency)
}

/// Records a (partial or full) refund of an order, once: a resend answers the stored refund,
/// the same `refund_id` with another body is a 409, and refunds never exceed the order.
pub fn record_refund(
    conn: &mut AnyConnection,
    brand_id: &str,
    order: &OrderRow,
    refund: NewRefund,
) -> ApiResult<Recorded<RefundView>> {
    let order_external_id = order.external_id.as_str();
    let replay =
        |conn: &mut AnyConnection, existing: RefundRow| -> ApiResult<Recorded<RefundView>> {
            if existing.fingerprint != refund.fingerprint || existing.order_id != order.id {
                return Err(ApiError::Conflict(format!(
                    "refund {} was already recorded with a different body",
                    existing.external_id
                )));
            }
            let order = store::orders::find_order(conn, brand_id, order_external_id)?
                .ok_or_else(ApiError::not_found)?;
            Ok(Recorded {
                created: false,
                view: refund_view(&order, &existing, order.refunded_micros),
            })
        };
    if let Some(existing) = store::orders::find_refund(conn, brand_id, &refund.external_id)? {
        return replay(conn, existing);
    }
    let row = RefundRow {
        id: uuid::Uuid::now_v7().to_string(),
        brand_id: brand_id.to_string(),
        order_id: order.id.clone(),
        external_id: refund.external_id.clone(),
        fingerprint: refund.fingerprint.clone(),
        amount_micros: refund.amount_micros,
        occurred_at: refund.occurred_at,
        created_at: crate::db::now_micros(),
    };
    let attempt = crate::db::write_transaction::<_, Fail, _>(conn, |conn| {
        if !store::orders::insert_refund(conn, &row)? {
            let c = currency(&order.currency);
            let current = store::orders::find_order(conn, brand_id, order_external_id)?
                .ok_or_else(ApiError::not_found)?;
            return Err(Fail::Api(ApiError::invalid(
                "amount",
                format!(
                    "refunds would exceed the order: {} of {} already refunded",
                    money::format_amount(current.refunded_micros, c),
                    money::format_amount(current.amount_micros, c)
                ),
            )));
        }
        let current = store::orders::find_order(conn, brand_id, order_external_id)?
            .ok_or_else(ApiError::not_found)?;
        // The credits of the order, under every model, follow the refund.
        store::reports::apply_refund(conn, &current)?;
        Ok(refund_view(&current, &row, current.refunded_micros))
    });
    match attempt {
        Ok(view) => Ok(Recorded {
            created: true,
            view,
        }),
        Err(Fail::Api(e)) => Err(e),
        Err(Fail::Retry) => Err(ApiError::Conflict(
            "the order changed meanwhile; retry".into(),
        )),
        Err(Fail::Duplicate) => {
            let existing = store::orders::find_refund(conn, brand_id, &refund.external_id)?
                .ok_or_else(|| {
                    ApiError::Conflict("refund_id is being recorded concurrently; retry".into())
                })?;
            replay(conn, existing)
        }
    }
}

#[derive(Debug, Serialize)]
pub struct EventView {
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub click_id: String,
    pub campaign_id: Option<String>,
    pub influencer_id: Option<String>,
    pub occurred_at: String,
}

impl From<&EventRow> for EventView {
    fn from(e: &EventRow) -> Self {
        Self {
            event_id: e.external_id.clone(),
            kind: e.kind.clone(),
            click_id: e.click_id.clone(),
            campaign_id: e.campaign_id.clone(),
            influencer_id: e.influencer_id.clone(),
            occurred_at: views::time(e.occurred_at),
        }
    }
}

/// Records a funnel event tied to one of this brand's clicks, once.
pub fn record_event(
    conn: &mut AnyConnection,
    brand_id: &str,
    event: NewEvent,
) -> ApiResult<Recorded<EventView>> {
    let replay = |existing: EventRow| -> ApiResult<Recorded<EventView>> {
        if existing.fingerprint != event.fingerprint {
            return Err(ApiError::Conflict(format!(
                "event {} was already recorded with a different body",
                existing.external_id
            )));
        }
        Ok(Recorded {
            created: false,
            view: EventView::from(&existing),
        })
    };
    if let Some(existing) = store::orders::find_event(conn, brand_id, &event.external_id)? {
        return replay(existing);
    }
    let click = store::clicks::find(conn, brand_id, &event.click_id)?
        .ok_or_else(|| ApiError::invalid("click_id", "no click of this brand has this id"))?;
    let row = EventRow {
        id: uuid::Uuid::now_v7().to_string(),
        brand_id: brand_id.to_string(),
        external_id: event.external_id.clone(),
        fingerprint: event.fingerprint.clone(),
        kind: event.kind.to_string(),
        click_id: event.click_id.clone(),
        campaign_id: Some(click.campaign_id),
        enrollment_id: Some(click.enrollment_id),
        influencer_id: Some(click.influencer_id),
        occurred_at: event.occurred_at,
        created_at: crate::db::now_micros(),
    };
    match store::orders::insert_event(conn, &row) {
        Ok(()) => Ok(Recorded {
            created: true,
            view: EventView::from(&row),
        }),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => {
            let existing = store::orders::find_event(conn, brand_id, &event.external_id)?
                .ok_or_else(ApiError::not_found)?;
            replay(existing)
        }
        Err(e) => Err(e.into()),
    }
}
