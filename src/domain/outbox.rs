//! The outbox's rules: job states, and when a failed delivery is tried again.

use std::time::Duration;

use crate::domain::names::named_enum;

named_enum! {
    /// Where a job stands: `pending` until delivered (`done`), given up on (`failed`, shown
    /// with the last error, retried by hand) or made moot (`cancelled`, e.g. its store was
    /// disconnected).
    pub enum JobStatus {
        Pending = "pending",
        Done = "done",
        Failed = "failed",
        Cancelled = "cancelled",
    }
}

named_enum! {
    /// What a job does.
    pub enum JobKind {
        /// Makes a discount code in a connected shop match influtrack's.
        ShopSync = "shop_sync",
        /// Sends an event to a brand's webhook endpoint.
        Webhook = "webhook",
    }
}

/// What a delivery came to.
#[derive(Debug)]
pub enum Delivery {
    /// Delivered; with what the receiver gave back to remember (a shop's id of the code).
    Done(Option<String>),
    /// A retry may work; after the shop's `Retry-After` when it gave one.
    Retry {
        after: Option<Duration>,
        error: String,
    },
    /// A retry will not work until someone changes something.
    Refused(String),
    /// Nothing to do any more (the store was disconnected).
    Moot(String),
}

/// Deliveries that fail for a reason a retry may fix are tried this many times, then the job
/// is `failed` (with base 1 s and the 1 h cap: about eight hours of trying).
pub const MAX_ATTEMPTS: i64 = 20;

/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// How long to wait before attempt `attempts + 1`: the shop's `Retry-After` when it sent one
/// (capped), else `base` doubled per attempt made, capped, with ±20% jitter (`jitter` in
/// [0, 1)) so that jobs failed together do not come back together.
pub fn backoff(
    attempts: i64,
    base: Duration,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Duration {
    if let Some(after) = retry_after {
        return after.min(MAX_BACKOFF);
    }
    let exponent = attempts.clamp(1, 32) as u32 - 1;
    let raw = base.saturating_mul(2u32.saturating_pow(exponent.min(31)));
    let capped = raw.min(MAX_BACKOFF);
    capped
        .mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0))
        .min(MAX_BACKOFF)
}

/// `Retry-After` as seconds (the HTTP-date form is read as "now": retry soon).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    match value.parse::<u64>() {
        Ok(secs) => Some(Duration::from_secs(secs)),
        // Capped before the conversion: a huge value (`1e20`) would not fit a Duration.
        Err(_) => value
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Duration::from_secs_f64(s.min(MAX_BACKOFF.as_secs_f64())))
            .or(Some(Duration::ZERO)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_is_capped_and_honours_retry_after() {
        let base = Duration::from_secs(1);
        assert_eq!(backoff(1, base, None, 0.5), Duration::from_secs(1));
        assert_eq!(backoff(2, base, None, 0.5), Duration::from_secs(2));
        assert_eq!(backoff(5, base, None, 0.5), Duration::from_secs(16));
        assert_eq!(backoff(40, base, None, 0.5), MAX_BACKOFF);
        assert_eq!(backoff(40, base, None, 1.0), MAX_BACKOFF);
        assert_eq!(backoff(3, base, None, 0.0), Duration::from_millis(3200));
        assert_eq!(
            backoff(9, base, Some(Duration::from_secs(7)), 0.9),
            Duration::from_secs(7)
        );
        assert_eq!(
            backoff(1, base, Some(Duration::from_secs(99_999)), 0.0),
            MAX_BACKOFF
        );
    }

    #[test]
    fn retry_after_reads_seconds() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("2.0"), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after(""), None);
        assert_eq!(parse_retry_after("1e20"), Some(MAX_BACKOFF));
        assert_eq!(
            parse_retry_after("99999999999999999999999"),
            Some(MAX_BACKOFF)
        );
        assert_eq!(parse_retry_after("inf"), Some(Duration::ZERO));
    }
}
