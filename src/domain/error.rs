//! What the domain says when a value does not hold: [`Invalid`], naming the
//! input at fault. Services turn it into a validation error.

/// A value that breaks a rule of the domain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct Invalid {
    /// The input at fault, as the caller named it (`title`,
    /// `started_at,mitigated_at`, `--week`).
    pub field: String,
    /// What is wrong and what is allowed, in words.
    pub detail: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            detail: detail.into(),
        }
    }
}
