//! Tracking links, and what the redirect needs to know of one.

use diesel::prelude::*;

use crate::db::schema::{campaigns, enrollments, influencers, links};
use crate::db::types::row;
use crate::db::AnyConnection;
use crate::domain::campaign::{CampaignStatus, EnrollmentStatus};
use crate::domain::codes::LinkStatus;
use crate::domain::ids::{BrandId, CampaignId, EnrollmentId, InfluencerId, LinkId};
use crate::domain::urls::Utm;

row! {
    #[derive(Debug, Clone, Insertable)]
    pub struct LinkRow in links {
        pub id: LinkId,
        pub brand_id: BrandId,
        pub campaign_id: CampaignId,
        pub enrollment_id: EnrollmentId,
        pub influencer_id: InfluencerId,
        pub code: String,
        pub label: Option<String>,
        pub destination_url: Option<String>,
        pub utm_source: Option<String>,
        pub utm_medium: Option<String>,
        pub utm_campaign: Option<String>,
        pub utm_content: Option<String>,
        pub utm_term: Option<String>,
        pub status: LinkStatus,
        pub created_at: i64,
        /// The link carries its enrollment's discount code to the shop.
        pub apply_code: bool,
        /// Used in paid amplification: its clicks and what they bring count as paid.
        pub paid: bool,
    }
}

impl LinkRow {
    /// The UTM values the link sets itself (the rest take their defaults).
    pub fn utm_overrides(&self) -> Utm {
        Utm {
            source: self.utm_source.clone(),
            medium: self.utm_medium.clone(),
            campaign: self.utm_campaign.clone(),
            content: self.utm_content.clone(),
            term: self.utm_term.clone(),
        }
    }
}

/// Inserts a link, drawing a new code on the (rare) collision. Each attempt runs in a
/// savepoint so that a collision does not abort an enclosing PostgreSQL transaction.
pub fn insert(
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
            Err(e) if crate::db::is_duplicate(Some(&e)) => row.code = new_code(),
            Err(e) => return Err(e),
        }
    }
    Err(diesel::result::Error::RollbackTransaction)
}

/// A link of the brand.
pub fn find(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    id: &LinkId,
) -> QueryResult<Option<LinkRow>> {
    links::table
        .filter(links::id.eq(id))
        .filter(links::brand_id.eq(brand_id))
        .select(LinkRow::as_select())
        .first(conn)
        .optional()
}

/// The links of these enrollments, in id order.
pub fn of_enrollments(
    conn: &mut AnyConnection,
    enrollment_ids: &[EnrollmentId],
) -> QueryResult<Vec<LinkRow>> {
    links::table
        .filter(links::enrollment_id.eq_any(enrollment_ids))
        .order(links::id.asc())
        .select(LinkRow::as_select())
        .load(conn)
}

pub fn set_status(conn: &mut AnyConnection, id: &LinkId, status: LinkStatus) -> QueryResult<()> {
    diesel::update(links::table.find(id))
        .set(links::status.eq(status))
        .execute(conn)
        .map(|_| ())
}

pub fn set_label(conn: &mut AnyConnection, id: &LinkId, label: Option<&str>) -> QueryResult<()> {
    diesel::update(links::table.find(id))
        .set(links::label.eq(label))
        .execute(conn)
        .map(|_| ())
}

pub fn set_apply_code(conn: &mut AnyConnection, id: &LinkId, apply: bool) -> QueryResult<()> {
    diesel::update(links::table.find(id))
        .set(links::apply_code.eq(apply))
        .execute(conn)
        .map(|_| ())
}

/// A link with what the redirect needs of its enrollment, campaign and influencer.
#[derive(Debug, Clone)]
pub struct RedirectTarget {
    pub link: LinkRow,
    pub enrollment_status: EnrollmentStatus,
    pub campaign_status: CampaignStatus,
    pub campaign_destination: String,
    pub campaign_slug: String,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub handle: String,
}

type TargetColumns = (
    EnrollmentStatus,
    CampaignStatus,
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
            )| RedirectTarget {
                link,
                enrollment_status,
                campaign_status,
                campaign_destination,
                campaign_slug,
                starts_at,
                ends_at,
                handle,
            },
        )
        .collect())
}

/// Every link's code with its id, of links whose id sorts after `after` (all when `None`):
/// the redirect's set of existing codes is loaded at start and topped up with it.
pub fn codes_after(
    conn: &mut AnyConnection,
    after: Option<&str>,
) -> QueryResult<Vec<(LinkId, String)>> {
    let mut query = links::table.select((links::id, links::code)).into_boxed();
    if let Some(after) = after {
        query = query.filter(links::id.gt(after.to_string()));
    }
    query.load(conn)
}

/// Whether a link is marked paid (a link that no longer exists is not).
pub fn is_paid(conn: &mut AnyConnection, id: &LinkId) -> QueryResult<bool> {
    Ok(links::table
        .find(id)
        .select(links::paid)
        .first::<bool>(conn)
        .optional()?
        .unwrap_or(false))
}

/// The campaign's links marked paid.
pub fn paid_of_campaign(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
) -> QueryResult<Vec<LinkId>> {
    links::table
        .filter(links::campaign_id.eq(campaign_id))
        .filter(links::paid.eq(true))
        .select(links::id)
        .load(conn)
}
