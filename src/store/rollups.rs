//! Click rollups: per link and UTC day, per enrollment all-time, per enrollment and UTC hour.
//! The rollup thread folds settled clicks into them ([`fold`]); readers add the clicks after
//! the fold's watermark, read in the same snapshot, so counts are exact and current.

use std::collections::{BTreeMap, HashMap, HashSet};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};

use crate::db::schema::{clicks, link_daily, link_day_visitors, settings};
use crate::db::sql::{width, write_rows, Bind, Columns, Conflict, Fixed, SqlType};
use crate::db::types::row;
use crate::db::{with_backend, AnyConnection};
use crate::domain::ids::{BrandId, CampaignId, ClickId, EnrollmentId, LinkId};
use crate::domain::time::{utc_day, utc_hour};
use crate::domain::traffic::ClickKind;

/// Rows per statement: well under both backends' bind-parameter limits.
const CHUNK: usize = 500;
/// Setting: every click with an id up to this one is counted in the rollups.
const WATERMARK: &str = "rollup_watermark";
/// Clicks read per statement by the fold.
const FOLD_PAGE: i64 = 5_000;

row! {
    /// A link's counts of one UTC day.
    #[derive(Debug, Clone)]
    pub struct DailyRow in link_daily {
        pub link_id: LinkId,
        pub day: i32,
        pub brand_id: BrandId,
        pub campaign_id: CampaignId,
        pub enrollment_id: EnrollmentId,
        pub clicks: i64,
        pub unique_clicks: i64,
        pub bot_clicks: i64,
        pub attributable_clicks: i64,
    }
}

/// A visitor seen on a link on a UTC day (unique clicks count each once).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Insertable, Queryable)]
#[diesel(table_name = link_day_visitors, treat_none_as_default_value = false)]
struct VisitorKey {
    link_id: LinkId,
    day: i32,
    visitor_hash: String,
}

/// The counts of both click rollups, added to on a conflict.
const CLICK_COUNTS: &[&str] = &[
    "clicks",
    "unique_clicks",
    "bot_clicks",
    "attributable_clicks",
];

/// `link_daily`, added to.
struct LinkDailyColumns;

impl Columns for LinkDailyColumns {
    const TABLE: &'static str = "link_daily";
    const COLUMNS: &'static [(&'static str, SqlType)] = &[
        ("link_id", SqlType::Text),
        ("day", SqlType::Int),
        ("brand_id", SqlType::Text),
        ("campaign_id", SqlType::Text),
        ("enrollment_id", SqlType::Text),
    ];
    const SUMS: &'static [&'static str] = CLICK_COUNTS;
    const CONFLICT: Conflict = Conflict::Add {
        key: &["link_id", "day"],
    };
}

/// `enrollment_click_totals`, added to.
struct ClickTotalsColumns;

impl Columns for ClickTotalsColumns {
    const TABLE: &'static str = "enrollment_click_totals";
    const COLUMNS: &'static [(&'static str, SqlType)] = &[
        ("campaign_id", SqlType::Text),
        ("enrollment_id", SqlType::Text),
    ];
    const SUMS: &'static [&'static str] = CLICK_COUNTS;
    const CONFLICT: Conflict = Conflict::Add {
        key: &["campaign_id", "enrollment_id"],
    };
}

/// `enrollment_hourly`, added to.
struct HourlyColumns;

impl Columns for HourlyColumns {
    const TABLE: &'static str = "enrollment_hourly";
    const COLUMNS: &'static [(&'static str, SqlType)] = &[
        ("campaign_id", SqlType::Text),
        ("hour", SqlType::Int),
        ("enrollment_id", SqlType::Text),
    ];
    const SUMS: &'static [&'static str] = &["clicks"];
    const CONFLICT: Conflict = Conflict::Add {
        key: &["campaign_id", "hour", "enrollment_id"],
    };
}

/// The SQL of the rollup writes on both backends (for the statement test).
pub fn write_statements() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for rows in [1, 8, 64] {
        out.push(crate::db::sql::rows_sql::<LinkDailyColumns>(rows));
        out.push(crate::db::sql::rows_sql::<ClickTotalsColumns>(rows));
        out.push(crate::db::sql::rows_sql::<HourlyColumns>(rows));
    }
    out
}

fn watermark(conn: &mut AnyConnection) -> QueryResult<ClickId> {
    Ok(ClickId::stored(
        settings::table
            .find(WATERMARK)
            .select(settings::value)
            .first(conn)
            .optional()?
            .unwrap_or_default(),
    ))
}

/// Keeps two instances from folding at once (PostgreSQL).
const FOLD_LOCK: &str = "SELECT pg_advisory_xact_lock(7336001)";

/// Folds the clicks made before `before` (microseconds) that are not yet in the rollups,
/// at most `limit` of them; returns how many were folded. `before` must be at or below the
/// click fence (`store::clicks::raise_fence`), below which no click can still be added: the
/// clicks are then read outside the write transaction, so the write lock is held only for the
/// rollup writes. The transaction starts with a write so
/// that SQLite takes its write lock on the newest snapshot; on PostgreSQL an advisory lock
/// keeps two instances from folding at once. If another fold moved the watermark meanwhile,
/// nothing is written and it starts again from the new watermark, so 0 means that nothing
/// before `before` is left to fold (not that another fold got there first).
pub fn fold(conn: &mut AnyConnection, before: i64, limit: i64) -> QueryResult<usize> {
    fold_to(conn, &ClickId::floor(before), limit)
}

/// [`fold`] up to a click id (the click fence: every click below it is committed).
pub fn fold_to(conn: &mut AnyConnection, to: &ClickId, limit: i64) -> QueryResult<usize> {
    loop {
        if let Some(folded) = fold_from_watermark(conn, to, limit)? {
            return Ok(folded);
        }
    }
}

/// One attempt of [`fold`]: `None` when another fold moved the watermark first.
fn fold_from_watermark(
    conn: &mut AnyConnection,
    to: &ClickId,
    limit: i64,
) -> QueryResult<Option<usize>> {
    let from = watermark(conn)?;
    let to = to.clone();
    if from >= to {
        return Ok(Some(0));
    }
    // Read in pages and summed as they come, so one transaction can carry many pages: under
    // the write lock the cost follows the rollup rows touched (each fold rewrites the pages
    // of every link it touches), not the clicks, so a transaction of 200,000 clicks costs
    // about what one of 5,000 did when clicks are spread over many links.
    let mut sums = DailySums::default();
    // Human clicks per (campaign, UTC hour, enrollment).
    let mut hourly: BTreeMap<(CampaignId, i32, EnrollmentId), i64> = BTreeMap::new();
    let mut cursor = from.clone();
    let next = loop {
        let want = (limit - sums.clicks as i64).min(FOLD_PAGE);
        let page: Vec<FoldClick> = clicks::table
            .filter(clicks::id.gt(&cursor))
            .filter(clicks::id.lt(&to))
            .order(clicks::id.asc())
            .limit(want)
            .select(FoldClick::as_select())
            .load(conn)?;
        let full = page.len() as i64 == want;
        let Some(last) = page.last().map(|c| c.id.clone()) else {
            break to;
        };
        for c in &page {
            let click = Click::from(c);
            sums.add(&click);
            if click.human {
                *hourly
                    .entry((
                        c.campaign_id.clone(),
                        utc_hour(c.ts),
                        c.enrollment_id.clone(),
                    ))
                    .or_default() += 1;
            }
        }
        if !full {
            break to;
        }
        if sums.clicks as i64 >= limit {
            break last;
        }
        cursor = last;
    };
    if sums.clicks == 0 {
        return Ok(Some(0));
    }
    let mut keys: Vec<VisitorKey> = sums.visitors.iter().cloned().collect();
    keys.sort_by(|a, b| {
        (&a.link_id, a.day, &a.visitor_hash).cmp(&(&b.link_id, b.day, &b.visitor_hash))
    });
    // Queued with the process's other writers of SQLite's main file (not the click writer,
    // whose clicks have their own file), so the lock is handed over at once instead of
    // through `busy_timeout`'s sleeps.
    crate::db::write_transaction(conn, |conn| {
        with_backend!(conn, |c| diesel::insert_into(settings::table)
            .values((settings::name.eq(WATERMARK), settings::value.eq("")))
            .on_conflict_do_nothing()
            .execute(c))?;
        if let AnyConnection::Postgresql(c) = conn {
            Fixed::new(FOLD_LOCK, vec![]).execute(c)?;
        }
        if watermark(conn)? != from {
            return Ok(None);
        }
        // The visitors inserted now are the new unique visitors of their link and day.
        let new: HashSet<VisitorKey> = insert_new_visitors(conn, &keys)?.into_iter().collect();
        sums.count_new_visitors(|k| new.contains(k));
        let daily: Vec<&DailyRow> = sums.daily.values().collect();
        add_daily_rows(conn, &daily)?;
        add_click_totals(conn, &daily)?;
        add_hourly(conn, &hourly)?;
        crate::store::settings::set(conn, WATERMARK, next.as_str())?;
        Ok(Some(sums.clicks))
    })
}

row! {
    /// What the fold and the readers of unfolded clicks read of a click.
    #[derive(Debug)]
    struct FoldClick in clicks {
        pub id: ClickId,
        pub link_id: LinkId,
        pub brand_id: BrandId,
        pub campaign_id: CampaignId,
        pub enrollment_id: EnrollmentId,
        pub ts: i64,
        pub visitor_hash: String,
        pub kind: ClickKind,
        pub attributable: bool,
    }
}

/// What the daily sums need of a click, borrowed from whichever row it was read as.
struct Click<'a> {
    link_id: &'a LinkId,
    brand_id: &'a BrandId,
    campaign_id: &'a CampaignId,
    enrollment_id: &'a EnrollmentId,
    day: i32,
    visitor_hash: &'a str,
    human: bool,
    attributable: bool,
}

/// `Click` from each row type it is read as (the readers' full rows, the fold's narrow ones).
macro_rules! click_from {
    ($($row:ty),+) => {$(
        impl<'a> From<&'a $row> for Click<'a> {
            fn from(c: &'a $row) -> Self {
                Click {
                    link_id: &c.link_id,
                    brand_id: &c.brand_id,
                    campaign_id: &c.campaign_id,
                    enrollment_id: &c.enrollment_id,
                    day: utc_day(c.ts),
                    visitor_hash: &c.visitor_hash,
                    human: c.kind == ClickKind::Human,
                    attributable: c.attributable,
                }
            }
        }
    )+};
}
click_from!(FoldClick);

/// Clicks summed per link and UTC day as they come, with the human visitors of each link and
/// day; unique visitors are added once it is known which of them are new.
#[derive(Default)]
struct DailySums {
    clicks: usize,
    daily: BTreeMap<(LinkId, i32), DailyRow>,
    visitors: HashSet<VisitorKey>,
}

impl DailySums {
    fn of(rows: &[FoldClick]) -> Self {
        let mut sums = Self::default();
        for c in rows {
            sums.add(&Click::from(c));
        }
        sums
    }

    fn add(&mut self, c: &Click<'_>) {
        self.clicks += 1;
        let sum = self
            .daily
            .entry((c.link_id.clone(), c.day))
            .or_insert_with(|| DailyRow {
                link_id: c.link_id.clone(),
                day: c.day,
                brand_id: c.brand_id.clone(),
                campaign_id: c.campaign_id.clone(),
                enrollment_id: c.enrollment_id.clone(),
                clicks: 0,
                unique_clicks: 0,
                bot_clicks: 0,
                attributable_clicks: 0,
            });
        if c.human {
            sum.clicks += 1;
            sum.attributable_clicks += i64::from(c.attributable);
            self.visitors.insert(VisitorKey {
                link_id: c.link_id.clone(),
                day: c.day,
                visitor_hash: c.visitor_hash.to_string(),
            });
        } else {
            sum.bot_clicks += 1;
        }
    }

    /// One unique click for each visitor that `is_new` says was not counted before.
    fn count_new_visitors(&mut self, is_new: impl Fn(&VisitorKey) -> bool) {
        for key in self.visitors.iter().filter(|k| is_new(k)) {
            if let Some(sum) = self.daily.get_mut(&(key.link_id.clone(), key.day)) {
                sum.unique_clicks += 1;
            }
        }
    }
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

/// Adds counts to the daily link rows (in key order, so concurrent folds cannot deadlock).
fn add_daily_rows(conn: &mut AnyConnection, rows: &[&DailyRow]) -> QueryResult<()> {
    let mut binds = Vec::with_capacity(rows.len() * width::<LinkDailyColumns>());
    for r in rows {
        binds.extend([
            Bind::Text(r.link_id.as_str()),
            Bind::Int(r.day),
            Bind::Text(r.brand_id.as_str()),
            Bind::Text(r.campaign_id.as_str()),
            Bind::Text(r.enrollment_id.as_str()),
            Bind::BigInt(r.clicks),
            Bind::BigInt(r.unique_clicks),
            Bind::BigInt(r.bot_clicks),
            Bind::BigInt(r.attributable_clicks),
        ]);
    }
    write_rows::<LinkDailyColumns>(conn, &binds)
}

/// Adds folded counts to the all-time sums per enrollment, in key order.
fn add_click_totals(conn: &mut AnyConnection, rows: &[&DailyRow]) -> QueryResult<()> {
    let mut totals: BTreeMap<(&CampaignId, &EnrollmentId), [i64; 4]> = BTreeMap::new();
    for r in rows {
        let t = totals
            .entry((&r.campaign_id, &r.enrollment_id))
            .or_default();
        t[0] += r.clicks;
        t[1] += r.unique_clicks;
        t[2] += r.bot_clicks;
        t[3] += r.attributable_clicks;
    }
    let mut binds = Vec::with_capacity(totals.len() * width::<ClickTotalsColumns>());
    for ((campaign_id, enrollment_id), t) in &totals {
        binds.extend([
            Bind::Text(campaign_id.as_str()),
            Bind::Text(enrollment_id.as_str()),
            Bind::BigInt(t[0]),
            Bind::BigInt(t[1]),
            Bind::BigInt(t[2]),
            Bind::BigInt(t[3]),
        ]);
    }
    write_rows::<ClickTotalsColumns>(conn, &binds)
}

/// Adds folded human clicks to the hourly rollups (in key order).
fn add_hourly(
    conn: &mut AnyConnection,
    hourly: &BTreeMap<(CampaignId, i32, EnrollmentId), i64>,
) -> QueryResult<()> {
    let mut binds = Vec::with_capacity(hourly.len() * width::<HourlyColumns>());
    for ((campaign_id, hour, enrollment_id), clicks) in hourly {
        binds.extend([
            Bind::Text(campaign_id.as_str()),
            Bind::Int(*hour),
            Bind::Text(enrollment_id.as_str()),
            Bind::BigInt(*clicks),
        ]);
    }
    write_rows::<HourlyColumns>(conn, &binds)
}

/// Makes the enclosing transaction one snapshot, so that rollups and the clicks after the
/// watermark are read at the same moment even while a fold commits (SQLite's transactions
/// already are snapshots in WAL mode).
///
/// On PostgreSQL it also plans this transaction's statements for their actual values: the
/// cached generic plan of "clicks after the watermark" assumes a third of the table matches
/// `id > $1` and scans all of it (over a second with 10 million clicks), where the value's
/// own plan reads the few recent rows from the primary key.
fn snapshot(conn: &mut AnyConnection) -> QueryResult<()> {
    if let AnyConnection::Postgresql(c) = conn {
        c.batch_execute(
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; \
             SET LOCAL plan_cache_mode = force_custom_plan",
        )?;
    }
    Ok(())
}

/// The clicks after the watermark (the last few seconds): of a campaign, of a link.
fn recent(
    conn: &mut AnyConnection,
    campaign_id: Option<&CampaignId>,
    link_id: Option<&LinkId>,
) -> QueryResult<Vec<FoldClick>> {
    let from = watermark(conn)?;
    let mut query = clicks::table
        .filter(clicks::id.gt(from))
        .select(FoldClick::as_select())
        .into_boxed();
    if let Some(campaign_id) = campaign_id {
        query = query.filter(clicks::campaign_id.eq(campaign_id.clone()));
    }
    if let Some(link_id) = link_id {
        query = query.filter(clicks::link_id.eq(link_id.clone()));
    }
    query.load(conn)
}

/// Per link and day, the counts that these (recent) clicks add to the rollups: a visitor
/// already recorded for its link and day is not unique again.
fn pending(conn: &mut AnyConnection, rows: &[FoldClick]) -> QueryResult<Vec<DailyRow>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let seen = known_visitors(conn, rows)?;
    let mut sums = DailySums::of(rows);
    sums.count_new_visitors(|k| !seen.contains(k));
    Ok(sums.daily.into_values().collect())
}

/// Which of these clicks' visitors are already recorded for their link and day.
fn known_visitors(
    conn: &mut AnyConnection,
    rows: &[FoldClick],
) -> QueryResult<HashSet<VisitorKey>> {
    let mut by_link_day: HashMap<(&LinkId, i32), Vec<&str>> = HashMap::new();
    for c in rows.iter().filter(|c| c.kind == ClickKind::Human) {
        by_link_day
            .entry((&c.link_id, utc_day(c.ts)))
            .or_default()
            .push(&c.visitor_hash);
    }
    let mut known = HashSet::new();
    for ((link_id, day), hashes) in by_link_day {
        for chunk in hashes.chunks(CHUNK) {
            let found: Vec<String> = link_day_visitors::table
                .filter(link_day_visitors::link_id.eq(link_id))
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

/// A link's counts per UTC day between `from_day` and `to_day`: the rollups plus the clicks
/// not yet folded.
pub fn daily_for_link(
    conn: &mut AnyConnection,
    link_id: &LinkId,
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
        let recent: Vec<FoldClick> = recent(conn, None, Some(link_id))?
            .into_iter()
            .filter(|c| (from_day..=to_day).contains(&utc_day(c.ts)))
            .collect();
        let mut by_day: BTreeMap<i32, DailyRow> = folded.into_iter().map(|r| (r.day, r)).collect();
        for p in pending(conn, &recent)? {
            match by_day.get_mut(&p.day) {
                Some(sum) => {
                    sum.clicks += p.clicks;
                    sum.unique_clicks += p.unique_clicks;
                    sum.bot_clicks += p.bot_clicks;
                    sum.attributable_clicks += p.attributable_clicks;
                }
                None => {
                    by_day.insert(p.day, p);
                }
            }
        }
        Ok(by_day.into_values().collect())
    })
}

/// An enrollment's click counts in a window.
#[derive(Debug, Clone, QueryableByName)]
pub struct ClickSums {
    #[diesel(sql_type = Text)]
    pub enrollment_id: EnrollmentId,
    #[diesel(sql_type = BigInt)]
    pub clicks: i64,
    #[diesel(sql_type = BigInt)]
    pub unique_clicks: i64,
    #[diesel(sql_type = BigInt)]
    pub bot_clicks: i64,
}

impl ClickSums {
    pub fn empty(enrollment_id: EnrollmentId) -> Self {
        Self {
            enrollment_id,
            clicks: 0,
            unique_clicks: 0,
            bot_clicks: 0,
        }
    }
}

/// The columns every click-sums read returns.
macro_rules! click_sums_select {
    () => {
        "SELECT enrollment_id, CAST(SUM(clicks) AS BIGINT) AS clicks, \
         CAST(SUM(unique_clicks) AS BIGINT) AS unique_clicks, \
         CAST(SUM(bot_clicks) AS BIGINT) AS bot_clicks "
    };
}

const CLICK_SUMS_DAYS: &str = concat!(
    click_sums_select!(),
    "FROM link_daily WHERE campaign_id = ? AND day BETWEEN ? AND ? GROUP BY enrollment_id"
);
/// All time: one row per enrollment, no days to add up.
const CLICK_SUMS_ALL: &str = concat!(
    click_sums_select!(),
    "FROM enrollment_click_totals WHERE campaign_id = ? GROUP BY enrollment_id"
);
const HOURLY_CLICKS: &str = "SELECT hour, enrollment_id, clicks FROM enrollment_hourly \
     WHERE campaign_id = ? AND hour BETWEEN ? AND ?";

pub const STATEMENTS: &[&str] = &[CLICK_SUMS_DAYS, CLICK_SUMS_ALL, HOURLY_CLICKS];
/// Run on PostgreSQL only.
pub const PG_STATEMENTS: &[&str] = &[FOLD_LOCK];

/// Days of a window that mean "all time" (whose sums the all-time totals answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Days {
    All,
    Between(i32, i32),
}

impl Days {
    pub fn contains(self, day: i32) -> bool {
        match self {
            Days::All => true,
            Days::Between(from, to) => (from..=to).contains(&day),
        }
    }
}

/// Per enrollment of the campaign: human clicks, unique clicks (distinct visitors per link per
/// UTC day, summed) and bot clicks of the days: the rollups plus the clicks not folded yet,
/// read in one snapshot.
pub fn click_sums(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
    days: Days,
) -> QueryResult<HashMap<EnrollmentId, ClickSums>> {
    conn.transaction(|conn| {
        snapshot(conn)?;
        let query = match days {
            Days::All => Fixed::new(CLICK_SUMS_ALL, vec![Bind::Text(campaign_id.as_str())]),
            Days::Between(from, to) => Fixed::new(
                CLICK_SUMS_DAYS,
                vec![
                    Bind::Text(campaign_id.as_str()),
                    Bind::Int(from),
                    Bind::Int(to),
                ],
            ),
        };
        let rows: Vec<ClickSums> = with_backend!(conn, |c| query.load(c))?;
        let mut sums: HashMap<EnrollmentId, ClickSums> = rows
            .into_iter()
            .map(|r| (r.enrollment_id.clone(), r))
            .collect();
        let recent: Vec<FoldClick> = recent(conn, Some(campaign_id), None)?
            .into_iter()
            .filter(|c| days.contains(utc_day(c.ts)))
            .collect();
        for p in pending(conn, &recent)? {
            let s = sums
                .entry(p.enrollment_id.clone())
                .or_insert_with(|| ClickSums::empty(p.enrollment_id.clone()));
            s.clicks += p.clicks;
            s.unique_clicks += p.unique_clicks;
            s.bot_clicks += p.bot_clicks;
        }
        Ok(sums)
    })
}

/// Human clicks of an enrollment in a UTC hour.
#[derive(Debug, Clone, QueryableByName)]
pub struct HourClicks {
    #[diesel(sql_type = Integer)]
    pub hour: i32,
    #[diesel(sql_type = Text)]
    pub enrollment_id: EnrollmentId,
    #[diesel(sql_type = BigInt)]
    pub clicks: i64,
}

/// Human clicks per enrollment and UTC hour between two hours (inclusive), folded and recent.
pub fn hourly_clicks(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
    from_hour: i32,
    to_hour: i32,
) -> QueryResult<Vec<HourClicks>> {
    conn.transaction(|conn| {
        snapshot(conn)?;
        let query = Fixed::new(
            HOURLY_CLICKS,
            vec![
                Bind::Text(campaign_id.as_str()),
                Bind::Int(from_hour),
                Bind::Int(to_hour),
            ],
        );
        let mut rows: Vec<HourClicks> = with_backend!(conn, |c| query.load(c))?;
        for c in recent(conn, Some(campaign_id), None)? {
            let hour = utc_hour(c.ts);
            if c.kind == ClickKind::Human && (from_hour..=to_hour).contains(&hour) {
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

/// Human clicks per enrollment of the given (paid) links on the days of a window, folded and
/// recent, as [`click_sums`] counts them.
pub fn link_clicks(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
    links: &[LinkId],
    days: Days,
) -> QueryResult<HashMap<EnrollmentId, i64>> {
    let mut out: HashMap<EnrollmentId, i64> = HashMap::new();
    if links.is_empty() {
        return Ok(out);
    }
    conn.transaction(|conn| {
        snapshot(conn)?;
        let (from, to) = match days {
            Days::All => (i32::MIN, i32::MAX),
            Days::Between(from, to) => (from, to),
        };
        let folded: Vec<(EnrollmentId, i64)> = link_daily::table
            .filter(link_daily::campaign_id.eq(campaign_id))
            .filter(link_daily::link_id.eq_any(links))
            .filter(link_daily::day.between(from, to))
            .select((link_daily::enrollment_id, link_daily::clicks))
            .load(conn)?;
        for (enrollment_id, clicks) in folded {
            *out.entry(enrollment_id).or_default() += clicks;
        }
        let recent: Vec<FoldClick> = recent(conn, Some(campaign_id), None)?
            .into_iter()
            .filter(|c| days.contains(utc_day(c.ts)) && links.contains(&c.link_id))
            .collect();
        for p in pending(conn, &recent)? {
            *out.entry(p.enrollment_id.clone()).or_default() += p.clicks;
        }
        Ok(out)
    })
}
