//! What orders credit each enrollment, under every key (as decided, each model): the credits
//! of each order, kept in step with its refunds, and their rollups per day and all-time,
//! which reports read with `GROUP BY` (never by scanning orders).

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::db::schema::{campaigns, order_credits};
use crate::db::sql::{width, write_rows, Bind, Columns, Conflict, Fixed, SqlType};
use crate::db::types::row;
use crate::db::{insert_rows, with_backend, AnyConnection};
use crate::domain::attribution::CreditKey;
use crate::domain::ids::{CampaignId, EnrollmentId, OrderId};
use crate::domain::money::Currency;
use crate::domain::time::utc_day;
use crate::store::orders::{AttributionRow, OrderRow};

const CHUNK: usize = 500;

row! {
    /// One touch's credit of an order under one key.
    #[derive(Debug, Clone, Insertable)]
    #[diesel(treat_none_as_default_value = false)]
    pub struct CreditRow in order_credits {
        pub order_id: OrderId,
        pub model: CreditKey,
        pub position: i32,
        pub campaign_id: CampaignId,
        pub enrollment_id: EnrollmentId,
        pub share_micros: i64,
        pub credited_micros: i64,
        pub refunded_micros: i64,
        pub occurred_at: i64,
        pub self_referral: bool,
        /// Through a click of a paid link.
        pub paid: bool,
    }
}

/// What an order (or a refund) adds to an enrollment's day under one key.
#[derive(Debug, Clone)]
struct DailyDelta {
    orders: i64,
    redemptions: i64,
    conversions_micros: i64,
    gross_micros: i64,
    refunded_micros: i64,
    self_gross_micros: i64,
    self_refunded_micros: i64,
    paid_conversions_micros: i64,
    paid_gross_micros: i64,
    paid_refunded_micros: i64,
}

impl DailyDelta {
    const ZERO: Self = Self {
        orders: 0,
        redemptions: 0,
        conversions_micros: 0,
        gross_micros: 0,
        refunded_micros: 0,
        self_gross_micros: 0,
        self_refunded_micros: 0,
        paid_conversions_micros: 0,
        paid_gross_micros: 0,
        paid_refunded_micros: 0,
    };

    fn add(&mut self, other: &Self) {
        self.orders += other.orders;
        self.redemptions += other.redemptions;
        self.conversions_micros += other.conversions_micros;
        self.gross_micros += other.gross_micros;
        self.refunded_micros += other.refunded_micros;
        self.self_gross_micros += other.self_gross_micros;
        self.self_refunded_micros += other.self_refunded_micros;
        self.paid_conversions_micros += other.paid_conversions_micros;
        self.paid_gross_micros += other.paid_gross_micros;
        self.paid_refunded_micros += other.paid_refunded_micros;
    }

    fn binds(&self) -> [Bind<'static>; 10] {
        [
            Bind::BigInt(self.orders),
            Bind::BigInt(self.redemptions),
            Bind::BigInt(self.conversions_micros),
            Bind::BigInt(self.gross_micros),
            Bind::BigInt(self.refunded_micros),
            Bind::BigInt(self.self_gross_micros),
            Bind::BigInt(self.self_refunded_micros),
            Bind::BigInt(self.paid_conversions_micros),
            Bind::BigInt(self.paid_gross_micros),
            Bind::BigInt(self.paid_refunded_micros),
        ]
    }
}

/// The summed columns of both order rollups.
const ORDER_SUMS: &[&str] = &[
    "orders",
    "redemptions",
    "conversions_micros",
    "gross_micros",
    "refunded_micros",
    "self_gross_micros",
    "self_refunded_micros",
    "paid_conversions_micros",
    "paid_gross_micros",
    "paid_refunded_micros",
];

/// `enrollment_daily`, added to.
struct DailyColumns;

impl Columns for DailyColumns {
    const TABLE: &'static str = "enrollment_daily";
    const COLUMNS: &'static [(&'static str, SqlType)] = &[
        ("campaign_id", SqlType::Text),
        ("model", SqlType::Text),
        ("day", SqlType::Int),
        ("enrollment_id", SqlType::Text),
    ];
    const SUMS: &'static [&'static str] = ORDER_SUMS;
    const CONFLICT: Conflict = Conflict::Add {
        key: &["campaign_id", "model", "day", "enrollment_id"],
    };
}

/// `enrollment_totals`, added to.
struct TotalsColumns;

impl Columns for TotalsColumns {
    const TABLE: &'static str = "enrollment_totals";
    const COLUMNS: &'static [(&'static str, SqlType)] = &[
        ("campaign_id", SqlType::Text),
        ("model", SqlType::Text),
        ("enrollment_id", SqlType::Text),
    ];
    const SUMS: &'static [&'static str] = ORDER_SUMS;
    const CONFLICT: Conflict = Conflict::Add {
        key: &["campaign_id", "model", "enrollment_id"],
    };
}

/// The SQL of the rollup writes on both backends (for the statement test).
pub fn write_statements() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for rows in [1, 8, 64] {
        out.push(crate::db::sql::rows_sql::<DailyColumns>(rows));
        out.push(crate::db::sql::rows_sql::<TotalsColumns>(rows));
    }
    out
}

/// The rollup rows a change touches: (campaign, key, day, enrollment), in key order so that
/// concurrent writers lock them in one order and cannot deadlock.
type DailyKey = (CampaignId, CreditKey, i32, EnrollmentId);

fn delta<'a>(
    map: &'a mut BTreeMap<DailyKey, DailyDelta>,
    campaign_id: &CampaignId,
    key: CreditKey,
    day: i32,
    enrollment_id: &EnrollmentId,
) -> &'a mut DailyDelta {
    map.entry((campaign_id.clone(), key, day, enrollment_id.clone()))
        .or_insert(DailyDelta::ZERO)
}

/// Adds to the daily rollups and then the all-time ones, in key order.
fn add_daily(conn: &mut AnyConnection, deltas: BTreeMap<DailyKey, DailyDelta>) -> QueryResult<()> {
    let mut binds = Vec::with_capacity(deltas.len() * width::<DailyColumns>());
    let mut totals: BTreeMap<(&CampaignId, CreditKey, &EnrollmentId), DailyDelta> = BTreeMap::new();
    for ((campaign_id, key, day, enrollment_id), d) in &deltas {
        binds.extend([
            Bind::Text(campaign_id.as_str()),
            Bind::Text(key.as_str()),
            Bind::Int(*day),
            Bind::Text(enrollment_id.as_str()),
        ]);
        binds.extend(d.binds());
        totals
            .entry((campaign_id, *key, enrollment_id))
            .or_insert(DailyDelta::ZERO)
            .add(d);
    }
    write_rows::<DailyColumns>(conn, &binds)?;
    let mut binds = Vec::with_capacity(totals.len() * width::<TotalsColumns>());
    for ((campaign_id, key, enrollment_id), t) in &totals {
        binds.extend([
            Bind::Text(campaign_id.as_str()),
            Bind::Text(key.as_str()),
            Bind::Text(enrollment_id.as_str()),
        ]);
        binds.extend(t.binds());
    }
    write_rows::<TotalsColumns>(conn, &binds)
}

/// Stores an order's credit under every key and adds it to the rollups. `redeemed` are the
/// `(campaign, enrollment)` whose usable code the order carried; `paid` the positions of the
/// touches made through a paid link.
pub fn record(
    conn: &mut AnyConnection,
    order: &OrderRow,
    by_key: &[(CreditKey, Vec<AttributionRow>)],
    redeemed: &[(&CampaignId, &EnrollmentId)],
    paid: &[i32],
) -> QueryResult<()> {
    let day = utc_day(order.occurred_at);
    let mut rows = Vec::new();
    let mut deltas = BTreeMap::new();
    for (key, credits) in by_key {
        let key = *key;
        let mut credited_enrollments: Vec<&EnrollmentId> = Vec::new();
        for c in credits {
            let is_paid = paid.contains(&c.position);
            rows.push(CreditRow {
                order_id: order.id.clone(),
                model: key,
                position: c.position,
                campaign_id: c.campaign_id.clone(),
                enrollment_id: c.enrollment_id.clone(),
                share_micros: c.share_micros,
                credited_micros: c.credited_micros,
                refunded_micros: 0,
                occurred_at: order.occurred_at,
                self_referral: order.self_referral,
                paid: is_paid,
            });
            let d = delta(&mut deltas, &c.campaign_id, key, day, &c.enrollment_id);
            if !credited_enrollments.contains(&&c.enrollment_id) {
                d.orders += 1;
                credited_enrollments.push(&c.enrollment_id);
            }
            d.conversions_micros += c.share_micros;
            d.gross_micros += c.credited_micros;
            if order.self_referral {
                d.self_gross_micros += c.credited_micros;
            }
            if is_paid {
                d.paid_conversions_micros += c.share_micros;
                d.paid_gross_micros += c.credited_micros;
            }
        }
        let mut counted: Vec<&EnrollmentId> = Vec::new();
        for (campaign_id, enrollment_id) in redeemed {
            if !counted.contains(enrollment_id) {
                delta(&mut deltas, campaign_id, key, day, enrollment_id).redemptions += 1;
                counted.push(enrollment_id);
            }
        }
    }
    insert_rows!(conn, rows, CHUNK, |chunk| diesel::insert_into(
        order_credits::table
    )
    .values(chunk));
    add_daily(conn, deltas)
}

/// `credited × refunded / amount`, rounded half away from zero to the minor unit `unit`.
pub fn refunded_part(credited: i64, refunded: i64, amount: i64, unit: i64) -> i64 {
    if amount <= 0 {
        return 0;
    }
    let units = i128::from(credited / unit);
    let (num, den) = (units * i128::from(refunded), i128::from(amount));
    let rounded = (2 * num + den) / (2 * den);
    (rounded as i64) * unit
}

/// Moves the order's credits (under every key) and their rollups to the order's current
/// refunded total. Per key, the refunded part of all the order's credits is the proportional
/// share of their sum (rounded to the minor unit), split over the credits by their amounts
/// like the credit itself ([`crate::domain::attribution::allocate`]), so the parts add up
/// exactly and a fully refunded order nets zero everywhere. Stored parts are absolute, so the
/// change is recomputed from them: any sequence of refunds ends where one refund of the same
/// total would.
pub fn apply_refund(conn: &mut AnyConnection, order: &OrderRow) -> QueryResult<()> {
    let credits: Vec<CreditRow> = order_credits::table
        .filter(order_credits::order_id.eq(&order.id))
        .order((order_credits::model.asc(), order_credits::position.asc()))
        .select(CreditRow::as_select())
        .load(conn)?;
    let mut units: HashMap<CampaignId, i64> = HashMap::new();
    for c in &credits {
        if !units.contains_key(&c.campaign_id) {
            let currency: Currency = campaigns::table
                .find(&c.campaign_id)
                .select(campaigns::currency)
                .first(conn)?;
            units.insert(c.campaign_id.clone(), currency.minor_unit_micros());
        }
    }
    // Groups of credits split together: one key, one minor unit.
    let mut groups: BTreeMap<(CreditKey, i64), Vec<&CreditRow>> = BTreeMap::new();
    for c in &credits {
        groups
            .entry((c.model, units[&c.campaign_id]))
            .or_default()
            .push(c);
    }
    let mut deltas = BTreeMap::new();
    let day = utc_day(order.occurred_at);
    for ((_, unit), members) in groups {
        let credited: i64 = members.iter().map(|c| c.credited_micros).sum();
        let total = refunded_part(credited, order.refunded_micros, order.amount_micros, unit);
        let weights: Vec<u128> = members
            .iter()
            .map(|c| c.credited_micros.max(0) as u128)
            .collect();
        let parts = crate::domain::attribution::allocate(total / unit, &weights);
        for (c, part) in members.into_iter().zip(parts) {
            let now = part * unit;
            let change = now - c.refunded_micros;
            if change == 0 {
                continue;
            }
            diesel::update(
                order_credits::table
                    .filter(order_credits::order_id.eq(&c.order_id))
                    .filter(order_credits::model.eq(c.model))
                    .filter(order_credits::position.eq(c.position)),
            )
            .set(order_credits::refunded_micros.eq(now))
            .execute(conn)?;
            let d = delta(&mut deltas, &c.campaign_id, c.model, day, &c.enrollment_id);
            d.refunded_micros += change;
            if c.self_referral {
                d.self_refunded_micros += change;
            }
            if c.paid {
                d.paid_refunded_micros += change;
            }
        }
    }
    add_daily(conn, deltas)
}

/// What orders brought an enrollment in a window, under one key.
#[derive(Debug, Clone, QueryableByName)]
pub struct OrderSums {
    #[diesel(sql_type = Text)]
    pub enrollment_id: EnrollmentId,
    #[diesel(sql_type = BigInt)]
    pub orders: i64,
    #[diesel(sql_type = BigInt)]
    pub redemptions: i64,
    #[diesel(sql_type = BigInt)]
    pub conversions_micros: i64,
    #[diesel(sql_type = BigInt)]
    pub gross_micros: i64,
    #[diesel(sql_type = BigInt)]
    pub refunded_micros: i64,
    #[diesel(sql_type = BigInt)]
    pub self_gross_micros: i64,
    #[diesel(sql_type = BigInt)]
    pub self_refunded_micros: i64,
    #[diesel(sql_type = BigInt)]
    pub paid_conversions_micros: i64,
    #[diesel(sql_type = BigInt)]
    pub paid_gross_micros: i64,
    #[diesel(sql_type = BigInt)]
    pub paid_refunded_micros: i64,
}

impl OrderSums {
    pub fn zero(enrollment_id: EnrollmentId) -> Self {
        Self {
            enrollment_id,
            orders: 0,
            redemptions: 0,
            conversions_micros: 0,
            gross_micros: 0,
            refunded_micros: 0,
            self_gross_micros: 0,
            self_refunded_micros: 0,
            paid_conversions_micros: 0,
            paid_gross_micros: 0,
            paid_refunded_micros: 0,
        }
    }

    /// Takes out what `other` (excluded orders) made.
    pub fn subtract(&mut self, other: &Self) {
        self.orders -= other.orders;
        self.redemptions -= other.redemptions;
        self.conversions_micros -= other.conversions_micros;
        self.gross_micros -= other.gross_micros;
        self.refunded_micros -= other.refunded_micros;
        self.self_gross_micros -= other.self_gross_micros;
        self.self_refunded_micros -= other.self_refunded_micros;
        self.paid_conversions_micros -= other.paid_conversions_micros;
        self.paid_gross_micros -= other.paid_gross_micros;
        self.paid_refunded_micros -= other.paid_refunded_micros;
    }
}

/// The columns every order-sums read returns.
macro_rules! order_sums_select {
    () => {
        "SELECT enrollment_id, \
           CAST(SUM(orders) AS BIGINT) AS orders, \
           CAST(SUM(redemptions) AS BIGINT) AS redemptions, \
           CAST(SUM(conversions_micros) AS BIGINT) AS conversions_micros, \
           CAST(SUM(gross_micros) AS BIGINT) AS gross_micros, \
           CAST(SUM(refunded_micros) AS BIGINT) AS refunded_micros, \
           CAST(SUM(self_gross_micros) AS BIGINT) AS self_gross_micros, \
           CAST(SUM(self_refunded_micros) AS BIGINT) AS self_refunded_micros, \
           CAST(SUM(paid_conversions_micros) AS BIGINT) AS paid_conversions_micros, \
           CAST(SUM(paid_gross_micros) AS BIGINT) AS paid_gross_micros, \
           CAST(SUM(paid_refunded_micros) AS BIGINT) AS paid_refunded_micros "
    };
}

/// The sums of the days of a window, under a key and the credits the same under every key.
const ORDER_SUMS_DAYS: &str = concat!(
    order_sums_select!(),
    "FROM enrollment_daily WHERE campaign_id = ? AND model IN (?, ?) \
     AND day BETWEEN ? AND ? GROUP BY enrollment_id"
);
/// All time: the per-enrollment totals (at most two rows each: the key's and `*`).
const ORDER_SUMS_ALL: &str = concat!(
    order_sums_select!(),
    "FROM enrollment_totals WHERE campaign_id = ? AND model IN (?, ?) GROUP BY enrollment_id"
);

/// Per enrollment of the campaign: the sums of the days under `key`.
pub fn order_sums(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
    key: CreditKey,
    days: crate::store::rollups::Days,
) -> QueryResult<HashMap<EnrollmentId, OrderSums>> {
    use crate::store::rollups::Days;
    let mut binds = vec![
        Bind::Text(campaign_id.as_str()),
        Bind::Text(key.as_str()),
        Bind::Text(CreditKey::Any.as_str()),
    ];
    let sql = match days {
        Days::All => ORDER_SUMS_ALL,
        Days::Between(from, to) => {
            binds.extend([Bind::Int(from), Bind::Int(to)]);
            ORDER_SUMS_DAYS
        }
    };
    let query = Fixed::new(sql, binds);
    let rows: Vec<OrderSums> = with_backend!(conn, |c| query.load(c))?;
    Ok(rows
        .into_iter()
        .map(|r| (r.enrollment_id.clone(), r))
        .collect())
}

/// The credits of a campaign's orders under a key between two instants (for time series).
pub fn between(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
    key: CreditKey,
    from: i64,
    to: i64,
) -> QueryResult<Vec<CreditRow>> {
    order_credits::table
        .filter(order_credits::campaign_id.eq(campaign_id))
        .filter(order_credits::model.eq_any([key, CreditKey::Any]))
        .filter(order_credits::occurred_at.ge(from))
        .filter(order_credits::occurred_at.lt(to))
        .select(CreditRow::as_select())
        .load(conn)
}

/// Net revenue credited (as decided) to an enrollment, before and after a cutoff, self-referred
/// orders left out: what commissions are paid on.
#[derive(Debug, Clone, QueryableByName)]
pub struct Earned {
    #[diesel(sql_type = Text)]
    pub enrollment_id: EnrollmentId,
    /// Of orders received at or before the cutoff.
    #[diesel(sql_type = BigInt)]
    pub approved_net: i64,
    /// Of orders received after it.
    #[diesel(sql_type = BigInt)]
    pub pending_net: i64,
}

/// Held from when influtrack received the order (`orders.created_at`), never from the time the
/// sender said it happened.
const EARNED: &str = "SELECT c.enrollment_id AS enrollment_id, \
       CAST(SUM(CASE WHEN o.created_at <= ? AND NOT c.self_referral \
                THEN c.credited_micros - c.refunded_micros ELSE 0 END) AS BIGINT) AS approved_net, \
       CAST(SUM(CASE WHEN o.created_at > ? AND NOT c.self_referral \
                THEN c.credited_micros - c.refunded_micros ELSE 0 END) AS BIGINT) AS pending_net \
     FROM order_credits c JOIN orders o ON o.id = c.order_id \
     WHERE c.campaign_id = ? AND c.model IN (?, ?) GROUP BY c.enrollment_id";

pub const STATEMENTS: &[&str] = &[ORDER_SUMS_DAYS, ORDER_SUMS_ALL, EARNED];

/// Per enrollment of the campaign: commissionable net revenue approved (orders received at or
/// before `cutoff`) and pending.
pub fn earned(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
    cutoff: i64,
) -> QueryResult<HashMap<EnrollmentId, Earned>> {
    let query = Fixed::new(
        EARNED,
        vec![
            Bind::BigInt(cutoff),
            Bind::BigInt(cutoff),
            Bind::Text(campaign_id.as_str()),
            Bind::Text(CreditKey::AsDecided.as_str()),
            Bind::Text(CreditKey::Any.as_str()),
        ],
    );
    let rows: Vec<Earned> = with_backend!(conn, |c| query.load(c))?;
    Ok(rows
        .into_iter()
        .map(|r| (r.enrollment_id.clone(), r))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refunded_parts_round_to_the_unit_and_end_at_the_credit() {
        // 33.33 of a 100.00 order, 50.00 refunded: 16.665 → 16.67.
        assert_eq!(
            refunded_part(33_330_000, 50_000_000, 100_000_000, 10_000),
            16_670_000
        );
        assert_eq!(
            refunded_part(33_330_000, 100_000_000, 100_000_000, 10_000),
            33_330_000
        );
        assert_eq!(refunded_part(33_330_000, 0, 100_000_000, 10_000), 0);
        assert_eq!(refunded_part(0, 5, 0, 10_000), 0);
    }
}
