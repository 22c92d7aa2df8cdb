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

/// SQLite settings applied to every pooled connection: WAL so readers never block the writer,
/// a busy timeout so concurrent writers wait instead of failing, and enforced foreign keys.
/// (Memory-mapping the file was measured and left out: with many connections and a growing
/// file, the remapping and its TLB shootdowns cost more than the `pread` copies it saves —
/// order benchmark 1,490 vs 1,840 orders/s.)
#[derive(Debug, Clone, Copy)]
struct SqlitePragmas;

impl CustomizeConnection<AnyConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut AnyConnection) -> Result<(), diesel::r2d2::Error> {
        if let AnyConnection::Sqlite(c) = conn {
            c.batch_execute(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                 PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;",
            )
            .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

/// One connection outside the pool (the click writer's), with the same SQLite settings.
pub fn open_connection(url: &DatabaseUrl) -> Result<AnyConnection, DbSetupError> {
    let mut conn = AnyConnection::establish(&url.connect_string())?;
    SqlitePragmas
        .on_acquire(&mut conn)
        .map_err(|e| DbSetupError::InvalidUrl(e.to_string()))?;
    Ok(conn)
}

/// Opens the pool and applies the migrations of the URL's backend.
pub fn connect(url: &DatabaseUrl, max_size: u32) -> Result<DbPool, DbSetupError> {
    if url.backend == Backend::Sqlite && url.url == ":memory:" {
        return Err(DbSetupError::InvalidUrl(
            "an in-memory SQLite database cannot be shared by a pool; use a file".into(),
        ));
    }
    // Connect once up front so a bad URL is a clear error and not a pool timeout.
    let mut first = AnyConnection::establish(&url.connect_string())?;
    if let AnyConnection::Sqlite(c) = &mut first {
        c.batch_execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000;")?;
    }
    run_migrations(&mut first, url.backend)?;
    drop(first);

    let manager = ConnectionManager::<AnyConnection>::new(url.connect_string());
    let pool = Pool::builder()
        .max_size(max_size)
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(10))
        .connection_customizer(Box::new(SqlitePragmas))
        .build(manager)?;
    Ok(pool)
}

pub fn run_migrations(conn: &mut AnyConnection, backend: Backend) -> Result<(), DbSetupError> {
    let result = match (backend, conn) {
        (Backend::Sqlite, AnyConnection::Sqlite(c)) => {
            c.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ())
        }
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

static SQLITE_WRITERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

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
    // over at once and in order. (Other processes, and the click writer's own connection,
    // still meet the busy handler.)
    let _queued = match conn {
        AnyConnection::Sqlite(_) => Some(
            SQLITE_WRITERS
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        ),
        AnyConnection::Postgresql(_) => None,
    };
    locked_transaction(conn, work)
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
        let writer = SQLITE_WRITERS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
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
        drop(writer);
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
}
