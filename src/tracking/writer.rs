//! The click writer: a writer thread with its own connection, group commit. Each redirect hands its click
//! over and waits for the commit of the batch that carries it, so a 302 is only sent for a
//! click that is durable. The writer commits as soon as its queue is drained (or a batch is
//! full), so batches grow with load instead of waiting for a timer. A batch only appends
//! click rows; a second thread folds them into the daily rollups in large transactions.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use tokio::sync::{mpsc, oneshot};

use crate::db::{self, AnyConnection, DatabaseUrl};
use crate::domain::ids::ClickId;
use crate::domain::time::utc_day;
use crate::domain::traffic::{self, AgentClass, ClickKind};
use crate::store::clicks::{self as store, NewClick};
use crate::tracking::cache::CachedLink;

/// A click waiting to be written (its id is made when its batch is written). The address
/// lives only in memory, only until its hash is taken.
pub struct PendingClick {
    pub link: Arc<CachedLink>,
    pub ts: i64,
    pub ip: Option<IpAddr>,
    pub user_agent: String,
    pub kind: ClickKind,
    pub attributable: bool,
    pub referrer_host: Option<String>,
    pub agent: AgentClass,
    pub country: Option<String>,
}

/// Where a click's id goes once committed (`None`: it could not be).
type Done = oneshot::Sender<Option<ClickId>>;

enum Message {
    /// Answered with the click's id once committed, `None` when it could not be.
    Click(Box<PendingClick>, Done),
    Stop,
}

/// Why a click that was redirected could not be recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unrecorded {
    QueueFull,
    CommitFailed,
    Timeout,
    WriterGone,
}

impl Unrecorded {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::QueueFull => "queue_full",
            Self::CommitFailed => "commit_failed",
            Self::Timeout => "timeout",
            Self::WriterGone => "writer_gone",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct WriterSettings {
    pub queue_capacity: usize,
    pub max_batch: usize,
    /// How long a redirect waits for room in a full queue.
    pub enqueue_deadline: Duration,
    /// How long a redirect waits for its batch to commit.
    pub commit_deadline: Duration,
    /// On a PostgreSQL server with autovacuum off, how often the rollup thread vacuums and
    /// analyzes the tables that need it (`db::postgres::maintain_postgres`); zero: never.
    pub pg_maintenance: Duration,
}

impl Default for WriterSettings {
    fn default() -> Self {
        Self {
            queue_capacity: 16_384,
            max_batch: 2_048,
            enqueue_deadline: Duration::from_millis(100),
            commit_deadline: Duration::from_secs(3),
            pg_maintenance: Duration::from_secs(10),
        }
    }
}

pub struct ClickWriter {
    /// One queue per writer thread.
    queues: Vec<mpsc::Sender<Message>>,
    next: std::sync::atomic::AtomicUsize,
    threads: Mutex<Vec<JoinHandle<()>>>,
    rollup: Mutex<Option<(std::sync::mpsc::Sender<()>, JoinHandle<()>)>>,
    settings: WriterSettings,
}

impl ClickWriter {
    /// Starts the click writer and the rollup thread, which also keeps `codes` topped up with
    /// the links made elsewhere (another instance, the command line) each tick.
    pub fn start(
        url: DatabaseUrl,
        settings: WriterSettings,
        codes: std::sync::Arc<crate::tracking::codes::KnownCodes>,
    ) -> std::io::Result<Self> {
        // One writer: measured on 2 cores, three PostgreSQL writers halved throughput (smaller
        // batches, more commits); the queues stay a list so that can be revisited on bigger
        // machines.
        let writers = 1;
        let mut queues = Vec::with_capacity(writers);
        let mut threads = Vec::with_capacity(writers);
        for i in 0..writers {
            let (tx, rx) = mpsc::channel(settings.queue_capacity / writers);
            let writer_url = url.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("click-writer-{i}"))
                    .spawn(move || Worker::new(writer_url, settings.max_batch).run(rx))?,
            );
            queues.push(tx);
        }
        // Folding in the writer between batches was measured too (SQLite, 30 s, 10,000 links):
        // it lowered throughput (17,700 vs 21,600 req/s) for a smaller p99 (33 vs 46 ms).
        let (stop_rollup, stopped) = std::sync::mpsc::channel();
        let maintenance = settings.pg_maintenance;
        let rollup = Some((
            stop_rollup,
            std::thread::Builder::new()
                .name("click-rollup".into())
                .spawn(move || roll_up(url, maintenance, &codes, stopped))?,
        ));
        Ok(Self {
            queues,
            next: std::sync::atomic::AtomicUsize::new(0),
            threads: Mutex::new(threads),
            rollup: Mutex::new(rollup),
            settings,
        })
    }

    /// Queues a click and waits until it is committed; its id.
    pub async fn record(&self, click: PendingClick) -> Result<ClickId, Unrecorded> {
        let (done, committed) = oneshot::channel();
        let message = Message::Click(Box::new(click), done);
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tx = &self.queues[n % self.queues.len()];
        match tx.try_send(message) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(message)) => {
                match tokio::time::timeout(self.settings.enqueue_deadline, tx.send(message)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return Err(Unrecorded::WriterGone),
                    Err(_) => return Err(Unrecorded::QueueFull),
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(Unrecorded::WriterGone),
        }
        match tokio::time::timeout(self.settings.commit_deadline, committed).await {
            Ok(Ok(Some(id))) => Ok(id),
            Ok(Ok(None)) => Err(Unrecorded::CommitFailed),
            Ok(Err(_)) => Err(Unrecorded::WriterGone),
            Err(_) => Err(Unrecorded::Timeout),
        }
    }

    /// Clicks waiting in the queue.
    pub fn queue_depth(&self) -> usize {
        self.queues
            .iter()
            .map(|tx| tx.max_capacity() - tx.capacity())
            .sum()
    }

    /// Writes everything queued so far, then stops the writer and rollup threads.
    pub async fn stop(&self) {
        for tx in &self.queues {
            let _ = tx.send(Message::Stop).await;
        }
        let threads: Vec<JoinHandle<()>> = self
            .threads
            .lock()
            .map(|mut t| t.drain(..).collect())
            .unwrap_or_default();
        for thread in threads {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        let rollup = self.rollup.lock().ok().and_then(|mut r| r.take());
        if let Some((stop, thread)) = rollup {
            let _ = stop.send(());
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

/// A click older than this when its batch commits is refused: its redirect has long been
/// answered as unrecorded.
const ACCEPT_WINDOW_MICROS: i64 = 10_000_000;
/// The rollup thread wakes this often; on PostgreSQL it raises the click fence and folds the
/// clicks below it each time (SQLite: see `SQLITE_FOLD_EVERY`). Readers add the clicks after
/// the fold's watermark to the rollups, so their cost follows the clicks of the last fold
/// interval instead of the 20–30 s of clicks they read before 2026-12-06 (when clicks were
/// folded once 20 s old: a report under load took up to 2.1 s in the soak).
const TICK: Duration = Duration::from_millis(250);
/// SQLite's WALs are copied back into their files this often, not each tick: each copy writes
/// the pages changed since the last (the clicks' last pages again and again) and fsyncs both
/// files; checkpointing each 250 ms tick took most of the rollup thread's time in the soak.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// How far behind now the fold raises the fence: a batch whose ids were made earlier than
/// that (slow to reach the database) is made again above it.
const FENCE_MARGIN_MICROS: i64 = 100_000;
/// On SQLite the fold runs once a second, in one transaction of up to this many clicks (read in
/// pages, summed in memory): each fold rewrites the rollup rows of every link it touches and
/// the index pages of their new visitors, so its cost follows the links and pages touched more
/// than the clicks. Folding each 250 ms in 2,000-click transactions cut the redirect benchmark
/// from 45–52k to 34k req/s (10,000 links, sustained, 2026-12-06).
const SQLITE_FOLD_EVERY: Duration = Duration::from_secs(1);
const FOLD_LIMIT: i64 = 200_000;
/// The same on PostgreSQL (measured faster in small transactions: 24.6k vs 17.1k req/s over
/// 30 s, 2026-12-02).
const PG_FOLD_LIMIT: i64 = 5_000;
/// Passive checkpoints after each tick, at most, to catch up with the click writer.
const WAL_CHECKPOINT_ROUNDS: usize = 16;

/// The rollup thread: tops up the redirect's set of known link codes, folds settled clicks
/// into the rollups, checkpoints SQLite's WAL and, on PostgreSQL without autovacuum, keeps the
/// tables vacuumed and analyzed.
fn roll_up(
    url: DatabaseUrl,
    maintenance: Duration,
    codes: &crate::tracking::codes::KnownCodes,
    stop: std::sync::mpsc::Receiver<()>,
) {
    let mut conn: Option<AnyConnection> = None;
    let mut maintained_at: Option<Instant> = None;
    let mut checkpointed_at: Option<Instant> = None;
    let mut folded_at: Option<Instant> = None;
    // Whether the server lacks autovacuum, asked once per connection (reset when one opens).
    let mut stand_in: Option<bool> = None;
    loop {
        match stop.recv_timeout(TICK) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        if conn.is_none() {
            conn = db::open_connection(&url)
                .map_err(|e| tracing::warn!(error = %e, "rollup cannot connect"))
                .ok();
            stand_in = None;
        }
        let Some(c) = conn.as_mut() else { continue };
        // Each tick (no thread of its own: one cheap read by link id on this connection).
        if let Err(e) = codes.top_up(c) {
            tracing::warn!(error = %e, "reading new link codes failed");
            conn = None;
            continue;
        }
        let (every, limit) = match c {
            AnyConnection::Sqlite(_) => (SQLITE_FOLD_EVERY, FOLD_LIMIT),
            AnyConnection::Postgresql(_) => (TICK, PG_FOLD_LIMIT),
        };
        if due(&mut folded_at, every) && !fold_settled(c, limit) {
            conn = None;
        }
        if let Some(AnyConnection::Postgresql(c)) = conn.as_mut() {
            if !maintain(c, &mut stand_in, &mut maintained_at, maintenance) {
                conn = None;
            }
        }
        if !due(&mut checkpointed_at, CHECKPOINT_EVERY) {
            continue;
        }
        if let Some(AnyConnection::Sqlite(c)) = conn.as_mut() {
            // The click writer does not checkpoint (see `Worker::connection`): copy each
            // file's WAL back here, beside its writers, and let them rewind it
            // (`db::sqlite::checkpoint_wal`), each second. Under a steady load the WAL then holds about
            // a second of writes (the file is reused, up to `journal_size_limit`). Measured
            // against rewinding every 3 s (SQLite, 64 connections, 30 s): a rewind's pause
            // follows the frames written since the last one (mostly under 1 ms instead of
            // 10–35 ms), and p99 went from 23–38 ms to 5 ms.
            for file in [db::sqlite::WalFile::Clicks, db::sqlite::WalFile::Main] {
                let started = Instant::now();
                match db::sqlite::checkpoint_wal(c, file, WAL_CHECKPOINT_ROUNDS) {
                    Ok(done) => {
                        metrics::histogram!("wal_checkpoint_seconds", "file" => file.label())
                            .record(started.elapsed().as_secs_f64());
                        metrics::gauge!("wal_frames", "file" => file.label())
                            .set(f64::from(done.log.max(0)));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, file = file.label(), "WAL checkpoint failed")
                    }
                }
            }
        }
    }
}

/// Stands in for autovacuum on a server that runs without it, every `every` (zero: never);
/// false when the connection failed.
fn maintain(
    c: &mut diesel::PgConnection,
    stand_in: &mut Option<bool>,
    last: &mut Option<Instant>,
    every: Duration,
) -> bool {
    if every.is_zero() {
        return true;
    }
    let needed = match *stand_in {
        Some(needed) => needed,
        None => match db::postgres::autovacuum_on(c) {
            Ok(on) => {
                if !on {
                    tracing::warn!(
                        every_seconds = every.as_secs(),
                        "PostgreSQL runs without autovacuum: influtrack vacuums and analyzes its tables itself"
                    );
                }
                *stand_in = Some(!on);
                !on
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the autovacuum setting");
                return false;
            }
        },
    };
    if !needed || !due(last, every) {
        return true;
    }
    let started = Instant::now();
    match db::postgres::maintain_postgres(c) {
        Ok(tables) => {
            metrics::histogram!("pg_maintenance_seconds").record(started.elapsed().as_secs_f64());
            metrics::counter!("pg_tables_maintained_total").increment(tables.len() as u64);
            if !tables.is_empty() {
                tracing::info!(tables = ?tables, "vacuumed and analyzed");
            }
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "table maintenance failed");
            false
        }
    }
}

/// Whether `every` has passed since `last` (or it never ran); if so, `last` becomes now.
fn due(last: &mut Option<Instant>, every: Duration) -> bool {
    let due = last.is_none_or(|at| at.elapsed() >= every);
    if due {
        *last = Some(Instant::now());
    }
    due
}

/// Raises the click fence and folds the clicks below it, `limit` at most per transaction,
/// until none is left; false when the connection failed (nothing is lost: readers count
/// unfolded clicks, the next fold takes them).
fn fold_settled(c: &mut AnyConnection, limit: i64) -> bool {
    let started = Instant::now();
    let fence = chrono::Utc::now().timestamp_micros() - FENCE_MARGIN_MICROS;
    let fence = match store::raise_fence(c, fence) {
        Ok(fence) => fence,
        Err(e) => {
            tracing::warn!(error = %e, "raising the click fence failed");
            return false;
        }
    };
    metrics::histogram!("click_fence_seconds").record(started.elapsed().as_secs_f64());
    loop {
        let started = Instant::now();
        match crate::store::rollups::fold_to(c, &fence, limit) {
            Ok(n) => {
                metrics::histogram!("click_fold_seconds").record(started.elapsed().as_secs_f64());
                if (n as i64) < limit {
                    return true;
                }
                // Let the other writers take the write lock between chunks.
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => {
                tracing::warn!(error = %e, "rollup fold failed");
                return false;
            }
        }
    }
}

struct Worker {
    url: DatabaseUrl,
    conn: Option<AnyConnection>,
    max_batch: usize,
    salts: HashMap<i32, String>,
    /// The click fence as this writer last read it (after a refusal), in microseconds.
    fence_micros: i64,
}

impl Worker {
    fn new(url: DatabaseUrl, max_batch: usize) -> Self {
        Self {
            conn: None,
            max_batch,
            url,
            salts: HashMap::new(),
            fence_micros: 0,
        }
    }

    fn run(mut self, mut rx: mpsc::Receiver<Message>) {
        let mut batch: Vec<(Box<PendingClick>, Done)> = Vec::new();
        loop {
            let mut stop = false;
            match rx.blocking_recv() {
                Some(Message::Click(click, done)) => batch.push((click, done)),
                Some(Message::Stop) | None => stop = true,
            }
            while !stop && batch.len() < self.max_batch {
                match rx.try_recv() {
                    Ok(Message::Click(click, done)) => batch.push((click, done)),
                    Ok(Message::Stop) => stop = true,
                    Err(_) => break,
                }
            }
            if !batch.is_empty() {
                metrics::gauge!("click_queue_depth").set(rx.len() as f64);
                let settled = chrono::Utc::now().timestamp_micros() - ACCEPT_WINDOW_MICROS;
                // A click whose redirect stopped waiting (it answered without a click id) is
                // not written: an order could never name it.
                let (fresh, stale): (Vec<_>, Vec<_>) = batch
                    .drain(..)
                    .partition(|(click, done)| click.ts >= settled && !done.is_closed());
                let ids = if fresh.is_empty() {
                    Vec::new()
                } else {
                    self.commit(&fresh)
                };
                let mut ids = ids.into_iter();
                for (_, done) in fresh {
                    let _ = done.send(ids.next());
                }
                for (_, done) in stale {
                    let _ = done.send(None);
                }
            }
            if stop {
                tracing::info!("click writer drained and stopped");
                return;
            }
        }
    }

    /// Commits a batch, retrying once on a fresh connection; the ids of its clicks, in order
    /// (none when it failed).
    fn commit(&mut self, batch: &[(Box<PendingClick>, Done)]) -> Vec<ClickId> {
        let started = Instant::now();
        // Made once: a retry after a lost answer first looks for them, so that a batch that
        // did commit is not stored a second time (the fence could refuse the same ids and
        // have them made again).
        let mut ids = self.ids(batch.len());
        for attempt in 0..2 {
            let written = match attempt {
                0 => self.write(batch, &mut ids),
                _ => self.rewrite(batch, &mut ids),
            };
            match written {
                Ok(()) => {
                    metrics::histogram!("click_batch_size").record(batch.len() as f64);
                    metrics::histogram!("click_commit_seconds")
                        .record(started.elapsed().as_secs_f64());
                    return ids;
                }
                Err(e) => {
                    tracing::error!(error = %e, attempt, clicks = batch.len(), "click batch failed");
                    self.conn = None;
                }
            }
        }
        Vec::new()
    }

    /// [`Self::write`] after a failure: nothing when the batch is already stored (the commit
    /// went through, its answer was lost).
    fn rewrite(
        &mut self,
        batch: &[(Box<PendingClick>, Done)],
        ids: &mut Vec<ClickId>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let conn = self.connection()?;
        if store::stored(conn, ids)? {
            return Ok(());
        }
        self.write(batch, ids)
    }

    /// Ids for `n` clicks, made now and never below the click fence the writer last saw.
    fn ids(&self, n: usize) -> Vec<ClickId> {
        let floor = self.fence_micros;
        let at = chrono::Utc::now().timestamp_micros().max(floor);
        (0..n).map(|_| ClickId::at(at)).collect()
    }

    /// The day's visitor salt, fetched (or created) once a day.
    fn salt(&mut self, day: i32) -> Result<&str, Box<dyn std::error::Error>> {
        if !self.salts.contains_key(&day) {
            let fresh = crate::domain::keys::mint_operator_token();
            let conn = self.connection()?;
            let salt = store::salt_for_day(conn, day, &fresh)?;
            self.salts.retain(|d, _| *d >= day - 1);
            self.salts.insert(day, salt);
        }
        Ok(self.salts.get(&day).map(String::as_str).unwrap_or_default())
    }

    fn connection(&mut self) -> Result<&mut AnyConnection, Box<dyn std::error::Error>> {
        if self.conn.is_none() {
            let mut conn = db::open_connection(&self.url)?;
            match &mut conn {
                // Checkpoints run on the rollup thread, not after this connection's commits
                // (where a checkpoint's copying and fsync would hold up the waiting redirects).
                AnyConnection::Sqlite(c) => c.batch_execute("PRAGMA wal_autocheckpoint = 0")?,
                // The fence check must read the fence after its lock, in a snapshot of its
                // own: READ COMMITTED whatever the server's default.
                AnyConnection::Postgresql(c) => c.batch_execute(
                    "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED",
                )?,
            }
            self.conn = Some(conn);
        }
        Ok(self.conn.as_mut().expect("just opened"))
    }

    /// Writes a batch under `ids`, made again above the click fence while the fence refuses
    /// them (a fold raised it past them while they were on their way).
    fn write(
        &mut self,
        batch: &[(Box<PendingClick>, Done)],
        ids: &mut Vec<ClickId>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let mut hashes = Vec::with_capacity(batch.len());
        for (click, _) in batch {
            hashes.push(traffic::visitor_hash(
                self.salt(utc_day(click.ts))?,
                click.ip,
                &click.user_agent,
            ));
        }
        loop {
            if self.append(batch, ids, &hashes)? {
                return Ok(());
            }
            metrics::counter!("click_batches_refenced_total").increment(1);
            let conn = self.connection()?;
            let fence = store::fence(conn)?;
            self.fence_micros = fence.micros();
            *ids = self.ids(batch.len());
        }
    }

    /// One attempt: false when the click fence refused the ids (nothing was written).
    fn append(
        &mut self,
        batch: &[(Box<PendingClick>, Done)],
        ids: &[ClickId],
        hashes: &[String],
    ) -> Result<bool, Box<dyn std::error::Error>> {
        let mut rows = Vec::with_capacity(batch.len());
        for (((click, _), id), visitor_hash) in batch.iter().zip(ids).zip(hashes) {
            let link = &click.link;
            rows.push(NewClick {
                id,
                link_id: &link.link_id,
                brand_id: &link.brand_id,
                campaign_id: &link.campaign_id,
                enrollment_id: &link.enrollment_id,
                influencer_id: &link.influencer_id,
                ts: click.ts,
                visitor_hash,
                kind: click.kind,
                attributable: click.kind == ClickKind::Human && click.attributable,
                referrer_host: click.referrer_host.as_deref(),
                device: click.agent.device,
                browser: &click.agent.browser,
                os: &click.agent.os,
                country: click.country.as_deref(),
            });
        }
        let conn = self.connection()?;
        Ok(store::append_live(conn, &rows)?)
    }
}
