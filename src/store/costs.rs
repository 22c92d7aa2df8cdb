//! The costs of a campaign besides fees and commissions.

use diesel::prelude::*;

use crate::db::schema::costs;
use crate::db::types::row;
use crate::db::AnyConnection;
use crate::domain::campaign::CostKind;
use crate::domain::ids::{BrandId, CampaignId, CostId, EnrollmentId, InfluencerId};
use crate::domain::money::Currency;

row! {
    #[derive(Debug, Clone, Insertable)]
    #[diesel(treat_none_as_default_value = false)]
    pub struct CostRow in costs {
        pub id: CostId,
        pub brand_id: BrandId,
        pub campaign_id: CampaignId,
        pub kind: CostKind,
        /// In the campaign's currency.
        pub amount_micros: i64,
        /// As entered.
        pub original_micros: i64,
        pub original_currency: Currency,
        pub influencer_id: Option<InfluencerId>,
        pub enrollment_id: Option<EnrollmentId>,
        pub post_url: Option<String>,
        pub note: Option<String>,
        pub incurred_at: i64,
        pub created_at: i64,
        pub updated_at: i64,
    }
}

pub fn insert(conn: &mut AnyConnection, row: &CostRow) -> QueryResult<()> {
    diesel::insert_into(costs::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Replaces a cost's every field but its ids and creation time.
pub fn replace(conn: &mut AnyConnection, row: &CostRow) -> QueryResult<()> {
    diesel::update(costs::table.find(&row.id))
        .set((
            costs::kind.eq(row.kind),
            costs::amount_micros.eq(row.amount_micros),
            costs::original_micros.eq(row.original_micros),
            costs::original_currency.eq(row.original_currency),
            costs::influencer_id.eq(&row.influencer_id),
            costs::enrollment_id.eq(&row.enrollment_id),
            costs::post_url.eq(&row.post_url),
            costs::note.eq(&row.note),
            costs::incurred_at.eq(row.incurred_at),
            costs::updated_at.eq(row.updated_at),
        ))
        .execute(conn)
        .map(|_| ())
}

pub fn delete(conn: &mut AnyConnection, id: &CostId) -> QueryResult<bool> {
    diesel::delete(costs::table.find(id))
        .execute(conn)
        .map(|n| n > 0)
}

/// A cost of the brand's campaign.
pub fn find(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    campaign_id: &CampaignId,
    id: &CostId,
) -> QueryResult<Option<CostRow>> {
    costs::table
        .filter(costs::id.eq(id))
        .filter(costs::brand_id.eq(brand_id))
        .filter(costs::campaign_id.eq(campaign_id))
        .select(CostRow::as_select())
        .first(conn)
        .optional()
}

/// A page of a campaign's costs, oldest recorded first.
pub fn page(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<CostRow>> {
    let mut q = costs::table
        .filter(costs::campaign_id.eq(campaign_id))
        .select(CostRow::as_select())
        .order(costs::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        q = q.filter(costs::id.gt(after.to_string()));
    }
    q.load(conn)
}

/// A campaign's costs incurred in `[from, to)`: what reports add up.
#[derive(Debug, Clone, Queryable)]
pub struct CostSum {
    pub enrollment_id: Option<EnrollmentId>,
    pub kind: CostKind,
    pub amount_micros: i64,
}

pub fn between(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
    from: i64,
    to: i64,
) -> QueryResult<Vec<CostSum>> {
    costs::table
        .filter(costs::campaign_id.eq(campaign_id))
        .filter(costs::incurred_at.ge(from))
        .filter(costs::incurred_at.lt(to))
        .select((costs::enrollment_id, costs::kind, costs::amount_micros))
        .load(conn)
}

/// The posts of the campaign that `ad_spend` costs name: they count as paid.
pub fn ad_spend_posts(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
) -> QueryResult<Vec<String>> {
    costs::table
        .filter(costs::campaign_id.eq(campaign_id))
        .filter(costs::kind.eq(CostKind::AdSpend))
        .filter(costs::post_url.is_not_null())
        .select(costs::post_url.assume_not_null())
        .distinct()
        .load(conn)
}
