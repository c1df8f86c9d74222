//! References accepted wherever an id is: a UUID or a human `INC-n`.

use std::str::FromStr;

use uuid::Uuid;

use super::Invalid;

/// An incident named by its UUID or its `INC-n` reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncidentRef {
    Id(Uuid),
    Number(i64),
}

impl IncidentRef {
    pub fn parse(field: &str, value: &str) -> Result<Self, Invalid> {
        value.parse().map_err(|()| {
            Invalid::new(
                field,
                format!("{value:?} is neither an incident UUID nor a reference like INC-42"),
            )
        })
    }

    /// The display form of an incident number.
    pub fn display(number: i64) -> String {
        format!("INC-{number}")
    }
}

impl FromStr for IncidentRef {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match parse_reference("INC-", s) {
            Some(Ok(id)) => Ok(Self::Id(id)),
            Some(Err(n)) => Ok(Self::Number(n)),
            None => Err(()),
        }
    }
}

/// A remediation item named by its UUID or its `REM-n` reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemediationRef {
    Id(Uuid),
    Number(i64),
}

impl RemediationRef {
    pub fn parse(field: &str, value: &str) -> Result<Self, Invalid> {
        match parse_reference("REM-", value) {
            Some(Ok(id)) => Ok(Self::Id(id)),
            Some(Err(n)) => Ok(Self::Number(n)),
            None => Err(Invalid::new(
                field,
                format!("{value:?} is neither a remediation item UUID nor a reference like REM-7"),
            )),
        }
    }

    pub fn display(number: i64) -> String {
        format!("REM-{number}")
    }
}

/// `prefix` and 1 to 18 digits without a leading zero (`Err(n)`), or a
/// hyphenated UUID (`Ok(id)`): exactly what the OpenAPI patterns state.
fn parse_reference(prefix: &str, s: &str) -> Option<Result<Uuid, i64>> {
    if let Some(n) = s.strip_prefix(prefix) {
        let digits_ok = !n.is_empty()
            && n.len() <= 18
            && !n.starts_with('0')
            && n.bytes().all(|b| b.is_ascii_digit());
        return if digits_ok {
            n.parse().ok().map(Err)
        } else {
            None
        };
    }
    if s.len() != 36 {
        return None;
    }
    Uuid::try_parse(s).ok().map(Ok)
}

/// A role in the response: a well-known one or a custom name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleName(String);

impl RoleName {
    pub const INCIDENT_COMMANDER: &'static str = "incident_commander";
    pub const COMMS: &'static str = "comms";
    pub const WELL_KNOWN: [&'static str; 5] = [
        "incident_commander",
        "comms",
        "scribe",
        "responder",
        "subject_matter_expert",
    ];

    /// The longest role name, in characters.
    pub const MAX_CHARS: usize = 64;

    /// Lower-case letters, digits and `_`, 1 to [`Self::MAX_CHARS`] characters.
    pub fn parse(field: &str, value: &str) -> Result<Self, Invalid> {
        let ok = !value.is_empty()
            && value.len() <= Self::MAX_CHARS
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            return Err(Invalid::new(
                field,
                format!(
                    "{value:?} is not a role name: use one of {} or a custom name of lower-case letters, digits and `_` (at most 64)",
                    Self::WELL_KNOWN.join(", ")
                ),
            ));
        }
        Ok(Self(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Roles held by one person at a time: assigning them hands off.
    pub fn is_exclusive(&self) -> bool {
        self.0 == Self::INCIDENT_COMMANDER || self.0 == Self::COMMS
    }

    /// How the role reads in a sentence.
    pub fn label(&self) -> String {
        match self.0.as_str() {
            Self::INCIDENT_COMMANDER => "Incident Commander".into(),
            Self::COMMS => "Comms lead".into(),
            other => {
                let words = other.replace('_', " ");
                let mut chars = words.chars();
                match chars.next() {
                    Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
                    None => String::new(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_reference_forms() {
        assert_eq!("INC-42".parse(), Ok(IncidentRef::Number(42)));
        let id = Uuid::new_v4();
        assert_eq!(id.to_string().parse(), Ok(IncidentRef::Id(id)));
        for bad in [
            "INC-",
            "INC-0",
            "INC-07",
            "inc-4",
            "{00000000-0000-0000-0000-000000000000}",
            "00000000000000000000000000000000",
            "INC--1",
            "INC-4x",
            "42",
            "",
            "INC-99999999999999999999",
        ] {
            assert!(
                bad.parse::<IncidentRef>().is_err(),
                "{bad} should be rejected"
            );
        }
    }

    #[test]
    fn role_names() {
        assert!(
            RoleName::parse("role", "incident_commander")
                .unwrap()
                .is_exclusive()
        );
        assert!(!RoleName::parse("role", "db_expert").unwrap().is_exclusive());
        assert!(RoleName::parse("role", "Bad Role").is_err());
        assert_eq!(
            RoleName::parse("role", "subject_matter_expert")
                .unwrap()
                .label(),
            "Subject matter expert"
        );
    }
}
