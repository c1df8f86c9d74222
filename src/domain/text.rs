//! Free texts and their rules, each rule stated once: how long a text may
//! be, whether it is required, which characters it may hold.
//!
//! A text is parsed into one of these types at the edge: a request body by
//! serde (`Deserialize` runs [`TextRule::check`]), a foreign or bundle file
//! by the importer calling `parse`. The OpenAPI schema of each type is made
//! from the same [`TextRule`] (`api/text.rs`), so the spec and the server
//! agree by construction. To add a rule, declare a type in the
//! `text_types!` list below and name it in `api/text.rs`'s `spec_text!`.

use serde::{Deserialize, Deserializer};

use super::Invalid;

/// The characters that alone make a text blank. Kept to this small set so
/// the rule is the same one the OpenAPI `pattern` states.
pub const BLANK: [char; 4] = [' ', '\t', '\n', '\r'];

/// The spec's pattern of a required text: at least one character other
/// than space, tab, CR and LF, and no NUL.
pub const REQUIRED_PATTERN: &str = r"^[^\x00]*[^\x00 \t\n\r][^\x00]*$";
/// The spec's pattern of an optional text: no NUL.
pub const OPTIONAL_PATTERN: &str = r"^[^\x00]*$";
/// The spec's pattern of an http(s) URL: the scheme, then no blank or NUL.
pub const URL_PATTERN: &str = r"^https?://[^\x00 \t\n\r]+$";

/// Whether `text` holds nothing but [`BLANK`] characters.
pub fn is_blank(text: &str) -> bool {
    text.chars().all(|c| BLANK.contains(&c))
}

/// What a text must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// At least one character other than a blank; surrounding blanks are
    /// trimmed.
    Required,
    /// May be blank, which means "none" ([`Text::non_blank`]); kept as given.
    Optional,
    /// An `http://` or `https://` URL without blanks.
    Url,
}

/// The rule of a text type: its kind and its length in characters
/// (Unicode scalar values, as JSON Schema's `maxLength` counts them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRule {
    pub kind: TextKind,
    pub max_chars: usize,
    /// The fewest characters; stated as the spec's `minLength` when above 0.
    pub min_chars: usize,
}

impl TextRule {
    pub const fn required(max_chars: usize) -> Self {
        Self {
            kind: TextKind::Required,
            max_chars,
            min_chars: 1,
        }
    }

    pub const fn optional(max_chars: usize) -> Self {
        Self {
            kind: TextKind::Optional,
            max_chars,
            min_chars: 0,
        }
    }

    pub const fn url(max_chars: usize) -> Self {
        Self {
            kind: TextKind::Url,
            max_chars,
            min_chars: 0,
        }
    }

    /// The same rule, refusing texts shorter than `min_chars`.
    pub const fn at_least(self, min_chars: usize) -> Self {
        Self { min_chars, ..self }
    }

    pub const fn is_required(&self) -> bool {
        matches!(self.kind, TextKind::Required)
    }

    /// The pattern the spec states for this rule.
    pub const fn pattern(&self) -> &'static str {
        match self.kind {
            TextKind::Required => REQUIRED_PATTERN,
            TextKind::Optional => OPTIONAL_PATTERN,
            TextKind::Url => URL_PATTERN,
        }
    }

    /// Check `value` against the rule, naming `field` when it breaks it;
    /// a required text comes back trimmed.
    pub fn check(&self, field: &str, value: String) -> Result<String, Invalid> {
        self.normalise(value)
            .map_err(|broken| Invalid::new(field, format!("`{field}` {broken}")))
    }

    /// The rule's check with the reason alone ("is longer than 300
    /// characters"), for callers that add the field themselves.
    pub fn normalise(&self, value: String) -> Result<String, String> {
        if self.is_required() && is_blank(&value) {
            return Err("must not be blank".into());
        }
        if value.contains('\0') {
            return Err("must not contain NUL characters".into());
        }
        let length = value.chars().count();
        if length > self.max_chars {
            return Err(format!("is longer than {} characters", self.max_chars));
        }
        if length < self.min_chars {
            return Err(format!(
                "is shorter than {} character{}",
                self.min_chars,
                if self.min_chars == 1 { "" } else { "s" }
            ));
        }
        match self.kind {
            TextKind::Required => Ok(value.trim_matches(BLANK).to_string()),
            TextKind::Optional => Ok(value),
            TextKind::Url => {
                let rest = value
                    .strip_prefix("https://")
                    .or_else(|| value.strip_prefix("http://"));
                if rest.is_some_and(|rest| !rest.is_empty() && !rest.contains(BLANK)) {
                    Ok(value)
                } else {
                    Err("must be an http:// or https:// URL".into())
                }
            }
        }
    }
}

/// What every text type offers, for code that handles them alike (the
/// spec's schemas, lists, tests).
pub trait Text: Sized {
    const RULE: TextRule;

    fn as_str(&self) -> &str;

    fn into_inner(self) -> String;

    /// The text, or `None` when it is blank: an optional text left empty
    /// means "none".
    fn non_blank(self) -> Option<String> {
        (!is_blank(self.as_str())).then(|| self.into_inner())
    }
}

/// The text of an optional field, `None` when absent or blank.
pub fn present<T: Text>(value: Option<T>) -> Option<String> {
    value.and_then(Text::non_blank)
}

macro_rules! text_types {
    ($($(#[$doc:meta])* $name:ident = $rule:expr;)+) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            pub const RULE: TextRule = $rule;
            pub const MAX_CHARS: usize = Self::RULE.max_chars;
            pub const REQUIRED: bool = Self::RULE.is_required();

            /// The pattern the spec states for this text.
            pub const fn pattern() -> &'static str {
                Self::RULE.pattern()
            }

            /// Check `value` (a required text comes back trimmed); `field`
            /// names it in the error.
            pub fn parse(field: &str, value: String) -> Result<Self, Invalid> {
                Self::RULE.check(field, value).map(Self)
            }

            /// An optional value: absent or blank is `None`.
            pub fn parse_optional(
                field: &str,
                value: Option<String>,
            ) -> Result<Option<String>, Invalid> {
                Ok(value
                    .map(|v| Self::parse(field, v))
                    .transpose()?
                    .and_then(Text::non_blank))
            }

            /// A value read back from the database, which only stores
            /// parsed texts: trusted as it is.
            pub fn from_stored(value: String) -> Self {
                Self(value)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl Text for $name {
            const RULE: TextRule = $name::RULE;

            fn as_str(&self) -> &str {
                &self.0
            }

            fn into_inner(self) -> String {
                self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            /// The field's name is added by the caller's path tracking
            /// (`api/json.rs`): the error says what is wrong.
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Self::RULE
                    .normalise(value)
                    .map(Self)
                    .map_err(serde::de::Error::custom)
            }
        }
    )+};
}

text_types! {
    /// What an incident or a remediation item is, in a line.
    Title = TextRule::required(300);
    /// The heading of a post-mortem section.
    SectionTitle = TextRule::required(200);
    /// A name given to the service: a person holding a role, an API token.
    Name = TextRule::required(200);
    /// A person or team named in passing: an author, an owner, a team
    /// (optional).
    ShortText = TextRule::optional(200);
    /// A longer optional text: customer impact, a remediation item's
    /// description (Markdown).
    LongText = TextRule::optional(20_000);
    /// Why a cleanup item is kept or a remediation item will not be done.
    Reason = TextRule::optional(5000);
    /// What a cleanup item changed, and how to undo it.
    Description = TextRule::required(5000);
    /// Why an incident needs no post-mortem.
    NotRequiredReason = TextRule::required(2000);
    /// What a sitrep knows (Markdown).
    SitrepSummary = TextRule::required(50_000);
    /// A public status update's message (Markdown).
    StatusMessage = TextRule::required(20_000);
    /// What a timeline event records (Markdown).
    EventBody = TextRule::required(100_000);
    /// What a post-mortem says about one of its contributing factors
    /// (Markdown, may be empty).
    #[derive(Default)]
    FactorNote = TextRule::optional(2000);
    /// A post-mortem section's Markdown text (may be empty).
    #[derive(Default)]
    SectionBody = TextRule::optional(200_000);
    /// An id in the system an event came from; matched, so never empty.
    ExternalId = TextRule::optional(200).at_least(1);
    /// An id in a foreign file (a Statuspage incident or update, a PagerDuty
    /// log entry, an Opsgenie timeline entry), kept as an external id.
    ForeignId = TextRule::required(ExternalId::MAX_CHARS);
    /// One entry of a list of short texts: a component, a label, an issue.
    ListEntry = TextRule::required(500);
    /// A redaction rule's term or regular expression.
    RedactionText = TextRule::required(500);
    /// Where a channel delivers: an e-mail address or a webhook URL.
    ChannelTarget = TextRule::required(2000);
    /// A link to a chat room or a tracker ticket.
    HttpUrl = TextRule::url(2000);

    // Debrief's bundle (`openapi/bundle.schema.json`) checks every field
    // the API also takes with the API's type (docs/decisions.md); these two
    // are fields only a bundle carries.

    /// A bundled post-mortem section's key.
    SectionKey = TextRule::required(64);
    /// Where a bundled status update came from (`statuspage`, …).
    UpdateSource = TextRule::optional(16);
}

/// Check a list of entries already parsed: at most `max_items`, each
/// trimmed; `field` names the list.
pub fn list_entries<T: Text>(
    field: &str,
    values: Vec<T>,
    max_items: usize,
) -> Result<Vec<String>, Invalid> {
    if values.len() > max_items {
        return Err(Invalid::new(
            field,
            format!("`{field}` has more than {max_items} entries"),
        ));
    }
    Ok(values
        .into_iter()
        .map(|v| v.into_inner().trim().to_string())
        .collect())
}

/// Parse a list of `T` entries, `field[i]` naming each: at most
/// `max_items`, each trimmed.
pub fn parse_list<T: Text>(
    field: &str,
    values: Vec<String>,
    max_items: usize,
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
            T::RULE
                .check(&format!("{field}[{i}]"), v)
                .map(|v| v.trim().to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_rule<T: Text + std::fmt::Debug>(parse: impl Fn(String) -> Result<T, Invalid>) {
        let rule = T::RULE;
        let longest = match rule.kind {
            TextKind::Url => format!("https://{}", "x".repeat(rule.max_chars - 8)),
            _ => "x".repeat(rule.max_chars),
        };
        assert!(
            parse(longest.clone()).is_ok(),
            "{rule:?}: MAX_CHARS is allowed"
        );
        let err = parse(format!("{longest}y")).unwrap_err();
        assert_eq!(err.field, "f");
        assert_eq!(
            err.detail,
            format!("`f` is longer than {} characters", rule.max_chars)
        );
        assert!(parse("a\0b".into()).is_err(), "{rule:?}: NUL is refused");
        match rule.kind {
            TextKind::Required => {
                assert_eq!(
                    parse(" \t\r\n".into()).unwrap_err().detail,
                    "`f` must not be blank"
                );
                assert_eq!(parse("  a b \n".into()).unwrap().as_str(), "a b");
            }
            TextKind::Optional if rule.min_chars == 0 => {
                assert_eq!(parse("  ".into()).unwrap().non_blank(), None);
                assert_eq!(parse(" a ".into()).unwrap().as_str(), " a ");
            }
            TextKind::Optional => {
                assert!(parse(String::new()).is_err(), "{rule:?}: too short");
                assert_eq!(parse("  ".into()).unwrap().non_blank(), None);
            }
            TextKind::Url => {
                assert!(parse("ftp://x".into()).is_err());
                assert!(parse("https://a b".into()).is_err());
                assert!(parse("https://".into()).is_err());
            }
        }
    }

    macro_rules! check_all {
        ($($ty:ident),+) => {$(
            check_rule(|v| $ty::parse("f", v));
            assert_eq!($ty::MAX_CHARS, $ty::RULE.max_chars);
            assert_eq!($ty::REQUIRED, $ty::RULE.kind == TextKind::Required);
            assert_eq!($ty::pattern(), $ty::RULE.pattern());
        )+};
    }

    #[test]
    fn every_text_type_keeps_its_rule() {
        check_all!(
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
            ForeignId,
            SectionKey,
            UpdateSource
        );
    }

    #[test]
    fn blank_optional_texts_are_none() {
        assert_eq!(
            ShortText::parse_optional("owner", Some(" \n".into())),
            Ok(None)
        );
        assert_eq!(ShortText::parse_optional("owner", None), Ok(None));
        assert_eq!(
            ShortText::parse_optional("owner", Some("ana".into())),
            Ok(Some("ana".into()))
        );
    }

    #[test]
    fn the_patterns_say_what_the_checks_do() {
        // The spec's regexes against the checks, on the edge cases.
        let required = regex::Regex::new(REQUIRED_PATTERN).unwrap();
        let optional = regex::Regex::new(OPTIONAL_PATTERN).unwrap();
        let url = regex::Regex::new(URL_PATTERN).unwrap();
        for value in ["", " ", "\t\n", "a", " a ", "a\0", "\u{a0}", "x\ny"] {
            let v = value.to_string();
            assert_eq!(
                required.is_match(value),
                Title::parse("f", v.clone()).is_ok(),
                "{value:?}"
            );
            assert_eq!(
                optional.is_match(value),
                ShortText::parse("f", v.clone()).is_ok(),
                "{value:?}"
            );
        }
        for value in [
            "http://a",
            "https://a/b?c",
            "https://",
            "http://a b",
            "ftp://a",
            "HTTP://a",
        ] {
            assert_eq!(
                url.is_match(value),
                HttpUrl::parse("f", value.into()).is_ok(),
                "{value:?}"
            );
        }
    }
}
