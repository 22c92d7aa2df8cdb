//! Who writes when: SQLite has one writer per file, so this process's writers queue on a fair
//! in-process lock per file, and orders share commits (group commit). PostgreSQL writes
//! concurrently and needs none of it.

use diesel::Connection;

use crate::db::sql::Fixed;
use crate::db::AnyConnection;
use crate::domain::ids::ClickId;

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
}

/// This process's SQLite writers of the main file queue here. `parking_lot`'s mutex with fair
/// unlocking hands the lock to the longest waiter: `std`'s lets a thread that unlocks and
/// locks again at once (a writer between batches) keep it, and starved the WAL checkpoint
/// for seconds.
static SQLITE_WRITERS: parking_lot::Mutex<()> = parking_lot::const_mutex(());
/// The same for the clicks file: the click writer, and the rewind of its WAL.
static CLICK_WRITERS: parking_lot::Mutex<()> = parking_lot::const_mutex(());

/// The click fence of this process's SQLite databases: the smallest click id a click batch may
/// still write (see `store::clicks::append_live`). In memory because one process writes a
/// SQLite database's clicks; one for all the databases a process opens (the tests open many),
/// which only ever makes a writer take newer ids.
static SQLITE_CLICK_FENCE: parking_lot::Mutex<Option<ClickId>> = parking_lot::const_mutex(None);

/// The SQLite click fence (the smallest id when never raised).
pub(crate) fn sqlite_click_fence() -> ClickId {
    SQLITE_CLICK_FENCE
        .lock()
        .clone()
        .unwrap_or_else(|| ClickId::floor(0))
}

/// Raises the SQLite click fence to `to` (never lowers it) in a turn of the clicks' writer
/// lock, so that the batch being written, if any, has committed first; returns the fence.
pub(crate) fn raise_sqlite_click_fence(to: ClickId) -> ClickId {
    let _turn = WriterTurn::wait(WalFile::Clicks);
    let mut fence = SQLITE_CLICK_FENCE.lock();
    match fence.as_ref() {
        Some(current) if *current >= to => current.clone(),
        _ => {
            *fence = Some(to.clone());
            to
        }
    }
}

/// A turn at one file's writer lock, handed on to the longest waiter when it ends, on every
/// path.
pub(crate) struct WriterTurn(Option<parking_lot::MutexGuard<'static, ()>>);

impl WriterTurn {
    pub(crate) fn wait(file: WalFile) -> Self {
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
            diesel::RunQueryDsl::execute(Fixed::new(TAKE_WRITE_LOCK, vec![]), c)?;
        }
        work(conn)
    })
}

/// A write statement that changes nothing: SQLite takes its write lock at the first one.
pub const TAKE_WRITE_LOCK: &str = "UPDATE settings SET value = value WHERE 0";

/// The constant statements of this module (see [`crate::db::sql::Fixed`]), run on SQLite only.
pub const SQLITE_STATEMENTS: &[&str] = &[TAKE_WRITE_LOCK];

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

/// On PostgreSQL, a transaction-scoped advisory lock on a brand's store connections: shared by
/// every change that reads which shops are connected to queue its jobs, exclusive while a
/// connection changes, so that neither misses the other under READ COMMITTED (a code issued
/// while its shop is being connected is queued by one of the two). SQLite's single writer
/// already orders them.
pub fn lock_connections(
    conn: &mut AnyConnection,
    brand_id: &str,
    exclusive: bool,
) -> diesel::QueryResult<()> {
    use diesel::RunQueryDsl;
    let AnyConnection::Postgresql(pg) = conn else {
        return Ok(());
    };
    // A stable 64-bit key: the brand id's first 8 bytes of SHA-256, in a namespace of its own.
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("influtrack:connections:{brand_id}"));
    let key = i64::from_be_bytes(digest[..8].try_into().unwrap_or([0; 8]));
    let sql = if exclusive {
        "SELECT pg_advisory_xact_lock($1)"
    } else {
        "SELECT pg_advisory_xact_lock_shared($1)"
    };
    diesel::sql_query(sql)
        .bind::<diesel::sql_types::BigInt, _>(key)
        .execute(pg)
        .map(|_| ())
}
