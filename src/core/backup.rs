//! Backup and restore of a SQLite database, while it serves: both files copied as of the
//! moment the backup starts, in one archive. PostgreSQL has `pg_dump` for this.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::db::backup::InUse;
use crate::db::backup::{
    check_sqlite_file, checkpoint_sqlite_file, copy_sqlite, count_rows, LockError, SqliteFiles,
};
use crate::db::{open_connection, DatabaseUrl, DbSetupError};

/// The archive's entries: a manifest, then the two database files.
const MANIFEST: &str = "influtrack-backup.json";
const MAIN: &str = "main.db";
const CLICKS: &str = "clicks.db";
const FORMAT: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// When the copy started (RFC 3339): everything acknowledged before it is in the archive.
    pub started_at: String,
    pub influtrack: String,
    pub orders: i64,
    pub clicks: i64,
}

#[derive(Debug, Serialize)]
pub struct BackupReport {
    pub file: PathBuf,
    pub bytes: u64,
    #[serde(flatten)]
    pub manifest: Manifest,
}

#[derive(Debug, Serialize)]
pub struct RestoreReport {
    pub database: PathBuf,
    /// The files that were there before, renamed (nothing is deleted).
    pub moved_aside: Vec<PathBuf>,
    #[serde(flatten)]
    pub manifest: Manifest,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "the database is on PostgreSQL: back it up with `pg_dump --format=custom --file=FILE \"$INFLUTRACK_DATABASE_URL\"` \
         (consistent while influtrack runs) and restore into an empty database with `pg_restore --no-owner --dbname=URL FILE` \
         before starting influtrack on it"
    )]
    Postgres,
    #[error(transparent)]
    Url(#[from] DbSetupError),
    #[error(transparent)]
    InUse(#[from] LockError),
    #[error("no database at {0}")]
    Missing(PathBuf),
    #[error("{0} exists already; choose another file")]
    Exists(PathBuf),
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("copying the database failed: {0}")]
    Copy(diesel::result::Error),
    #[error("{file} is not an influtrack backup: {why}")]
    NotABackup { file: PathBuf, why: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |e| BackupError::Io(path.to_path_buf(), e)
}

fn sqlite_files(database_url: &str) -> Result<SqliteFiles, BackupError> {
    SqliteFiles::of(&DatabaseUrl::parse(database_url)?).ok_or(BackupError::Postgres)
}

/// Held while this process serves a SQLite database (`None` on PostgreSQL): a second server,
/// or a restore, on the same files is refused while it is held.
pub fn hold(database_url: &str) -> Result<Option<InUse>, BackupError> {
    let url = DatabaseUrl::parse(database_url)?;
    match SqliteFiles::of(&url) {
        Some(files) => Ok(Some(InUse::take(&files)?)),
        None => Ok(None),
    }
}

/// A directory beside `near` for the files in progress, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn beside(near: &Path, what: &str) -> Result<Self, BackupError> {
        let dir = suffixed(near, &format!(".{what}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // The copies are the whole database: readable by this user only.
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(io(&dir))?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A new file readable and writable by this user only.
fn private_file(path: &Path) -> Result<File, BackupError> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))
}

/// `path` with `suffix` appended to its name.
fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Makes the directory's entries (a rename, a new link) durable.
fn sync_dir(file: &Path) -> Result<(), BackupError> {
    let dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// Writes a backup of the SQLite database at `database_url` into `file` (a new file), while
/// a server may be writing to it.
pub fn backup(database_url: &str, file: &Path) -> Result<BackupReport, BackupError> {
    let files = sqlite_files(database_url)?;
    if !files.main.exists() {
        return Err(BackupError::Missing(files.main));
    }
    if file.exists() {
        return Err(BackupError::Exists(file.to_path_buf()));
    }
    let scratch = Scratch::beside(file, "partial")?;
    let (main, clicks) = (scratch.0.join(MAIN), scratch.0.join(CLICKS));
    let started_at = crate::domain::time::rfc3339(super::now_micros());
    let mut conn = open_connection(&DatabaseUrl::parse(database_url)?)?;
    copy_sqlite(&mut conn, &main, &clicks).map_err(BackupError::Copy)?;
    drop(conn);
    let manifest = Manifest {
        format: FORMAT,
        started_at,
        influtrack: env!("CARGO_PKG_VERSION").to_string(),
        orders: count_rows(&main, "orders").unwrap_or(0),
        clicks: count_rows(&clicks, "clicks").unwrap_or(0),
    };
    // Written under another name and renamed once complete and on disk: a backup that exists
    // is whole.
    let partial = scratch.0.join("archive");
    {
        let out = private_file(&partial)?;
        let mut tar = tar::Builder::new(std::io::BufWriter::new(out));
        let json = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
        let mut header = tar::Header::new_gnu();
        header.set_size(json.len() as u64);
        header.set_mode(0o600);
        header.set_cksum();
        tar.append_data(&mut header, MANIFEST, json.as_slice())
            .map_err(io(&partial))?;
        for (name, path) in [(MAIN, &main), (CLICKS, &clicks)] {
            tar.append_path_with_name(path, name).map_err(io(path))?;
        }
        let out = tar.into_inner().map_err(io(&partial))?;
        let out = out
            .into_inner()
            .map_err(|e| BackupError::Io(partial.clone(), e.into_error()))?;
        out.sync_all().map_err(io(&partial))?;
    }
    // A link, not a rename: it fails rather than replace a file made meanwhile.
    std::fs::hard_link(&partial, file).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => BackupError::Exists(file.to_path_buf()),
        _ => BackupError::Io(file.to_path_buf(), e),
    })?;
    sync_dir(file)?;
    let bytes = std::fs::metadata(file).map_err(io(file))?.len();
    Ok(BackupReport {
        file: file.to_path_buf(),
        bytes,
        manifest,
    })
}

/// Restores a backup into the SQLite database at `database_url`, which no server may have
/// open. Files already there are kept under another name (`*.before-restore-<unix time>`,
/// their WAL beside them), never deleted.
pub fn restore(database_url: &str, file: &Path) -> Result<RestoreReport, BackupError> {
    let files = sqlite_files(database_url)?;
    let _held = InUse::take(&files)?;
    let not_backup = |why: String| BackupError::NotABackup {
        file: file.to_path_buf(),
        why,
    };
    let scratch = Scratch::beside(&files.main, "restore")?;
    let mut manifest: Option<Manifest> = None;
    let mut found = Vec::new();
    let mut archive = tar::Archive::new(File::open(file).map_err(io(file))?);
    for entry in archive.entries().map_err(io(file))? {
        let mut entry = entry.map_err(|e| not_backup(e.to_string()))?;
        let name = entry
            .path()
            .map_err(|e| not_backup(e.to_string()))?
            .to_string_lossy()
            .into_owned();
        match name.as_str() {
            MANIFEST => {
                let mut json = String::new();
                entry
                    .read_to_string(&mut json)
                    .map_err(|e| not_backup(e.to_string()))?;
                manifest =
                    Some(serde_json::from_str(&json).map_err(|e| not_backup(e.to_string()))?);
            }
            MAIN | CLICKS => {
                if !entry.header().entry_type().is_file() {
                    return Err(not_backup(format!("{name} is not a regular file")));
                }
                let target = scratch.0.join(&name);
                let mut out = private_file(&target)?;
                std::io::copy(&mut entry, &mut out).map_err(|e| not_backup(e.to_string()))?;
                out.flush().map_err(io(&target))?;
                out.sync_all().map_err(io(&target))?;
                found.push(name);
            }
            other => return Err(not_backup(format!("unexpected entry {other:?}"))),
        }
    }
    let manifest = manifest.ok_or_else(|| not_backup(format!("no {MANIFEST}")))?;
    if manifest.format != FORMAT {
        return Err(not_backup(format!(
            "format {} (this influtrack reads {FORMAT})",
            manifest.format
        )));
    }
    for name in [MAIN, CLICKS] {
        if !found.iter().any(|f| f == name) {
            return Err(not_backup(format!("no {name}")));
        }
        check_sqlite_file(&scratch.0.join(name))
            .map_err(|why| not_backup(format!("{name}: {why}")))?;
    }
    let counted = (
        count_rows(&scratch.0.join(MAIN), "orders"),
        count_rows(&scratch.0.join(CLICKS), "clicks"),
    );
    if counted != (Some(manifest.orders), Some(manifest.clicks)) {
        return Err(not_backup(format!(
            "it holds {:?} orders and {:?} clicks where its manifest says {} and {}",
            counted.0, counted.1, manifest.orders, manifest.clicks
        )));
    }
    // What the database there holds only in its WAL goes into its file first, so that the
    // copy set aside opens whole on its own (best effort: a damaged one is set aside as is).
    for file in [&files.main, &files.clicks] {
        if file.exists() {
            let _ = checkpoint_sqlite_file(file);
        }
    }
    let mut stamp = (super::now_micros() / 1_000_000).to_string();
    let taken = |stamp: &str| {
        [&files.main, &files.clicks]
            .iter()
            .any(|f| suffixed(f, &format!(".before-restore-{stamp}")).exists())
    };
    for n in 1.. {
        if !taken(&stamp) {
            break;
        }
        stamp = format!("{}-{n}", super::now_micros() / 1_000_000);
    }
    let mut moved_aside = Vec::new();
    for (name, target) in [(MAIN, &files.main), (CLICKS, &files.clicks)] {
        let new = scratch.0.join(name);
        if let Ok(old) = std::fs::metadata(target) {
            // The restored file belongs to whoever owned the one it replaces (the service's
            // user, when an operator restores as root), with its mode.
            let _ = std::os::unix::fs::chown(&new, Some(old.uid()), Some(old.gid()));
            std::fs::set_permissions(&new, std::fs::Permissions::from_mode(old.mode() & 0o777))
                .map_err(io(&new))?;
            // The old file keeps a name of its own (its journals beside it under the names
            // SQLite looks for) before the new one takes its place in one rename: at every
            // moment a database is at the path.
            let aside = suffixed(target, &format!(".before-restore-{stamp}"));
            std::fs::hard_link(target, &aside).map_err(io(&aside))?;
            moved_aside.push(aside.clone());
            for journal in ["-wal", "-shm"] {
                let path = suffixed(target, journal);
                if path.exists() {
                    let to = suffixed(&aside, journal);
                    std::fs::rename(&path, &to).map_err(io(&path))?;
                    moved_aside.push(to);
                }
            }
        }
        std::fs::rename(&new, target).map_err(io(target))?;
    }
    sync_dir(&files.main)?;
    Ok(RestoreReport {
        database: files.main,
        moved_aside,
        manifest,
    })
}
