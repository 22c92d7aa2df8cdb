//! Instance-wide settings kept in the database (e.g. the operator token's hash).

use diesel::prelude::*;

use crate::db::schema::settings;
use crate::db::AnyConnection;

pub fn get(conn: &mut AnyConnection, name: &str) -> QueryResult<Option<String>> {
    settings::table
        .find(name)
        .select(settings::value)
        .first(conn)
        .optional()
}

/// Stores `value` under `name` unless a value is already there; returns the stored value,
/// so that two instances starting at once agree on one.
pub fn get_or_insert(conn: &mut AnyConnection, name: &str, value: &str) -> QueryResult<String> {
    // Not in a transaction: on PostgreSQL a unique violation would abort it, and the read
    // after a lost race must still work.
    if let Some(existing) = get(conn, name)? {
        return Ok(existing);
    }
    let inserted = diesel::insert_into(settings::table)
        .values((settings::name.eq(name), settings::value.eq(value)))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(value.to_string()),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => get(conn, name)?.ok_or(diesel::result::Error::NotFound),
        Err(e) => Err(e),
    }
}

pub fn set(conn: &mut AnyConnection, name: &str, value: &str) -> QueryResult<()> {
    conn.transaction(|conn| {
        let updated = diesel::update(settings::table.find(name))
            .set(settings::value.eq(value))
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(settings::table)
                .values((settings::name.eq(name), settings::value.eq(value)))
                .execute(conn)?;
        }
        Ok(())
    })
}
