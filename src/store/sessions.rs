//! Dashboard sessions: the SHA-256 of each cookie's secret, its key and its expiry.

use diesel::prelude::*;

use crate::db::schema::{api_keys, dashboard_sessions};
use crate::db::types::row;
use crate::db::{with_backend, AnyConnection};
use crate::domain::ids::KeyId;
use crate::store::keys::KeyRow;
use dashboard_sessions as s;

row! {
    #[derive(Debug, Clone, Insertable)]
    pub struct SessionRow in dashboard_sessions {
        /// SHA-256 (hex) of the cookie's secret.
        pub id: String,
        pub key_id: KeyId,
        pub created_at: i64,
        pub last_seen_at: i64,
        pub expires_at: i64,
    }
}

pub fn insert(conn: &mut AnyConnection, row: &SessionRow) -> QueryResult<()> {
    diesel::insert_into(s::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// A session with its key, whatever their state (the caller judges expiry and revocation).
pub fn find(conn: &mut AnyConnection, id: &str) -> QueryResult<Option<(SessionRow, KeyRow)>> {
    with_backend!(conn, |c| s::table
        .inner_join(api_keys::table)
        .filter(s::id.eq(id))
        .select((SessionRow::as_select(), KeyRow::as_select()))
        .first(c)
        .optional())
}

/// Moves a session's idle expiry on.
pub fn touch(conn: &mut AnyConnection, id: &str, at: i64, expires_at: i64) -> QueryResult<()> {
    diesel::update(s::table.find(id))
        .set((s::last_seen_at.eq(at), s::expires_at.eq(expires_at)))
        .execute(conn)
        .map(|_| ())
}

pub fn delete(conn: &mut AnyConnection, id: &str) -> QueryResult<usize> {
    diesel::delete(s::table.find(id)).execute(conn)
}

/// Ends every session of a key (when it is revoked).
pub fn delete_of_key(conn: &mut AnyConnection, key_id: &KeyId) -> QueryResult<usize> {
    diesel::delete(s::table.filter(s::key_id.eq(key_id))).execute(conn)
}

/// Ends every session of the keys of an influencer (when it is deleted).
pub fn delete_of_influencer(
    conn: &mut AnyConnection,
    influencer_id: &crate::domain::ids::InfluencerId,
) -> QueryResult<usize> {
    let keys = api_keys::table
        .filter(api_keys::influencer_id.eq(influencer_id))
        .select(api_keys::id);
    diesel::delete(s::table.filter(s::key_id.eq_any(keys))).execute(conn)
}

/// Forgets sessions past their expiry.
pub fn delete_expired(conn: &mut AnyConnection, now: i64) -> QueryResult<usize> {
    diesel::delete(s::table.filter(s::expires_at.le(now))).execute(conn)
}
