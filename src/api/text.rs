//! The spec's side of the domain's text rules, and other small string
//! types of the API.

use std::borrow::Cow;

use poem_openapi::{
    registry::{MetaSchema, MetaSchemaRef},
    types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde::Deserialize;
use serde_json::Value;

use crate::domain::{
    ChannelTarget, Description, EventBody, ExternalId, FactorNote, HttpUrl, Invalid, ListEntry,
    LongText, Name, NotRequiredReason, Reason, RedactionText, SectionBody, SectionTitle, ShortText,
    SitrepSummary, StatusMessage, Title,
    text::{TextRule, list_entries},
};

/// The schema of a text type, made from its [`TextRule`]: the spec states
/// the rule the type's `parse` checks.
pub fn text_schema(rule: TextRule) -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(MetaSchema {
        min_length: (rule.min_chars > 0).then_some(rule.min_chars),
        max_length: Some(rule.max_chars),
        pattern: Some(rule.pattern().to_string()),
        ..MetaSchema::new("string")
    }))
}

/// poem-openapi's traits for the domain's text types (`domain/text.rs`):
/// the schema from the type's rule, JSON in and out through `parse`.
/// Bodies are read by serde (`ApiJson`); `ParseFromJSON` serves poem-openapi's
/// own extractors.
macro_rules! spec_text {
    ($($ty:ident),+ $(,)?) => {$(
        impl Type for $ty {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                concat!("string(", stringify!($ty), ")").into()
            }

            fn schema_ref() -> MetaSchemaRef {
                text_schema($ty::RULE)
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

        impl ParseFromJSON for $ty {
            fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
                let value = String::parse_from_json(value).map_err(ParseError::propagate)?;
                $ty::deserialize(Value::String(value)).map_err(ParseError::custom)
            }
        }

        impl ToJSON for $ty {
            fn to_json(&self) -> Option<Value> {
                Some(Value::String(self.as_str().to_string()))
            }
        }
    )+

        /// Every text type the spec knows: its name, its rule and the
        /// schema poem-openapi states for it.
        #[cfg(test)]
        fn spec_text_types() -> Vec<(&'static str, TextRule, MetaSchemaRef)> {
            vec![$((stringify!($ty), $ty::RULE, <$ty as Type>::schema_ref())),+]
        }
    };
}

spec_text!(
    Title,
    SectionTitle,
    Name,
    ShortText,
    LongText,
    Reason,
    Description,
    NotRequiredReason,
    SitrepSummary,
    StatusMessage,
    EventBody,
    SectionBody,
    FactorNote,
    ExternalId,
    ListEntry,
    RedactionText,
    ChannelTarget,
    HttpUrl,
);

/// The entries of an optional list (absent is empty): at most `max_items`,
/// each trimmed.
pub fn entries(
    field: &str,
    list: Option<Vec<ListEntry>>,
    max_items: usize,
) -> Result<Vec<String>, Invalid> {
    list_entries(field, list.unwrap_or_default(), max_items)
}

/// A calendar date, `YYYY-MM-DD`, stated in the spec with the standard
/// `date` format (poem-openapi's own says `naive-date`, which clients and
/// schema tools do not know).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Date(pub chrono::NaiveDate);

// Fallible: the text may not be a `YYYY-MM-DD` date.
impl TryFrom<String> for Date {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        parse_date(&value)
    }
}

fn parse_date(value: &str) -> Result<Date, String> {
    let ok = value.len() == 10 && value.as_bytes()[4] == b'-' && value.as_bytes()[7] == b'-';
    chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .filter(|_| ok)
        .map(Date)
        .ok_or_else(|| format!("{value:?} is not a date like 2026-11-24"))
}

impl Type for Date {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string_date".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "date")))
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

impl ParseFromJSON for Date {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(s)) => parse_date(&s).map_err(ParseError::custom),
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

impl poem_openapi::types::ParseFromParameter for Date {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        parse_date(value).map_err(ParseError::custom)
    }
}

impl ToJSON for Date {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.format("%Y-%m-%d").to_string()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_text_schema_states_its_rule() {
        for (name, rule, schema) in spec_text_types() {
            let MetaSchemaRef::Inline(schema) = schema else {
                panic!("{name}: an inline schema");
            };
            assert_eq!(schema.ty, "string", "{name}");
            assert_eq!(schema.max_length, Some(rule.max_chars), "{name}");
            let min = (rule.min_chars > 0).then_some(rule.min_chars);
            assert_eq!(schema.min_length, min, "{name}");
            assert_eq!(schema.pattern.as_deref(), Some(rule.pattern()), "{name}");
        }
    }

    /// Past the schema check, serde runs the same rule, and the field path
    /// names the field: a body read without the spec still cannot hold a bad
    /// text.
    #[test]
    fn deserialising_runs_the_rule_and_names_the_field() {
        use super::super::{incidents::CreateIncidentRequest, json::parse_value};
        let err = parse_value::<CreateIncidentRequest>(
            "",
            json!({"title": "x".repeat(301), "severity": "sev1"}),
        )
        .unwrap_err();
        assert_eq!(err.field, "title");
        assert_eq!(err.detail, "`title`: is longer than 300 characters");
        let err = parse_value::<CreateIncidentRequest>(
            "",
            json!({"title": "x", "severity": "sev1", "labels": ["a", " "]}),
        )
        .unwrap_err();
        assert_eq!(err.field, "labels[1]");
        assert_eq!(err.detail, "`labels[1]`: must not be blank");
        let ok =
            parse_value::<CreateIncidentRequest>("", json!({"title": "  x ", "severity": "sev1"}))
                .unwrap();
        assert_eq!(ok.title.as_str(), "x");
    }

    /// Every string of a request body that the spec limits (a length or a
    /// pattern) is limited by a domain text type, so its limits are that
    /// type's; only the values listed here, which are not free text and
    /// are parsed by their own domain types, state a pattern of their own.
    #[test]
    fn request_texts_are_limited_by_domain_types() {
        const OWN_PATTERNS: [&str; 5] = [
            "AssignRoleRequest.role",         // RoleName
            "PostmortemSectionInput.key",     // the section key rule
            "LinkIncidentRequest.incident",   // IncidentRef
            "PreviewDigestRequest.week",      // IsoWeek
            "ContributingFactorInput.factor", // FactorSlug, then the taxonomy
        ];
        let spec: Value = serde_json::from_str(&super::super::spec::spec_json()).unwrap();
        let rules: Vec<Value> = spec_text_types()
            .into_iter()
            .map(|(_, rule, _)| {
                json!({
                    "minLength": (rule.min_chars > 0).then_some(rule.min_chars),
                    "maxLength": rule.max_chars,
                    "pattern": rule.pattern(),
                })
            })
            .collect();
        let mut checked = 0;
        for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
            if schema["additionalProperties"] != json!(false) {
                continue; // not a request schema
            }
            for (prop, def) in schema["properties"].as_object().into_iter().flatten() {
                let def = if def["type"] == "array" {
                    &def["items"]
                } else {
                    def
                };
                if def["type"] != "string"
                    || (def.get("maxLength").is_none() && def.get("pattern").is_none())
                {
                    continue;
                }
                let at = format!("{name}.{prop}");
                if OWN_PATTERNS.contains(&at.as_str()) {
                    continue;
                }
                let limits = json!({
                    "minLength": def.get("minLength"),
                    "maxLength": def.get("maxLength"),
                    "pattern": def.get("pattern"),
                });
                assert!(
                    rules.contains(&limits),
                    "{at} states limits of its own ({limits}): give it a domain text type"
                );
                checked += 1;
            }
        }
        assert!(
            checked > 40,
            "only {checked} texts found: is the spec read right?"
        );
    }
}
