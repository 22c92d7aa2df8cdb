//! The outbox's worker: threads that claim due jobs, deliver them outside any transaction, and
//! record the outcome, retrying with exponential backoff (or the shop's `Retry-After`). A job
//! is written in the same transaction as the change that causes it, so a change that
//! committed is delivered even when the process dies right after: its job is still pending at
//! the next start, or its lease runs out and another instance takes it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use rand::Rng;

use crate::core::now_micros;
use crate::db::DbPool;
use crate::domain::outbox::{self, Delivery, JobKind, JobStatus};
use crate::domain::secrets::Sealer;
use crate::shops::Http;
use crate::store::jobs::{self, JobRow, Outcome};

/// How the worker runs.
#[derive(Debug, Clone)]
pub struct OutboxSettings {
    /// Threads delivering jobs; 0 starts none.
    pub workers: usize,
    /// The longest a call outside may take.
    pub timeout: Duration,
    /// The wait before the first retry (doubled per attempt).
    pub backoff: Duration,
    /// How often an idle worker looks for due jobs (it is also woken by every local write).
    pub poll: Duration,
    /// Webhook endpoints on private, loopback and link-local addresses are called.
    pub allow_private: bool,
    /// How long a webhook endpoint may fail straight before it is disabled.
    pub give_up: Duration,
    /// How often the first worker looks for events made by time rather than by a request
    /// (new fraud flags, goals reached, commission approved); zero never.
    pub sweep: Duration,
}

/// The queue as `/metrics` shows it: jobs by kind and status, and the age in seconds of the
/// oldest pending job (0 when none waits).
pub fn gauges(
    conn: &mut crate::db::AnyConnection,
) -> Result<(jobs::JobCounts, f64), crate::db::DbError> {
    let (counts, oldest) = jobs::gauges(conn)?;
    let age = oldest.map_or(0.0, |t| ((now_micros() - t).max(0)) as f64 / 1e6);
    Ok((counts, age))
}

/// Delivered and cancelled jobs are kept this long (to be listed), then forgotten.
const KEEP_FINISHED: Duration = Duration::from_secs(7 * 24 * 3600);

struct Shared {
    stop: AtomicBool,
    wake: Mutex<u64>,
    woken: Condvar,
}

/// The running worker threads.
pub struct Outbox {
    shared: Arc<Shared>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

impl Outbox {
    pub fn start(
        pool: DbPool,
        sealer: Arc<Sealer>,
        settings: OutboxSettings,
    ) -> Result<Self, String> {
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            wake: Mutex::new(0),
            woken: Condvar::new(),
        });
        let mut threads = Vec::new();
        for n in 0..settings.workers {
            let worker = Worker {
                sweeps: n == 0 && !settings.sweep.is_zero(),
                shared: shared.clone(),
                pool: pool.clone(),
                sealer: sealer.clone(),
                settings: settings.clone(),
            };
            let thread = std::thread::Builder::new()
                .name(format!("outbox-{n}"))
                .spawn(move || worker.run())
                .map_err(|e| e.to_string())?;
            threads.push(thread);
        }
        Ok(Self {
            shared,
            threads: Mutex::new(threads),
        })
    }

    /// Wakes an idle worker: a write may have queued a job.
    pub fn nudge(&self) {
        *self.shared.wake.lock() += 1;
        self.shared.woken.notify_one();
    }

    /// Stops the workers once their current delivery ends, and waits for them.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.woken.notify_all();
        for thread in self.threads.lock().drain(..) {
            let _ = thread.join();
        }
    }
}

struct Worker {
    /// This worker runs the sweep.
    sweeps: bool,
    shared: Arc<Shared>,
    pool: DbPool,
    sealer: Arc<Sealer>,
    settings: OutboxSettings,
}

impl Worker {
    fn run(self) {
        // Made (and dropped) on this thread: the blocking client runs a runtime of its own,
        // which may not be made or dropped inside the server's.
        let http = match Http::with_private(self.settings.timeout, self.settings.allow_private) {
            Ok(http) => http,
            Err(e) => {
                tracing::error!(error = %e, "the outbox cannot make its HTTP client; nothing will be delivered");
                return;
            }
        };
        // Unique per claim holder: only the holder's outcome is recorded.
        let token = uuid::Uuid::now_v7().to_string();
        // A delivery makes at most a few calls, each bounded by the timeout.
        let lease = self.settings.timeout * 4 + Duration::from_secs(5);
        let mut last_cleanup = 0;
        let mut last_sweep = now_micros();
        while !self.shared.stop.load(Ordering::SeqCst) {
            let seen = *self.shared.wake.lock();
            if self.sweeps && now_micros() - last_sweep >= self.settings.sweep.as_micros() as i64 {
                last_sweep = now_micros();
                self.sweep();
            }
            match self.next(&http, &token, lease) {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "the outbox could not claim a job"),
            }
            let now = now_micros();
            if now - last_cleanup > 3_600_000_000 {
                last_cleanup = now;
                self.forget_finished(now);
            }
            let mut wake = self.shared.wake.lock();
            if *wake == seen && !self.shared.stop.load(Ordering::SeqCst) {
                self.shared.woken.wait_for(&mut wake, self.settings.poll);
            }
        }
    }

    /// Claims and delivers one due job; `false` when none is due.
    fn next(&self, http: &Http, token: &str, lease: Duration) -> Result<bool, crate::db::DbError> {
        let mut conn = self.pool.get()?;
        let now = now_micros();
        let lease_until = now + lease.as_micros() as i64;
        let Some(job) = jobs::claim(&mut conn, now, lease_until, token)? else {
            return Ok(false);
        };
        // Not inside a transaction: the call outside may take seconds.
        let started = std::time::Instant::now();
        // A webhook's attempt (answer code, latency) is written with the outcome, in one
        // transaction.
        let mut attempt = None;
        let delivery = match job.kind {
            JobKind::ShopSync => {
                crate::core::shop_sync::deliver(&mut conn, &self.sealer, http, &job)
            }
            JobKind::Webhook => crate::core::hooks::deliver(&mut conn, &self.sealer, http, &job)
                .map(|(d, a)| {
                    attempt = a;
                    d
                }),
        };
        let delivery = delivery.unwrap_or_else(|e| Delivery::Retry {
            after: None,
            error: format!("influtrack could not read the job's data: {e}"),
        });
        self.record(
            &mut conn,
            &job,
            token,
            (delivery, attempt),
            started.elapsed(),
        )?;
        Ok(true)
    }

    fn record(
        &self,
        conn: &mut crate::db::AnyConnection,
        job: &JobRow,
        token: &str,
        (delivery, attempt): (Delivery, Option<crate::core::hooks::Attempted>),
        took: Duration,
    ) -> Result<(), crate::db::DbError> {
        let now = now_micros();
        // A shop's code is tried a number of times; a webhook endpoint until it has failed
        // for a day straight (then it is disabled and its events held).
        let retry_more = match (&delivery, job.kind) {
            (Delivery::Retry { .. }, JobKind::ShopSync) => job.attempts < outbox::MAX_ATTEMPTS,
            // Unknown (the database failed): tried again, never given up on by mistake.
            (Delivery::Retry { .. }, JobKind::Webhook) => {
                !crate::core::hooks::gives_up(conn, job, now, self.settings.give_up)
                    .unwrap_or(false)
            }
            _ => false,
        };
        let (outcome, label) = match &delivery {
            Delivery::Done(_) => (Outcome::Done, "delivered"),
            Delivery::Retry { after, error } if retry_more => {
                let wait = outbox::backoff(
                    job.attempts,
                    self.settings.backoff,
                    *after,
                    rand::thread_rng().gen::<f64>(),
                );
                (
                    Outcome::Retry {
                        run_after: now + wait.as_micros() as i64,
                        error,
                    },
                    "retried",
                )
            }
            Delivery::Retry { error, .. } => (
                Outcome::Ended {
                    status: JobStatus::Failed,
                    error,
                },
                "failed",
            ),
            Delivery::Refused(error) => (
                Outcome::Ended {
                    status: JobStatus::Failed,
                    error,
                },
                "failed",
            ),
            Delivery::Moot(reason) => (
                Outcome::Ended {
                    status: JobStatus::Cancelled,
                    error: reason,
                },
                "cancelled",
            ),
        };
        let gave_up = matches!(
            (&delivery, &outcome),
            (
                Delivery::Retry { .. },
                Outcome::Ended {
                    status: JobStatus::Failed,
                    ..
                }
            )
        );
        let recorded = crate::db::write_transaction(conn, |conn| {
            if !jobs::finish(conn, &job.id, token, outcome, now)? {
                return Ok::<_, crate::db::DbError>(false);
            }
            match job.kind {
                JobKind::ShopSync => {
                    crate::core::shop_sync::record(conn, job, &delivery, gave_up, now)?
                }
                JobKind::Webhook => crate::core::hooks::record(
                    conn,
                    job,
                    &delivery,
                    attempt.as_ref(),
                    gave_up,
                    now,
                )?,
            }
            Ok(true)
        })?;
        let target = match job.kind {
            JobKind::ShopSync => {
                crate::core::shop_sync::platform_of(job).map_or("", |p| p.as_str())
            }
            JobKind::Webhook => "endpoint",
        };
        metrics::counter!(
            "outbox_deliveries_total",
            "kind" => job.kind.as_str(),
            "target" => target,
            "outcome" => label
        )
        .increment(1);
        metrics::histogram!("outbox_delivery_seconds", "kind" => job.kind.as_str())
            .record(took.as_secs_f64());
        if !recorded {
            tracing::warn!(job_id = %job.id, "an outbox job's lease ran out during its delivery; another worker has it");
            return Ok(());
        }
        match &delivery {
            Delivery::Done(_) => {
                tracing::info!(job_id = %job.id, kind = job.kind.as_str(), target, attempts = job.attempts, "outbox job delivered")
            }
            Delivery::Retry { error, .. } | Delivery::Refused(error) => {
                tracing::warn!(job_id = %job.id, kind = job.kind.as_str(), target, attempts = job.attempts, error = %error, outcome = label, "outbox job not delivered")
            }
            Delivery::Moot(_) => {}
        }
        Ok(())
    }

    /// Announces what happened by time or sums (new fraud flags, goals reached, commission
    /// approved), queueing their webhooks.
    fn sweep(&self) {
        let mut conn = match self.pool.get() {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "the sweep could not get a connection");
                return;
            }
        };
        match crate::core::sweep::run(&mut conn) {
            Ok(n) if n == Default::default() => {}
            Ok(n) => tracing::info!(
                flags = n.flags,
                goals = n.goals,
                approvals = n.approvals,
                "events announced"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "the look for new flags, goals and approvals failed")
            }
        }
    }

    fn forget_finished(&self, now: i64) {
        let before = now - KEEP_FINISHED.as_micros() as i64;
        if let Ok(mut conn) = self.pool.get() {
            if let Err(e) = jobs::forget_finished(&mut conn, before) {
                tracing::warn!(error = %e, "the outbox could not forget finished jobs");
            }
            if let Err(e) = crate::store::hooks::forget(&mut conn, before) {
                tracing::warn!(error = %e, "the outbox could not forget delivered webhooks");
            }
        }
    }
}
