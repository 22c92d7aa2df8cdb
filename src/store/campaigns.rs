//! Campaigns.

use diesel::prelude::*;

use crate::db::schema::campaigns;
use crate::db::types::row;
use crate::db::{with_backend, AnyConnection};
use crate::domain::campaign::{CampaignStatus, CostAllocation, GoalMetric, Model};
use crate::domain::ids::{BrandId, CampaignId};
use crate::domain::money::Currency;

row! {
    #[derive(Debug, Clone, Insertable)]
    pub struct CampaignRow in campaigns {
        pub id: CampaignId,
        pub brand_id: BrandId,
        pub name: String,
        pub slug: String,
        pub destination_url: String,
        pub currency: Currency,
        pub budget_micros: Option<i64>,
        pub starts_at: Option<i64>,
        pub ends_at: Option<i64>,
        pub status: CampaignStatus,
        pub goal_metric: Option<GoalMetric>,
        pub goal_target_micros: Option<i64>,
        pub attribution_model: Model,
        pub window_days: i32,
        pub code_priority: bool,
        pub holding_days: i32,
        pub created_at: i64,
        pub updated_at: i64,
        /// New links carry their enrollment's discount code to the shop by default.
        pub links_apply_code: bool,
        /// How long a customer's earlier touches credit an order naming only the customer.
        pub identity_window_days: i32,
        pub lead_band_medium: i32,
        pub lead_band_fast: i32,
        /// JSON: event type → micro-units (see `domain::leads`).
        pub event_values: String,
        pub cost_allocation: CostAllocation,
    }
}

#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = campaigns)]
pub struct CampaignUpdate {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub destination_url: Option<String>,
    pub budget_micros: Option<Option<i64>>,
    pub starts_at: Option<Option<i64>>,
    pub ends_at: Option<Option<i64>>,
    pub status: Option<CampaignStatus>,
    pub goal_metric: Option<Option<GoalMetric>>,
    pub goal_target_micros: Option<Option<i64>>,
    pub attribution_model: Option<Model>,
    pub window_days: Option<i32>,
    pub code_priority: Option<bool>,
    pub holding_days: Option<i32>,
    pub updated_at: Option<i64>,
    pub links_apply_code: Option<bool>,
    pub identity_window_days: Option<i32>,
    pub lead_band_medium: Option<i32>,
    pub lead_band_fast: Option<i32>,
    pub event_values: Option<String>,
    pub cost_allocation: Option<CostAllocation>,
}

pub fn insert(conn: &mut AnyConnection, row: &CampaignRow) -> QueryResult<()> {
    diesel::insert_into(campaigns::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// A campaign of the brand.
pub fn find(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    id: &CampaignId,
) -> QueryResult<Option<CampaignRow>> {
    with_backend!(conn, |c| campaigns::table
        .filter(campaigns::id.eq(id))
        .filter(campaigns::brand_id.eq(brand_id))
        .select(CampaignRow::as_select())
        .first(c)
        .optional())
}

pub fn slug_taken(conn: &mut AnyConnection, brand_id: &BrandId, slug: &str) -> QueryResult<bool> {
    let n: i64 = campaigns::table
        .filter(campaigns::brand_id.eq(brand_id))
        .filter(campaigns::slug.eq(slug))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// A brand's campaigns in id (creation) order, after `after` when given.
pub fn list(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    status: Option<CampaignStatus>,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<CampaignRow>> {
    let mut query = campaigns::table
        .filter(campaigns::brand_id.eq(brand_id))
        .select(CampaignRow::as_select())
        .order(campaigns::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(campaigns::status.eq(status));
    }
    if let Some(after) = after {
        query = query.filter(campaigns::id.gt(after.to_string()));
    }
    query.load(conn)
}

/// A brand's campaigns, the newest first.
pub fn newest_first(conn: &mut AnyConnection, brand_id: &BrandId) -> QueryResult<Vec<CampaignRow>> {
    campaigns::table
        .filter(campaigns::brand_id.eq(brand_id))
        .order(campaigns::created_at.desc())
        .select(CampaignRow::as_select())
        .load(conn)
}

pub fn update(
    conn: &mut AnyConnection,
    id: &CampaignId,
    changes: &CampaignUpdate,
) -> QueryResult<()> {
    diesel::update(campaigns::table.find(id))
        .set(changes)
        .execute(conn)
        .map(|_| ())
}

pub fn set_status(
    conn: &mut AnyConnection,
    id: &CampaignId,
    status: CampaignStatus,
) -> QueryResult<()> {
    diesel::update(campaigns::table.find(id))
        .set(campaigns::status.eq(status))
        .execute(conn)
        .map(|_| ())
}
