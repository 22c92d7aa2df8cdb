//! The one error type of the HTTP edge, rendered as RFC 7807 `application/problem+json`, and
//! what each of core's errors means in it. Only here do the application's errors become
//! status codes.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::core::admin::AdminError;
use crate::core::auth::AuthError;
use crate::core::campaign_loop::LoopError;
use crate::core::ingest::IngestError;
use crate::core::reporting::ReportError;
use crate::domain::field::FieldError;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("missing or invalid API key")]
    Unauthorized,
    /// A webhook whose signature does not verify (or a brand with no secret for it).
    #[error("{0}")]
    BadSignature(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("the service is not ready: {0}")]
    Unavailable(String),
    /// Over a budget: retry after this many seconds.
    #[error("{detail}; retry in {wait} s")]
    RateLimited { wait: u64, detail: &'static str },
    /// Too much of this kind of work in flight: retry after this many seconds.
    #[error("{detail}; retry in {wait} s")]
    Busy { wait: u64, detail: &'static str },
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn not_found() -> Self {
        Self::NotFound("no such resource".into())
    }

    pub fn forbidden() -> Self {
        Self::Forbidden("this key's scope does not allow this operation".into())
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(e))
    }

    fn slug_and_title(&self) -> (&'static str, &'static str) {
        match self {
            Self::BadRequest(_) => ("bad-request", "Bad request"),
            Self::Unauthorized => ("unauthorized", "Unauthorized"),
            Self::BadSignature(_) => ("bad-signature", "Unauthorized"),
            Self::Forbidden(_) => ("forbidden", "Forbidden"),
            Self::NotFound(_) => ("not-found", "Not found"),
            Self::Conflict(_) => ("conflict", "Conflict"),
            Self::PayloadTooLarge => ("payload-too-large", "Payload too large"),
            Self::UnsupportedMediaType(_) => ("unsupported-media-type", "Unsupported media type"),
            Self::Validation(_) => ("validation", "Validation failed"),
            Self::Unavailable(_) => ("unavailable", "Service unavailable"),
            Self::RateLimited { .. } => ("rate-limited", "Too many requests"),
            Self::Busy { .. } => ("busy", "Service busy"),
            Self::RequestTimeout => ("request-timeout", "Request timeout"),
            Self::Internal(_) => ("internal", "Internal server error"),
        }
    }
}

/// Any x → problem body; `type` is a stable URI naming the error class.
#[derive(Debug, Serialize)]
pub struct Problem<'a> {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'a str,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<&'a [FieldError]>,
}

pub fn problem_response(
    status: StatusCode,
    slug: &str,
    title: &str,
    detail: String,
    errors: Option<&[FieldError]>,
) -> HttpResponse {
    let body = Problem {
        kind: format!("https://influtrack.dev/problems/{slug}"),
        title,
        status: status.as_u16(),
        detail,
        errors,
    };
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, PROBLEM_JSON))
        .body(serde_json::to_string(&body).unwrap_or_default())
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::BadSignature(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable(_) | Self::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (slug, title) = self.slug_and_title();
        let detail = match self {
            Self::Internal(e) => {
                // Logged once here, at the boundary; the client gets no internals.
                tracing::error!(error = %e, source = ?e.source(), "internal error");
                "an unexpected error occurred; it has been logged".to_string()
            }
            Self::Validation(errors) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                format!("invalid input: {}", fields.join(", "))
            }
            other => other.to_string(),
        };
        let errors = match self {
            Self::Validation(errors) => Some(errors.as_slice()),
            _ => None,
        };
        let mut response = problem_response(self.status_code(), slug, title, detail, errors);
        if matches!(self, Self::Unauthorized) {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        if let Self::RateLimited { wait, .. } | Self::Busy { wait, .. } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(*wait));
        }
        response
    }
}

/// What a failed database operation answers: a row that is not there is a 404, a unique
/// constraint a 409, no connection a 503, anything else a 500 (logged, never shown).
impl From<crate::core::DbError> for ApiError {
    fn from(e: crate::core::DbError) -> Self {
        use crate::core::DbError;
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            DbError::Query(Error::NotFound) => Self::not_found(),
            DbError::Query(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info)) => {
                Self::Conflict(format!("already exists ({})", info.message()))
            }
            unavailable @ DbError::Unavailable(_) => Self::Unavailable(unavailable.to_string()),
            other => Self::internal(other),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unauthorized => Self::Unauthorized,
            AuthError::Forbidden(why) => Self::Forbidden(why.into()),
            AuthError::NotFound => Self::not_found(),
            AuthError::Db(e) => e.into(),
        }
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Invalid(errors) => Self::Validation(errors),
            AdminError::NotFound(what) => Self::NotFound(what.into()),
            AdminError::Conflict(c) => Self::Conflict(c.to_string()),
            AdminError::Db(e) => e.into(),
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Invalid(errors) => Self::Validation(errors),
            IngestError::NoRate(detail) => Self::invalid("currency", detail),
            IngestError::Unreadable(detail) => {
                tracing::error!(%detail, "a stored secret does not open with this instance's key");
                Self::Unavailable("this brand's webhook secret cannot be read now".into())
            }
            IngestError::Malformed(detail) => Self::BadRequest(detail),
            IngestError::NotFound(what) => Self::NotFound(what),
            exceeds @ IngestError::RefundExceeds { .. } => {
                Self::invalid("amount", exceeds.to_string())
            }
            bad @ IngestError::BadSignature(_) => Self::BadSignature(bad.to_string()),
            IngestError::Db(e) => e.into(),
            conflict @ (IngestError::BodyChanged { .. }
            | IngestError::RefundOfAnotherOrder(_)
            | IngestError::Contended(_)
            | IngestError::InFlight(_)) => Self::Conflict(conflict.to_string()),
        }
    }
}

impl From<ReportError> for ApiError {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::Invalid(errors) => Self::Validation(errors),
            ReportError::NotFound => Self::not_found(),
            ReportError::Db(e) => e.into(),
        }
    }
}

impl From<LoopError> for ApiError {
    fn from(e: LoopError) -> Self {
        match e {
            LoopError::Invalid(errors) => Self::Validation(errors),
            LoopError::NotFound => Self::not_found(),
            LoopError::Admin(e) => e.into(),
            LoopError::Report(e) => e.into(),
            LoopError::Db(e) => e.into(),
            conflict @ (LoopError::NotPruned(_)
            | LoopError::ReinstatedMeanwhile
            | LoopError::ReferenceTaken(_)) => Self::Conflict(conflict.to_string()),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
