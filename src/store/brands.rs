//! Brands.

use diesel::prelude::*;

use crate::db::schema::brands;
use crate::db::types::row;
use crate::db::AnyConnection;
use crate::domain::ids::BrandId;

row! {
    #[derive(Debug, Clone, Insertable)]
    pub struct BrandRow in brands {
        pub id: BrandId,
        pub name: String,
        pub created_at: i64,
    }
}

pub fn insert(conn: &mut AnyConnection, row: &BrandRow) -> QueryResult<()> {
    diesel::insert_into(brands::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn find(conn: &mut AnyConnection, id: &BrandId) -> QueryResult<Option<BrandRow>> {
    brands::table
        .find(id)
        .select(BrandRow::as_select())
        .first(conn)
        .optional()
}

/// Brands in id (creation) order, after `after` when given.
pub fn list(
    conn: &mut AnyConnection,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<BrandRow>> {
    let mut query = brands::table
        .select(BrandRow::as_select())
        .order(brands::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(brands::id.gt(after.to_string()));
    }
    query.load(conn)
}

/// How far a brand got in setting up: a shop connected, a campaign, an influencer, a click.
pub fn progress(conn: &mut AnyConnection, id: &BrandId) -> QueryResult<[bool; 4]> {
    use crate::db::schema::{campaigns, influencers, integrations, link_daily};
    use diesel::dsl::exists;
    let shop = diesel::select(exists(
        integrations::table.filter(integrations::brand_id.eq(id)),
    ))
    .get_result(conn)?;
    let campaign = diesel::select(exists(campaigns::table.filter(campaigns::brand_id.eq(id))))
        .get_result(conn)?;
    let influencer = diesel::select(exists(
        influencers::table
            .filter(influencers::brand_id.eq(id))
            .filter(influencers::deleted_at.is_null()),
    ))
    .get_result(conn)?;
    // From the daily rollups, by campaign (indexed): a click shows once folded (seconds).
    let click = diesel::select(exists(
        link_daily::table.filter(
            link_daily::campaign_id.eq_any(
                campaigns::table
                    .filter(campaigns::brand_id.eq(id))
                    .select(campaigns::id),
            ),
        ),
    ))
    .get_result(conn)?;
    Ok([shop, campaign, influencer, click])
}
