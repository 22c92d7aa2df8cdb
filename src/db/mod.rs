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
/// share diesel's syntax but not its types.
#[macro_export]
macro_rules! with_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::AnyConnection::Postgresql($c) => $body,
            $crate::db::AnyConnection::Sqlite($c) => $body,
        }
    };
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

/// SQLite settings applied to every pooled connection: WAL so readers never block the writer,
/// a busy timeout so concurrent writers wait instead of failing, and enforced foreign keys.
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
    conn.transaction(|conn| {
        if let AnyConnection::Sqlite(c) = conn {
            // A write statement (even one that changes nothing) takes the RESERVED lock.
            c.batch_execute("UPDATE settings SET value = value WHERE 0")?;
        }
        work(conn)
    })
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
