use diesel::prelude::*;

use crate::db::schema::campaigns;
use crate::db::AnyConnection;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = campaigns)]
pub struct CampaignRow {
    pub id: String,
    pub brand_id: String,
    pub name: String,
    pub slug: String,
    pub destination_url: String,
    pub currency: String,
    pub budget_micros: Option<i64>,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub status: String,
    pub goal_metric: Option<String>,
    pub goal_target_micros: Option<i64>,
    pub attribution_model: String,
    pub window_days: i32,
    pub code_priority: bool,
    pub holding_days: i32,
    pub created_at: i64,
    pub updated_at: i64,
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
    pub status: Option<String>,
    pub goal_metric: Option<Option<String>>,
    pub goal_target_micros: Option<Option<i64>>,
    pub attribution_model: Option<String>,
    pub window_days: Option<i32>,
    pub code_priority: Option<bool>,
    pub holding_days: Option<i32>,
    pub updated_at: Option<i64>,
}

pub fn insert(conn: &mut AnyConnection, row: &CampaignRow) -> QueryResult<()> {
    diesel::insert_into(campaigns::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn find(
    conn: &mut AnyConnection,
    brand_id: &str,
    id: &str,
) -> QueryResult<Option<CampaignRow>> {
    crate::with_backend!(conn, |c| campaigns::table
        .filter(campaigns::id.eq(id))
        .filter(campaigns::brand_id.eq(brand_id))
        .select(CampaignRow::as_select())
        .first(c)
        .optional())
}

pub fn find_by_id(conn: &mut AnyConnection, id: &str) -> QueryResult<Option<CampaignRow>> {
    campaigns::table
        .find(id)
        .select(CampaignRow::as_select())
        .first(conn)
        .optional()
}

pub fn slug_taken(conn: &mut AnyConnection, brand_id: &str, slug: &str) -> QueryResult<bool> {
    let n: i64 = campaigns::table
        .filter(campaigns::brand_id.eq(brand_id))
        .filter(campaigns::slug.eq(slug))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

pub fn list(
    conn: &mut AnyConnection,
    brand_id: &str,
    status: Option<&str>,
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
        query = query.filter(campaigns::status.eq(status.to_string()));
    }
    if let Some(after) = after {
        query = query.filter(campaigns::id.gt(after.to_string()));
    }
    query.load(conn)
}

pub fn update(conn: &mut AnyConnection, id: &str, changes: &CampaignUpdate) -> QueryResult<()> {
    diesel::update(campaigns::table.find(id))
        .set(changes)
        .execute(conn)
        .map(|_| ())
}
