//! Rate limits: per key on the API and the dashboard, per store on the webhooks, per client
//! address on failed authentications and unknown links; never on the redirect of a known
//! link, the health checks or static assets.
//!
//! A request over its budget gets a 429 problem with `Retry-After` (whole seconds, at least 1)
//! before any handler, database or body parsing runs. Budgets are token buckets (GCRA, from
//! `governor`): a sustained rate per second and a burst.
//!
//! Keys: the bearer token (or the dashboard session cookie) when there is one, so one noisy
//! storefront does not slow another; otherwise the client address (socket peer, or
//! `X-Forwarded-For` behind a trusted proxy). A wrong token gets a fresh bucket, so guessing is
//! bounded by [`Failures`] instead: failed authentications (API keys, the operator token,
//! dashboard sign-in and sessions, webhook signatures) are counted per client address, and an
//! address over that budget gets 429 on everything that authenticates. Webhooks spend their
//! store's budget (platform and parsed brand id) only once their signature verified, so junk
//! never spends a real store's budget. Tokens are never kept: the bucket key is a SHA-256 of
//! them.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, Error};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::domain::ids::BrandId;
use crate::domain::integrations::Platform;
use crate::web::problem::{problem_response, ApiError};

/// Forget idle buckets every this many limited requests, so a scan of random tokens cannot
/// grow the table without bound.
const SWEEP_EVERY: u64 = 10_000;

/// A sustained rate and a burst; `per_second == 0` turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub per_second: u32,
    pub burst: u32,
}

impl Budget {
    pub const OFF: Budget = Budget {
        per_second: 0,
        burst: 0,
    };

    fn quota(self) -> Option<Quota> {
        let rate = NonZeroU32::new(self.per_second)?;
        let burst = NonZeroU32::new(self.burst).unwrap_or(rate);
        Some(Quota::per_second(rate).allow_burst(burst))
    }
}

/// Which budget a request falls under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Api,
    Webhook,
    Exempt,
}

fn classify(path: &str) -> Class {
    let dashboard_page = path.starts_with("/dashboard") && !path.starts_with("/dashboard/app.");
    // The API's own description is as public and as static as the scripts.
    let description = path.starts_with("/api/v1/openapi.") || path == "/api/docs";
    if path.starts_with("/api/v1/integrations/shopify/")
        || path.starts_with("/api/v1/integrations/woocommerce/")
    {
        Class::Webhook
    } else if (path.starts_with("/api/") && !description) || dashboard_page {
        Class::Api
    } else {
        Class::Exempt
    }
}

struct Limiter {
    limiter: DefaultKeyedRateLimiter<[u8; 32]>,
    checks: AtomicU64,
}

impl Limiter {
    fn new(budget: Budget) -> Option<Self> {
        Some(Self {
            limiter: RateLimiter::keyed(budget.quota()?),
            checks: AtomicU64::new(0),
        })
    }

    /// `None` when allowed, else the whole seconds to wait.
    fn check(&self, key: &[u8; 32]) -> Option<u64> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        match self.limiter.check_key(key) {
            Ok(()) => None,
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Some((wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1))
            }
        }
    }
}

/// Failures allowed per client address: a sustained rate per minute and a burst; `per_minute
/// == 0` turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureBudget {
    pub per_minute: u32,
    pub burst: u32,
}

/// Failed authentications per client address. A GCRA of its own rather than `governor`'s,
/// because a blocked address must be refused *before* its next credential is checked, which
/// needs a look at the bucket that spends nothing.
pub struct Failures {
    /// Time one failure is worth.
    interval: Duration,
    /// How far ahead of now the bucket may run: the burst.
    tolerance: Duration,
    /// Per address: the theoretical arrival time of its next failure.
    table: Mutex<HashMap<IpAddr, Instant>>,
}

/// The table is swept of addresses that are clear again when it grows past this.
const FAILURE_TABLE_SWEEP: usize = 50_000;

impl Failures {
    fn new(budget: FailureBudget) -> Option<Self> {
        if budget.per_minute == 0 {
            return None;
        }
        let interval = Duration::from_secs(60) / budget.per_minute;
        Some(Self {
            interval,
            tolerance: interval * budget.burst.max(1),
            table: Mutex::new(HashMap::new()),
        })
    }

    /// Whole seconds until the address may fail again, or `None` when it may now.
    fn blocked(&self, ip: IpAddr) -> Option<u64> {
        let table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let tat = *table.get(&ip)?;
        let free_at = (tat + self.interval).checked_sub(self.tolerance)?;
        let wait = free_at.checked_duration_since(Instant::now())?;
        Some((wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1))
    }

    /// Counts a failure of the address.
    fn record(&self, ip: IpAddr) {
        let now = Instant::now();
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if table.len() >= FAILURE_TABLE_SWEEP {
            table.retain(|_, tat| *tat > now);
        }
        let tat = table.entry(ip).or_insert(now);
        *tat = (*tat).max(now) + self.interval;
    }
}

/// The instance's limiters (shared by all workers).
#[derive(Clone)]
pub struct RateLimits {
    api: Option<Arc<Limiter>>,
    webhook: Option<Arc<Limiter>>,
    failures: Option<Arc<Failures>>,
    unknown_links: Option<Arc<Limiter>>,
    /// Webhook bodies read at once before their signature can be checked.
    webhook_bodies: Arc<tokio::sync::Semaphore>,
    reading: Arc<Reading>,
    /// Reads kept for addresses that delivered a verified webhook lately (a store), so that a
    /// crowd of slow senders without the secret cannot take every read.
    known_bodies: Arc<tokio::sync::Semaphore>,
    known_senders: Arc<Mutex<HashMap<IpAddr, Instant>>>,
}

/// Reads kept for known senders, beyond [`WEBHOOK_BODIES_AT_ONCE`].
pub const WEBHOOK_BODIES_KEPT_FOR_STORES: usize = 8;
/// How long an address that delivered a verified webhook counts as a store's.
const KNOWN_SENDER_FOR: Duration = Duration::from_secs(24 * 3600);
const KNOWN_SENDERS_MAX: usize = 10_000;

/// Webhook bodies an instance reads at once before their signature can be checked: at most
/// this many times the webhook body limit (2 MiB) in memory; the rest get 503 with
/// `Retry-After`, which stores retry.
pub const WEBHOOK_BODIES_AT_ONCE: usize = 32;

impl RateLimits {
    pub fn new(
        api: Budget,
        webhook: Budget,
        failures: FailureBudget,
        unknown_links: Budget,
    ) -> Self {
        Self {
            api: Limiter::new(api).map(Arc::new),
            webhook: Limiter::new(webhook).map(Arc::new),
            failures: Failures::new(failures).map(Arc::new),
            unknown_links: Limiter::new(unknown_links).map(Arc::new),
            webhook_bodies: Arc::new(tokio::sync::Semaphore::new(WEBHOOK_BODIES_AT_ONCE)),
            reading: Arc::new(Reading::default()),
            known_bodies: Arc::new(tokio::sync::Semaphore::new(WEBHOOK_BODIES_KEPT_FOR_STORES)),
            known_senders: Arc::new(Mutex::new(HashMap::new())),
        }
    }
}

fn limits(req: &actix_web::HttpRequest) -> Option<web::Data<RateLimits>> {
    req.app_data::<web::Data<RateLimits>>().cloned()
}

/// The address failures are counted under (all unknown clients share one).
fn failure_address(req: &actix_web::HttpRequest) -> IpAddr {
    crate::web::edge(req)
        .client_ip(req)
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// Counts a failed authentication of the request's client (`kind`: `api_key`, `session`,
/// `sign_in`, `webhook_signature`), in `/metrics` and the log (never the address or token).
pub fn failed_authentication(req: &actix_web::HttpRequest, kind: &'static str) {
    metrics::counter!("auth_failures_total", "kind" => kind).increment(1);
    tracing::info!(kind, "authentication failed");
    if let Some(failures) = limits(req).and_then(|l| l.failures.clone()) {
        failures.record(failure_address(req));
    }
}

/// Spends one of a store's webhook budget, after its delivery's signature verified.
pub fn spend_store_budget(
    req: &actix_web::HttpRequest,
    platform: Platform,
    brand_id: &BrandId,
) -> Result<(), ApiError> {
    use sha2::{Digest, Sha256};
    let Some(limiter) = limits(req).and_then(|l| l.webhook.clone()) else {
        return Ok(());
    };
    let mut hash = Sha256::new();
    hash.update(b"webhook\0");
    hash.update(platform.as_str().as_bytes());
    hash.update(b"\0");
    hash.update(brand_id.as_str().as_bytes());
    match limiter.check(&hash.finalize().into()) {
        None => Ok(()),
        Some(wait) => {
            limited("webhook", wait);
            Err(ApiError::RateLimited {
                wait,
                detail: "this store is over its webhook budget",
            })
        }
    }
}

/// Webhook bodies one client address may have in flight at once: one slow sender cannot take
/// every read.
pub const WEBHOOK_BODIES_PER_ADDRESS: usize = 4;

/// Unverified webhook bodies being read, per client address.
#[derive(Default)]
struct Reading(Mutex<HashMap<IpAddr, usize>>);

impl Reading {
    fn release(&self, address: IpAddr) {
        let mut reading = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = reading.get_mut(&address) {
            *n -= 1;
            if *n == 0 {
                reading.remove(&address);
            }
        }
    }
}

/// The right to read one webhook body, held while it is read: one of the instance's few, and
/// one of its client address's.
pub struct BodyPermit {
    _instance: tokio::sync::OwnedSemaphorePermit,
    address: IpAddr,
    reading: Arc<Reading>,
}

impl Drop for BodyPermit {
    fn drop(&mut self) {
        self.reading.release(self.address);
    }
}

/// A permit to read one webhook body, or 503 with `Retry-After` when the instance or the
/// client's address has too many in flight.
pub fn webhook_body_permit(req: &actix_web::HttpRequest) -> Result<Option<BodyPermit>, ApiError> {
    let Some(limits) = limits(req) else {
        return Ok(None);
    };
    let busy = |detail| {
        limited("webhook_bodies", 1);
        ApiError::Busy { wait: 1, detail }
    };
    let address = failure_address(req);
    {
        let mut reading = limits.reading.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = reading.entry(address).or_insert(0);
        if *n >= WEBHOOK_BODIES_PER_ADDRESS {
            return Err(busy("too many webhook bodies from this address at once"));
        }
        *n += 1;
    }
    let reading = limits.reading.clone();
    let permit = limits
        .webhook_bodies
        .clone()
        .try_acquire_owned()
        .or_else(|e| {
            if limits.is_known_sender(address) {
                limits.known_bodies.clone().try_acquire_owned()
            } else {
                Err(e)
            }
        });
    match permit {
        Ok(permit) => Ok(Some(BodyPermit {
            _instance: permit,
            address,
            reading,
        })),
        Err(_) => {
            reading.release(address);
            Err(busy("too many webhook bodies are being received at once"))
        }
    }
}

impl RateLimits {
    fn is_known_sender(&self, address: IpAddr) -> bool {
        let senders = self.known_senders.lock().unwrap_or_else(|p| p.into_inner());
        senders
            .get(&address)
            .is_some_and(|at| at.elapsed() < KNOWN_SENDER_FOR)
    }
}

/// Remembers the request's address as a store's: it just delivered a verified webhook.
pub fn verified_sender(req: &actix_web::HttpRequest) {
    let Some(limits) = limits(req) else {
        return;
    };
    let address = failure_address(req);
    let mut senders = limits
        .known_senders
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if senders.len() >= KNOWN_SENDERS_MAX {
        senders.retain(|_, at| at.elapsed() < KNOWN_SENDER_FOR);
        if senders.len() >= KNOWN_SENDERS_MAX {
            senders.clear();
        }
    }
    senders.insert(address, Instant::now());
}

/// Whether the client may be told of another unknown link now (a scan of random codes is
/// limited per address); `Err` holds the whole seconds to wait.
pub fn unknown_link(req: &actix_web::HttpRequest) -> Result<(), u64> {
    let Some(limiter) = limits(req).and_then(|l| l.unknown_links.clone()) else {
        return Ok(());
    };
    match limiter.check(&address_key(b"unknown-link\0", failure_address(req))) {
        None => Ok(()),
        Some(wait) => {
            limited("unknown_link", wait);
            Err(wait)
        }
    }
}

fn address_key(tag: &[u8], ip: IpAddr) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(tag);
    match ip {
        IpAddr::V4(v4) => hash.update(v4.octets()),
        IpAddr::V6(v6) => hash.update(v6.octets()),
    }
    hash.finalize().into()
}

fn limited(class: &'static str, wait: u64) {
    metrics::counter!("rate_limited_total", "class" => class).increment(1);
    tracing::warn!(class, retry_after = wait, "rate limited");
}

/// The bucket of an API or dashboard request: its credential, else its client address.
fn bucket(req: &ServiceRequest) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    if let Some(token) = crate::web::bearer(req.request()) {
        hash.update(b"key\0");
        hash.update(token.as_bytes());
        return hash.finalize().into();
    }
    if let Some(session) = req.cookie(crate::web::SESSION_COOKIE) {
        if !session.value().is_empty() {
            hash.update(b"key\0");
            hash.update(session.value().as_bytes());
            return hash.finalize().into();
        }
    }
    address_key(
        b"ip\0",
        client_ip(req).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
    )
}

fn client_ip(req: &ServiceRequest) -> Option<IpAddr> {
    crate::web::edge(req.request()).client_ip(req.request())
}

fn too_many(req: ServiceRequest, wait: u64, detail: &str) -> ServiceResponse {
    let mut response = problem_response(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        "Too many requests",
        format!("{detail}; retry in {wait} s"),
        None,
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(wait));
    req.into_response(response)
}

/// The middleware: answers 429 for a request over its budget, passes every other one on.
pub async fn limit(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let class = classify(req.path());
    if class != Class::Exempt {
        if let Some(limits) = req.app_data::<web::Data<RateLimits>>().cloned() {
            // An address that failed to authenticate too often is refused before its next
            // credential is even looked at.
            let blocked = limits
                .failures
                .as_deref()
                .and_then(|f| f.blocked(failure_address(req.request())));
            if let Some(wait) = blocked {
                limited("auth_failures", wait);
                let detail = "too many failed authentications from this address";
                return Ok(too_many(req, wait, detail).map_into_right_body());
            }
            // Webhooks spend their store's budget once verified (see `spend_store_budget`).
            if let (Class::Api, Some(limiter)) = (class, limits.api.as_deref()) {
                if let Some(wait) = limiter.check(&bucket(&req)) {
                    limited("api", wait);
                    let detail = "this key or source is over its request budget";
                    return Ok(too_many(req, wait, detail).map_into_right_body());
                }
            }
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert_eq!(classify("/r/abc"), Class::Exempt);
        assert_eq!(classify("/healthz"), Class::Exempt);
        assert_eq!(classify("/metrics"), Class::Exempt);
        assert_eq!(classify("/t.js"), Class::Exempt);
        assert_eq!(classify("/dashboard/app.css"), Class::Exempt);
        assert_eq!(classify("/api/v1/openapi.yaml"), Class::Exempt);
        assert_eq!(classify("/api/docs"), Class::Exempt);
        assert_eq!(classify("/dashboard/login"), Class::Api);
        assert_eq!(classify("/api/v1/orders"), Class::Api);
        assert_eq!(classify("/api/v1/integrations/shopify"), Class::Api);
        assert_eq!(
            classify("/api/v1/integrations/shopify/0190/orders"),
            Class::Webhook
        );
        assert_eq!(
            classify("/api/v1/integrations/woocommerce/0190/orders"),
            Class::Webhook
        );
    }

    #[test]
    fn failures_block_before_the_next_attempt_and_free_up_at_their_rate() {
        let failures = Failures::new(FailureBudget {
            per_minute: 60,
            burst: 3,
        })
        .unwrap();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(failures.blocked(a), None);
            failures.record(a);
        }
        // Blocked before trying again, for about one interval (one second).
        assert_eq!(failures.blocked(a), Some(1));
        assert_eq!(failures.blocked(b), None);
        assert!(Failures::new(FailureBudget {
            per_minute: 0,
            burst: 10
        })
        .is_none());
    }

    #[test]
    fn a_burst_then_a_wait() {
        let limiter = Limiter::new(Budget {
            per_second: 1,
            burst: 3,
        })
        .unwrap();
        let a = [1u8; 32];
        let b = [2u8; 32];
        for _ in 0..3 {
            assert_eq!(limiter.check(&a), None);
        }
        assert_eq!(limiter.check(&a), Some(1));
        // Another key has its own budget.
        assert_eq!(limiter.check(&b), None);
        assert!(Limiter::new(Budget::OFF).is_none());
    }
}
