//! Domain values that check themselves when built: once a request has been
//! parsed into these, the rest of the service can trust them.

mod enums;
mod milestones;
mod reference;

pub use enums::*;
pub use milestones::{MILESTONE_FIELDS, Milestones};
pub use reference::{IncidentRef, RoleName};

use crate::error::ServiceError;

/// Check a required text: trimmed non-empty and at most `max` characters.
pub fn required_text(field: &str, value: &str, max: usize) -> Result<String, ServiceError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(ServiceError::validation(
            field,
            format!("`{field}` must not be empty"),
        ));
    }
    optional_text(field, Some(value.to_string()), max).map(|v| v.unwrap_or_default())
}

/// Check an optional text: at most `max` characters; blank becomes `None`.
pub fn optional_text(
    field: &str,
    value: Option<String>,
    max: usize,
) -> Result<Option<String>, ServiceError> {
    match value {
        None => Ok(None),
        Some(v) if v.trim().is_empty() => Ok(None),
        Some(v) => {
            if v.chars().count() > max {
                return Err(ServiceError::validation(
                    field,
                    format!("`{field}` is longer than {max} characters"),
                ));
            }
            if v.chars().any(|c| c == '\0') {
                return Err(ServiceError::validation(
                    field,
                    format!("`{field}` must not contain NUL characters"),
                ));
            }
            Ok(Some(v))
        }
    }
}

/// Check a list of short labels (components, labels, issues): each entry
/// non-blank and at most `max_len` characters, at most `max_items` entries.
pub fn text_list(
    field: &str,
    values: Vec<String>,
    max_items: usize,
    max_len: usize,
) -> Result<Vec<String>, ServiceError> {
    if values.len() > max_items {
        return Err(ServiceError::validation(
            field,
            format!("`{field}` has more than {max_items} entries"),
        ));
    }
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            required_text(&format!("{field}[{i}]"), &v, max_len).map(|v| v.trim().to_string())
        })
        .collect()
}

/// Check an http(s) URL.
pub fn optional_url(field: &str, value: Option<String>) -> Result<Option<String>, ServiceError> {
    let Some(value) = optional_text(field, value, 2000)? else {
        return Ok(None);
    };
    let value = value.trim().to_string();
    let ok = (value.starts_with("https://") || value.starts_with("http://"))
        && value.len() > "https://".len()
        && !value.chars().any(char::is_whitespace);
    if !ok {
        return Err(ServiceError::validation(
            field,
            format!("`{field}` must be an http:// or https:// URL"),
        ));
    }
    Ok(Some(value))
}
