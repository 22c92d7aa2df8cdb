//! Clicks (appended by the click writer) and their per-link daily rollups (folded from the
//! clicks in the background). Readers combine the rollups with the clicks after the
//! watermark, so counts are exact and current.

use std::collections::{BTreeMap, HashMap, HashSet};

use diesel::prelude::*;
use diesel::upsert::excluded;

use crate::db::schema::{clicks, link_daily, link_day_visitors, settings, visitor_salts};
use crate::db::AnyConnection;
use crate::with_backend;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = clicks)]
pub struct ClickRow {
    pub id: String,
    pub link_id: String,
    pub brand_id: String,
    pub campaign_id: String,
    pub enrollment_id: String,
    pub influencer_id: String,
    pub ts: i64,
    pub visitor_hash: String,
    pub kind: String,
    pub attributable: bool,
    pub referrer_host: Option<String>,
    pub device: String,
    pub browser: String,
    pub os: String,
    pub country: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Insertable, Queryable)]
#[diesel(table_name = link_day_visitors, treat_none_as_default_value = false)]
pub struct VisitorKey {
    pub link_id: String,
    pub day: i32,
    pub visitor_hash: String,
}

#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = link_daily, treat_none_as_default_value = false)]
pub struct DailyRow {
    pub link_id: String,
    pub day: i32,
    pub brand_id: String,
    pub campaign_id: String,
    pub enrollment_id: String,
    pub clicks: i64,
    pub unique_clicks: i64,
    pub bot_clicks: i64,
    pub attributable_clicks: i64,
}

/// A click as the writer appends it, borrowing from the cached link (no copies per click).
#[derive(Debug, Insertable)]
#[diesel(table_name = clicks)]
// NULL rather than DEFAULT for absent values: one statement shape, prepared once.
#[diesel(treat_none_as_default_value = false)]
pub struct NewClick<'a> {
    pub id: &'a str,
    pub link_id: &'a str,
    pub brand_id: &'a str,
    pub campaign_id: &'a str,
    pub enrollment_id: &'a str,
    pub influencer_id: &'a str,
    pub ts: i64,
    pub visitor_hash: String,
    pub kind: &'a str,
    pub attributable: bool,
    pub referrer_host: Option<&'a str>,
    pub device: &'a str,
    pub browser: &'a str,
    pub os: &'a str,
    pub country: Option<&'a str>,
}

/// Rows per statement: well under both backends' bind-parameter limits.
const CHUNK: usize = 500;
const MICROS_PER_DAY: i64 = 86_400_000_000;
/// Setting: every click with an id up to this one is counted in the rollups.
const WATERMARK: &str = "rollup_watermark";

pub fn utc_day(micros: i64) -> i32 {
    micros.div_euclid(MICROS_PER_DAY) as i32
}

/// The smallest UUIDv7 text of a millisecond: clicks made before `micros` sort below it.
pub fn id_floor(micros: i64) -> String {
    let ms = (micros.max(0) / 1_000) as u64 & 0xffff_ffff_ffff;
    let hex = format!("{ms:012x}");
    format!("{}-{}-7000-8000-000000000000", &hex[..8], &hex[8..])
}

/// Appends a batch of clicks: the only write on the redirect path.
pub fn insert_clicks(conn: &mut AnyConnection, rows: &[NewClick<'_>]) -> QueryResult<()> {
    with_backend!(conn, |c| {
        for chunk in rows.chunks(CHUNK) {
            diesel::insert_into(clicks::table)
                .values(chunk)
                .execute(c)?;
        }
        QueryResult::Ok(())
    })
}

fn watermark(conn: &mut AnyConnection) -> QueryResult<String> {
    Ok(settings::table
        .find(WATERMARK)
        .select(settings::value)
        .first(conn)
        .optional()?
        .unwrap_or_default())
}

/// Counts of a set of clicks per link and day; unique visitors are counted against those
/// already seen (`seen` answers whether a key is known).
fn aggregate(
    rows: &[ClickRow],
    mut is_new_visitor: impl FnMut(&VisitorKey) -> bool,
) -> BTreeMap<(String, i32), DailyRow> {
    let mut sums: BTreeMap<(String, i32), DailyRow> = BTreeMap::new();
    let mut counted: HashSet<VisitorKey> = HashSet::new();
    for c in rows {
        let day = utc_day(c.ts);
        let sum = sums
            .entry((c.link_id.clone(), day))
            .or_insert_with(|| DailyRow {
                link_id: c.link_id.clone(),
                day,
                brand_id: c.brand_id.clone(),
                campaign_id: c.campaign_id.clone(),
                enrollment_id: c.enrollment_id.clone(),
                clicks: 0,
                unique_clicks: 0,
                bot_clicks: 0,
                attributable_clicks: 0,
            });
        if c.kind == "human" {
            sum.clicks += 1;
            sum.attributable_clicks += i64::from(c.attributable);
            let key = VisitorKey {
                link_id: c.link_id.clone(),
                day,
                visitor_hash: c.visitor_hash.clone(),
            };
            if !counted.contains(&key) && is_new_visitor(&key) {
                sum.unique_clicks += 1;
                counted.insert(key);
            }
        } else {
            sum.bot_clicks += 1;
        }
    }
    sums
}

/// Folds the clicks made before `before` (microseconds) that are not yet in the rollups,
/// at most `limit` of them; returns how many were folded. The clicks are read outside the
/// write transaction (they no longer change: the writer refuses clicks that old), so the
/// write lock is held only for the rollup writes. The transaction starts with a write so
/// that SQLite takes its write lock on the newest snapshot; on PostgreSQL an advisory lock
/// keeps two instances from folding at once. If another fold moved the watermark meanwhile,
/// nothing is written.
pub fn fold(conn: &mut AnyConnection, before: i64, limit: i64) -> QueryResult<usize> {
    let from = watermark(conn)?;
    let to = id_floor(before);
    if from >= to {
        return Ok(0);
    }
    let rows: Vec<ClickRow> = clicks::table
        .filter(clicks::id.gt(&from))
        .filter(clicks::id.lt(&to))
        .order(clicks::id.asc())
        .limit(limit)
        .select(ClickRow::as_select())
        .load(conn)?;
    let Some(last) = rows.last() else {
        return Ok(0);
    };
    let next = if (rows.len() as i64) < limit {
        to
    } else {
        last.id.clone()
    };
    let mut keys: Vec<VisitorKey> = rows
        .iter()
        .filter(|c| c.kind == "human")
        .map(|c| VisitorKey {
            link_id: c.link_id.clone(),
            day: utc_day(c.ts),
            visitor_hash: c.visitor_hash.clone(),
        })
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    keys.sort_by(|a, b| {
        (&a.link_id, a.day, &a.visitor_hash).cmp(&(&b.link_id, b.day, &b.visitor_hash))
    });
    conn.transaction(|conn| {
        with_backend!(conn, |c| diesel::insert_into(settings::table)
            .values((settings::name.eq(WATERMARK), settings::value.eq("")))
            .on_conflict_do_nothing()
            .execute(c))?;
        if let AnyConnection::Postgresql(c) = conn {
            diesel::sql_query("SELECT pg_advisory_xact_lock(7336001)").execute(c)?;
        }
        if watermark(conn)? != from {
            return Ok(0);
        }
        // The visitors inserted now are the new unique visitors of their link and day.
        let new: HashSet<VisitorKey> = insert_new_visitors(conn, &keys)?.into_iter().collect();
        let sums = aggregate(&rows, |k| new.contains(k));
        add_to_daily(conn, &sums.into_values().collect::<Vec<_>>())?;
        crate::store::reports::add_hourly(conn, &hourly(&rows))?;
        crate::store::settings::set(conn, WATERMARK, &next)?;
        Ok(rows.len())
    })
}

/// Human clicks per (campaign, UTC hour, enrollment), sorted.
fn hourly(rows: &[ClickRow]) -> Vec<(String, i32, String, i64)> {
    let mut sums: BTreeMap<(String, i32, String), i64> = BTreeMap::new();
    for c in rows.iter().filter(|c| c.kind == "human") {
        *sums
            .entry((
                c.campaign_id.clone(),
                utc_hour(c.ts),
                c.enrollment_id.clone(),
            ))
            .or_default() += 1;
    }
    sums.into_iter()
        .map(|((c, h, e), n)| (c, h, e, n))
        .collect()
}

fn insert_new_visitors(
    conn: &mut AnyConnection,
    keys: &[VisitorKey],
) -> QueryResult<Vec<VisitorKey>> {
    let mut inserted = Vec::new();
    with_backend!(conn, |c| {
        for chunk in keys.chunks(CHUNK) {
            let rows: Vec<VisitorKey> = diesel::insert_into(link_day_visitors::table)
                .values(chunk)
                .on_conflict_do_nothing()
                .returning((
                    link_day_visitors::link_id,
                    link_day_visitors::day,
                    link_day_visitors::visitor_hash,
                ))
                .get_results(c)?;
            inserted.extend(rows);
        }
        QueryResult::Ok(())
    })?;
    Ok(inserted)
}

/// Adds counts to the daily rollups (rows sorted by key, so concurrent folds cannot deadlock).
fn add_to_daily(conn: &mut AnyConnection, rows: &[DailyRow]) -> QueryResult<()> {
    with_backend!(conn, |c| {
        for chunk in rows.chunks(CHUNK) {
            diesel::insert_into(link_daily::table)
                .values(chunk)
                .on_conflict((link_daily::link_id, link_daily::day))
                .do_update()
                .set((
                    link_daily::clicks.eq(link_daily::clicks + excluded(link_daily::clicks)),
                    link_daily::unique_clicks
                        .eq(link_daily::unique_clicks + excluded(link_daily::unique_clicks)),
                    link_daily::bot_clicks
                        .eq(link_daily::bot_clicks + excluded(link_daily::bot_clicks)),
                    link_daily::attributable_clicks
                        .eq(link_daily::attributable_clicks
                            + excluded(link_daily::attributable_clicks)),
                ))
                .execute(c)?;
        }
        QueryResult::Ok(())
    })
}

/// Makes the enclosing transaction one snapshot, so that rollups and the clicks after the
/// watermark are read at the same moment even while a fold commits (SQLite's transactions
/// already are snapshots in WAL mode).
pub fn snapshot(conn: &mut AnyConnection) -> QueryResult<()> {
    if let AnyConnection::Postgresql(c) = conn {
        diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute(c)?;
    }
    Ok(())
}

/// A link's counts per UTC day between `from_day` and `to_day`: the rollups plus the clicks
/// not yet folded.
pub fn daily_for_link(
    conn: &mut AnyConnection,
    link_id: &str,
    from_day: i32,
    to_day: i32,
) -> QueryResult<Vec<DailyRow>> {
    conn.transaction(|conn| {
        snapshot(conn)?;
        let folded: Vec<DailyRow> = link_daily::table
            .filter(link_daily::link_id.eq(link_id))
            .filter(link_daily::day.between(from_day, to_day))
            .select(DailyRow::as_select())
            .load(conn)?;
        let recent = recent_clicks(conn, Some(link_id))?;
        let recent: Vec<ClickRow> = recent
            .into_iter()
            .filter(|c| (from_day..=to_day).contains(&utc_day(c.ts)))
            .collect();
        let seen = known_visitors(conn, &recent)?;
        let pending = aggregate(&recent, |k| !seen.contains(k));
        let mut by_day: BTreeMap<i32, DailyRow> = folded.into_iter().map(|r| (r.day, r)).collect();
        for ((_, day), p) in pending {
            match by_day.get_mut(&day) {
                Some(sum) => {
                    sum.clicks += p.clicks;
                    sum.unique_clicks += p.unique_clicks;
                    sum.bot_clicks += p.bot_clicks;
                    sum.attributable_clicks += p.attributable_clicks;
                }
                None => {
                    by_day.insert(day, p);
                }
            }
        }
        Ok(by_day.into_values().collect())
    })
}

/// The clicks of a campaign after the watermark (the last few seconds).
pub fn recent_of_campaign(
    conn: &mut AnyConnection,
    campaign_id: &str,
) -> QueryResult<Vec<ClickRow>> {
    let from = watermark(conn)?;
    clicks::table
        .filter(clicks::id.gt(from))
        .filter(clicks::campaign_id.eq(campaign_id))
        .select(ClickRow::as_select())
        .load(conn)
}

/// Per link and day, the counts that these (recent) clicks add to the rollups: a visitor
/// already recorded for its link and day is not unique again.
pub fn pending_daily(conn: &mut AnyConnection, rows: &[ClickRow]) -> QueryResult<Vec<DailyRow>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let seen = known_visitors(conn, rows)?;
    Ok(aggregate(rows, |k| !seen.contains(k))
        .into_values()
        .collect())
}

/// The UTC hour (hours since the epoch) of a time in microseconds.
pub fn utc_hour(micros: i64) -> i32 {
    micros.div_euclid(3_600_000_000) as i32
}

/// The clicks after the watermark (the last few seconds), of one link or all.
fn recent_clicks(conn: &mut AnyConnection, link_id: Option<&str>) -> QueryResult<Vec<ClickRow>> {
    let from = watermark(conn)?;
    let mut query = clicks::table
        .filter(clicks::id.gt(from))
        .select(ClickRow::as_select())
        .into_boxed();
    if let Some(link_id) = link_id {
        query = query.filter(clicks::link_id.eq(link_id.to_string()));
    }
    query.load(conn)
}

/// Which of these clicks' visitors are already recorded for their link and day.
fn known_visitors(conn: &mut AnyConnection, rows: &[ClickRow]) -> QueryResult<HashSet<VisitorKey>> {
    let mut by_link_day: HashMap<(String, i32), Vec<String>> = HashMap::new();
    for c in rows.iter().filter(|c| c.kind == "human") {
        by_link_day
            .entry((c.link_id.clone(), utc_day(c.ts)))
            .or_default()
            .push(c.visitor_hash.clone());
    }
    let mut known = HashSet::new();
    for ((link_id, day), hashes) in by_link_day {
        for chunk in hashes.chunks(CHUNK) {
            let found: Vec<String> = link_day_visitors::table
                .filter(link_day_visitors::link_id.eq(&link_id))
                .filter(link_day_visitors::day.eq(day))
                .filter(link_day_visitors::visitor_hash.eq_any(chunk))
                .select(link_day_visitors::visitor_hash)
                .load(conn)?;
            known.extend(found.into_iter().map(|visitor_hash| VisitorKey {
                link_id: link_id.clone(),
                day,
                visitor_hash,
            }));
        }
    }
    Ok(known)
}

/// The salt of `day`, created when missing; salts older than the day before are deleted.
pub fn salt_for_day(conn: &mut AnyConnection, day: i32, fresh: &str) -> QueryResult<String> {
    let existing: Option<String> = visitor_salts::table
        .find(day)
        .select(visitor_salts::salt)
        .first(conn)
        .optional()?;
    if let Some(salt) = existing {
        return Ok(salt);
    }
    with_backend!(conn, |c| diesel::insert_into(visitor_salts::table)
        .values((visitor_salts::day.eq(day), visitor_salts::salt.eq(fresh)))
        .on_conflict_do_nothing()
        .execute(c))?;
    diesel::delete(visitor_salts::table.filter(visitor_salts::day.lt(day - 1))).execute(conn)?;
    visitor_salts::table
        .find(day)
        .select(visitor_salts::salt)
        .first(conn)
}

/// A link's clicks, newest first. The click table has no index on the link (see the
/// migration); ids are time-ordered, so a recent page is found by a short backward scan.
pub fn clicks_of_link(
    conn: &mut AnyConnection,
    link_id: &str,
    before: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<ClickRow>> {
    let mut query = clicks::table
        .filter(clicks::link_id.eq(link_id))
        .order(clicks::id.desc())
        .limit(limit)
        .select(ClickRow::as_select())
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(clicks::id.lt(before.to_string()));
    }
    query.load(conn)
}

/// A click of the brand by its id (the `itk_click` a storefront reports).
pub fn find(conn: &mut AnyConnection, brand_id: &str, id: &str) -> QueryResult<Option<ClickRow>> {
    clicks::table
        .filter(clicks::id.eq(id))
        .filter(clicks::brand_id.eq(brand_id))
        .select(ClickRow::as_select())
        .first(conn)
        .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_floors_sort_like_uuid_v7() {
        let micros = 1_763_800_000_123_456;
        let floor = id_floor(micros);
        let id = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            1_763_800_000,
            123_456_000,
        ))
        .to_string();
        assert!(floor <= id, "{floor} > {id}");
        assert!(id < id_floor(micros + 1_000), "{id}");
        assert_eq!(utc_day(MICROS_PER_DAY), 1);
    }
}
