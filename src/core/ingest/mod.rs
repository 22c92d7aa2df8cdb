//! Recording orders, refunds and funnel events, whatever their source (the REST API, Shopify
//! and WooCommerce webhooks): resolve the touches, attribute, convert currencies, persist —
//! once, however often the same thing is sent.

pub mod clicks;
pub mod events;
pub mod orders;
pub mod refunds;
pub mod webhooks;

use crate::db::DbError;
use crate::domain::field::FieldError;
use crate::domain::integrations::{PayloadError, Platform};

/// What was recorded: now (`created`), or before (a resend, answered the same).
#[derive(Debug)]
pub struct Recorded<T> {
    pub created: bool,
    pub view: T,
}

/// Why something was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The input breaks a rule (also: no exchange rate, a refund beyond the order).
    #[error("validation failed")]
    Invalid(Vec<FieldError>),
    /// No exchange rate into the campaign's currency: the brand can register one, and a
    /// platform's retry then succeeds (so a webhook is not rejected for it).
    #[error("{0}")]
    NoRate(String),
    /// A stored secret this instance cannot open (its key differs from the one that sealed
    /// it): the operator must fix the key; the platform retries meanwhile.
    #[error("{0}")]
    Unreadable(String),
    /// A delivery that is not JSON at all.
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    NotFound(String),
    /// The same id was recorded before with another body: the first one stays.
    #[error("{what} {id} was already recorded with a different body")]
    BodyChanged { what: &'static str, id: String },
    /// The refund's id names a refund of another order.
    #[error("refund {0} belongs to another order")]
    RefundOfAnotherOrder(String),
    /// Refunds would exceed the order (possibly because another refund just took the rest).
    #[error("refunds would exceed the order: {refunded} of {amount} already refunded")]
    RefundExceeds { refunded: String, amount: String },
    /// What the write depended on changed meanwhile, and kept changing: retry.
    #[error("{0}")]
    Contended(&'static str),
    /// The same id is being recorded concurrently and is not visible yet: retry.
    #[error("{0} is being recorded concurrently; retry")]
    InFlight(&'static str),
    /// A webhook whose signature does not verify (or a brand without a secret for it).
    #[error("the {} header does not verify with this brand's {} webhook secret", .0.signature_header(), .0.as_str())]
    BadSignature(Platform),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for IngestError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}

impl From<Vec<FieldError>> for IngestError {
    fn from(errors: Vec<FieldError>) -> Self {
        Self::Invalid(errors)
    }
}

impl From<FieldError> for IngestError {
    fn from(error: FieldError) -> Self {
        Self::Invalid(vec![error])
    }
}

impl From<PayloadError> for IngestError {
    fn from(e: PayloadError) -> Self {
        match e {
            PayloadError::Malformed(detail) => Self::Malformed(format!("malformed JSON: {detail}")),
            PayloadError::Invalid(errors) => Self::Invalid(errors),
        }
    }
}

pub type IngestResult<T> = Result<T, IngestError>;
