//! The id of a contributing factor (`change_deploy`): the form a
//! taxonomy's ids and stored factors share.

use std::{fmt, str::FromStr};

use super::Invalid;

/// The longest factor id, in characters.
pub const FACTOR_SLUG_MAX: usize = 64;

/// A contributing factor's stable id: lower-case ASCII letters, digits and
/// `_`, starting with a letter, at most [`FACTOR_SLUG_MAX`] characters.
/// Whether the taxonomy lists it is a question for the configuration: a
/// stored id stays readable after it leaves the taxonomy.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FactorSlug(String);

impl FactorSlug {
    /// Check `text`, naming `field` if it is not an id.
    pub fn parse(field: &str, text: &str) -> Result<Self, Invalid> {
        Self::check(text)
            .map(|()| Self(text.to_string()))
            .map_err(|reason| Invalid::new(field, format!("`{field}` {text:?} {reason}")))
    }

    fn check(text: &str) -> Result<(), String> {
        let well_formed = (1..=FACTOR_SLUG_MAX).contains(&text.len())
            && text.starts_with(|c: char| c.is_ascii_lowercase())
            && text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if well_formed {
            Ok(())
        } else {
            Err(format!(
                "is not a factor id: lower-case letters, digits and `_`, starting with a letter, at most {FACTOR_SLUG_MAX} characters"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for FactorSlug {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::check(text).map(|()| Self(text.to_string()))
    }
}

impl fmt::Display for FactorSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_lower_case_words() {
        for good in ["change_deploy", "unknown", "a", "tier2_db"] {
            assert!(FactorSlug::parse("factor", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Change",
            "2fast",
            "_x",
            "with-dash",
            "sp ace",
            "é",
            &"a".repeat(65),
        ] {
            let err = FactorSlug::parse("factor", bad).expect_err(bad);
            assert_eq!(err.field, "factor");
            assert!(err.detail.contains("lower-case"), "{}", err.detail);
        }
        assert_eq!(
            "capacity".parse::<FactorSlug>().unwrap().as_str(),
            "capacity"
        );
    }
}
