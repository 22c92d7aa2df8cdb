//! Exclusion rules and what they match: the campaign's clicks read once per report that has
//! rules (clicks have no index but their time-ordered id), the orders those clicks reached,
//! and the excluded orders' credits and code redemptions.

use std::collections::HashSet;

use diesel::expression::BoxableExpression;
use diesel::prelude::*;
use diesel::sql_types::Bool;

use crate::db::schema::{clicks, events, exclusions, order_credits, order_touches, orders};
use crate::db::types::row;
use crate::db::AnyConnection;
use crate::domain::attribution::Via;
use crate::domain::ids::{
    BrandId, CampaignId, ClickId, EnrollmentId, ExclusionId, LinkId, OrderId,
};
use crate::domain::orders::EventKind;
use crate::domain::traffic::ClickKind;
use crate::store::credits::CreditRow;

/// Order ids per `IN (…)` list: well under both backends' bind-parameter limits.
const CHUNK: usize = 500;

row! {
    #[derive(Debug, Clone, Insertable)]
    #[diesel(treat_none_as_default_value = false)]
    pub struct ExclusionRow in exclusions {
        pub id: ExclusionId,
        pub brand_id: BrandId,
        pub campaign_id: CampaignId,
        pub visitor: Option<String>,
        pub link_id: Option<LinkId>,
        pub referrer_host: Option<String>,
        pub from_at: Option<i64>,
        pub to_at: Option<i64>,
        pub order_id: Option<String>,
        pub reason: String,
        /// The key that made it.
        pub created_by: String,
        pub created_at: i64,
        pub deleted_by: Option<String>,
        pub deleted_reason: Option<String>,
        pub deleted_at: Option<i64>,
    }
}

pub fn insert(conn: &mut AnyConnection, row: &ExclusionRow) -> QueryResult<()> {
    diesel::insert_into(exclusions::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// A rule of the brand's campaign, deleted or not.
pub fn find(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    campaign_id: &CampaignId,
    id: &ExclusionId,
) -> QueryResult<Option<ExclusionRow>> {
    exclusions::table
        .filter(exclusions::id.eq(id))
        .filter(exclusions::brand_id.eq(brand_id))
        .filter(exclusions::campaign_id.eq(campaign_id))
        .select(ExclusionRow::as_select())
        .first(conn)
        .optional()
}

/// A page of the campaign's rules, oldest first; `active` keeps the ones in force.
pub fn page(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
    active: Option<bool>,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<ExclusionRow>> {
    let mut q = exclusions::table
        .filter(exclusions::campaign_id.eq(campaign_id))
        .select(ExclusionRow::as_select())
        .order(exclusions::id.asc())
        .limit(limit)
        .into_boxed();
    match active {
        Some(true) => q = q.filter(exclusions::deleted_at.is_null()),
        Some(false) => q = q.filter(exclusions::deleted_at.is_not_null()),
        None => {}
    }
    if let Some(after) = after {
        q = q.filter(exclusions::id.gt(after.to_string()));
    }
    q.load(conn)
}

/// The rules in force.
pub fn active(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
) -> QueryResult<Vec<ExclusionRow>> {
    exclusions::table
        .filter(exclusions::campaign_id.eq(campaign_id))
        .filter(exclusions::deleted_at.is_null())
        .select(ExclusionRow::as_select())
        .order(exclusions::id.asc())
        .load(conn)
}

/// Marks a rule deleted (who, why, when); `false` when it already was.
pub fn delete(
    conn: &mut AnyConnection,
    id: &ExclusionId,
    by: &str,
    reason: &str,
    at: i64,
) -> QueryResult<bool> {
    diesel::update(
        exclusions::table
            .filter(exclusions::id.eq(id))
            .filter(exclusions::deleted_at.is_null()),
    )
    .set((
        exclusions::deleted_by.eq(by),
        exclusions::deleted_reason.eq(reason),
        exclusions::deleted_at.eq(at),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

row! {
    /// What a rule can ask of a click, and what its counts need.
    #[derive(Debug, Clone)]
    pub struct ScannedClick in clicks {
        pub id: ClickId,
        pub link_id: LinkId,
        pub enrollment_id: EnrollmentId,
        pub ts: i64,
        pub visitor_hash: String,
        pub kind: ClickKind,
        pub attributable: bool,
        pub referrer_host: Option<String>,
    }
}

/// What one rule asks of a click, for the database to filter by (`None`: anything).
#[derive(Debug, Clone, Default)]
pub struct ClickFilter<'a> {
    pub visitor: Option<&'a str>,
    pub link_id: Option<&'a LinkId>,
    pub referrer_host: Option<&'a str>,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

type Db = <AnyConnection as diesel::Connection>::Backend;
type Predicate<'a> = Box<dyn BoxableExpression<clicks::table, Db, SqlType = Bool> + 'a>;

/// One rule as SQL: the campaign's clicks it matches (clicks have no index but their
/// time-ordered id, so the database scans them, without handing every row over).
fn predicate<'a>(campaign_id: &'a CampaignId, f: &ClickFilter<'a>) -> Predicate<'a> {
    let mut p: Predicate<'a> = Box::new(clicks::campaign_id.eq(campaign_id));
    if let Some(v) = f.visitor {
        p = Box::new(p.and(clicks::visitor_hash.eq(v)));
    }
    if let Some(l) = f.link_id {
        p = Box::new(p.and(clicks::link_id.eq(l)));
    }
    if let Some(h) = f.referrer_host {
        // Host names hold no `%` or `_` (checked when the rule was made).
        p = Box::new(
            p.and(
                clicks::referrer_host
                    .assume_not_null()
                    .eq(h)
                    .or(clicks::referrer_host
                        .assume_not_null()
                        .like(format!("%.{h}"))),
            ),
        );
    }
    if let Some(from) = f.from {
        p = Box::new(
            p.and(clicks::id.ge(ClickId::floor(from)))
                .and(clicks::ts.ge(from)),
        );
    }
    if let Some(to) = f.to {
        p = Box::new(p.and(clicks::ts.lt(to)));
    }
    p
}

/// The campaign's clicks that one of the rules matches.
pub fn matching_clicks(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
    rules: &[ClickFilter<'_>],
) -> QueryResult<Vec<ScannedClick>> {
    if rules.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = clicks::table.select(ScannedClick::as_select()).into_boxed();
    for (i, r) in rules.iter().enumerate() {
        q = if i == 0 {
            q.filter(predicate(campaign_id, r))
        } else {
            q.or_filter(predicate(campaign_id, r))
        };
    }
    q.load(conn)
}

/// The human clicks on the campaign from `from` on, of these visitors (all: `None`):
/// `(link, visitor, time)`, to tell whether a visitor keeps a link's unique click of a day.
pub fn human_clicks(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
    visitors: Option<&[&str]>,
    from: i64,
) -> QueryResult<Vec<(LinkId, String, i64)>> {
    let query = || {
        clicks::table
            .filter(clicks::id.ge(ClickId::floor(from)))
            .filter(clicks::campaign_id.eq(campaign_id))
            .filter(clicks::kind.eq(ClickKind::Human))
            .select((clicks::link_id, clicks::visitor_hash, clicks::ts))
            .into_boxed()
    };
    let Some(visitors) = visitors else {
        return query().load(conn);
    };
    let mut out = Vec::new();
    for chunk in visitors.chunks(CHUNK) {
        out.extend(
            query()
                .filter(clicks::visitor_hash.eq_any(chunk))
                .load::<(LinkId, String, i64)>(conn)?,
        );
    }
    Ok(out)
}

/// The brand's orders with these storefront ids (with the id).
pub fn orders_named(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    external_ids: &[String],
) -> QueryResult<Vec<(OrderId, String)>> {
    let mut out = Vec::new();
    for chunk in external_ids.chunks(CHUNK) {
        out.extend(
            orders::table
                .filter(orders::brand_id.eq(brand_id))
                .filter(orders::external_id.eq_any(chunk))
                .select((orders::id, orders::external_id))
                .load::<(OrderId, String)>(conn)?,
        );
    }
    Ok(out)
}

/// The orders (with the click) that one of these clicks reached in the campaign (reported with the order or
/// remembered for its customer).
pub fn orders_through(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
    clicks: &HashSet<&str>,
) -> QueryResult<Vec<(OrderId, String)>> {
    if clicks.is_empty() {
        return Ok(Vec::new());
    }
    let touches: Vec<(OrderId, String)> = order_touches::table
        .filter(order_touches::campaign_id.eq(campaign_id))
        .filter(order_touches::via.eq_any([Via::Click, Via::Customer]))
        .select((order_touches::order_id, order_touches::touch_key))
        .load(conn)?;
    Ok(touches
        .into_iter()
        .filter(|(_, key)| clicks.contains(key.as_str()))
        .collect())
}

/// What an excluded order gave the campaign: its credits (every key), the enrollments whose
/// code it redeemed, and when it was received (commissions are held from then).
#[derive(Debug, Default)]
pub struct OrderShares {
    pub credits: Vec<CreditRow>,
    /// `(order, enrollment, order's occurred_at)`, once per order and enrollment.
    pub redemptions: Vec<(OrderId, EnrollmentId)>,
    /// `(order, occurred_at, created_at)`.
    pub orders: Vec<(OrderId, i64, i64)>,
}

pub fn shares(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
    order_ids: &[OrderId],
) -> QueryResult<OrderShares> {
    let mut out = OrderShares::default();
    for chunk in order_ids.chunks(CHUNK) {
        out.credits.extend(
            order_credits::table
                .filter(order_credits::campaign_id.eq(campaign_id))
                .filter(order_credits::order_id.eq_any(chunk))
                .select(CreditRow::as_select())
                .load(conn)?,
        );
        let mut redeemed: Vec<(OrderId, EnrollmentId)> = order_touches::table
            .filter(order_touches::campaign_id.eq(campaign_id))
            .filter(order_touches::order_id.eq_any(chunk))
            .filter(order_touches::via.eq(Via::Code))
            .filter(order_touches::attributable.eq(true))
            .select((order_touches::order_id, order_touches::enrollment_id))
            .load(conn)?;
        redeemed.sort();
        redeemed.dedup();
        out.redemptions.extend(redeemed);
        out.orders.extend(
            orders::table
                .filter(orders::id.eq_any(chunk))
                .select((orders::id, orders::occurred_at, orders::created_at))
                .load::<(OrderId, i64, i64)>(conn)?,
        );
    }
    Ok(out)
}

row! {
    /// What a report counts of an event (see `store::events`), with the click it came through.
    #[derive(Debug, Clone)]
    pub struct ScannedEvent in events {
        pub click_id: String,
        pub enrollment_id: Option<EnrollmentId>,
        pub kind: EventKind,
        pub occurred_at: i64,
        pub value_micros: Option<i64>,
        pub score: Option<i32>,
        pub first_order_at: Option<i64>,
    }
}

/// The campaign's events that came through one of these clicks.
pub fn events_through(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
    clicks: &HashSet<&str>,
) -> QueryResult<Vec<ScannedEvent>> {
    if clicks.is_empty() {
        return Ok(Vec::new());
    }
    let all: Vec<ScannedEvent> = events::table
        .filter(events::campaign_id.eq(campaign_id))
        .filter(events::enrollment_id.is_not_null())
        .select(ScannedEvent::as_select())
        .load(conn)?;
    Ok(all
        .into_iter()
        .filter(|e| clicks.contains(e.click_id.as_str()))
        .collect())
}
