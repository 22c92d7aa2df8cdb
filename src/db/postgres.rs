//! PostgreSQL upkeep for servers run without autovacuum.

use diesel::connection::SimpleConnection;
use diesel::PgConnection;

/// A table that PostgreSQL's own rules say needs a vacuum or an analyze.
#[derive(Debug, diesel::QueryableByName)]
struct DueTable {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    vacuum: bool,
}

/// Whether the PostgreSQL server runs autovacuum.
pub fn autovacuum_on(conn: &mut PgConnection) -> diesel::QueryResult<bool> {
    diesel::RunQueryDsl::get_result(
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
            "current_setting('autovacuum') = 'on'",
        )),
        conn,
    )
}

/// What autovacuum would do to this schema's tables now, done on this connection: a vacuum
/// (with an analyze) where dead rows exceed 50 + 20% of the live ones, an analyze where
/// changes since the last one exceed 50 + 10% (PostgreSQL's default thresholds). Returns the
/// tables it maintained.
///
/// For servers run with autovacuum off (the rollup thread calls it then): without it the
/// planner never learns that `orders` grew, and a cached generic plan looked an order up by
/// scanning all of its brand's orders (500 ms per lookup at 140,000 orders, ingestion down
/// from ~840 to ~25 orders/s); the all-time rollup rows also pile up dead versions.
pub fn maintain_postgres(conn: &mut PgConnection) -> diesel::QueryResult<Vec<String>> {
    // One instance at a time (several on one database would vacuum the same tables at once):
    // a session lock, since VACUUM runs outside a transaction, released with the session if
    // this one dies, so that another instance takes over at its next turn.
    #[derive(diesel::QueryableByName)]
    struct Taken {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        taken: bool,
    }
    let taken: Taken = diesel::RunQueryDsl::get_result(
        diesel::sql_query("SELECT pg_try_advisory_lock(7336003) AS taken"),
        conn,
    )?;
    if !taken.taken {
        return Ok(Vec::new());
    }
    let done = maintain_due(conn);
    let released = diesel::RunQueryDsl::execute(
        diesel::sql_query("SELECT pg_advisory_unlock(7336003)"),
        conn,
    );
    let done = done?;
    released?;
    Ok(done)
}

fn maintain_due(conn: &mut PgConnection) -> diesel::QueryResult<Vec<String>> {
    let due: Vec<DueTable> = diesel::RunQueryDsl::load(
        diesel::sql_query(
            "SELECT relname::text AS name, n_dead_tup > 50 + 0.2 * n_live_tup AS vacuum \
             FROM pg_stat_user_tables WHERE schemaname = current_schema() \
             AND (n_dead_tup > 50 + 0.2 * n_live_tup \
                  OR n_mod_since_analyze > 50 + 0.1 * n_live_tup) \
             ORDER BY relname",
        ),
        conn,
    )?;
    let mut done = Vec::with_capacity(due.len());
    for table in due {
        let quoted = format!("\"{}\"", table.name.replace('"', "\"\""));
        // VACUUM cannot run in a transaction: each statement runs on its own.
        conn.batch_execute(&if table.vacuum {
            format!("VACUUM (ANALYZE) {quoted}")
        } else {
            format!("ANALYZE {quoted}")
        })?;
        done.push(table.name);
    }
    Ok(done)
}
