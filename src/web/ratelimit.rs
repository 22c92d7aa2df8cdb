//! Rate limits: per key on the API and the dashboard, per source on the webhooks; never on the
//! redirect, the health checks, `/metrics` or static assets.
//!
//! A request over its budget gets a 429 problem with `Retry-After` (whole seconds, at least 1)
//! before any handler, database or body parsing runs. Budgets are token buckets (GCRA, from
//! `governor`): a sustained rate per second and a burst.
//!
//! Keys: the bearer token (or the dashboard session cookie) when there is one, so one noisy
//! storefront does not slow another; otherwise the client address (socket peer, or
//! `X-Forwarded-For` behind a trusted proxy), which also bounds sign-in guessing. Webhooks are
//! limited per platform and brand path, i.e. per sending store. Tokens are never kept: the
//! bucket key is a SHA-256 of them.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, Error};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::web::problem::problem_response;

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

/// The instance's limiters (shared by all workers).
#[derive(Clone)]
pub struct RateLimits {
    api: Option<Arc<Limiter>>,
    webhook: Option<Arc<Limiter>>,
}

impl RateLimits {
    pub fn new(api: Budget, webhook: Budget) -> Self {
        Self {
            api: Limiter::new(api).map(Arc::new),
            webhook: Limiter::new(webhook).map(Arc::new),
        }
    }

    fn for_class(&self, class: Class) -> Option<&Limiter> {
        match class {
            Class::Api => self.api.as_deref(),
            Class::Webhook => self.webhook.as_deref(),
            Class::Exempt => None,
        }
    }
}

/// The bucket of a request: its credential, else its client address; webhooks by path.
fn bucket(req: &ServiceRequest, class: Class) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    if class == Class::Webhook {
        hash.update(b"webhook\0");
        hash.update(req.path().as_bytes());
        return hash.finalize().into();
    }
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty());
    if let Some(token) = bearer {
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
    hash.update(b"ip\0");
    let ip = client_ip(req);
    match ip {
        Some(IpAddr::V4(v4)) => hash.update(v4.octets()),
        Some(IpAddr::V6(v6)) => hash.update(v6.octets()),
        None => hash.update(b"unknown"),
    }
    hash.finalize().into()
}

fn client_ip(req: &ServiceRequest) -> Option<IpAddr> {
    crate::web::edge(req.request()).client_ip(req.request())
}

/// The middleware: answers 429 for a request over its budget, passes every other one on.
pub async fn limit(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let class = classify(req.path());
    let limits = req.app_data::<web::Data<RateLimits>>().cloned();
    if let Some(limiter) = limits.as_deref().and_then(|l| l.for_class(class)) {
        if let Some(wait) = limiter.check(&bucket(&req, class)) {
            let label = if class == Class::Webhook {
                "webhook"
            } else {
                "api"
            };
            metrics::counter!("rate_limited_total", "class" => label).increment(1);
            tracing::warn!(class = label, retry_after = wait, "rate limited");
            let mut response = problem_response(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
                format!("this key or source is over its request budget; retry in {wait} s"),
                None,
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(wait));
            return Ok(req.into_response(response).map_into_right_body());
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
