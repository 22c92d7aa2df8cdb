//! The application: what influtrack does, whoever asks (the API, the dashboard, the shell,
//! the demo). Operations are functions of a connection, so that they compose in one
//! transaction and run the same in the shell; [`Core`] runs them for the servers on the
//! blocking pool.
//!
//! Families, each with its own error type mapped to an answer only at the edge:
//! [`admin`] (brands, keys, campaigns, influencers, enrollments, links, codes, posts),
//! [`ingest`] (orders, refunds, events, exchange rates, webhooks), [`reporting`]
//! (leaderboard, report, time series, funnel), [`campaign_loop`] (prune, successor,
//! payouts), [`auth`] and [`redirect`] (a click).
//!
//! Imports `domain`, `store`, `db` and `tracking`; never the edge (`tests/architecture.rs`).

pub mod admin;
pub mod auth;
pub mod backup;
pub mod campaign_loop;
pub mod cluster;
pub mod exclusions;
pub mod fraud;
pub mod hooks;
pub mod ingest;
pub mod outbox;
pub mod redirect;
pub mod reporting;
pub mod shop_sync;
pub mod sweep;

use std::sync::Arc;
use std::time::Duration;

use crate::db::{Backend, DbPool};

/// The connection operations take (the shell opens one; the servers take one from the pool),
/// the orders' group commit, and a database operation that failed (every family's errors
/// carry it).
pub use crate::db::{AnyConnection, DbError, GroupCommit};
use crate::domain::ids::{CampaignId, EnrollmentId, InfluencerId, LinkId};
use crate::tracking::Tracking;

/// Microseconds since the Unix epoch, the unit of every stored time.
pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// What a write changed that the redirect may have cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Link(LinkId),
    Enrollment(EnrollmentId),
    Campaign(CampaignId),
    /// The handle is every link's default `utm_source`.
    Influencer(InfluencerId),
    /// A new link: cached at once, so that its first click is as fast as the rest.
    NewLink(String),
    /// Every link of the brand (its shop connection changed where codes are applied).
    Brand(crate::domain::ids::BrandId),
}

/// The answer of a write, with what it changed. Only [`Core::write`] takes the answer out,
/// after applying the changes to the redirect cache: no caller can forget to.
#[derive(Debug)]
#[must_use]
pub struct Written<T> {
    value: T,
    changed: Vec<Change>,
}

impl<T> Written<T> {
    fn new(value: T, changed: Vec<Change>) -> Self {
        Self { value, changed }
    }

    /// The answer where no redirect cache runs (the shell, the demo seeding a database).
    pub fn offline(self) -> T {
        self.value
    }

    /// What the write changed.
    pub fn changes(&self) -> &[Change] {
        &self.changed
    }
}

/// The application as the servers run it: the pool, the redirect's shared state and the
/// instance's settings.
pub struct Core {
    pool: DbPool,
    backend: Backend,
    /// Base of short links, without a trailing slash.
    public_url: String,
    /// SHA-256 of the operator token.
    operator_hash: String,
    /// The redirect's cache and click writer.
    pub tracking: Arc<Tracking>,
    /// Group commit of orders on SQLite.
    writes: GroupCommit,
    /// Seals and opens storefront secrets at rest.
    sealer: Arc<crate::domain::secrets::Sealer>,
    /// The outbox's worker, woken after each write (`None`: no worker in this process).
    outbox: Option<Arc<outbox::Outbox>>,
    /// How long a call to a shop may take (the connection check).
    shop_timeout: Duration,
    /// This instance among those on one database (its notifications say who sent them).
    instance: String,
    /// Where webhooks may go.
    hooks: hooks::HookPolicy,
}

/// What the application needs to reach shops: the key of their secrets, the outbox's worker
/// (none in a process that delivers nothing) and how long a call may take.
pub struct Outside {
    pub sealer: Arc<crate::domain::secrets::Sealer>,
    pub outbox: Option<Arc<outbox::Outbox>>,
    pub shop_timeout: Duration,
    pub hooks: hooks::HookPolicy,
}

/// How an operation reaches the instance's settings (the same in the shell and the servers).
#[derive(Debug, Clone)]
pub struct Instance {
    pub public_url: String,
}

impl Core {
    pub fn new(
        pool: DbPool,
        backend: Backend,
        public_url: String,
        operator_hash: String,
        tracking: Tracking,
        outside: Outside,
    ) -> Self {
        Self {
            pool,
            backend,
            public_url,
            operator_hash,
            tracking: Arc::new(tracking),
            writes: GroupCommit::default(),
            sealer: outside.sealer,
            outbox: outside.outbox,
            shop_timeout: outside.shop_timeout,
            instance: cluster::new_instance_id(),
            hooks: outside.hooks,
        }
    }

    /// This instance's id (logged at start; other instances list it).
    pub fn instance_id(&self) -> &str {
        &self.instance
    }

    /// Stops the outbox's worker (after its current delivery).
    pub async fn stop_outbox(&self) {
        if let Some(outbox) = self.outbox.clone() {
            let _ = actix_web::rt::task::spawn_blocking(move || outbox.stop()).await;
        }
    }

    /// Calls a brand's shop once with its stored credentials: whether they work and which
    /// scopes are missing.
    pub async fn check_shop(
        &self,
        brand_id: crate::domain::ids::BrandId,
        platform: crate::domain::integrations::Platform,
    ) -> Result<shop_sync::CheckView, admin::AdminError> {
        let sealer = self.sealer.clone();
        let found = self
            .read(move |conn| {
                Ok::<_, admin::AdminError>(shop_sync::shop(conn, &sealer, &brand_id, platform)?)
            })
            .await?;
        let shop = match found {
            None => return Err(admin::AdminError::Conflict(admin::Conflict::NoShop)),
            Some(Err(why)) => {
                tracing::warn!(error = %why, "a shop's credentials cannot be opened");
                return Err(admin::AdminError::Conflict(
                    admin::Conflict::CredentialsUnreadable,
                ));
            }
            Some(Ok(shop)) => shop,
        };
        let timeout = self.shop_timeout;
        // A blocking client, made and dropped on the blocking pool (it runs a runtime of its
        // own, which may not be dropped inside this one).
        actix_web::rt::task::spawn_blocking(move || {
            let http = crate::shops::Http::new(timeout)
                .map_err(|e| admin::AdminError::Db(DbError::Unavailable(e)))?;
            Ok(shop_sync::check(&shop, &http))
        })
        .await
        .map_err(|e| admin::AdminError::Db(DbError::Aborted(e.to_string())))?
    }

    /// Where webhooks may go (the operator's settings).
    pub fn hook_policy(&self) -> hooks::HookPolicy {
        self.hooks
    }

    /// Sends a signed `ping` to a brand's webhook endpoint now and records it among its
    /// deliveries.
    pub async fn ping_webhook(
        &self,
        brand_id: crate::domain::ids::BrandId,
        id: crate::domain::ids::WebhookId,
    ) -> Result<hooks::DeliveryView, admin::AdminError> {
        let sealer = self.sealer.clone();
        let target = self
            .read(move |conn| hooks::ping_target(conn, &sealer, &brand_id, &id))
            .await?;
        let (timeout, allow_private) = (self.shop_timeout, self.hooks.allow_private);
        let pool = self.pool.clone();
        // The blocking client is made and dropped on the blocking pool (see check_shop).
        actix_web::rt::task::spawn_blocking(move || {
            let http = crate::shops::Http::with_private(timeout, allow_private)
                .map_err(|e| admin::AdminError::Db(DbError::Unavailable(e)))?;
            let mut conn = pool.get().map_err(DbError::from)?;
            hooks::ping(&mut conn, &http, target)
        })
        .await
        .map_err(|e| admin::AdminError::Db(DbError::Aborted(e.to_string())))?
    }

    /// Wakes the outbox's worker: a write queued a job for it.
    pub fn nudge_outbox(&self) {
        if let Some(outbox) = &self.outbox {
            outbox.nudge();
        }
    }

    /// The sealer of storefront secrets (for work on the blocking pool).
    pub fn sealer(&self) -> Arc<crate::domain::secrets::Sealer> {
        self.sealer.clone()
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    pub fn instance(&self) -> Instance {
        Instance {
            public_url: self.public_url.clone(),
        }
    }

    /// The orders' group commit (SQLite).
    pub fn writes(&self) -> GroupCommit {
        self.writes.clone()
    }

    /// Pool gauges for `/metrics`: (connections, idle, largest size).
    pub fn pool_state(&self) -> (u32, u32, u32) {
        let s = self.pool.state();
        (s.connections, s.idle_connections, self.pool.max_size())
    }

    /// Runs an operation that only reads (or whose writes no cache holds) on the blocking
    /// pool with a pooled connection.
    pub async fn read<F, T, E>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        on_pool(self.pool.clone(), work).await
    }

    /// The pool, for work that outlives the request that started it.
    pub(crate) fn pool(&self) -> DbPool {
        self.pool.clone()
    }

    /// Runs a write, then applies what it changed to the redirect cache.
    pub async fn write<F, T, E>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<Written<T>, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let instance = self.instance.clone();
        let written = self
            .read(move |conn| {
                let written = work(conn)?;
                // Once the work has committed, on its own connection (nothing on SQLite).
                if let Err(error) = cluster::notify(conn, &instance, &written.changed) {
                    tracing::warn!(%error, "other instances were not told of a change (their link caches catch up within the time to live)");
                }
                Ok::<_, E>(written)
            })
            .await?;
        // The write may have queued a job for the outbox.
        self.nudge_outbox();
        self.apply(&written.changed).await;
        Ok(written.value)
    }

    /// Drops what changed from the redirect cache now, and again a moment later: a redirect
    /// that loaded a link just before the change committed may have put the old state back
    /// meanwhile. New links are loaded into it.
    async fn apply(&self, changes: &[Change]) {
        if changes.is_empty() {
            return;
        }
        forget(&self.tracking, changes);
        for change in changes {
            if let Change::NewLink(code) = change {
                self.tracking.codes.insert(code);
                self.prime(code.clone()).await;
            }
        }
        let later: Vec<Change> = changes
            .iter()
            .filter(|c| !matches!(c, Change::NewLink(_)))
            .cloned()
            .collect();
        if later.is_empty() {
            return;
        }
        let tracking = self.tracking.clone();
        actix_web::rt::spawn(async move {
            actix_web::rt::time::sleep(Duration::from_secs(1)).await;
            forget(&tracking, &later);
        });
    }

    /// Puts a new link in the redirect cache.
    async fn prime(&self, code: String) {
        let key = code.clone();
        let loaded: Result<_, DbError> = self
            .read(move |conn| Ok(crate::tracking::load_link(conn, &code)?))
            .await;
        // Not found or failed: the link is committed, and the next click loads it instead.
        if let Ok(Some(link)) = loaded {
            self.tracking.cache.insert(key, Arc::new(link));
        }
    }

    /// Whether the database answers and every migration is applied.
    pub async fn ready(&self) -> bool {
        self.read(|conn| Ok::<_, DbError>(crate::db::is_ready(conn)))
            .await
            .unwrap_or(false)
    }
}

/// Runs `work` on the blocking pool with a connection of `pool`.
pub(crate) async fn on_pool<F, T, E>(pool: DbPool, work: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
{
    actix_web::rt::task::spawn_blocking(move || {
        let mut conn = pool.get().map_err(DbError::from)?;
        work(&mut conn)
    })
    .await
    .map_err(|e| E::from(DbError::Aborted(e.to_string())))?
}

/// Drops what changed from the redirect cache, in one pass over it.
fn forget(tracking: &Tracking, changes: &[Change]) {
    // Negatives go with any change (a scan may have cached a new link's code as missing).
    tracking.cache.invalidate(|l| {
        changes.iter().any(|change| match change {
            Change::Link(id) => l.link_id == *id,
            Change::Enrollment(id) => l.enrollment_id == *id,
            Change::Campaign(id) => l.campaign_id == *id,
            Change::Influencer(id) => l.influencer_id == *id,
            Change::Brand(id) => l.brand_id == *id,
            Change::NewLink(_) => false,
        })
    });
}
