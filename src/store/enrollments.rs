//! Enrollments: an influencer in a campaign, with its terms.

use diesel::prelude::*;

use crate::db::schema::enrollments;
use crate::db::types::row;
use crate::db::{with_backend, AnyConnection};
use crate::domain::campaign::{EnrollmentStatus, GoalMetric};
use crate::domain::ids::{BrandId, CampaignId, EnrollmentId, InfluencerId};

row! {
    #[derive(Debug, Clone, Insertable)]
    pub struct EnrollmentRow in enrollments {
        pub id: EnrollmentId,
        pub brand_id: BrandId,
        pub campaign_id: CampaignId,
        pub influencer_id: InfluencerId,
        pub status: EnrollmentStatus,
        pub fee_micros: i64,
        pub commission_rate_micros: i64,
        pub goal_metric: Option<GoalMetric>,
        pub goal_target_micros: Option<i64>,
        pub created_at: i64,
        pub pruned_at: Option<i64>,
    }
}

#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = enrollments)]
pub struct EnrollmentUpdate {
    pub fee_micros: Option<i64>,
    pub commission_rate_micros: Option<i64>,
    pub goal_metric: Option<Option<GoalMetric>>,
    pub goal_target_micros: Option<Option<i64>>,
}

pub fn insert(conn: &mut AnyConnection, row: &EnrollmentRow) -> QueryResult<()> {
    diesel::insert_into(enrollments::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// The enrollment of an influencer in a campaign.
pub fn find(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
    influencer_id: &InfluencerId,
) -> QueryResult<Option<EnrollmentRow>> {
    enrollments::table
        .filter(enrollments::campaign_id.eq(campaign_id))
        .filter(enrollments::influencer_id.eq(influencer_id))
        .select(EnrollmentRow::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_id(
    conn: &mut AnyConnection,
    id: &EnrollmentId,
) -> QueryResult<Option<EnrollmentRow>> {
    with_backend!(conn, |c| enrollments::table
        .find(id)
        .select(EnrollmentRow::as_select())
        .first(c)
        .optional())
}

/// Every enrollment of a campaign (reports), in id order.
pub fn all_of_campaign(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
) -> QueryResult<Vec<EnrollmentRow>> {
    enrollments::table
        .filter(enrollments::campaign_id.eq(campaign_id))
        .select(EnrollmentRow::as_select())
        .order(enrollments::id.asc())
        .load(conn)
}

/// A page of a campaign's enrollments, in id order.
pub fn page_of_campaign(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
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

/// An influencer's enrollments in the brand's campaigns, in id order.
pub fn of_influencer(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    influencer_id: &InfluencerId,
) -> QueryResult<Vec<EnrollmentRow>> {
    enrollments::table
        .filter(enrollments::influencer_id.eq(influencer_id))
        .filter(enrollments::brand_id.eq(brand_id))
        .order(enrollments::id.asc())
        .select(EnrollmentRow::as_select())
        .load(conn)
}

pub fn update(
    conn: &mut AnyConnection,
    id: &EnrollmentId,
    changes: &EnrollmentUpdate,
) -> QueryResult<()> {
    diesel::update(enrollments::table.find(id))
        .set(changes)
        .execute(conn)
        .map(|_| ())
}

/// Moves an enrollment from `from` to `to`; `false` when it was not `from` (a concurrent change
/// got there first). `pruned_at` is set when pruning and cleared when reinstating.
pub fn change_status(
    conn: &mut AnyConnection,
    id: &EnrollmentId,
    from: EnrollmentStatus,
    to: EnrollmentStatus,
    at: i64,
) -> QueryResult<bool> {
    let pruned_at = (to == EnrollmentStatus::Pruned).then_some(at);
    let n = diesel::update(
        enrollments::table
            .filter(enrollments::id.eq(id))
            .filter(enrollments::status.eq(from)),
    )
    .set((
        enrollments::status.eq(to),
        enrollments::pruned_at.eq(pruned_at),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Takes the enrollment's row lock (PostgreSQL; SQLite's write lock is already held), so that
/// writers of one enrollment queue and each sees what the one before left.
pub fn lock(conn: &mut AnyConnection, id: &EnrollmentId) -> QueryResult<()> {
    diesel::update(enrollments::table.find(id))
        .set(enrollments::status.eq(enrollments::status))
        .execute(conn)
        .map(|_| ())
}
