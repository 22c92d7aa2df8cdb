//! The campaign loop: judge and prune the weak (and reinstate), start the next campaign with
//! the best, pay the influencers.

pub mod payouts;
pub mod prune;
pub mod successor;

use crate::core::admin::AdminError;
use crate::core::reporting::ReportError;
use crate::db::DbError;
use crate::domain::campaign::EnrollmentStatus;
use crate::domain::field::FieldError;

/// Why a step of the loop did nothing.
#[derive(Debug, thiserror::Error)]
pub enum LoopError {
    #[error("validation failed")]
    Invalid(Vec<FieldError>),
    #[error("no such resource")]
    NotFound,
    /// Only a pruned enrollment can be reinstated.
    #[error("the enrollment is {0}, not pruned")]
    NotPruned(EnrollmentStatus),
    #[error("the enrollment was reinstated meanwhile")]
    ReinstatedMeanwhile,
    /// A payment reference names one payment.
    #[error("a payment with reference {0:?} is already recorded")]
    ReferenceTaken(String),
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(transparent)]
    Report(ReportError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<ReportError> for LoopError {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::Invalid(errors) => Self::Invalid(errors),
            ReportError::NotFound => Self::NotFound,
            other => Self::Report(other),
        }
    }
}

impl From<diesel::result::Error> for LoopError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}

impl From<Vec<FieldError>> for LoopError {
    fn from(errors: Vec<FieldError>) -> Self {
        Self::Invalid(errors)
    }
}

impl From<FieldError> for LoopError {
    fn from(error: FieldError) -> Self {
        Self::Invalid(vec![error])
    }
}

pub type LoopResult<T> = Result<T, LoopError>;
