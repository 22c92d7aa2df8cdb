//! API keys (their hashes; never the keys).

use diesel::prelude::*;

use crate::db::schema::api_keys;
use crate::db::types::row;
use crate::db::{with_backend, AnyConnection};
use crate::domain::ids::{BrandId, InfluencerId, KeyId};
use crate::domain::scope::Scope;

row! {
    #[derive(Debug, Clone, Insertable)]
    pub struct KeyRow in api_keys {
        pub id: KeyId,
        pub brand_id: BrandId,
        pub lookup: String,
        pub secret_hash: String,
        pub scope: Scope,
        pub name: String,
        pub influencer_id: Option<InfluencerId>,
        pub created_at: i64,
        pub revoked_at: Option<i64>,
    }
}

pub fn insert(conn: &mut AnyConnection, row: &KeyRow) -> QueryResult<()> {
    diesel::insert_into(api_keys::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn find_by_lookup(conn: &mut AnyConnection, lookup: &str) -> QueryResult<Option<KeyRow>> {
    with_backend!(conn, |c| api_keys::table
        .filter(api_keys::lookup.eq(lookup))
        .select(KeyRow::as_select())
        .first(c)
        .optional())
}

/// A key by id; of `brand` only when given.
pub fn find(
    conn: &mut AnyConnection,
    brand: Option<&BrandId>,
    id: &KeyId,
) -> QueryResult<Option<KeyRow>> {
    let mut query = api_keys::table
        .filter(api_keys::id.eq(id))
        .select(KeyRow::as_select())
        .into_boxed();
    if let Some(brand) = brand {
        query = query.filter(api_keys::brand_id.eq(brand));
    }
    query.first(conn).optional()
}

pub fn list_for_brand(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<KeyRow>> {
    let mut query = api_keys::table
        .filter(api_keys::brand_id.eq(brand_id))
        .select(KeyRow::as_select())
        .order(api_keys::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(api_keys::id.gt(after.to_string()));
    }
    query.load(conn)
}

/// Marks the key revoked; revoking twice keeps the first time.
pub fn revoke(conn: &mut AnyConnection, id: &KeyId, at: i64) -> QueryResult<()> {
    diesel::update(
        api_keys::table
            .filter(api_keys::id.eq(id))
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(Some(at)))
    .execute(conn)
    .map(|_| ())
}

/// Revokes every key of an influencer (when the influencer is deleted); returns how many.
pub fn revoke_of_influencer(
    conn: &mut AnyConnection,
    influencer_id: &InfluencerId,
    at: i64,
) -> QueryResult<usize> {
    diesel::update(
        api_keys::table
            .filter(api_keys::influencer_id.eq(influencer_id))
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(Some(at)))
    .execute(conn)
}
