//! What a service call says went wrong: [`ServiceError`]. It names the kind
//! of failure and keeps its cause; it knows no HTTP (`api::problem` maps it
//! to a status and a problem body).

use sea_orm::DbErr;
use uuid::Uuid;

use crate::domain::Invalid;

/// What went wrong in a service call.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is well-formed but breaks a rule.
    #[error("{detail}")]
    Validation { field: String, detail: String },
    /// The request cannot be read.
    #[error("{detail}")]
    BadRequest {
        field: Option<String>,
        detail: String,
    },
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The request conflicts with the current state.
    #[error("{detail}")]
    Conflict {
        detail: String,
        field: Option<String>,
        /// What the conflict is about, as data, where a caller can act on it.
        details: Option<ConflictDetails>,
    },
    /// `If-Match` named an older version.
    #[error("the resource has changed: current version is {current}, If-Match said {given}")]
    PreconditionFailed { current: i32, given: String },
    /// The request did not prove who sent it (a webhook's signature).
    #[error("{0}")]
    Unauthenticated(String),
    /// The token lacks the scope the operation needs.
    #[error("this operation needs a token with the `{0}` scope")]
    Forbidden(&'static str),
    /// A bounded queue is full: try again after `retry_after_seconds`.
    #[error("{detail}")]
    Busy {
        detail: String,
        retry_after_seconds: u64,
    },
    /// The database failed.
    #[error(transparent)]
    Database(#[from] DbErr),
    /// Anything else that is our fault; the cause chain is kept.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The data of a conflict, beyond its words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConflictDetails {
    /// The incident cannot be closed while these cleanup items are pending.
    PendingCleanupItems(Vec<Uuid>),
}

/// An internal error of work that several requests shared (a render, a
/// read of an incident): each of them gets one of these, which holds the
/// shared error as its cause (an `anyhow::Error` cannot be cloned).
#[derive(Debug, thiserror::Error)]
#[error("work shared with other requests failed")]
pub struct SharedFailure(#[source] pub std::sync::Arc<ServiceError>);

impl ServiceError {
    /// The same error for every request waiting on the same shared work:
    /// every kind as it is, an internal error wrapped in [`SharedFailure`]
    /// (the shared one stays its cause).
    pub fn replay(err: &std::sync::Arc<ServiceError>) -> ServiceError {
        match err.as_ref() {
            ServiceError::Validation { field, detail } => ServiceError::Validation {
                field: field.clone(),
                detail: detail.clone(),
            },
            ServiceError::BadRequest { field, detail } => ServiceError::BadRequest {
                field: field.clone(),
                detail: detail.clone(),
            },
            ServiceError::NotFound(what) => ServiceError::NotFound(what.clone()),
            ServiceError::Conflict {
                detail,
                field,
                details,
            } => ServiceError::Conflict {
                detail: detail.clone(),
                field: field.clone(),
                details: details.clone(),
            },
            ServiceError::PreconditionFailed { current, given } => {
                ServiceError::PreconditionFailed {
                    current: *current,
                    given: given.clone(),
                }
            }
            ServiceError::Unauthenticated(detail) => ServiceError::Unauthenticated(detail.clone()),
            ServiceError::Forbidden(scope) => ServiceError::Forbidden(scope),
            ServiceError::Busy {
                detail,
                retry_after_seconds,
            } => ServiceError::Busy {
                detail: detail.clone(),
                retry_after_seconds: *retry_after_seconds,
            },
            ServiceError::Database(err) => ServiceError::Database(err.clone()),
            ServiceError::Internal(_) => {
                ServiceError::Internal(SharedFailure(std::sync::Arc::clone(err)).into())
            }
        }
    }

    pub fn validation(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Validation {
            field: field.into(),
            detail: detail.into(),
        }
    }

    pub fn bad_request(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::BadRequest {
            field: Some(field.into()),
            detail: detail.into(),
        }
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::Conflict {
            detail: detail.into(),
            field: None,
            details: None,
        }
    }
}

/// A domain value that does not hold is a request that breaks a rule.
impl From<Invalid> for ServiceError {
    fn from(err: Invalid) -> Self {
        Self::Validation {
            field: err.field,
            detail: err.detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn an_internal_error_keeps_its_cause() {
        let cause = std::io::Error::other("disk full");
        let err = ServiceError::Internal(anyhow::Error::new(cause).context("cannot store stats"));
        assert_eq!(err.to_string(), "cannot store stats");
        assert_eq!(format!("{err:#}"), "cannot store stats: disk full");
        let source = err.source().expect("the cause is the source");
        assert_eq!(source.to_string(), "disk full");
    }

    #[test]
    fn a_domain_error_is_a_validation_error() {
        let err = ServiceError::from(Invalid::new("title", "`title` must not be blank"));
        assert!(matches!(
            err,
            ServiceError::Validation { ref field, ref detail }
                if field == "title" && detail == "`title` must not be blank"
        ));
    }
}
