//! A SQLite database's two files as one: their online copy, and the lock that tells a
//! running server from files at rest.

use std::fs::File;
use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl, SqliteConnection};

use crate::db::sqlite::{clicks_file, CLICKS_SCHEMA};
use crate::db::{AnyConnection, Backend, DatabaseUrl};

/// The files of a SQLite database: the main file and the clicks' file beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteFiles {
    pub main: PathBuf,
    pub clicks: PathBuf,
}

impl SqliteFiles {
    /// `None` for PostgreSQL.
    pub fn of(url: &DatabaseUrl) -> Option<Self> {
        (url.backend() == Backend::Sqlite).then(|| Self {
            main: PathBuf::from(&url.url),
            clicks: PathBuf::from(clicks_file(&url.url)),
        })
    }

    fn lock_path(&self) -> PathBuf {
        let mut name = self.main.clone().into_os_string();
        name.push(".lock");
        PathBuf::from(name)
    }
}

/// Held by whoever has a SQLite database open for writing (a server, a restore): an exclusive
/// lock on `<database>.lock`, released by the kernel when the process ends, `kill -9`
/// included. Only one process may write a SQLite database's clicks (their fence is in its
/// memory), and a restore must not swap files under a server.
#[derive(Debug)]
pub struct InUse {
    _file: File,
}

/// Another process holds the database.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{0} is in use by another influtrack process")]
    Held(PathBuf),
    #[error("cannot open {0}: {1}")]
    Io(PathBuf, std::io::Error),
}

impl InUse {
    /// Takes the lock of a SQLite database, or says who holds it.
    pub fn take(files: &SqliteFiles) -> Result<Self, LockError> {
        let path = files.lock_path();
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| LockError::Io(path.clone(), e))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(LockError::Held(files.main.clone())),
            Err(std::fs::TryLockError::Error(e)) => Err(LockError::Io(path, e)),
        }
    }
}

/// Copies both files of the database `conn` has open (the clicks' file attached) into
/// `main` and `clicks`, each as of one moment, while others keep writing (`VACUUM INTO`
/// reads in one transaction). The main file first: a click counted in its rollups is then in
/// the clicks' copy too, and everything committed before the call is in both.
pub fn copy_sqlite(
    conn: &mut AnyConnection,
    main: &Path,
    clicks: &Path,
) -> diesel::QueryResult<()> {
    let AnyConnection::Sqlite(c) = conn else {
        return Err(diesel::result::Error::QueryBuilderError(
            "an online copy is for SQLite; use pg_dump for PostgreSQL".into(),
        ));
    };
    for (schema, target) in [("main", main), (CLICKS_SCHEMA, clicks)] {
        diesel::sql_query(format!("VACUUM {schema} INTO ?"))
            .bind::<diesel::sql_types::Text, _>(target.to_string_lossy().as_ref())
            .execute(c)?;
    }
    Ok(())
}

/// Whether a file is a sound SQLite database (`PRAGMA quick_check`), opened on its own.
pub fn check_sqlite_file(path: &Path) -> Result<(), String> {
    let mut c = SqliteConnection::establish(&path.to_string_lossy()).map_err(|e| e.to_string())?;
    #[derive(diesel::QueryableByName)]
    struct Check {
        #[diesel(sql_type = diesel::sql_types::Text)]
        quick_check: String,
    }
    let rows: Vec<Check> = diesel::sql_query("PRAGMA quick_check")
        .load(&mut c)
        .map_err(|e| e.to_string())?;
    match rows.first().map(|r| r.quick_check.as_str()) {
        Some("ok") => Ok(()),
        Some(other) => Err(other.to_string()),
        None => Err("no answer to quick_check".into()),
    }
}

/// Moves what a database file holds in its WAL into the file itself and empties the WAL.
pub fn checkpoint_sqlite_file(path: &Path) -> Result<(), String> {
    let mut c = SqliteConnection::establish(&path.to_string_lossy()).map_err(|e| e.to_string())?;
    c.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)")
        .map_err(|e| e.to_string())
}

/// The number of rows in a table of a file, opened on its own (`None`: no such table).
pub fn count_rows(path: &Path, table: &str) -> Option<i64> {
    let mut c = SqliteConnection::establish(&path.to_string_lossy()).ok()?;
    c.batch_execute("PRAGMA query_only = 1").ok()?;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
        .get_result::<Count>(&mut c)
        .ok()
        .map(|r| r.n)
}
