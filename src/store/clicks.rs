//! Clicks as the click writer appends them, read back one by one (the `itk_click` an order
//! reports) or by link; and the daily salts of visitor hashes. Their sums live in
//! [`crate::store::rollups`].

use diesel::prelude::*;

use crate::db::schema::{clicks, visitor_salts};
use crate::db::sql::{width, write_rows, Bind, Columns, Conflict, SqlType, PG_ROWS};
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
    pub visitor_hash: String,
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
            Bind::Text(&self.visitor_hash),
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
