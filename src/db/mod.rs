//! The database: one connection type over SQLite and PostgreSQL, the pool, the embedded
//! migrations of both backends, and what each backend needs of its own
//! ([`sqlite`], [`postgres`], [`locks`]). Imports only `domain`.

pub mod backup;
pub mod locks;
pub mod notify;
pub mod postgres;
pub mod schema;
pub mod sql;
pub mod sqlite;
pub mod types;
pub mod url;

use std::time::Duration;

use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub use locks::{click_transaction, write_transaction, GroupCommit};
pub use url::DatabaseUrl;

pub(crate) const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to whichever backend the database URL names.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

/// Runs the same diesel expression on the concrete connection inside an [`AnyConnection`]:
/// for statements the portable backend cannot express (upserts), and for the hot reads and
/// inserts of an order. Through `AnyConnection` diesel serialises a statement's whole SQL
/// text up to three times per execution (to look up its cache, to check it may be cached, to
/// bind): ~30,000 instructions a statement, a quarter of what recording an order cost on
/// SQLite.
macro_rules! with_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::AnyConnection::Postgresql($c) => $body,
            $crate::db::AnyConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use with_backend;

/// Inserts rows with diesel's insert builder: on SQLite one statement per row (`$v` is a
/// row), which diesel prepares once and caches, because parsing a fresh multi-row statement
/// costs more than running a prepared one again in-process; on PostgreSQL multi-row
/// statements of at most `$chunk` rows (`$v` is a slice), one round trip each. `$stmt` is the
/// statement without `.execute`.
macro_rules! insert_rows {
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
pub(crate) use insert_rows;

pub type DbPool = Pool<ConnectionManager<AnyConnection>>;
pub type DbConn = PooledConnection<ConnectionManager<AnyConnection>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
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

/// A database operation that failed: the query, or no connection to run it on.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The work on the connection stopped before it ended (it panicked).
    #[error("database work aborted: {0}")]
    Aborted(String),
}

impl From<r2d2::Error> for DbError {
    fn from(e: r2d2::Error) -> Self {
        Self::Unavailable(e.to_string())
    }
}

impl DbError {
    /// A stored value that does not parse, found after it was read.
    pub fn corrupt(e: types::CorruptRow) -> Self {
        Self::Query(diesel::result::Error::DeserializationError(Box::new(e)))
    }

    /// Whether it is a unique constraint that refused the write.
    pub fn is_duplicate(&self) -> bool {
        is_duplicate(self.query())
    }

    fn query(&self) -> Option<&diesel::result::Error> {
        match self {
            Self::Query(e) => Some(e),
            Self::Unavailable(_) | Self::Aborted(_) => None,
        }
    }
}

/// Whether a unique constraint refused the write.
pub fn is_duplicate(e: Option<&diesel::result::Error>) -> bool {
    matches!(
        e,
        Some(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _
        ))
    )
}

/// One connection outside the pool (the click writer's, the shell's), with the same SQLite
/// settings.
/// Initialises OpenSSL (which libpq uses) without its exit-time cleanup, before any
/// connection can: that cleanup walks the state of every thread that ever used OpenSSL, and
/// with threads gone before it (the blocking pool's) it crashed a test binary in SIGSEGV after
/// every test had passed. The process is ending anyway; nothing needs freeing.
pub fn init_tls() {
    openssl_sys::init();
}

pub fn open_connection(url: &DatabaseUrl) -> Result<AnyConnection, DbSetupError> {
    init_tls();
    let mut conn = AnyConnection::establish(&url.connect_string())?;
    if let AnyConnection::Sqlite(c) = &mut conn {
        sqlite::SqlitePragmas::new(url).apply(c)?;
    }
    Ok(conn)
}

/// Opens the pool and applies the migrations of the URL's backend.
pub fn connect(url: &DatabaseUrl, max_size: u32) -> Result<DbPool, DbSetupError> {
    init_tls();
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
        .connection_customizer(Box::new(sqlite::SqlitePragmas::new(url)))
        .build(manager)?;
    Ok(pool)
}

pub fn run_migrations(conn: &mut AnyConnection, backend: Backend) -> Result<(), DbSetupError> {
    let result = match (backend, conn) {
        (Backend::Sqlite, AnyConnection::Sqlite(c)) => c
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(|_| ())
            .and_then(|()| Ok(sqlite::move_clicks_to_their_file(c)?)),
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
