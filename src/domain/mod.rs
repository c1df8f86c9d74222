//! Domain values that check themselves when built: once a request has been
//! parsed into these, the rest of the service can trust them.

mod enums;
mod error;
mod milestones;
mod reference;
mod schedule;
mod webhook_secret;

pub use enums::*;
pub use error::Invalid;
pub use milestones::{MILESTONE_FIELDS, Milestones};
pub use reference::{IncidentRef, RemediationRef, RoleName};
pub use schedule::{CronSpec, IsoWeek, ScheduleError, parse_time_zone, start_of_day};
pub use webhook_secret::{WEBHOOK_SECRET_PREFIX, WebhookSecret};

/// The characters that alone make a text blank. Kept to this small set so
/// the rule is the same one the OpenAPI `pattern` states.
const BLANK: [char; 4] = [' ', '\t', '\n', '\r'];

fn is_blank(text: &str) -> bool {
    text.chars().all(|c| BLANK.contains(&c))
}

/// Check a required text: not blank, no NUL, at most `max` characters.
/// Surrounding blanks are trimmed.
pub fn required_text(field: &str, value: &str, max: usize) -> Result<String, Invalid> {
    if is_blank(value) {
        return Err(Invalid::new(field, format!("`{field}` must not be blank")));
    }
    check_text(field, value, max)?;
    Ok(value.trim_matches(BLANK).to_string())
}

/// Check an optional text: no NUL, at most `max` characters; blank becomes
/// `None`.
pub fn optional_text(
    field: &str,
    value: Option<String>,
    max: usize,
) -> Result<Option<String>, Invalid> {
    match value {
        None => Ok(None),
        Some(v) => {
            check_text(field, &v, max)?;
            Ok((!is_blank(&v)).then_some(v))
        }
    }
}

fn check_text(field: &str, value: &str, max: usize) -> Result<(), Invalid> {
    if value.contains('\0') {
        return Err(Invalid::new(
            field,
            format!("`{field}` must not contain NUL characters"),
        ));
    }
    if value.chars().count() > max {
        return Err(Invalid::new(
            field,
            format!("`{field}` is longer than {max} characters"),
        ));
    }
    Ok(())
}

/// Check a list of short labels (components, labels, issues): each entry
/// non-blank and at most `max_len` characters, at most `max_items` entries.
pub fn text_list(
    field: &str,
    values: Vec<String>,
    max_items: usize,
    max_len: usize,
) -> Result<Vec<String>, Invalid> {
    if values.len() > max_items {
        return Err(Invalid::new(
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

/// Check an http(s) URL: `http://` or `https://` and no blanks or NUL.
pub fn optional_url(field: &str, value: Option<String>) -> Result<Option<String>, Invalid> {
    let Some(value) = value else { return Ok(None) };
    check_text(field, &value, 2000)?;
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    let ok = rest.is_some_and(|rest| !rest.is_empty() && !rest.contains(BLANK));
    if !ok {
        return Err(Invalid::new(
            field,
            format!("`{field}` must be an http:// or https:// URL"),
        ));
    }
    Ok(Some(value))
}
