//! Path and query parameters that name an incident or a remediation item.
//!
//! The spec states their pattern, but the check is done by the domain's own
//! parser rather than by a `validator(pattern = …)`: poem-openapi 5 compiles
//! a validator's regex on every request, which cost a measured 6.6 % of the
//! CPU of `GET /incidents/{ref}`. The handler parses (`get("reference")`),
//! not the extractor: poem-openapi reports a path parameter that fails to
//! parse under an internal name (`param0`), and the problem body must name
//! the parameter the client sent.

use std::borrow::Cow;

use poem_openapi::{
    registry::{MetaSchema, MetaSchemaRef},
    types::{ParseFromParameter, ParseResult, Type},
};

use crate::{
    domain::{IncidentRef, RemediationRef},
    services::ServiceError,
};

/// What an incident reference looks like: `INC-n` or a hyphenated UUID.
pub const INCIDENT_REF_PATTERN: &str = "^(INC-[1-9][0-9]{0,17}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$";

/// What a remediation item reference looks like: `REM-n` or a hyphenated UUID.
pub const REMEDIATION_REF_PATTERN: &str = "^(REM-[1-9][0-9]{0,17}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$";

/// An incident's UUID or `INC-n` reference, as a path or query parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentParam(String);

impl IncidentParam {
    /// The incident it names; 400 naming `field` when it names none.
    pub fn get(&self, field: &str) -> Result<IncidentRef, ServiceError> {
        Ok(IncidentRef::parse(field, &self.0)?)
    }

    /// The reference as the client sent it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A remediation item's UUID or `REM-n` reference, as a path or query parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemediationParam(String);

impl RemediationParam {
    /// The item it names; 400 naming `field` when it names none.
    pub fn get(&self, field: &str) -> Result<RemediationRef, ServiceError> {
        Ok(RemediationRef::parse(field, &self.0)?)
    }
}

/// A `Type` for a string parameter with the schema `$schema`.
macro_rules! string_parameter_type {
    ($ty:ty, $name:literal, $schema:expr) => {
        impl Type for $ty {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                $name.into()
            }

            fn schema_ref() -> MetaSchemaRef {
                MetaSchemaRef::Inline(Box::new($schema))
            }

            fn as_raw_value(&self) -> Option<&Self::RawValueType> {
                Some(self)
            }

            fn raw_element_iter<'a>(
                &'a self,
            ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
                Box::new(self.as_raw_value().into_iter())
            }
        }
    };
}

string_parameter_type!(
    IncidentParam,
    "string(incident_reference)",
    MetaSchema {
        pattern: Some(INCIDENT_REF_PATTERN.to_string()),
        ..MetaSchema::new("string")
    }
);
string_parameter_type!(
    RemediationParam,
    "string(remediation_reference)",
    MetaSchema {
        pattern: Some(REMEDIATION_REF_PATTERN.to_string()),
        ..MetaSchema::new("string")
    }
);

impl ParseFromParameter for IncidentParam {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Self(value.to_string()))
    }
}

impl ParseFromParameter for RemediationParam {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Self(value.to_string()))
    }
}

/// A date (`2026-11-30`) or an RFC 3339 date-time, as a query parameter:
/// every date filter takes either. A date is read in the digest's time
/// zone (`digest.time_zone`): as a lower bound it starts at its midnight,
/// as an upper bound it includes the whole day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateOrTime {
    Date(chrono::NaiveDate),
    Time(chrono::DateTime<chrono::Utc>),
}

impl DateOrTime {
    /// What the parameter's schema says it looks like.
    pub const PATTERN: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2}))?$";

    /// As a lower bound: the instant itself, or a date's first instant.
    pub fn start(self, tz: chrono_tz::Tz) -> chrono::DateTime<chrono::Utc> {
        match self {
            Self::Time(t) => t,
            Self::Date(d) => midnight(d, tz),
        }
    }

    /// As an upper bound (excluded): the instant itself, or the first
    /// instant after a date.
    pub fn end(self, tz: chrono_tz::Tz) -> chrono::DateTime<chrono::Utc> {
        match self {
            Self::Time(t) => t,
            Self::Date(d) => midnight(d.succ_opt().unwrap_or(d), tz),
        }
    }

    /// The day it names (a date-time's day in `tz`).
    pub fn day(self, tz: chrono_tz::Tz) -> chrono::NaiveDate {
        match self {
            Self::Time(t) => t.with_timezone(&tz).date_naive(),
            Self::Date(d) => d,
        }
    }
}

fn midnight(day: chrono::NaiveDate, tz: chrono_tz::Tz) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    let local = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&local)
        .earliest()
        .map_or_else(|| local.and_utc(), |t| t.with_timezone(&chrono::Utc))
}

string_parameter_type!(
    DateOrTime,
    "string(date-or-date-time)",
    MetaSchema {
        format: Some(crate::api::spec::DATE_OR_TIME),
        pattern: Some(DateOrTime::PATTERN.to_string()),
        max_length: Some(64),
        ..MetaSchema::new("string")
    }
);

impl ParseFromParameter for DateOrTime {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        if value.len() == 10
            && let Ok(day) = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        {
            return Ok(Self::Date(day));
        }
        chrono::DateTime::parse_from_rfc3339(value)
            .map(|t| Self::Time(t.with_timezone(&chrono::Utc)))
            .map_err(|_| poem_openapi::types::ParseError::custom("not a date or a date-time"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incident_paths_parse_exactly_what_the_pattern_states() {
        let pattern = regex_lite(INCIDENT_REF_PATTERN);
        for value in [
            "INC-1",
            "INC-42",
            "INC-123456789012345678",
            "0192f0c4-7a3e-7c4b-9d2e-1a2b3c4d5e6f",
            "0192F0C4-7A3E-7C4B-9D2E-1A2B3C4D5E6F",
        ] {
            assert!(pattern(value), "{value} matches the pattern");
            assert!(
                param::<IncidentParam>(value).get("reference").is_ok(),
                "{value}"
            );
        }
        for value in [
            "",
            "INC-0",
            "INC-01",
            "INC-",
            "inc-1",
            "INC-1234567890123456789",
            "REM-1",
            "0192f0c47a3e7c4b9d2e1a2b3c4d5e6f",
            "INC-1 ",
        ] {
            assert!(!pattern(value), "{value:?} does not match the pattern");
            assert!(
                param::<IncidentParam>(value).get("reference").is_err(),
                "{value:?}"
            );
        }
    }

    #[test]
    fn remediation_paths_parse_exactly_what_the_pattern_states() {
        let pattern = regex_lite(REMEDIATION_REF_PATTERN);
        for value in ["REM-7", "0192f0c4-7a3e-7c4b-9d2e-1a2b3c4d5e6f"] {
            assert!(pattern(value));
            assert!(param::<RemediationParam>(value).get("remediation").is_ok());
        }
        for value in ["REM-0", "INC-7", "REM-7x"] {
            assert!(!pattern(value));
            assert!(param::<RemediationParam>(value).get("remediation").is_err());
        }
    }

    fn param<T: ParseFromParameter>(value: &str) -> T {
        T::parse_from_parameter(value)
            .ok()
            .expect("any text is taken; the handler checks it")
    }

    /// The spec's pattern, as a client would apply it.
    fn regex_lite(pattern: &str) -> impl Fn(&str) -> bool {
        let re = regex::Regex::new(pattern).expect("the pattern compiles");
        move |s| re.is_match(s)
    }
}
