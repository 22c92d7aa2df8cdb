//! Enrollments with their links and discount codes.

use diesel::prelude::*;

use crate::db::schema::{campaigns, discount_codes, enrollments, influencers, links};
use crate::db::AnyConnection;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = enrollments)]
pub struct EnrollmentRow {
    pub id: String,
    pub brand_id: String,
    pub campaign_id: String,
    pub influencer_id: String,
    pub status: String,
    pub fee_micros: i64,
    pub commission_rate_micros: i64,
    pub goal_metric: Option<String>,
    pub goal_target_micros: Option<i64>,
    pub created_at: i64,
    pub pruned_at: Option<i64>,
}

#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = enrollments)]
pub struct EnrollmentUpdate {
    pub fee_micros: Option<i64>,
    pub commission_rate_micros: Option<i64>,
    pub goal_metric: Option<Option<String>>,
    pub goal_target_micros: Option<Option<i64>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = links)]
pub struct LinkRow {
    pub id: String,
    pub brand_id: String,
    pub campaign_id: String,
    pub enrollment_id: String,
    pub influencer_id: String,
    pub code: String,
    pub label: Option<String>,
    pub destination_url: Option<String>,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub utm_content: Option<String>,
    pub utm_term: Option<String>,
    pub status: String,
    pub created_at: i64,
}

impl LinkRow {
    /// The UTM values the link sets itself (the rest take their defaults).
    pub fn utm_overrides(&self) -> crate::domain::urls::Utm {
        crate::domain::urls::Utm {
            source: self.utm_source.clone(),
            medium: self.utm_medium.clone(),
            campaign: self.utm_campaign.clone(),
            content: self.utm_content.clone(),
            term: self.utm_term.clone(),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = discount_codes)]
pub struct CodeRow {
    pub id: String,
    pub brand_id: String,
    pub campaign_id: String,
    pub enrollment_id: String,
    pub influencer_id: String,
    pub code: String,
    pub code_norm: String,
    pub discount_type: String,
    pub discount_value_micros: i64,
    pub max_redemptions: Option<i64>,
    pub redemptions: i64,
    pub expires_at: Option<i64>,
    pub status: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = discount_codes)]
pub struct CodeUpdate {
    pub status: Option<String>,
    pub max_redemptions: Option<Option<i64>>,
    pub expires_at: Option<Option<i64>>,
    pub discount_type: Option<String>,
    pub discount_value_micros: Option<i64>,
}

pub fn insert(conn: &mut AnyConnection, row: &EnrollmentRow) -> QueryResult<()> {
    diesel::insert_into(enrollments::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn find(
    conn: &mut AnyConnection,
    campaign_id: &str,
    influencer_id: &str,
) -> QueryResult<Option<EnrollmentRow>> {
    enrollments::table
        .filter(enrollments::campaign_id.eq(campaign_id))
        .filter(enrollments::influencer_id.eq(influencer_id))
        .select(EnrollmentRow::as_select())
        .first(conn)
        .optional()
}

/// Every enrollment of a campaign (reports), in id order.
pub fn list_all_for_campaign(
    conn: &mut AnyConnection,
    campaign_id: &str,
) -> QueryResult<Vec<EnrollmentRow>> {
    enrollments::table
        .filter(enrollments::campaign_id.eq(campaign_id))
        .select(EnrollmentRow::as_select())
        .order(enrollments::id.asc())
        .load(conn)
}

pub fn list_for_campaign(
    conn: &mut AnyConnection,
    campaign_id: &str,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<EnrollmentRow>> {
    let mut query = enrollments::table
        .filter(enrollments::campaign_id.eq(campaign_id))
        .select(EnrollmentRow::as_select())
        .order(enrollments::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(enrollments::id.gt(after.to_string()));
    }
    query.load(conn)
}

pub fn update(conn: &mut AnyConnection, id: &str, changes: &EnrollmentUpdate) -> QueryResult<()> {
    diesel::update(enrollments::table.find(id))
        .set(changes)
        .execute(conn)
        .map(|_| ())
}

pub fn links_of(conn: &mut AnyConnection, enrollment_ids: &[String]) -> QueryResult<Vec<LinkRow>> {
    links::table
        .filter(links::enrollment_id.eq_any(enrollment_ids))
        .order(links::id.asc())
        .select(LinkRow::as_select())
        .load(conn)
}

pub fn codes_of(conn: &mut AnyConnection, enrollment_ids: &[String]) -> QueryResult<Vec<CodeRow>> {
    discount_codes::table
        .filter(discount_codes::enrollment_id.eq_any(enrollment_ids))
        .order(discount_codes::id.asc())
        .select(CodeRow::as_select())
        .load(conn)
}

fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// Inserts a link, drawing a new code on the (rare) collision. Each attempt runs in a
/// savepoint so that a collision does not abort an enclosing PostgreSQL transaction.
pub fn insert_link(
    conn: &mut AnyConnection,
    row: &mut LinkRow,
    new_code: impl Fn() -> String,
) -> QueryResult<()> {
    for _ in 0..8 {
        let attempt = conn.transaction(|conn| {
            diesel::insert_into(links::table)
                .values(&*row)
                .execute(conn)
        });
        match attempt {
            Ok(_) => return Ok(()),
            Err(e) if is_unique_violation(&e) => row.code = new_code(),
            Err(e) => return Err(e),
        }
    }
    Err(diesel::result::Error::RollbackTransaction)
}

/// Inserts a discount code. A generated code that collides is drawn again; a chosen (vanity)
/// code that collides is reported as `Ok(false)`.
pub fn insert_code(
    conn: &mut AnyConnection,
    row: &mut CodeRow,
    regenerate: Option<&dyn Fn() -> String>,
) -> QueryResult<bool> {
    for _ in 0..8 {
        let attempt = conn.transaction(|conn| {
            diesel::insert_into(discount_codes::table)
                .values(&*row)
                .execute(conn)
        });
        match attempt {
            Ok(_) => return Ok(true),
            Err(e) if is_unique_violation(&e) => match regenerate {
                Some(generate) => {
                    row.code = generate();
                    row.code_norm = row.code.clone();
                }
                None => return Ok(false),
            },
            Err(e) => return Err(e),
        }
    }
    Err(diesel::result::Error::RollbackTransaction)
}

pub fn find_link_by_code(conn: &mut AnyConnection, code: &str) -> QueryResult<Option<LinkRow>> {
    links::table
        .filter(links::code.eq(code))
        .select(LinkRow::as_select())
        .first(conn)
        .optional()
}

pub fn find_link(
    conn: &mut AnyConnection,
    brand_id: &str,
    id: &str,
) -> QueryResult<Option<LinkRow>> {
    links::table
        .filter(links::id.eq(id))
        .filter(links::brand_id.eq(brand_id))
        .select(LinkRow::as_select())
        .first(conn)
        .optional()
}

pub fn set_link_status(conn: &mut AnyConnection, id: &str, status: &str) -> QueryResult<()> {
    diesel::update(links::table.find(id))
        .set(links::status.eq(status))
        .execute(conn)
        .map(|_| ())
}

pub fn set_link_label(conn: &mut AnyConnection, id: &str, label: Option<&str>) -> QueryResult<()> {
    diesel::update(links::table.find(id))
        .set(links::label.eq(label))
        .execute(conn)
        .map(|_| ())
}

pub fn find_code(
    conn: &mut AnyConnection,
    brand_id: &str,
    id: &str,
) -> QueryResult<Option<CodeRow>> {
    discount_codes::table
        .filter(discount_codes::id.eq(id))
        .filter(discount_codes::brand_id.eq(brand_id))
        .select(CodeRow::as_select())
        .first(conn)
        .optional()
}

pub fn find_code_by_text(
    conn: &mut AnyConnection,
    brand_id: &str,
    code: &str,
) -> QueryResult<Option<CodeRow>> {
    crate::with_backend!(conn, |c| discount_codes::table
        .filter(discount_codes::brand_id.eq(brand_id))
        .filter(discount_codes::code_norm.eq(code))
        .select(CodeRow::as_select())
        .first(c)
        .optional())
}

pub fn update_code(conn: &mut AnyConnection, id: &str, changes: &CodeUpdate) -> QueryResult<()> {
    // An UPDATE without a column is an error in diesel; a PATCH with nothing to change is not.
    let CodeUpdate {
        status,
        max_redemptions,
        expires_at,
        discount_type,
        discount_value_micros,
    } = changes;
    if status.is_none()
        && max_redemptions.is_none()
        && expires_at.is_none()
        && discount_type.is_none()
        && discount_value_micros.is_none()
    {
        return Ok(());
    }
    diesel::update(discount_codes::table.find(id))
        .set(changes)
        .execute(conn)
        .map(|_| ())
}

pub fn find_by_id(conn: &mut AnyConnection, id: &str) -> QueryResult<Option<EnrollmentRow>> {
    crate::with_backend!(conn, |c| enrollments::table
        .find(id)
        .select(EnrollmentRow::as_select())
        .first(c)
        .optional())
}

/// A link with what the redirect needs of its enrollment, campaign and influencer.
#[derive(Debug, Clone)]
pub struct RedirectTarget {
    pub link: LinkRow,
    pub enrollment_status: String,
    pub campaign_status: String,
    pub campaign_destination: String,
    pub campaign_slug: String,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub handle: String,
}

type TargetColumns = (
    String,
    String,
    String,
    String,
    Option<i64>,
    Option<i64>,
    String,
);

/// One query: the link with that code, or (without a code) the newest `limit` links.
pub fn redirect_targets(
    conn: &mut AnyConnection,
    code: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<RedirectTarget>> {
    let mut query = links::table
        .inner_join(
            enrollments::table
                .inner_join(campaigns::table)
                .inner_join(influencers::table),
        )
        .select((
            LinkRow::as_select(),
            (
                enrollments::status,
                campaigns::status,
                campaigns::destination_url,
                campaigns::slug,
                campaigns::starts_at,
                campaigns::ends_at,
                influencers::handle,
            ),
        ))
        .order(links::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(code) = code {
        query = query.filter(links::code.eq(code.to_string()));
    }
    let rows: Vec<(LinkRow, TargetColumns)> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(
                link,
                (
                    enrollment_status,
                    campaign_status,
                    campaign_destination,
                    campaign_slug,
                    starts_at,
                    ends_at,
                    handle,
                ),
            )| {
                RedirectTarget {
                    link,
                    enrollment_status,
                    campaign_status,
                    campaign_destination,
                    campaign_slug,
                    starts_at,
                    ends_at,
                    handle,
                }
            },
        )
        .collect())
}

/// Counts one use of a code (an order that reported it), unless its limit is reached
/// meanwhile: `Ok(false)` then. One statement, so concurrent orders cannot overshoot.
pub fn add_redemption(conn: &mut AnyConnection, code_id: &str) -> QueryResult<bool> {
    if let AnyConnection::Sqlite(c) = conn {
        // The same statement, prepared once (see `Fixed`).
        return crate::db::Fixed {
            sql: "UPDATE discount_codes SET redemptions = redemptions + 1 WHERE id = ? \
                  AND (max_redemptions IS NULL OR redemptions < max_redemptions)",
            binds: vec![crate::db::Bind::Text(code_id)],
        }
        .execute(c)
        .map(|n| n == 1);
    }
    diesel::update(
        discount_codes::table.find(code_id).filter(
            discount_codes::max_redemptions
                .is_null()
                .or(discount_codes::redemptions
                    .nullable()
                    .lt(discount_codes::max_redemptions)),
        ),
    )
    .set(discount_codes::redemptions.eq(discount_codes::redemptions + 1))
    .execute(conn)
    .map(|n| n == 1)
}
