//! What a parser says when a file cannot be imported: [`ImportError`],
//! naming the place in the file at fault. It knows nothing of the services:
//! `services/imports.rs` turns it into a `ImportError`.

use crate::domain::Invalid;

/// Why a file could not be read into records.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A value of the file breaks a rule; `field` is its path in the file
    /// (`timeline[41].kind`), or `body` for the file as a whole.
    #[error("{detail}")]
    InvalidValue { field: String, detail: String },
    /// The file is not of its format at all (not JSON, not a ZIP).
    #[error("{detail}")]
    Malformed { field: String, detail: String },
    /// Reading the file failed.
    #[error("the file could not be read: {0}")]
    Read(#[source] std::io::Error),
    /// Reading an entry of a ZIP failed.
    #[error("the ZIP could not be read: {0}")]
    ZipRead(#[source] std::io::Error),
    /// The file is not a ZIP archive a parser can open.
    #[error("not a valid ZIP archive: {0}")]
    NotZip(#[source] ::zip::result::ZipError),
    /// A ZIP unpacks to more than the import limit (`import_limit_bytes`).
    #[error(
        "the ZIP unpacks to more than the import limit ({limit} bytes, \
         `import_limit_bytes`): refused"
    )]
    LimitExceeded { limit: u64 },
    /// The import service stopped listening while the file was read.
    #[error("the import stopped while the file was read")]
    Stopped,
}

impl ImportError {
    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::InvalidValue {
            field: field.into(),
            detail: detail.into(),
        }
    }

    pub fn malformed(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Malformed {
            field: field.into(),
            detail: detail.into(),
        }
    }
}

/// A domain value of the file that does not hold.
impl From<Invalid> for ImportError {
    fn from(err: Invalid) -> Self {
        Self::InvalidValue {
            field: err.field,
            detail: err.detail,
        }
    }
}
