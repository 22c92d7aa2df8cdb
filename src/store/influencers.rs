use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::schema::{influencer_platforms, influencer_tags, influencers};
use crate::db::types::row;
use crate::db::{with_backend, AnyConnection};
use crate::domain::ids::{BrandId, InfluencerId};

row! {
    #[derive(Debug, Clone, Insertable)]
    pub struct InfluencerRow in influencers {
        pub id: InfluencerId,
        pub brand_id: BrandId,
        pub handle: String,
        pub handle_norm: String,
        pub display_name: String,
        pub email: Option<String>,
        pub created_at: i64,
        pub updated_at: i64,
        pub deleted_at: Option<i64>,
    }
}

row! {
    #[derive(Debug, Clone, Insertable)]
    pub struct PlatformRow in influencer_platforms {
        pub influencer_id: InfluencerId,
        pub position: i32,
        pub platform: String,
        pub handle: String,
        pub followers: Option<i64>,
    }
}

#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = influencers)]
pub struct InfluencerUpdate {
    pub handle: Option<String>,
    pub handle_norm: Option<String>,
    pub display_name: Option<String>,
    pub email: Option<Option<String>>,
    pub updated_at: Option<i64>,
}

/// An influencer with its platforms and tags, as stored.
#[derive(Debug, Clone)]
pub struct Influencer {
    pub row: InfluencerRow,
    pub platforms: Vec<PlatformRow>,
    pub tags: Vec<String>,
}

pub fn insert(
    conn: &mut AnyConnection,
    row: &InfluencerRow,
    platforms: &[PlatformRow],
    tags: &[String],
) -> QueryResult<()> {
    diesel::insert_into(influencers::table)
        .values(row)
        .execute(conn)?;
    replace_details(conn, &row.id, Some(platforms), Some(tags))
}

/// Replaces the platforms and/or tags of an influencer (whichever is given).
pub fn replace_details(
    conn: &mut AnyConnection,
    id: &InfluencerId,
    platforms: Option<&[PlatformRow]>,
    tags: Option<&[String]>,
) -> QueryResult<()> {
    if let Some(platforms) = platforms {
        diesel::delete(
            influencer_platforms::table.filter(influencer_platforms::influencer_id.eq(id)),
        )
        .execute(conn)?;
        for p in platforms {
            diesel::insert_into(influencer_platforms::table)
                .values(p)
                .execute(conn)?;
        }
    }
    if let Some(tags) = tags {
        diesel::delete(influencer_tags::table.filter(influencer_tags::influencer_id.eq(id)))
            .execute(conn)?;
        for tag in tags {
            diesel::insert_into(influencer_tags::table)
                .values((
                    influencer_tags::influencer_id.eq(id),
                    influencer_tags::tag.eq(tag),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// A live (not deleted) influencer of the brand.
pub fn find_row(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    id: &InfluencerId,
) -> QueryResult<Option<InfluencerRow>> {
    influencers::table
        .filter(influencers::id.eq(id))
        .filter(influencers::brand_id.eq(brand_id))
        .filter(influencers::deleted_at.is_null())
        .select(InfluencerRow::as_select())
        .first(conn)
        .optional()
}

pub fn find(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    id: &InfluencerId,
) -> QueryResult<Option<Influencer>> {
    match find_row(conn, brand_id, id)? {
        Some(row) => Ok(with_details(conn, vec![row])?.pop()),
        None => Ok(None),
    }
}

#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    pub tag: Option<String>,
    pub platform: Option<String>,
    /// Part of the handle, case-insensitive.
    pub search: Option<String>,
}

/// Escapes LIKE wildcards so that a search for `a_b` matches only that text.
fn like_pattern(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

pub fn list(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    filter: &ListFilter,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<Influencer>> {
    let mut query = influencers::table
        .filter(influencers::brand_id.eq(brand_id))
        .filter(influencers::deleted_at.is_null())
        .select(InfluencerRow::as_select())
        .order(influencers::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(influencers::id.gt(after.to_string()));
    }
    if let Some(tag) = &filter.tag {
        query = query.filter(
            influencers::id.eq_any(
                influencer_tags::table
                    .filter(influencer_tags::tag.eq(tag.to_lowercase()))
                    .select(influencer_tags::influencer_id),
            ),
        );
    }
    if let Some(platform) = &filter.platform {
        query = query.filter(
            influencers::id.eq_any(
                influencer_platforms::table
                    .filter(influencer_platforms::platform.eq(platform.to_lowercase()))
                    .select(influencer_platforms::influencer_id),
            ),
        );
    }
    if let Some(search) = &filter.search {
        query = query.filter(
            influencers::handle_norm
                .like(like_pattern(&search.to_lowercase()))
                .escape('\\'),
        );
    }
    let rows = query.load(conn)?;
    with_details(conn, rows)
}

fn with_details(
    conn: &mut AnyConnection,
    rows: Vec<InfluencerRow>,
) -> QueryResult<Vec<Influencer>> {
    let ids: Vec<&InfluencerId> = rows.iter().map(|r| &r.id).collect();
    let platforms: Vec<PlatformRow> = influencer_platforms::table
        .filter(influencer_platforms::influencer_id.eq_any(&ids))
        .order((
            influencer_platforms::influencer_id,
            influencer_platforms::position,
        ))
        .select(PlatformRow::as_select())
        .load(conn)?;
    let tags: Vec<(InfluencerId, String)> = influencer_tags::table
        .filter(influencer_tags::influencer_id.eq_any(&ids))
        .order((influencer_tags::influencer_id, influencer_tags::tag))
        .select((influencer_tags::influencer_id, influencer_tags::tag))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| Influencer {
            platforms: platforms
                .iter()
                .filter(|p| p.influencer_id == row.id)
                .cloned()
                .collect(),
            tags: tags
                .iter()
                .filter(|(id, _)| *id == row.id)
                .map(|(_, t)| t.clone())
                .collect(),
            row,
        })
        .collect())
}

pub fn update(
    conn: &mut AnyConnection,
    id: &InfluencerId,
    changes: &InfluencerUpdate,
) -> QueryResult<()> {
    diesel::update(influencers::table.find(id))
        .set(changes)
        .execute(conn)
        .map(|_| ())
}

pub fn soft_delete(conn: &mut AnyConnection, id: &InfluencerId, at: i64) -> QueryResult<()> {
    diesel::update(influencers::table.find(id))
        .set(influencers::deleted_at.eq(Some(at)))
        .execute(conn)
        .map(|_| ())
}

/// The handle of one influencer, deleted or not.
pub fn handle(conn: &mut AnyConnection, id: &InfluencerId) -> QueryResult<String> {
    Ok(handles(conn, [id])?.remove(id).unwrap_or_default())
}

/// Handles of influencers by id (repeats allowed), deleted ones included: history keeps its
/// names.
pub fn handles<'a>(
    conn: &mut AnyConnection,
    ids: impl IntoIterator<Item = &'a InfluencerId>,
) -> QueryResult<HashMap<InfluencerId, String>> {
    let mut ids: Vec<&InfluencerId> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    let rows: Vec<(InfluencerId, String)> = match ids.as_slice() {
        [] => Vec::new(),
        // One id (most orders) as `=`: a statement diesel caches, where an IN list is prepared
        // afresh on SQLite every time.
        [id] => with_backend!(conn, |c| influencers::table
            .filter(influencers::id.eq(*id))
            .select((influencers::id, influencers::handle))
            .load(c))?,
        _ => influencers::table
            .filter(influencers::id.eq_any(ids))
            .select((influencers::id, influencers::handle))
            .load(conn)?,
    };
    Ok(rows.into_iter().collect())
}

/// How to recognise an influencer as a customer: the normalised handle and the e-mail.
pub fn contact(
    conn: &mut AnyConnection,
    id: &InfluencerId,
) -> QueryResult<Option<(String, Option<String>)>> {
    with_backend!(conn, |c| influencers::table
        .find(id)
        .select((influencers::handle_norm, influencers::email))
        .first(c)
        .optional())
}
