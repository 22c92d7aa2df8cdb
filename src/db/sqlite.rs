//! SQLite: the pragmas of every connection, the clicks in their own attached file, and the
//! WAL checkpoints that keep both files' logs short under a steady writer.

use diesel::connection::SimpleConnection;
use diesel::r2d2::CustomizeConnection;
use diesel::{Connection, SqliteConnection};

pub use crate::db::locks::WalFile;
use crate::db::locks::WriterTurn;
use crate::db::{AnyConnection, DatabaseUrl};

/// The schema name of the SQLite file that holds the clicks, attached to every connection.
pub(crate) const CLICKS_SCHEMA: &str = "clickdb";

/// SQLite settings applied to every pooled connection: WAL so readers never block the writer,
/// a busy timeout so concurrent writers wait instead of failing, enforced foreign keys, and
/// the clicks file attached (see [`clicks_file`]).
/// (Memory-mapping the file was measured and left out: with many connections and a growing
/// file, the remapping and its TLB shootdowns cost more than the `pread` copies it saves —
/// order benchmark 1,490 vs 1,840 orders/s.)
#[derive(Debug, Clone)]
pub(crate) struct SqlitePragmas {
    clicks: String,
}

impl SqlitePragmas {
    pub(crate) fn new(url: &DatabaseUrl) -> Self {
        Self {
            clicks: clicks_file(&url.url),
        }
    }

    pub(crate) fn apply(&self, c: &mut SqliteConnection) -> diesel::QueryResult<()> {
        // The busy timeout first: `journal_mode` takes a lock, and without the timeout a
        // connection opened while another is being set up failed at once with "database is
        // locked" (seen once in ~30 runs of `clicks_move_into_their_own_file`). Temporary
        // storage in memory keeps each savepoint's sub-journal (one per order in a group
        // commit) out of a temporary file: its writes were a third of an order's system time.
        c.batch_execute(
            "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
             PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
             PRAGMA journal_size_limit = 268435456; PRAGMA temp_store = MEMORY;",
        )?;
        diesel::RunQueryDsl::execute(
            diesel::sql_query(format!("ATTACH DATABASE ? AS {CLICKS_SCHEMA}"))
                .bind::<diesel::sql_types::Text, _>(&self.clicks),
            c,
        )?;
        // The clicks' WAL keeps its size between rewinds (up to 1 GiB, about a second of
        // writes at full speed): cut back to 256 MiB after each rewind, it grew again block by
        // block, and the allocations made its fsyncs and the writer's appends stall — 30–40 ms
        // pauses that held every waiting redirect (p99 38 ms instead of 5 ms, SQLite, 64
        // connections).
        c.batch_execute(&format!(
            "PRAGMA {CLICKS_SCHEMA}.journal_mode = WAL; PRAGMA {CLICKS_SCHEMA}.synchronous = NORMAL; \
             PRAGMA {CLICKS_SCHEMA}.journal_size_limit = 1073741824;"
        ))
    }
}

impl CustomizeConnection<AnyConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut AnyConnection) -> Result<(), diesel::r2d2::Error> {
        if let AnyConnection::Sqlite(c) = conn {
            self.apply(c).map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

/// The file beside a SQLite database that holds its clicks: `influtrack.db` keeps them in
/// `influtrack.clicks.db`. SQLite locks each file on its own, so the click writer never waits
/// for another writer (the rollup fold holds the main file's lock for ~100 ms at 10,000
/// links, and every redirect waiting on a click commit waited with it). Unqualified, the
/// table name `clicks` resolves to the attached file, so queries do not name it.
pub fn clicks_file(path: &str) -> String {
    match path.strip_suffix(".db") {
        Some(stem) => format!("{stem}.clicks.db"),
        None => format!("{path}.clicks"),
    }
}

/// Moves the clicks of a database made before they had their own file (or by a migration,
/// which creates the table in the main file) into the attached clicks file: a durable copy,
/// then the drop. Idempotent: if a crash left both copies, the rows already moved are
/// skipped.
pub(crate) fn move_clicks_to_their_file(c: &mut SqliteConnection) -> diesel::QueryResult<()> {
    #[derive(diesel::QueryableByName)]
    struct Ddl {
        #[diesel(sql_type = diesel::sql_types::Text)]
        sql: String,
    }
    let ddl: Option<Ddl> = diesel::OptionalExtension::optional(diesel::RunQueryDsl::get_result(
        diesel::sql_query(
            "SELECT sql FROM main.sqlite_master WHERE type = 'table' AND name = 'clicks'",
        ),
        c,
    ))?;
    let Some(ddl) = ddl else { return Ok(()) };
    let create = ddl.sql.replacen(
        "CREATE TABLE clicks",
        &format!("CREATE TABLE IF NOT EXISTS {CLICKS_SCHEMA}.clicks"),
        1,
    );
    // Two steps, because a transaction across attached WAL files is atomic per file only: the
    // copy is committed and checkpointed into the clicks file (fsynced) before the original
    // is dropped, so no crash can keep the drop and lose the copy. A crash in between leaves
    // both copies, and the next start skips the rows already moved.
    let moved = c.transaction(|c| {
        c.batch_execute(&create)?;
        diesel::RunQueryDsl::execute(
            diesel::sql_query(format!(
                "INSERT OR IGNORE INTO {CLICKS_SCHEMA}.clicks SELECT * FROM main.clicks"
            )),
            c,
        )
    })?;
    c.batch_execute(&format!("PRAGMA {CLICKS_SCHEMA}.wal_checkpoint(FULL)"))?;
    c.batch_execute("DROP TABLE main.clicks")?;
    if moved > 0 {
        tracing::info!(clicks = moved, "clicks moved into their own file");
    }
    Ok(())
}

/// What one `PRAGMA wal_checkpoint` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::QueryableByName)]
pub struct WalCheckpoint {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub busy: i32,
    /// Frames in the WAL.
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub log: i32,
    /// Frames of it copied back into the database file.
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub checkpointed: i32,
}

/// Copies one file's WAL back into the database file and lets the next writer rewind it to
/// its start, holding up this process's writers of that file only for the last few frames.
///
/// A passive checkpoint copies the frames that were there when it started; SQLite rewinds
/// the WAL only when a write transaction begins on a log that is copied in full. The click
/// writer starts its next batch microseconds after each commit, so a checkpoint on another
/// thread never lands in that gap: with one passive checkpoint a second the WAL grew without
/// bound (1.5 GB in a 25-second redirect benchmark) and every commit extended the file. So:
/// passive rounds first, without any lock (the bulk of the copying and the fsyncs), each one
/// copying what was appended during the one before; then one more holding the in-process
/// write lock, so that no batch can start before the log is copied in full.
///
/// The last round costs the writers a pause (a copy of the frames written since the round
/// before and two fsyncs): run each second, it mostly takes under 1 ms.
pub fn checkpoint_wal(
    conn: &mut diesel::SqliteConnection,
    file: WalFile,
    max_rounds: usize,
) -> diesel::QueryResult<WalCheckpoint> {
    let mut prev = passive_checkpoint(conn, file)?;
    let mut last_appended = i32::MAX;
    for _ in 1..max_rounds {
        if prev.busy != 0 || prev.log <= 0 {
            return Ok(prev);
        }
        let next = passive_checkpoint(conn, file)?;
        let appended = next.log - prev.log;
        prev = next;
        // Small enough to copy under the lock, or no longer shrinking (a writer as fast as
        // the copy): take the lock now rather than let the WAL grow.
        if appended <= WAL_REWIND_REMAINDER || appended >= last_appended {
            break;
        }
        last_appended = appended;
    }
    if prev.busy != 0 || prev.log <= 0 {
        return Ok(prev);
    }
    let turn = WriterTurn::wait(file);
    let locked = std::time::Instant::now();
    let done = passive_checkpoint(conn, file);
    drop(turn);
    metrics::histogram!("wal_rewind_locked_seconds", "file" => file.label())
        .record(locked.elapsed().as_secs_f64());
    done
}

/// The schema name a file's pragmas address.
fn schema(file: WalFile) -> &'static str {
    match file {
        WalFile::Main => "main",
        WalFile::Clicks => CLICKS_SCHEMA,
    }
}

/// Frames appended during a passive round below which the last round takes the write lock.
const WAL_REWIND_REMAINDER: i32 = 256;

fn passive_checkpoint(
    conn: &mut diesel::SqliteConnection,
    file: WalFile,
) -> diesel::QueryResult<WalCheckpoint> {
    diesel::RunQueryDsl::get_result(
        diesel::sql_query(format!("PRAGMA {}.wal_checkpoint(PASSIVE)", schema(file))),
        conn,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{
        connect, open_connection, run_migrations, write_transaction, AnyConnection, Backend,
        DatabaseUrl,
    };
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, SqliteConnection};
    use diesel_migrations::MigrationHarness;
    use std::time::Duration;

    /// A writer that never pauses and checkpoints beside it, as the rollup thread runs them:
    /// the WAL must be rewound while the writer goes on, not only once it stops. Without a
    /// rewind its frame count can only grow, so a count lower than the one before is one.
    #[test]
    fn the_wal_is_rewound_under_a_steady_writer() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.db");
        let url = DatabaseUrl::parse(path.to_str().unwrap()).unwrap();
        let mut writer = open_connection(&url).unwrap();
        run_migrations(&mut writer, Backend::Sqlite).unwrap();
        writer
            .batch_execute(
                "PRAGMA wal_autocheckpoint = 0; \
                 CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL);",
            )
            .unwrap();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let writing = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let deadline = std::time::Instant::now() + Duration::from_secs(30);
                let mut transactions = 0_u64;
                // Eight 2 KB rows a transaction, without a pause, queued on the write lock
                // like the click writer.
                while !stop.load(Ordering::Relaxed) && std::time::Instant::now() < deadline {
                    write_transaction(&mut writer, |c| {
                        c.batch_execute(
                            "INSERT INTO t (body) SELECT randomblob(2048) FROM \
                             (SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 \
                              UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 \
                              UNION ALL SELECT 8)",
                        )
                    })
                    .unwrap();
                    transactions += 1;
                }
                transactions
            })
        };
        let mut checkpointer = open_connection(&url).unwrap();
        let AnyConnection::Sqlite(c) = &mut checkpointer else {
            unreachable!()
        };
        let (mut rewinds, mut frames) = (0, 0);
        while !writing.is_finished() && rewinds < 5 {
            std::thread::sleep(Duration::from_millis(20));
            let done = checkpoint_wal(c, WalFile::Main, 16).unwrap();
            if done.log < frames {
                rewinds += 1;
            }
            frames = done.log;
        }
        // Counted before the writer is stopped: every rewind happened while it was writing.
        let rewound_while_writing = rewinds;
        stop.store(true, Ordering::Relaxed);
        let transactions = writing.join().unwrap();
        assert!(
            rewound_while_writing >= 5,
            "the WAL was rewound {rewound_while_writing} times during {transactions} transactions"
        );
    }

    /// A database made before the clicks had their own file: its clicks move there when it
    /// is opened, once, and a copy left in both files (a crash during the move) is not
    /// counted twice.
    #[test]
    fn clicks_move_into_their_own_file() {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let count = |conn: &mut AnyConnection, sql: &str| -> i64 {
            let AnyConnection::Sqlite(c) = conn else {
                unreachable!()
            };
            diesel::sql_query(sql).get_result::<N>(c).unwrap().n
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let path = path.to_str().unwrap();
        // The old layout: the migrations on a connection without the clicks file.
        let mut old = SqliteConnection::establish(path).unwrap();
        old.run_pending_migrations(crate::db::SQLITE_MIGRATIONS)
            .unwrap();
        old.batch_execute(
            "INSERT INTO clicks VALUES ('0190a000-0000-7000-8000-000000000001', 'l', 'b', 'c', \
             'e', 'i', 1, 'h', 'human', 1, NULL, 'desktop', 'Chrome', 'Linux', NULL), \
             ('0190a000-0000-7000-8000-000000000002', 'l', 'b', 'c', 'e', 'i', 2, 'h', 'bot', \
             0, NULL, 'desktop', 'Chrome', 'Linux', NULL);",
        )
        .unwrap();
        drop(old);

        let url = DatabaseUrl::parse(path).unwrap();
        drop(connect(&url, 2).unwrap());
        assert!(std::path::Path::new(&clicks_file(path)).exists());
        let mut conn = open_connection(&url).unwrap();
        let in_main = "SELECT count(*) AS n FROM main.sqlite_master WHERE name = 'clicks'";
        assert_eq!(count(&mut conn, in_main), 0);
        assert_eq!(
            count(&mut conn, "SELECT count(*) AS n FROM clickdb.clicks"),
            2
        );

        // A move cut short: the rows are in both files (and a new one only in main).
        conn.batch_execute(
            "CREATE TABLE main.clicks AS SELECT * FROM clickdb.clicks; \
             UPDATE main.clicks SET id = '0190a000-0000-7000-8000-000000000003' \
             WHERE id LIKE '%1';",
        )
        .unwrap();
        run_migrations(&mut conn, Backend::Sqlite).unwrap();
        assert_eq!(count(&mut conn, in_main), 0);
        assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM clicks"), 3);
        // Opening again moves nothing.
        drop(conn);
        drop(connect(&url, 2).unwrap());
        let mut conn = open_connection(&url).unwrap();
        assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM clicks"), 3);
    }
}
