//! The database layer: one connection type over SQLite and PostgreSQL, a pool, and the
//! embedded migrations of both backends.

pub mod schema;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to whichever backend the database URL names.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

/// Runs the same diesel expression on the concrete connection inside an [`AnyConnection`].
/// For the few statements the portable backend cannot express (upserts), where both dialects
/// share diesel's syntax but not its types, and for the hot reads and inserts of an order:
/// through `AnyConnection` diesel serialises a statement's whole SQL text up to three times
/// per execution (to look up its cache, to check it may be cached, to bind), ~30,000
/// instructions a statement, a quarter of what recording an order cost on SQLite.
#[macro_export]
macro_rules! with_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::AnyConnection::Postgresql($c) => $body,
            $crate::db::AnyConnection::Sqlite($c) => $body,
        }
    };
}

/// Writes a list of rows with the insert statement `$stmt` built from `$v`: on SQLite one
/// statement per row (`$v` is a row), which diesel prepares once and caches, because parsing a
/// fresh multi-row statement costs more than running a prepared one again in-process; on
/// PostgreSQL multi-row statements of at most `$chunk` rows (`$v` is a slice), one round trip
/// each. `$stmt` is the statement without `.execute`.
#[macro_export]
macro_rules! write_rows {
    ($conn:expr, $rows:expr, $chunk:expr, |$v:ident| $stmt:expr) => {
        match $conn {
            $crate::db::AnyConnection::Sqlite(c) => {
                for $v in $rows.iter() {
                    diesel::RunQueryDsl::execute($stmt, c)?;
                }
            }
            $crate::db::AnyConnection::Postgresql(c) => {
                for $v in $rows.chunks($chunk) {
                    diesel::RunQueryDsl::execute($stmt, c)?;
                }
            }
        }
    };
}

/// A bound value of a [`Fixed`] statement. The arrays are PostgreSQL's (`unnest`).
#[derive(Debug, Clone)]
pub enum Bind<'a> {
    Text(&'a str),
    Int(i32),
    BigInt(i64),
    TextArray(Vec<&'a str>),
    BigIntArray(Vec<i64>),
}

/// A statement whose SQL is a constant, with `?` placeholders for `binds` (written as `$n` on
/// PostgreSQL). diesel does
/// not cache the prepared statements of upserts and updates (their SQL can vary in general), so
/// each was parsed and planned again on every call: in the order benchmark SQLite's parser
/// took ~19% of all instructions, most of it for the daily rollup upsert. This one is cached
/// by its (constant) SQL text, prepared once per connection.
#[derive(Debug, Clone)]
pub struct Fixed<'a> {
    pub sql: &'static str,
    pub binds: Vec<Bind<'a>>,
}

fn fixed_error(what: &str) -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError(format!("a fixed statement has {what}").into())
}

impl Fixed<'_> {
    /// The SQL with each `?` replaced by the next value, bound by `bind`.
    fn walk<'b, DB: diesel::backend::Backend>(
        &'b self,
        out: &mut diesel::query_builder::AstPass<'_, 'b, DB>,
        mut bind: impl FnMut(
            &mut diesel::query_builder::AstPass<'_, 'b, DB>,
            &'b Bind<'_>,
        ) -> diesel::QueryResult<()>,
    ) -> diesel::QueryResult<()> {
        let mut parts = self.sql.split('?');
        out.push_sql(parts.next().unwrap_or_default());
        let mut binds = self.binds.iter();
        for part in parts {
            let value = binds
                .next()
                .ok_or_else(|| fixed_error("more placeholders than values"))?;
            bind(out, value)?;
            out.push_sql(part);
        }
        if binds.next().is_some() {
            return Err(fixed_error("more values than placeholders"));
        }
        Ok(())
    }
}

impl diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for Fixed<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> diesel::QueryResult<()> {
        use diesel::sql_types::{BigInt, Integer, Text};
        self.walk(&mut out, |out, value| match value {
            Bind::Text(v) => out.push_bind_param::<Text, str>(v),
            Bind::Int(v) => out.push_bind_param::<Integer, i32>(v),
            Bind::BigInt(v) => out.push_bind_param::<BigInt, i64>(v),
            _ => Err(fixed_error("an array value (PostgreSQL only)")),
        })
    }
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for Fixed<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        use diesel::sql_types::{Array, BigInt, Integer, Text};
        self.walk(&mut out, |out, value| match value {
            Bind::Text(v) => out.push_bind_param::<Text, str>(v),
            Bind::Int(v) => out.push_bind_param::<Integer, i32>(v),
            Bind::BigInt(v) => out.push_bind_param::<BigInt, i64>(v),
            Bind::TextArray(v) => out.push_bind_param::<Array<Text>, _>(v),
            Bind::BigIntArray(v) => out.push_bind_param::<Array<BigInt>, _>(v),
        })
    }
}

impl diesel::query_builder::QueryId for Fixed<'_> {
    type QueryId = ();
    // No static id: cached by the SQL text, which is a constant.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<C> diesel::RunQueryDsl<C> for Fixed<'_> {}

/// Rows of `width` values each, inserted by one SQLite statement: `head` (`INSERT INTO t
/// (columns) `), `VALUES (…), (…)`, then `tail` (an `ON CONFLICT` clause). Cached by its SQL
/// text like [`Fixed`], so each row count is prepared once per connection.
struct SqliteValues<'a> {
    head: &'static str,
    tail: &'static str,
    width: usize,
    binds: &'a [Bind<'a>],
}

impl diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for SqliteValues<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> diesel::QueryResult<()> {
        use diesel::sql_types::{BigInt, Integer, Text};
        out.push_sql(self.head);
        out.push_sql(" VALUES ");
        for (i, value) in self.binds.iter().enumerate() {
            out.push_sql(match (i % self.width, i) {
                (0, 0) => "(",
                (0, _) => "), (",
                _ => ", ",
            });
            match value {
                Bind::Text(v) => out.push_bind_param::<Text, str>(v)?,
                Bind::Int(v) => out.push_bind_param::<Integer, i32>(v)?,
                Bind::BigInt(v) => out.push_bind_param::<BigInt, i64>(v)?,
                _ => return Err(fixed_error("an array value (PostgreSQL only)")),
            }
        }
        out.push_sql(") ");
        out.push_sql(self.tail);
        Ok(())
    }
}

impl diesel::query_builder::QueryId for SqliteValues<'_> {
    type QueryId = ();
    // No static id: one type serves many statements; cached by the SQL text.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<C> diesel::RunQueryDsl<C> for SqliteValues<'_> {}

/// Writes rows (`binds`, `width` values a row) on SQLite with statements of 64, 8 and 1 rows
/// instead of one statement a row, which spent its time binding, stepping and finding the
/// cached statement again for each row: 20–30% less time for the click rollups' upserts,
/// which run holding the write lock.
pub fn sqlite_upsert(
    c: &mut SqliteConnection,
    head: &'static str,
    tail: &'static str,
    width: usize,
    binds: &[Bind<'_>],
) -> diesel::QueryResult<()> {
    if width == 0 || !binds.len().is_multiple_of(width) {
        return Err(fixed_error("a row count that is not whole"));
    }
    let mut rest = binds;
    for rows in [64, 8, 1] {
        while rest.len() >= rows * width {
            let (now, later) = rest.split_at(rows * width);
            diesel::RunQueryDsl::execute(
                SqliteValues {
                    head,
                    tail,
                    width,
                    binds: now,
                },
                c,
            )?;
            rest = later;
        }
    }
    Ok(())
}

pub type DbPool = Pool<ConnectionManager<AnyConnection>>;
pub type DbConn = PooledConnection<ConnectionManager<AnyConnection>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database location, parsed from the URL scheme. A `postgres://` URL never falls back to
/// SQLite, and anything without a known scheme is a SQLite file path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    backend: Backend,
    url: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    #[error("cannot open the database: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("cannot connect to the database: {0}")]
    Connection(#[from] diesel::ConnectionError),
    #[error("migrations failed: {0}")]
    Migration(String),
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, DbSetupError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(DbSetupError::InvalidUrl("empty".into()));
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            let parsed = url::Url::parse(raw)
                .map_err(|e| DbSetupError::InvalidUrl(format!("PostgreSQL URL: {e}")))?;
            if parsed.host_str().unwrap_or("").is_empty() && !raw.contains("host=") {
                return Err(DbSetupError::InvalidUrl(
                    "PostgreSQL URL without a host".into(),
                ));
            }
            return Ok(Self {
                backend: Backend::Postgres,
                url: raw.to_string(),
            });
        }
        if let Some(path) = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(DbSetupError::InvalidUrl("sqlite URL without a path".into()));
            }
            return Ok(Self {
                backend: Backend::Sqlite,
                url: path.to_string(),
            });
        }
        if let Some((scheme, _)) = raw.split_once("://") {
            return Err(DbSetupError::InvalidUrl(format!(
                "unsupported scheme {scheme:?} (use a SQLite path, sqlite://, or postgres://)"
            )));
        }
        Ok(Self {
            backend: Backend::Sqlite,
            url: raw.to_string(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The string handed to the driver: a file path for SQLite, the URL for PostgreSQL.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    fn connect_string(&self) -> String {
        match self.backend {
            Backend::Postgres => self.url.clone(),
            // diesel's SQLite connection takes a plain path; `:memory:` is refused because a
            // pool of in-memory databases would be several unrelated databases.
            Backend::Sqlite => self.url.clone(),
        }
    }
}

/// The schema name of the SQLite file that holds the clicks, attached to every connection.
const CLICKS_SCHEMA: &str = "clickdb";

/// SQLite settings applied to every pooled connection: WAL so readers never block the writer,
/// a busy timeout so concurrent writers wait instead of failing, enforced foreign keys, and
/// the clicks file attached (see [`clicks_file`]).
/// (Memory-mapping the file was measured and left out: with many connections and a growing
/// file, the remapping and its TLB shootdowns cost more than the `pread` copies it saves —
/// order benchmark 1,490 vs 1,840 orders/s.)
#[derive(Debug, Clone)]
struct SqlitePragmas {
    clicks: String,
}

impl SqlitePragmas {
    fn new(url: &DatabaseUrl) -> Self {
        Self {
            clicks: clicks_file(&url.url),
        }
    }

    fn apply(&self, c: &mut SqliteConnection) -> diesel::QueryResult<()> {
        c.batch_execute(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
             PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; \
             PRAGMA journal_size_limit = 268435456;",
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
fn move_clicks_to_their_file(c: &mut SqliteConnection) -> diesel::QueryResult<()> {
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

/// One connection outside the pool (the click writer's), with the same SQLite settings.
pub fn open_connection(url: &DatabaseUrl) -> Result<AnyConnection, DbSetupError> {
    let mut conn = AnyConnection::establish(&url.connect_string())?;
    if let AnyConnection::Sqlite(c) = &mut conn {
        SqlitePragmas::new(url).apply(c)?;
    }
    Ok(conn)
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

/// One of a SQLite database's two files, each with its own WAL and its own writers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalFile {
    /// Everything but the clicks: the API's writes and the rollup fold.
    Main,
    /// The clicks, written by the click writer alone.
    Clicks,
}

impl WalFile {
    pub fn label(self) -> &'static str {
        match self {
            Self::Main => "main",
            Self::Clicks => "clicks",
        }
    }

    fn schema(self) -> &'static str {
        match self {
            Self::Main => "main",
            Self::Clicks => CLICKS_SCHEMA,
        }
    }
}

/// Frames appended during a passive round below which the last round takes the write lock.
const WAL_REWIND_REMAINDER: i32 = 256;

fn passive_checkpoint(
    conn: &mut diesel::SqliteConnection,
    file: WalFile,
) -> diesel::QueryResult<WalCheckpoint> {
    diesel::RunQueryDsl::get_result(
        diesel::sql_query(format!("PRAGMA {}.wal_checkpoint(PASSIVE)", file.schema())),
        conn,
    )
}

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

/// Opens the pool and applies the migrations of the URL's backend.
pub fn connect(url: &DatabaseUrl, max_size: u32) -> Result<DbPool, DbSetupError> {
    if url.backend == Backend::Sqlite && url.url == ":memory:" {
        return Err(DbSetupError::InvalidUrl(
            "an in-memory SQLite database cannot be shared by a pool; use a file".into(),
        ));
    }
    // Connect once up front so a bad URL is a clear error and not a pool timeout.
    let mut first = open_connection(url)?;
    run_migrations(&mut first, url.backend)?;
    drop(first);

    let manager = ConnectionManager::<AnyConnection>::new(url.connect_string());
    let pool = Pool::builder()
        .max_size(max_size)
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(10))
        .connection_customizer(Box::new(SqlitePragmas::new(url)))
        .build(manager)?;
    Ok(pool)
}

pub fn run_migrations(conn: &mut AnyConnection, backend: Backend) -> Result<(), DbSetupError> {
    let result = match (backend, conn) {
        (Backend::Sqlite, AnyConnection::Sqlite(c)) => c
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(|_| ())
            .and_then(|()| Ok(move_clicks_to_their_file(c)?)),
        (Backend::Postgres, AnyConnection::Postgresql(c)) => {
            c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ())
        }
        _ => return Err(DbSetupError::Migration("backend mismatch".into())),
    };
    result.map_err(|e| DbSetupError::Migration(e.to_string()))
}

/// True when the database answers and no embedded migration is left to apply.
pub fn is_ready(conn: &mut AnyConnection) -> bool {
    match conn {
        AnyConnection::Sqlite(c) => c
            .has_pending_migration(SQLITE_MIGRATIONS)
            .map(|pending| !pending)
            .unwrap_or(false),
        AnyConnection::Postgresql(c) => c
            .has_pending_migration(POSTGRES_MIGRATIONS)
            .map(|pending| !pending)
            .unwrap_or(false),
    }
}

/// This process's SQLite writers of the main file queue here. `parking_lot`'s mutex with fair
/// unlocking hands the lock to the longest waiter: `std`'s lets a thread that unlocks and
/// locks again at once (a writer between batches) keep it, and starved the WAL checkpoint
/// for seconds.
static SQLITE_WRITERS: parking_lot::Mutex<()> = parking_lot::const_mutex(());
/// The same for the clicks file: the click writer, and the rewind of its WAL.
static CLICK_WRITERS: parking_lot::Mutex<()> = parking_lot::const_mutex(());

/// A turn at one file's writer lock, handed on to the longest waiter when it ends, on every
/// path.
struct WriterTurn(Option<parking_lot::MutexGuard<'static, ()>>);

impl WriterTurn {
    fn wait(file: WalFile) -> Self {
        Self(Some(match file {
            WalFile::Main => SQLITE_WRITERS.lock(),
            WalFile::Clicks => CLICK_WRITERS.lock(),
        }))
    }
}

impl Drop for WriterTurn {
    fn drop(&mut self) {
        if let Some(guard) = self.0.take() {
            parking_lot::MutexGuard::unlock_fair(guard);
        }
    }
}

/// Runs `work` in a transaction that holds the write lock from its first statement. On
/// SQLite a deferred transaction that reads and then writes fails at once (`SQLITE_BUSY`) when
/// another writer committed in between; taking the lock up front makes concurrent writers
/// queue behind `busy_timeout` instead. PostgreSQL needs nothing extra.
pub fn write_transaction<T, E, F>(conn: &mut AnyConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    // SQLite has one writer at a time, and a writer waiting in `busy_timeout` polls with
    // sleeps of up to 100 ms: queueing this process's writers on a mutex first hands the lock
    // over at once and in order. (Other processes still meet the busy handler. The click
    // writer writes another file, under its own lock: [`click_transaction`].)
    let _turn = matches!(conn, AnyConnection::Sqlite(_)).then(|| WriterTurn::wait(WalFile::Main));
    locked_transaction(conn, work)
}

/// Runs `work`, which writes only clicks, in a transaction. On SQLite it queues on the clicks
/// file's own lock and begins deferred: its first statement, an insert into the clicks, takes
/// the write lock of that file alone, so the main file's writers (the fold among them) never
/// hold it up.
pub fn click_transaction<T, E, F>(conn: &mut AnyConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let _turn = matches!(conn, AnyConnection::Sqlite(_)).then(|| WriterTurn::wait(WalFile::Clicks));
    conn.transaction(work)
}

/// A transaction whose first statement is a write, so that SQLite takes its write lock
/// before anything is read (a deferred transaction would fail with `SQLITE_BUSY` when another
/// writer committed in between).
fn locked_transaction<T, E, F>(conn: &mut AnyConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    conn.transaction(|conn| {
        if let AnyConnection::Sqlite(c) = conn {
            // A write statement (even one that changes nothing) takes the RESERVED lock.
            diesel::RunQueryDsl::execute(
                Fixed {
                    sql: "UPDATE settings SET value = value WHERE 0",
                    binds: vec![],
                },
                c,
            )?;
        }
        work(conn)
    })
}

/// Group commit for SQLite writes that come from many request threads at once (orders): a
/// writer queues its work, then waits for the process's SQLite write lock; whoever gets the
/// lock first runs everything queued so far in one transaction, each piece of work in its own
/// savepoint (a piece that fails is rolled back alone and answers its own error), commits
/// once and hands every waiter its result. One commit then carries many orders, so the pages
/// they share (the tail of each table, the day's rollup rows) are written to the WAL once per
/// batch instead of once per order. On PostgreSQL, whose connections write concurrently,
/// each piece of work is simply its own transaction.
///
/// One per database: work queued here runs on whichever of that database's connections
/// leads the batch, so it must use only the connection it is handed.
#[derive(Clone, Default)]
pub struct GroupCommit {
    queue: std::sync::Arc<std::sync::Mutex<Vec<Box<dyn QueuedWork>>>>,
}

trait QueuedWork: Send {
    /// Runs the work in a savepoint of the batch's transaction.
    fn run(&mut self, conn: &mut AnyConnection);
    /// Hands the result to the waiter, or the batch's failure when the commit failed.
    fn finish(self: Box<Self>, commit: Result<(), &diesel::result::Error>);
}

/// A failure inside a savepoint: the work's own error, or the database's.
enum InSavepoint<E> {
    Work(E),
    Database(diesel::result::Error),
}

impl<E> From<diesel::result::Error> for InSavepoint<E> {
    fn from(e: diesel::result::Error) -> Self {
        InSavepoint::Database(e)
    }
}

struct Queued<T, E, F> {
    work: Option<F>,
    outcome: Option<Result<T, E>>,
    done: std::sync::mpsc::Sender<Result<T, E>>,
}

impl<T, E, F> QueuedWork for Queued<T, E, F>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send,
    T: Send,
    E: From<diesel::result::Error> + Send,
{
    fn run(&mut self, conn: &mut AnyConnection) {
        let Some(work) = self.work.take() else { return };
        // Nested in the batch's transaction, diesel makes this a savepoint.
        let result = conn.transaction(|conn| work(conn).map_err(InSavepoint::Work));
        self.outcome = Some(match result {
            Ok(value) => Ok(value),
            Err(InSavepoint::Work(e)) => Err(e),
            Err(InSavepoint::Database(e)) => Err(E::from(e)),
        });
    }

    fn finish(self: Box<Self>, commit: Result<(), &diesel::result::Error>) {
        let outcome = match (commit, self.outcome) {
            (Ok(()), Some(outcome)) => outcome,
            (Err(e), _) => Err(E::from(batch_failed(e))),
            (Ok(()), None) => Err(E::from(diesel::result::Error::BrokenTransactionManager)),
        };
        let _ = self.done.send(outcome);
    }
}

fn batch_failed(e: &diesel::result::Error) -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError(format!("the group commit failed: {e}").into())
}

impl GroupCommit {
    /// Runs `work` in a transaction (on SQLite, possibly together with other threads' work,
    /// on this connection or another thread's) and returns its result once committed.
    pub fn run<T, E, F>(&self, conn: &mut AnyConnection, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<diesel::result::Error> + Send + 'static,
    {
        if matches!(conn, AnyConnection::Postgresql(_)) {
            return locked_transaction(conn, work);
        }
        let (done, result) = std::sync::mpsc::channel();
        self.lock_queue().push(Box::new(Queued {
            work: Some(work),
            outcome: None,
            done,
        }));
        let turn = WriterTurn::wait(WalFile::Main);
        // A leader that ran this work sent its result before it let the lock go.
        if let Ok(outcome) = result.try_recv() {
            return outcome;
        }
        // Lead: everything queued so far, this work among it.
        let mut batch = std::mem::take(&mut *self.lock_queue());
        let committed = locked_transaction(conn, |conn| {
            for work in batch.iter_mut() {
                work.run(conn);
            }
            diesel::QueryResult::Ok(())
        });
        metrics::histogram!("group_commit_batch_size").record(batch.len() as f64);
        for work in batch {
            work.finish(committed.as_ref().map(|_| ()));
        }
        drop(turn);
        result
            .recv()
            .unwrap_or_else(|_| Err(E::from(diesel::result::Error::BrokenTransactionManager)))
    }

    fn lock_queue(&self) -> std::sync::MutexGuard<'_, Vec<Box<dyn QueuedWork>>> {
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Microseconds since the Unix epoch, the unit of every time column.
pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_backend_from_scheme() {
        assert_eq!(
            DatabaseUrl::parse("influtrack.db").unwrap().backend(),
            Backend::Sqlite
        );
        let u = DatabaseUrl::parse("sqlite:///tmp/x.db").unwrap();
        assert_eq!((u.backend(), u.as_str()), (Backend::Sqlite, "/tmp/x.db"));
        let u = DatabaseUrl::parse("sqlite://data/x.db").unwrap();
        assert_eq!(u.as_str(), "data/x.db");
        assert_eq!(
            DatabaseUrl::parse("postgres://u@localhost/db")
                .unwrap()
                .backend(),
            Backend::Postgres
        );
    }

    #[test]
    fn bad_urls_are_errors_not_files() {
        assert!(DatabaseUrl::parse("postgres://").is_err());
        assert!(DatabaseUrl::parse("postgres://[::1").is_err());
        assert!(DatabaseUrl::parse("mysql://localhost/x").is_err());
        assert!(DatabaseUrl::parse("").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

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
        old.run_pending_migrations(SQLITE_MIGRATIONS).unwrap();
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
