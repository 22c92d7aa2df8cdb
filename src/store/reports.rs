//! What reports read: credits of orders under every model and their per-day rollups
//! (maintained as orders and refunds arrive), click rollups per enrollment, post metrics and
//! funnel events. Sums are done by the database (`GROUP BY`), never by scanning raw rows.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};
use diesel::upsert::excluded;

use crate::db::schema::{campaigns, enrollment_daily, enrollment_hourly, order_credits, posts};
use crate::db::{AnyConnection, Bind, Fixed};
use crate::domain::campaign::Model;
use crate::store::clicks::{self, utc_day, ClickRow};
use crate::store::orders::{AttributionRow, OrderRow};
use crate::with_backend;

const CHUNK: usize = 500;

/// The key of credits as the order's campaigns decided them (each its own model); the other
/// keys are the models' names.
pub const AS_DECIDED: &str = "campaign";

/// The key of credits that are the same under every model and as decided (a code that won,
/// or a single eligible touch): stored once, read by every key.
pub const ANY_MODEL: &str = "*";

/// The credit key a report reads: the given model, or the credit as decided.
pub fn credit_key(model: Option<Model>) -> &'static str {
    model.map(Model::as_str).unwrap_or(AS_DECIDED)
}

#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = order_credits, treat_none_as_default_value = false)]
pub struct CreditRow {
    pub order_id: String,
    pub model: String,
    pub position: i32,
    pub campaign_id: String,
    pub enrollment_id: String,
    pub share_micros: i64,
    pub credited_micros: i64,
    pub refunded_micros: i64,
    pub occurred_at: i64,
    pub self_referral: bool,
}

#[derive(Debug, Clone, Default, Insertable)]
#[diesel(table_name = enrollment_daily, treat_none_as_default_value = false)]
pub struct DailyDelta {
    pub campaign_id: String,
    pub model: String,
    pub day: i32,
    pub enrollment_id: String,
    pub orders: i64,
    pub redemptions: i64,
    pub conversions_micros: i64,
    pub gross_micros: i64,
    pub refunded_micros: i64,
    pub self_gross_micros: i64,
    pub self_refunded_micros: i64,
}

type DailyKey = (String, String, i32, String);

fn delta<'a>(
    map: &'a mut BTreeMap<DailyKey, DailyDelta>,
    campaign_id: &str,
    model: &str,
    day: i32,
    enrollment_id: &str,
) -> &'a mut DailyDelta {
    map.entry((
        campaign_id.to_string(),
        model.to_string(),
        day,
        enrollment_id.to_string(),
    ))
    .or_insert_with(|| DailyDelta {
        campaign_id: campaign_id.to_string(),
        model: model.to_string(),
        day,
        enrollment_id: enrollment_id.to_string(),
        ..DailyDelta::default()
    })
}

/// Adds to the daily rollups, in key order (so concurrent writers cannot deadlock).
fn add_daily(conn: &mut AnyConnection, deltas: BTreeMap<DailyKey, DailyDelta>) -> QueryResult<()> {
    let rows: Vec<DailyDelta> = deltas.into_values().collect();
    add_daily_rows(conn, &rows)?;
    add_totals(conn, &rows)
}

/// The columns of `enrollment_totals` as written, and the upsert that adds to them (shared by
/// the SQLite and PostgreSQL statements).
macro_rules! totals_columns {
    () => {
        "(campaign_id, model, enrollment_id, orders, redemptions, conversions_micros, \
         gross_micros, refunded_micros, self_gross_micros, self_refunded_micros)"
    };
}
macro_rules! totals_update {
    () => {
        " ON CONFLICT (campaign_id, model, enrollment_id) DO UPDATE SET \
         orders = enrollment_totals.orders + excluded.orders, \
         redemptions = enrollment_totals.redemptions + excluded.redemptions, \
         conversions_micros = enrollment_totals.conversions_micros + excluded.conversions_micros, \
         gross_micros = enrollment_totals.gross_micros + excluded.gross_micros, \
         refunded_micros = enrollment_totals.refunded_micros + excluded.refunded_micros, \
         self_gross_micros = enrollment_totals.self_gross_micros + excluded.self_gross_micros, \
         self_refunded_micros = enrollment_totals.self_refunded_micros \
         + excluded.self_refunded_micros"
    };
}

/// Adds the daily deltas to the all-time sums per enrollment, in key order (after the daily
/// rows, like every writer, so concurrent writers cannot deadlock).
fn add_totals(conn: &mut AnyConnection, rows: &[DailyDelta]) -> QueryResult<()> {
    let mut totals: BTreeMap<(&str, &str, &str), DailyDelta> = BTreeMap::new();
    for r in rows {
        let t = totals
            .entry((&r.campaign_id, &r.model, &r.enrollment_id))
            .or_default();
        t.orders += r.orders;
        t.redemptions += r.redemptions;
        t.conversions_micros += r.conversions_micros;
        t.gross_micros += r.gross_micros;
        t.refunded_micros += r.refunded_micros;
        t.self_gross_micros += r.self_gross_micros;
        t.self_refunded_micros += r.self_refunded_micros;
    }
    match conn {
        AnyConnection::Sqlite(c) => {
            for ((campaign_id, model, enrollment_id), t) in &totals {
                Fixed {
                    sql: concat!(
                        "INSERT INTO enrollment_totals ",
                        totals_columns!(),
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        totals_update!()
                    ),
                    binds: vec![
                        Bind::Text(campaign_id),
                        Bind::Text(model),
                        Bind::Text(enrollment_id),
                        Bind::BigInt(t.orders),
                        Bind::BigInt(t.redemptions),
                        Bind::BigInt(t.conversions_micros),
                        Bind::BigInt(t.gross_micros),
                        Bind::BigInt(t.refunded_micros),
                        Bind::BigInt(t.self_gross_micros),
                        Bind::BigInt(t.self_refunded_micros),
                    ],
                }
                .execute(c)?;
            }
        }
        AnyConnection::Postgresql(c) => {
            if totals.is_empty() {
                return Ok(());
            }
            let key =
                |i: usize| Bind::TextArray(totals.keys().map(|k| [k.0, k.1, k.2][i]).collect());
            let sums =
                |f: fn(&DailyDelta) -> i64| Bind::BigIntArray(totals.values().map(f).collect());
            Fixed {
                sql: concat!(
                    "INSERT INTO enrollment_totals ",
                    totals_columns!(),
                    " SELECT * FROM unnest(CAST(? AS TEXT[]), CAST(? AS TEXT[]), \
                     CAST(? AS TEXT[]), CAST(? AS BIGINT[]), CAST(? AS BIGINT[]), \
                     CAST(? AS BIGINT[]), CAST(? AS BIGINT[]), CAST(? AS BIGINT[]), \
                     CAST(? AS BIGINT[]), CAST(? AS BIGINT[]))",
                    totals_update!()
                ),
                binds: vec![
                    key(0),
                    key(1),
                    key(2),
                    sums(|t| t.orders),
                    sums(|t| t.redemptions),
                    sums(|t| t.conversions_micros),
                    sums(|t| t.gross_micros),
                    sums(|t| t.refunded_micros),
                    sums(|t| t.self_gross_micros),
                    sums(|t| t.self_refunded_micros),
                ],
            }
            .execute(c)?;
        }
    }
    Ok(())
}

/// Adds deltas to the daily rows.
fn add_daily_rows(conn: &mut AnyConnection, rows: &[DailyDelta]) -> QueryResult<()> {
    let pg = match conn {
        AnyConnection::Sqlite(c) => {
            for r in rows {
                Fixed {
                    sql: "INSERT INTO enrollment_daily (campaign_id, model, day, enrollment_id, \
                          orders, redemptions, conversions_micros, gross_micros, refunded_micros, \
                          self_gross_micros, self_refunded_micros) \
                          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                          ON CONFLICT (campaign_id, model, day, enrollment_id) DO UPDATE SET \
                          orders = orders + excluded.orders, \
                          redemptions = redemptions + excluded.redemptions, \
                          conversions_micros = conversions_micros + excluded.conversions_micros, \
                          gross_micros = gross_micros + excluded.gross_micros, \
                          refunded_micros = refunded_micros + excluded.refunded_micros, \
                          self_gross_micros = self_gross_micros + excluded.self_gross_micros, \
                          self_refunded_micros = self_refunded_micros + excluded.self_refunded_micros",
                    binds: vec![
                        Bind::Text(&r.campaign_id),
                        Bind::Text(&r.model),
                        Bind::Int(r.day),
                        Bind::Text(&r.enrollment_id),
                        Bind::BigInt(r.orders),
                        Bind::BigInt(r.redemptions),
                        Bind::BigInt(r.conversions_micros),
                        Bind::BigInt(r.gross_micros),
                        Bind::BigInt(r.refunded_micros),
                        Bind::BigInt(r.self_gross_micros),
                        Bind::BigInt(r.self_refunded_micros),
                    ],
                }
                .execute(c)?;
            }
            return Ok(());
        }
        AnyConnection::Postgresql(c) => c,
    };
    for chunk in rows.chunks(CHUNK) {
        diesel::insert_into(enrollment_daily::table)
            .values(chunk)
            .on_conflict((
                enrollment_daily::campaign_id,
                enrollment_daily::model,
                enrollment_daily::day,
                enrollment_daily::enrollment_id,
            ))
            .do_update()
            .set((
                enrollment_daily::orders
                    .eq(enrollment_daily::orders + excluded(enrollment_daily::orders)),
                enrollment_daily::redemptions
                    .eq(enrollment_daily::redemptions + excluded(enrollment_daily::redemptions)),
                enrollment_daily::conversions_micros.eq(enrollment_daily::conversions_micros
                    + excluded(enrollment_daily::conversions_micros)),
                enrollment_daily::gross_micros
                    .eq(enrollment_daily::gross_micros + excluded(enrollment_daily::gross_micros)),
                enrollment_daily::refunded_micros
                    .eq(enrollment_daily::refunded_micros
                        + excluded(enrollment_daily::refunded_micros)),
                enrollment_daily::self_gross_micros.eq(enrollment_daily::self_gross_micros
                    + excluded(enrollment_daily::self_gross_micros)),
                enrollment_daily::self_refunded_micros.eq(enrollment_daily::self_refunded_micros
                    + excluded(enrollment_daily::self_refunded_micros)),
            ))
            .execute(pg)?;
    }
    Ok(())
}

/// Stores an order's credit under every model and adds it to the daily rollups.
/// `redeemed` are the `(campaign, enrollment)` whose usable code the order carried.
pub fn record_credits(
    conn: &mut AnyConnection,
    order: &OrderRow,
    by_model: &[(&str, Vec<AttributionRow>)],
    redeemed: &[(&str, &str)],
) -> QueryResult<()> {
    let day = utc_day(order.occurred_at);
    let mut rows = Vec::new();
    let mut deltas = BTreeMap::new();
    for (model, credits) in by_model {
        let model = *model;
        let mut credited_enrollments: Vec<&str> = Vec::new();
        for c in credits {
            rows.push(CreditRow {
                order_id: order.id.clone(),
                model: model.to_string(),
                position: c.position,
                campaign_id: c.campaign_id.clone(),
                enrollment_id: c.enrollment_id.clone(),
                share_micros: c.share_micros,
                credited_micros: c.credited_micros,
                refunded_micros: 0,
                occurred_at: order.occurred_at,
                self_referral: order.self_referral,
            });
            let d = delta(&mut deltas, &c.campaign_id, model, day, &c.enrollment_id);
            if !credited_enrollments.contains(&c.enrollment_id.as_str()) {
                d.orders += 1;
                credited_enrollments.push(&c.enrollment_id);
            }
            d.conversions_micros += c.share_micros;
            d.gross_micros += c.credited_micros;
            if order.self_referral {
                d.self_gross_micros += c.credited_micros;
            }
        }
        let mut counted: Vec<&str> = Vec::new();
        for (campaign_id, enrollment_id) in redeemed {
            if !counted.contains(enrollment_id) {
                delta(&mut deltas, campaign_id, model, day, enrollment_id).redemptions += 1;
                counted.push(enrollment_id);
            }
        }
    }
    crate::write_rows!(conn, rows, CHUNK, |chunk| diesel::insert_into(
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
/// like the credit itself ([`attribution::allocate`]), so the parts add up exactly and a
/// fully refunded order nets zero everywhere. Stored parts are absolute, so the change is
/// recomputed from them: any sequence of refunds ends where one refund of the same total would.
pub fn apply_refund(conn: &mut AnyConnection, order: &OrderRow) -> QueryResult<()> {
    let credits: Vec<CreditRow> = order_credits::table
        .filter(order_credits::order_id.eq(&order.id))
        .order((order_credits::model.asc(), order_credits::position.asc()))
        .select(CreditRow::as_select())
        .load(conn)?;
    let mut units: HashMap<String, i64> = HashMap::new();
    for c in &credits {
        if !units.contains_key(&c.campaign_id) {
            let code: String = campaigns::table
                .find(&c.campaign_id)
                .select(campaigns::currency)
                .first(conn)?;
            let u = crate::domain::money::Currency::parse("currency", &code)
                .map(crate::domain::orders::minor_unit_micros)
                .unwrap_or(10_000);
            units.insert(c.campaign_id.clone(), u);
        }
    }
    // Groups of credits split together: one key, one minor unit.
    let mut groups: BTreeMap<(String, i64), Vec<&CreditRow>> = BTreeMap::new();
    for c in &credits {
        groups
            .entry((c.model.clone(), units[&c.campaign_id]))
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
                    .filter(order_credits::model.eq(&c.model))
                    .filter(order_credits::position.eq(c.position)),
            )
            .set(order_credits::refunded_micros.eq(now))
            .execute(conn)?;
            let d = delta(&mut deltas, &c.campaign_id, &c.model, day, &c.enrollment_id);
            d.refunded_micros += change;
            if c.self_referral {
                d.self_refunded_micros += change;
            }
        }
    }
    add_daily(conn, deltas)
}

/// What orders brought an enrollment in a window, under one model.
#[derive(Debug, Clone, Default, QueryableByName)]
pub struct OrderSums {
    #[diesel(sql_type = Text)]
    pub enrollment_id: String,
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
}

/// Text that is safe to put in SQL as a literal: ids are UUIDs and models come from the enum,
/// so this only guards against a mistake.
fn literal(s: &str) -> String {
    debug_assert!(s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// Whether a window of days is all time (see `api::reports::Window::all`), which the
/// per-enrollment totals answer without adding up days.
fn all_time(from_day: i32, to_day: i32) -> bool {
    from_day <= i32::MIN / 2 && to_day >= i32::MAX / 2
}

/// Per enrollment of the campaign: the sums of the days `from_day..=to_day` under `model`.
pub fn order_sums(
    conn: &mut AnyConnection,
    campaign_id: &str,
    key: &str,
    from_day: i32,
    to_day: i32,
) -> QueryResult<HashMap<String, OrderSums>> {
    let sql = format!(
        "SELECT enrollment_id, \
           CAST(SUM(orders) AS BIGINT) AS orders, \
           CAST(SUM(redemptions) AS BIGINT) AS redemptions, \
           CAST(SUM(conversions_micros) AS BIGINT) AS conversions_micros, \
           CAST(SUM(gross_micros) AS BIGINT) AS gross_micros, \
           CAST(SUM(refunded_micros) AS BIGINT) AS refunded_micros, \
           CAST(SUM(self_gross_micros) AS BIGINT) AS self_gross_micros, \
           CAST(SUM(self_refunded_micros) AS BIGINT) AS self_refunded_micros \
         FROM enrollment_daily \
         WHERE campaign_id = '{}' AND model IN ('{}', '*') AND day BETWEEN {from_day} AND {to_day} \
         GROUP BY enrollment_id",
        literal(campaign_id),
        literal(key)
    );
    // All time: the per-enrollment totals (at most two rows each: the model's and `*`).
    let sql = if all_time(from_day, to_day) {
        sql.replace("FROM enrollment_daily", "FROM enrollment_totals")
            .replace(&format!(" AND day BETWEEN {from_day} AND {to_day}"), "")
    } else {
        sql
    };
    let rows: Vec<OrderSums> = with_backend!(conn, |c| diesel::sql_query(sql).load(c))?;
    Ok(rows
        .into_iter()
        .map(|r| (r.enrollment_id.clone(), r))
        .collect())
}

#[derive(Debug, Clone, Default, QueryableByName)]
pub struct ClickSums {
    #[diesel(sql_type = Text)]
    pub enrollment_id: String,
    #[diesel(sql_type = BigInt)]
    pub clicks: i64,
    #[diesel(sql_type = BigInt)]
    pub unique_clicks: i64,
    #[diesel(sql_type = BigInt)]
    pub bot_clicks: i64,
}

/// Per enrollment of the campaign: human clicks, unique clicks (distinct visitors per link per
/// UTC day, summed) and bot clicks of the days `from_day..=to_day`: the rollups plus the
/// clicks not folded yet, read in one snapshot.
pub fn click_sums(
    conn: &mut AnyConnection,
    campaign_id: &str,
    from_day: i32,
    to_day: i32,
) -> QueryResult<HashMap<String, ClickSums>> {
    conn.transaction(|conn| {
        clicks::snapshot(conn)?;
        let sql = format!(
            "SELECT enrollment_id, \
               CAST(SUM(clicks) AS BIGINT) AS clicks, \
               CAST(SUM(unique_clicks) AS BIGINT) AS unique_clicks, \
               CAST(SUM(bot_clicks) AS BIGINT) AS bot_clicks \
             FROM link_daily \
             WHERE campaign_id = '{}' AND day BETWEEN {from_day} AND {to_day} \
             GROUP BY enrollment_id",
            literal(campaign_id)
        );
        // All time: one row per enrollment.
        let sql = if all_time(from_day, to_day) {
            sql.replace("FROM link_daily", "FROM enrollment_click_totals")
                .replace(&format!(" AND day BETWEEN {from_day} AND {to_day}"), "")
        } else {
            sql
        };
        let rows: Vec<ClickSums> = with_backend!(conn, |c| diesel::sql_query(sql).load(c))?;
        let mut sums: HashMap<String, ClickSums> = rows
            .into_iter()
            .map(|r| (r.enrollment_id.clone(), r))
            .collect();
        let recent: Vec<ClickRow> = clicks::recent_of_campaign(conn, campaign_id)?
            .into_iter()
            .filter(|c| (from_day..=to_day).contains(&utc_day(c.ts)))
            .collect();
        for p in clicks::pending_daily(conn, &recent)? {
            let s = sums
                .entry(p.enrollment_id.clone())
                .or_insert_with(|| ClickSums {
                    enrollment_id: p.enrollment_id.clone(),
                    ..ClickSums::default()
                });
            s.clicks += p.clicks;
            s.unique_clicks += p.unique_clicks;
            s.bot_clicks += p.bot_clicks;
        }
        Ok(sums)
    })
}

#[derive(Debug, Clone, QueryableByName)]
pub struct HourClicks {
    #[diesel(sql_type = Integer)]
    pub hour: i32,
    #[diesel(sql_type = Text)]
    pub enrollment_id: String,
    #[diesel(sql_type = BigInt)]
    pub clicks: i64,
}

/// Human clicks per enrollment and UTC hour between two hours (inclusive), folded and recent.
pub fn hourly_clicks(
    conn: &mut AnyConnection,
    campaign_id: &str,
    from_hour: i32,
    to_hour: i32,
) -> QueryResult<Vec<HourClicks>> {
    conn.transaction(|conn| {
        clicks::snapshot(conn)?;
        let sql = format!(
            "SELECT hour, enrollment_id, clicks FROM enrollment_hourly \
             WHERE campaign_id = '{}' AND hour BETWEEN {from_hour} AND {to_hour}",
            literal(campaign_id)
        );
        let mut rows: Vec<HourClicks> = with_backend!(conn, |c| diesel::sql_query(sql).load(c))?;
        for c in clicks::recent_of_campaign(conn, campaign_id)? {
            let hour = clicks::utc_hour(c.ts);
            if c.kind == "human" && (from_hour..=to_hour).contains(&hour) {
                rows.push(HourClicks {
                    hour,
                    enrollment_id: c.enrollment_id,
                    clicks: 1,
                });
            }
        }
        Ok(rows)
    })
}

/// The credits of a campaign's orders under a model between two instants (for time series).
pub fn credits_between(
    conn: &mut AnyConnection,
    campaign_id: &str,
    key: &str,
    from: i64,
    to: i64,
) -> QueryResult<Vec<CreditRow>> {
    order_credits::table
        .filter(order_credits::campaign_id.eq(campaign_id))
        .filter(order_credits::model.eq_any([key, ANY_MODEL]))
        .filter(order_credits::occurred_at.ge(from))
        .filter(order_credits::occurred_at.lt(to))
        .select(CreditRow::as_select())
        .load(conn)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = posts, treat_none_as_default_value = false)]
pub struct PostRow {
    pub id: String,
    pub brand_id: String,
    pub campaign_id: String,
    pub enrollment_id: String,
    pub influencer_id: String,
    pub post_url: String,
    pub platform: String,
    pub paid: bool,
    pub reach: i64,
    pub impressions: i64,
    pub likes: i64,
    pub comments: i64,
    pub shares: i64,
    pub saves: i64,
    pub video_views: Option<i64>,
    pub posted_at: Option<i64>,
    pub updated_at: i64,
}

/// Inserts a post or replaces its metrics (one post per URL per enrollment); returns whether
/// it was new.
pub fn upsert_post(conn: &mut AnyConnection, row: &PostRow) -> QueryResult<bool> {
    let existing: Option<String> = posts::table
        .filter(posts::enrollment_id.eq(&row.enrollment_id))
        .filter(posts::post_url.eq(&row.post_url))
        .select(posts::id)
        .first(conn)
        .optional()?;
    with_backend!(conn, |c| diesel::insert_into(posts::table)
        .values(row)
        .on_conflict((posts::enrollment_id, posts::post_url))
        .do_update()
        .set((
            posts::platform.eq(excluded(posts::platform)),
            posts::paid.eq(excluded(posts::paid)),
            posts::reach.eq(excluded(posts::reach)),
            posts::impressions.eq(excluded(posts::impressions)),
            posts::likes.eq(excluded(posts::likes)),
            posts::comments.eq(excluded(posts::comments)),
            posts::shares.eq(excluded(posts::shares)),
            posts::saves.eq(excluded(posts::saves)),
            posts::video_views.eq(excluded(posts::video_views)),
            posts::posted_at.eq(excluded(posts::posted_at)),
            posts::updated_at.eq(excluded(posts::updated_at)),
        ))
        .execute(c))?;
    Ok(existing.is_none())
}

pub fn find_post(conn: &mut AnyConnection, enrollment_id: &str, url: &str) -> QueryResult<PostRow> {
    posts::table
        .filter(posts::enrollment_id.eq(enrollment_id))
        .filter(posts::post_url.eq(url))
        .select(PostRow::as_select())
        .first(conn)
}

pub fn posts_of_campaign(conn: &mut AnyConnection, campaign_id: &str) -> QueryResult<Vec<PostRow>> {
    posts::table
        .filter(posts::campaign_id.eq(campaign_id))
        .select(PostRow::as_select())
        .load(conn)
}

#[derive(Debug, Clone, QueryableByName)]
pub struct EventCount {
    #[diesel(sql_type = Text)]
    pub enrollment_id: String,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// Funnel events per enrollment and type between two instants.
pub fn event_counts(
    conn: &mut AnyConnection,
    campaign_id: &str,
    from: i64,
    to: i64,
) -> QueryResult<Vec<EventCount>> {
    let sql = format!(
        "SELECT enrollment_id, kind, CAST(COUNT(*) AS BIGINT) AS n FROM events \
         WHERE campaign_id = '{}' AND occurred_at >= {from} AND occurred_at < {to} \
         AND enrollment_id IS NOT NULL GROUP BY enrollment_id, kind",
        literal(campaign_id)
    );
    with_backend!(conn, |c| diesel::sql_query(sql).load(c))
}

/// Adds folded clicks to the hourly rollups (sorted keys).
pub fn add_hourly(
    conn: &mut AnyConnection,
    rows: &[(String, i32, String, i64)],
) -> QueryResult<()> {
    #[derive(Insertable)]
    #[diesel(table_name = enrollment_hourly, treat_none_as_default_value = false)]
    struct Row<'a> {
        campaign_id: &'a str,
        hour: i32,
        enrollment_id: &'a str,
        clicks: i64,
    }
    let values: Vec<Row<'_>> = rows
        .iter()
        .map(|(c, h, e, n)| Row {
            campaign_id: c,
            hour: *h,
            enrollment_id: e,
            clicks: *n,
        })
        .collect();
    if let AnyConnection::Sqlite(c) = conn {
        let binds: Vec<Bind<'_>> = values
            .iter()
            .flat_map(|r| {
                [
                    Bind::Text(r.campaign_id),
                    Bind::Int(r.hour),
                    Bind::Text(r.enrollment_id),
                    Bind::BigInt(r.clicks),
                ]
            })
            .collect();
        return crate::db::sqlite_upsert(
            c,
            "INSERT INTO enrollment_hourly (campaign_id, hour, enrollment_id, clicks)",
            "ON CONFLICT (campaign_id, hour, enrollment_id) \
             DO UPDATE SET clicks = clicks + excluded.clicks",
            4,
            &binds,
        );
    }
    with_backend!(conn, |c| {
        for chunk in values.chunks(CHUNK) {
            diesel::insert_into(enrollment_hourly::table)
                .values(chunk)
                .on_conflict((
                    enrollment_hourly::campaign_id,
                    enrollment_hourly::hour,
                    enrollment_hourly::enrollment_id,
                ))
                .do_update()
                .set(
                    enrollment_hourly::clicks
                        .eq(enrollment_hourly::clicks + excluded(enrollment_hourly::clicks)),
                )
                .execute(c)?;
        }
        QueryResult::Ok(())
    })
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
