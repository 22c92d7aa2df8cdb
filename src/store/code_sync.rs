//! Where each discount code stands in each connected shop.

use diesel::prelude::*;

use crate::db::schema::code_sync;
use crate::db::types::row;
use crate::db::{with_backend, AnyConnection};
use crate::domain::ids::{BrandId, CodeId};
use crate::domain::integrations::Platform;
use crate::domain::shop_sync::SyncStatus;

row! {
    #[derive(Debug, Clone, Insertable)]
    pub struct CodeSyncRow in code_sync {
        pub code_id: CodeId,
        pub platform: Platform,
        pub brand_id: BrandId,
        pub status: SyncStatus,
        /// The code's id in the shop, once created there (kept while later changes are pending).
        pub shop_id: Option<String>,
        pub error: Option<String>,
        pub updated_at: i64,
    }
}

/// Marks a code pending in a shop (a change is queued), keeping its shop id.
pub fn mark_pending(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    code_id: &CodeId,
    platform: Platform,
    now: i64,
) -> QueryResult<()> {
    let row = CodeSyncRow {
        code_id: code_id.clone(),
        platform,
        brand_id: brand_id.clone(),
        status: SyncStatus::Pending,
        shop_id: None,
        error: None,
        updated_at: now,
    };
    with_backend!(conn, |c| diesel::insert_into(code_sync::table)
        .values(&row)
        .on_conflict((code_sync::code_id, code_sync::platform))
        .do_update()
        .set((
            code_sync::status.eq(SyncStatus::Pending),
            code_sync::error.eq(None::<String>),
            code_sync::updated_at.eq(now),
        ))
        .execute(c))
    .map(|_| ())
}

/// Records where a code stands in a shop after a delivery.
pub fn record(
    conn: &mut AnyConnection,
    code_id: &CodeId,
    platform: Platform,
    status: SyncStatus,
    shop_id: Option<&str>,
    error: Option<&str>,
    now: i64,
) -> QueryResult<()> {
    let target = code_sync::table
        .filter(code_sync::code_id.eq(code_id))
        .filter(code_sync::platform.eq(platform));
    match shop_id {
        Some(shop_id) => diesel::update(target)
            .set((
                code_sync::status.eq(status),
                code_sync::shop_id.eq(shop_id),
                code_sync::error.eq(error),
                code_sync::updated_at.eq(now),
            ))
            .execute(conn),
        None => diesel::update(target)
            .set((
                code_sync::status.eq(status),
                code_sync::error.eq(error),
                code_sync::updated_at.eq(now),
            ))
            .execute(conn),
    }
    .map(|_| ())
}

pub fn find(
    conn: &mut AnyConnection,
    code_id: &CodeId,
    platform: Platform,
) -> QueryResult<Option<CodeSyncRow>> {
    code_sync::table
        .filter(code_sync::code_id.eq(code_id))
        .filter(code_sync::platform.eq(platform))
        .select(CodeSyncRow::as_select())
        .first(conn)
        .optional()
}

/// The states of these codes in every shop, by code then platform.
pub fn of_codes(conn: &mut AnyConnection, ids: &[CodeId]) -> QueryResult<Vec<CodeSyncRow>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut out = Vec::new();
    // Bounded lists: SQLite caps the parameters of a statement.
    for chunk in ids.chunks(500) {
        out.extend(
            code_sync::table
                .filter(code_sync::code_id.eq_any(chunk))
                .order((code_sync::code_id.asc(), code_sync::platform.asc()))
                .select(CodeSyncRow::as_select())
                .load(conn)?,
        );
    }
    Ok(out)
}

pub fn delete(conn: &mut AnyConnection, code_id: &CodeId, platform: Platform) -> QueryResult<()> {
    diesel::delete(
        code_sync::table
            .filter(code_sync::code_id.eq(code_id))
            .filter(code_sync::platform.eq(platform)),
    )
    .execute(conn)
    .map(|_| ())
}

/// Forgets a brand's codes in one shop (it was disconnected).
pub fn delete_platform(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    platform: Platform,
) -> QueryResult<()> {
    diesel::delete(
        code_sync::table
            .filter(code_sync::brand_id.eq(brand_id))
            .filter(code_sync::platform.eq(platform)),
    )
    .execute(conn)
    .map(|_| ())
}
