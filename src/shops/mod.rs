//! Calls outside: the shops a brand connects (Shopify's Admin GraphQL API and WooCommerce's
//! REST API) and the brand's own webhook endpoints ([`endpoint`]). Each call is blocking (the outbox worker runs on threads of its own) and bounded by
//! the client's timeout. Credentials go in headers only and never into an error or a log.
//!
//! Imports only `domain` (`tests/architecture.rs`).

pub mod endpoint;
pub mod shopify;
pub mod woocommerce;

use std::time::Duration;

use crate::domain::integrations::Platform;
use crate::domain::outbox::parse_retry_after;
use crate::domain::shop_sync::ShopCode;

/// Why a call to a shop did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShopError {
    /// A retry may fix it: the shop is down, slow, or asks to wait (`Retry-After`).
    Retry {
        after: Option<Duration>,
        message: String,
    },
    /// Trying again changes nothing until someone does (credentials, a code that exists in
    /// the shop with other terms, a value the shop refuses). The shop's own message.
    Refused(String),
}

impl ShopError {
    pub fn message(&self) -> &str {
        match self {
            Self::Retry { message, .. } | Self::Refused(message) => message,
        }
    }
}

impl std::fmt::Display for ShopError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

/// The HTTP clients every call goes through.
#[derive(Clone)]
pub struct Http {
    client: reqwest::blocking::Client,
    /// For webhook endpoints: connects only to addresses that [`endpoint`] allows.
    hooks: reqwest::blocking::Client,
    allow_private: bool,
}

impl Http {
    /// Clients whose every call gives up after `timeout`; webhook endpoints on private
    /// addresses are refused.
    pub fn new(timeout: Duration) -> Result<Self, String> {
        Self::with_private(timeout, false)
    }

    /// As [`Http::new`], with webhook endpoints on private addresses allowed or not.
    pub fn with_private(timeout: Duration, allow_private: bool) -> Result<Self, String> {
        let builder = || {
            reqwest::blocking::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout)
                .user_agent(concat!("influtrack/", env!("CARGO_PKG_VERSION")))
                // A shop's API answers where it is asked; a redirect is not followed with the
                // credentials (nor, for a webhook, to an address nobody checked).
                .redirect(reqwest::redirect::Policy::none())
        };
        let client = builder().build().map_err(|e| e.to_string())?;
        let mut hooks =
            builder().dns_resolver(std::sync::Arc::new(endpoint::Guarded { allow_private }));
        if !allow_private {
            // Through a proxy the proxy resolves the name, past the guard: webhooks go direct.
            hooks = hooks.no_proxy();
        }
        let hooks = hooks.build().map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            hooks,
            allow_private,
        })
    }
}

/// A connected shop with its credentials (opened from their sealed form).
pub enum Shop {
    Shopify {
        base_url: String,
        access_token: String,
    },
    WooCommerce {
        base_url: String,
        consumer_key: String,
        consumer_secret: String,
    },
}

impl std::fmt::Debug for Shop {
    // Never the credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} shop at {}",
            self.platform().as_str(),
            self.base_url()
        )
    }
}

/// What one read-only call told about the credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    pub shop_name: Option<String>,
    pub currency: Option<String>,
    /// What the credentials may do (Shopify's access scopes; WooCommerce's `read`/`write`).
    pub scopes: Vec<String>,
    /// What syncing codes needs and the credentials lack.
    pub missing_scopes: Vec<String>,
}

impl Shop {
    pub fn platform(&self) -> Platform {
        match self {
            Self::Shopify { .. } => Platform::Shopify,
            Self::WooCommerce { .. } => Platform::WooCommerce,
        }
    }

    pub fn base_url(&self) -> &str {
        match self {
            Self::Shopify { base_url, .. } | Self::WooCommerce { base_url, .. } => base_url,
        }
    }

    /// Whether the credentials work and what they may do: one read (and, on WooCommerce, an
    /// empty batch write that changes nothing, to see the key's write permission).
    pub fn check(&self, http: &Http) -> Result<CheckReport, ShopError> {
        match self {
            Self::Shopify { .. } => shopify::check(http, self),
            Self::WooCommerce { .. } => woocommerce::check(http, self),
        }
    }

    /// Makes the shop hold `code` as given: creates it, adopts one with the same text and
    /// terms, or updates the one it created before (`known`, the shop's id). Returns the
    /// shop's id of the code.
    pub fn push(
        &self,
        http: &Http,
        code: &ShopCode,
        known: Option<&str>,
    ) -> Result<String, ShopError> {
        match self {
            Self::Shopify { .. } => shopify::push(http, self, code, known),
            Self::WooCommerce { .. } => woocommerce::push(http, self, code, known),
        }
    }

    /// Deletes the code influtrack created in the shop (`known`); a code it never recorded is
    /// left alone (it may be the merchant's).
    pub fn remove(&self, http: &Http, known: Option<&str>) -> Result<(), ShopError> {
        let Some(id) = known else {
            return Ok(());
        };
        match self {
            Self::Shopify { .. } => shopify::remove(http, self, id),
            Self::WooCommerce { .. } => woocommerce::remove(http, self, id),
        }
    }
}

/// What a code found in a shop gives, with its usage limit, for the message that refuses it.
fn with_limit(gives: String, limit: Option<i64>) -> String {
    match limit {
        Some(limit) => format!("{gives}, usage limit {limit}"),
        None => format!("{gives}, no usage limit"),
    }
}

/// The longest shop message kept with a job.
const MESSAGE_LIMIT: usize = 500;

pub(crate) fn clip(message: &str) -> String {
    let message = message.trim();
    if message.chars().count() <= MESSAGE_LIMIT {
        return message.to_string();
    }
    let mut clipped: String = message.chars().take(MESSAGE_LIMIT).collect();
    clipped.push('…');
    clipped
}

/// A call that got no answer: timed out, refused, reset. A retry may work.
fn unreachable(e: &reqwest::Error) -> ShopError {
    let why = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "the connection failed"
    };
    ShopError::Retry {
        after: None,
        message: format!("the shop did not answer: {why}"),
    }
}

/// An answer that is not a success, as an error: `message` is the shop's own words.
fn failed(status: u16, retry_after: Option<Duration>, message: &str) -> ShopError {
    let message = clip(message);
    match status {
        408 | 425 | 429 | 500..=599 => ShopError::Retry {
            after: retry_after,
            message: format!("the shop answered {status}: {message}"),
        },
        401 | 403 => ShopError::Refused(format!(
            "the shop refused the credentials ({status}): {message}"
        )),
        _ => ShopError::Refused(format!("the shop answered {status}: {message}")),
    }
}

/// An answer read whole: status, `Retry-After`, body.
struct Answer {
    status: u16,
    retry_after: Option<Duration>,
    body: String,
}

fn send(request: reqwest::blocking::RequestBuilder) -> Result<Answer, ShopError> {
    let response = request.send().map_err(|e| unreachable(&e))?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let body = response.text().map_err(|e| unreachable(&e))?;
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

/// RFC 3339 in UTC, to the second, of microseconds since the epoch.
fn utc(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}
