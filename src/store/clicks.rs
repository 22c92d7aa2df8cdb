//! Clicks as the click writer appends them, read back one by one (the `itk_click` an order
//! reports) or by link; and the daily salts of visitor hashes. Their sums live in
//! [`crate::store::rollups`].

use diesel::prelude::*;

use crate::db::schema::{clicks, settings, visitor_salts};
use crate::db::sql::{
    width, write_guarded_rows, write_rows, Bind, Columns, Conflict, Fixed, SqlType, PG_ROWS,
};
use crate::db::types::row;
use crate::db::{with_backend, AnyConnection};
use crate::domain::ids::{BrandId, CampaignId, ClickId, EnrollmentId, InfluencerId, LinkId};
use crate::domain::traffic::ClickKind;

row! {
    #[derive(Debug, Clone)]
    pub struct ClickRow in clicks {
        pub id: ClickId,
        pub link_id: LinkId,
        pub brand_id: BrandId,
        pub campaign_id: CampaignId,
        pub enrollment_id: EnrollmentId,
        pub influencer_id: InfluencerId,
        pub ts: i64,
        pub visitor_hash: String,
        pub kind: ClickKind,
        pub attributable: bool,
        pub referrer_host: Option<String>,
        pub device: String,
        pub browser: String,
        pub os: String,
        pub country: Option<String>,
    }
}

/// A click as the writer appends it, borrowing from the cached link (no copies per click).
#[derive(Debug)]
pub struct NewClick<'a> {
    pub id: &'a ClickId,
    pub link_id: &'a LinkId,
    pub brand_id: &'a BrandId,
    pub campaign_id: &'a CampaignId,
    pub enrollment_id: &'a EnrollmentId,
    pub influencer_id: &'a InfluencerId,
    pub ts: i64,
    pub visitor_hash: &'a str,
    pub kind: ClickKind,
    pub attributable: bool,
    pub referrer_host: Option<&'a str>,
    pub device: &'a str,
    pub browser: &'a str,
    pub os: &'a str,
    pub country: Option<&'a str>,
}

/// The click insert: the columns in the order [`NewClick::binds`] gives them.
pub struct ClickColumns;

impl Columns for ClickColumns {
    const TABLE: &'static str = "clicks";
    const COLUMNS: &'static [(&'static str, SqlType)] = &[
        ("id", SqlType::Text),
        ("link_id", SqlType::Text),
        ("brand_id", SqlType::Text),
        ("campaign_id", SqlType::Text),
        ("enrollment_id", SqlType::Text),
        ("influencer_id", SqlType::Text),
        ("ts", SqlType::BigInt),
        ("visitor_hash", SqlType::Text),
        ("kind", SqlType::Text),
        ("attributable", SqlType::Bool),
        ("referrer_host", SqlType::NullableText),
        ("device", SqlType::Text),
        ("browser", SqlType::Text),
        ("os", SqlType::Text),
        ("country", SqlType::NullableText),
    ];
    const CONFLICT: Conflict = Conflict::Fail;
}

/// The redirect's click insert on PostgreSQL: written only while the click fence is at or
/// below the batch's smallest id. The check (a function of the migrations, run once per
/// statement) takes a shared advisory lock held until the insert commits, so a fold that
/// raises the fence (exclusively) waits for the batches already past the check, and a batch
/// that waited on the raise reads the raised fence; see [`raise_fence`].
pub struct LiveClickColumns;

impl Columns for LiveClickColumns {
    const TABLE: &'static str = ClickColumns::TABLE;
    const COLUMNS: &'static [(&'static str, SqlType)] = ClickColumns::COLUMNS;
    const CONFLICT: Conflict = Conflict::Fail;
    const GUARD: &'static str = " WHERE (SELECT influtrack_click_fence_allows(?))";
}

/// Setting (PostgreSQL): the click fence, the smallest click id a click batch may still write.
const FENCE: &str = "click_fence";

impl<'a> NewClick<'a> {
    fn binds(&'a self, out: &mut Vec<Bind<'a>>) {
        out.extend([
            Bind::Text(self.id.as_str()),
            Bind::Text(self.link_id.as_str()),
            Bind::Text(self.brand_id.as_str()),
            Bind::Text(self.campaign_id.as_str()),
            Bind::Text(self.enrollment_id.as_str()),
            Bind::Text(self.influencer_id.as_str()),
            Bind::BigInt(self.ts),
            Bind::Text(self.visitor_hash),
            Bind::Text(self.kind.as_str()),
            Bind::Bool(self.attributable),
            Bind::NullableText(self.referrer_host),
            Bind::Text(self.device),
            Bind::Text(self.browser),
            Bind::Text(self.os),
            Bind::NullableText(self.country),
        ]);
    }
}

/// Appends a batch of clicks atomically: the click writer's one write. On PostgreSQL a batch
/// that fits one statement is sent alone, outside `BEGIN`/`COMMIT`: a single statement is its
/// own transaction, as atomic and as durable, and the batch costs one round trip instead of
/// three (each redirect waits on its batch's commit).
pub fn append(conn: &mut AnyConnection, rows: &[NewClick<'_>]) -> QueryResult<()> {
    let mut binds = Vec::with_capacity(rows.len() * width::<ClickColumns>());
    for row in rows {
        row.binds(&mut binds);
    }
    if matches!(conn, AnyConnection::Postgresql(_)) && rows.len() <= PG_ROWS {
        return write_rows::<ClickColumns>(conn, &binds);
    }
    crate::db::click_transaction(conn, |conn| write_rows::<ClickColumns>(conn, &binds))
}

/// Appends the redirect's clicks unless one of them sorts below the click fence (nothing is
/// written then: `false`, and the writer makes new ids at or above [`fence`]). Every click
/// below the fence that will ever exist is therefore committed, which is what lets the
/// rollups fold up to it at once instead of waiting out the slowest possible commit.
pub fn append_live(conn: &mut AnyConnection, rows: &[NewClick<'_>]) -> QueryResult<bool> {
    let Some(smallest) = rows.iter().map(|r| r.id).min() else {
        return Ok(true);
    };
    let mut binds = Vec::with_capacity(rows.len() * width::<ClickColumns>());
    for row in rows {
        row.binds(&mut binds);
    }
    match conn {
        AnyConnection::Sqlite(_) => crate::db::click_transaction(conn, |conn| {
            // Under the click file's writer turn, which a raise of the fence waits for.
            if smallest < &crate::db::locks::sqlite_click_fence() {
                return Ok(false);
            }
            write_rows::<ClickColumns>(conn, &binds)?;
            Ok(true)
        }),
        AnyConnection::Postgresql(c) if rows.len() <= PG_ROWS => {
            let written = write_guarded_rows::<LiveClickColumns>(c, &binds, smallest.as_str())?;
            Ok(written == rows.len())
        }
        AnyConnection::Postgresql(_) => Err(diesel::result::Error::QueryBuilderError(
            "a click batch larger than one statement".into(),
        )),
    }
}

/// Whether these clicks are stored (a batch is written whole or not at all, so its first id
/// tells).
pub fn stored(conn: &mut AnyConnection, ids: &[ClickId]) -> QueryResult<bool> {
    let Some(first) = ids.first() else {
        return Ok(true);
    };
    let n: i64 = clicks::table
        .filter(clicks::id.eq(first))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// The click fence: clicks written from now on have ids at or above it.
pub fn fence(conn: &mut AnyConnection) -> QueryResult<ClickId> {
    match conn {
        AnyConnection::Sqlite(_) => Ok(crate::db::locks::sqlite_click_fence()),
        AnyConnection::Postgresql(c) => {
            let value: Option<String> = settings::table
                .find(FENCE)
                .select(settings::value)
                .first(c)
                .optional()?;
            match value {
                Some(value) => Ok(ClickId::stored(value)),
                None => {
                    // The row is made by the migrations; should it be gone, every batch is
                    // refused until it is back: as the lowest fence.
                    diesel::insert_into(settings::table)
                        .values((settings::name.eq(FENCE), settings::value.eq("")))
                        .on_conflict_do_nothing()
                        .execute(c)?;
                    Ok(ClickId::stored(String::new()))
                }
            }
        }
    }
}

/// Raises the click fence to the millisecond of `micros` (never lowers it) once every click
/// batch already being written has committed, and returns the fence: every click below it is
/// in the table and none can be added. SQLite: this process writes the clicks file alone, so
/// the fence lives in memory and the raise takes the click writer's turn. PostgreSQL: the
/// raise updates the fence row, then takes the advisory lock that the inserts past their
/// check hold shared (of every instance), so it waits for them.
pub fn raise_fence(conn: &mut AnyConnection, micros: i64) -> QueryResult<ClickId> {
    let to = ClickId::floor(micros);
    match conn {
        AnyConnection::Sqlite(_) => Ok(crate::db::locks::raise_sqlite_click_fence(to)),
        AnyConnection::Postgresql(c) => {
            c.transaction(|c| {
                Fixed::new(RAISE_FENCE, vec![Bind::Text(to.as_str())]).execute(c)?;
                // Then wait for the inserts past the check (they hold the lock shared until
                // they commit; those checking meanwhile read the fence as it was) and hold new
                // ones until the raised fence is committed. In this order, a transaction that
                // holds the settings row keeps the raise waiting, never the clicks.
                Fixed::new(FENCE_LOCK, vec![]).execute(c)
            })?;
            fence(conn)
        }
    }
}

const FENCE_LOCK: &str = "SELECT pg_advisory_xact_lock(7336002)";
const RAISE_FENCE: &str = "INSERT INTO settings (name, value) VALUES ('click_fence', ?) \
     ON CONFLICT (name) DO UPDATE SET value = excluded.value WHERE settings.value < excluded.value";

/// Run on PostgreSQL only.
pub const PG_STATEMENTS: &[&str] = &[FENCE_LOCK, RAISE_FENCE];

/// A click of the brand by its id (the `itk_click` a storefront reports).
pub fn find(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    id: &ClickId,
) -> QueryResult<Option<ClickRow>> {
    with_backend!(conn, |c| clicks::table
        .filter(clicks::id.eq(id))
        .filter(clicks::brand_id.eq(brand_id))
        .select(ClickRow::as_select())
        .first(c)
        .optional())
}

/// A link's clicks, newest first. The click table has no index on the link (see the
/// migration); ids are time-ordered, so a recent page is found by a short backward scan.
pub fn of_link(
    conn: &mut AnyConnection,
    link_id: &LinkId,
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
