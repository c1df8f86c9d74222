//! Redaction of public documents: terms (case-insensitive, whitespace
//! tolerant), people's names (whole words, replaced by their role), custom
//! regular expressions, and the built-in patterns that always apply: IPv4
//! and IPv6 addresses, e-mail addresses and host names under the configured
//! internal domains. The same rules then check the rendered documents: a
//! document in which any of them still matches is refused (fail closed).

use std::net::Ipv6Addr;

use regex::{Regex, RegexBuilder};

/// What replaces a redacted term or pattern match.
pub const REDACTED: &str = "[redacted]";

/// Where a rule comes from, to say so when it catches a leak.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleOrigin {
    /// A global rule (`/api/v1/redactions`).
    Global,
    /// A rule of this incident (`/api/v1/incidents/{ref}/redactions`).
    Incident,
    /// A person named in the incident: public documents show roles instead.
    Person,
    /// A built-in pattern (addresses, internal host names).
    Builtin,
}

impl RuleOrigin {
    pub fn describe(&self) -> &'static str {
        match self {
            RuleOrigin::Global => "a global redaction rule",
            RuleOrigin::Incident => "a redaction rule of this incident",
            RuleOrigin::Person => "the name of a person in this incident",
            RuleOrigin::Builtin => "a built-in redaction pattern",
        }
    }
}

#[derive(Debug, Clone)]
struct Rule {
    /// The term or pattern as configured.
    label: String,
    regex: Regex,
    replacement: String,
    origin: RuleOrigin,
    /// For IPv6 candidates: only real addresses count.
    ipv6: bool,
    /// A pattern (its matches are reported), not a term or a name.
    is_pattern: bool,
}

/// A rule that still matches in a rendered document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leak {
    /// The term, or for a pattern the text it matched.
    pub term: String,
    /// The pattern, when a pattern matched.
    pub pattern: Option<String>,
    pub origin: RuleOrigin,
}

/// The rules one public document is passed through.
#[derive(Debug, Clone, Default)]
pub struct RedactionRules {
    rules: Vec<Rule>,
}

/// A custom pattern that is not a usable regular expression.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PatternError(String);

/// Longest regex source a custom pattern may have.
pub const MAX_PATTERN_LEN: usize = 500;

/// Compile a custom pattern (case-insensitive), with bounded size.
pub fn compile_pattern(pattern: &str) -> Result<Regex, PatternError> {
    if pattern.chars().count() > MAX_PATTERN_LEN {
        return Err(PatternError(format!(
            "the pattern is longer than {MAX_PATTERN_LEN} characters"
        )));
    }
    let regex = RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(1 << 20)
        .build()
        .map_err(|err| PatternError(format!("not a valid regular expression: {err}")))?;
    if regex.is_match("") {
        return Err(PatternError(
            "the pattern matches the empty string, so it would match everywhere".into(),
        ));
    }
    Ok(regex)
}

fn term_regex(term: &str, whole_word: bool) -> Option<Regex> {
    let words: Vec<String> = term.split_whitespace().map(regex::escape).collect();
    if words.is_empty() {
        return None;
    }
    let body = words.join(r"\s+");
    let source = if whole_word {
        format!(r"\b{body}\b")
    } else {
        body
    };
    RegexBuilder::new(&source)
        .case_insensitive(true)
        .build()
        .ok()
}

impl RedactionRules {
    /// The built-in patterns: IPv4 and IPv6 addresses, e-mail addresses and
    /// host names under `internal_domains`.
    pub fn with_builtins(internal_domains: &[String]) -> Self {
        let mut rules = Self::default();
        let builtin = |label: &str, source: &str, ipv6: bool| Rule {
            label: label.to_string(),
            regex: Regex::new(source).expect("built-in patterns compile"),
            replacement: REDACTED.to_string(),
            origin: RuleOrigin::Builtin,
            ipv6,
            is_pattern: true,
        };
        rules.rules.push(builtin(
            "e-mail address",
            r"(?i)\b[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+\b",
            false,
        ));
        for domain in internal_domains {
            let domain = domain.trim().trim_start_matches('.');
            if domain.is_empty() {
                continue;
            }
            rules.rules.push(builtin(
                &format!("host name under {domain}"),
                &format!(
                    r"(?i)\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)*{}\b",
                    regex::escape(domain)
                ),
                false,
            ));
        }
        rules.rules.push(builtin(
            "IPv4 address",
            r"\b(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\b",
            false,
        ));
        rules.rules.push(builtin(
            "IPv6 address",
            r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*",
            true,
        ));
        rules
    }

    /// A term, replaced by [`REDACTED`] wherever it appears (any case, any
    /// spacing between its words).
    pub fn add_term(&mut self, term: &str, origin: RuleOrigin) {
        if let Some(regex) = term_regex(term, false) {
            self.rules.push(Rule {
                label: term.trim().to_string(),
                regex,
                replacement: REDACTED.to_string(),
                origin,
                ipv6: false,
                is_pattern: false,
            });
        }
    }

    /// A person's name, replaced (as a whole word) by `role`.
    pub fn add_person(&mut self, name: &str, role: &str) {
        let name = name.trim();
        if name.chars().count() < 2 {
            return;
        }
        if let Some(regex) = term_regex(name, true) {
            self.rules.push(Rule {
                label: name.to_string(),
                regex,
                replacement: role.to_string(),
                origin: RuleOrigin::Person,
                ipv6: false,
                is_pattern: false,
            });
        }
    }

    /// A custom regular expression (already checked with [`compile_pattern`]).
    pub fn add_pattern(&mut self, pattern: &str, origin: RuleOrigin) -> Result<(), PatternError> {
        let regex = compile_pattern(pattern)?;
        self.rules.push(Rule {
            label: pattern.to_string(),
            regex,
            replacement: REDACTED.to_string(),
            origin,
            ipv6: false,
            is_pattern: true,
        });
        Ok(())
    }

    /// Terms go first, longest first, so that a longer term is not broken
    /// by a shorter one it contains; then names; then patterns in the order
    /// they were added (e-mail addresses before host names).
    fn ordered(&self) -> Vec<&Rule> {
        let mut rules: Vec<&Rule> = self.rules.iter().collect();
        rules.sort_by_key(|r| match (r.is_pattern, &r.origin) {
            (false, RuleOrigin::Person) => (1, 0),
            (false, _) => (0, usize::MAX - r.label.len()),
            (true, _) => (2, 0),
        });
        rules
    }

    /// `text` with every rule applied.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for rule in self.ordered() {
            if !rule.regex.is_match(&out) {
                continue;
            }
            out = if rule.ipv6 {
                rule.regex
                    .replace_all(&out, |caps: &regex::Captures<'_>| {
                        let m = caps.get(0).expect("group 0 always exists");
                        if is_ipv6_at(&out, m.start(), m.end()) {
                            rule.replacement.clone()
                        } else {
                            m.as_str().to_string()
                        }
                    })
                    .into_owned()
            } else if rule.origin == RuleOrigin::Person {
                // A role replacing a name that starts a sentence starts
                // with a capital letter too.
                rule.regex
                    .replace_all(&out, |caps: &regex::Captures<'_>| {
                        let start = caps.get(0).map_or(0, |m| m.start());
                        let before = out[..start].trim_end_matches([' ', '*', '_']);
                        if before.is_empty() || before.ends_with(['.', '!', '?', '\n', ':']) {
                            capitalise(&rule.replacement)
                        } else {
                            rule.replacement.clone()
                        }
                    })
                    .into_owned()
            } else {
                rule.regex
                    .replace_all(&out, regex::NoExpand(&rule.replacement))
                    .into_owned()
            };
        }
        out
    }

    /// The first rule that still matches `text` (a rendered document's
    /// visible text), if any.
    pub fn find_leak(&self, text: &str) -> Option<Leak> {
        for rule in &self.rules {
            for m in rule.regex.find_iter(text) {
                if rule.ipv6 && !is_ipv6_at(text, m.start(), m.end()) {
                    continue;
                }
                return Some(if rule.is_pattern {
                    Leak {
                        term: m.as_str().to_string(),
                        pattern: Some(rule.label.clone()),
                        origin: rule.origin.clone(),
                    }
                } else {
                    Leak {
                        term: rule.label.clone(),
                        pattern: None,
                        origin: rule.origin.clone(),
                    }
                });
            }
        }
        None
    }

    /// Whether `text` (a source of the document, Markdown formatting
    /// ignored) holds the leaked term: to trace a leak to where it came from.
    pub fn source_holds(leak: &Leak, text: &str) -> bool {
        let needle = leak.term.to_lowercase();
        let haystack: String = text
            .chars()
            .filter(|c| !matches!(c, '*' | '_' | '`' | '~'))
            .collect::<String>()
            .to_lowercase();
        squash(&haystack).contains(&squash(&needle))
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `text[start..end]` is an IPv6 address standing alone (not part
/// of a word such as `Vec::new`, nor a time such as `10:02:00`).
fn is_ipv6_at(text: &str, start: usize, end: usize) -> bool {
    let candidate = text[start..end].trim_end_matches('.');
    let standalone = |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
    standalone(text[..start].chars().next_back())
        && standalone(text[end..].chars().next())
        && candidate.chars().any(|c| c.is_ascii_hexdigit())
        && candidate.parse::<Ipv6Addr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> RedactionRules {
        let mut rules = RedactionRules::with_builtins(&["corp.example.net".to_string()]);
        rules.add_term("Project Falcon", RuleOrigin::Global);
        rules.add_term("db-7", RuleOrigin::Incident);
        rules.add_person("Ana", "the incident commander");
        rules
    }

    #[test]
    fn terms_patterns_and_people_are_replaced() {
        let text = "Ana saw project  falcon fail on db-7 (10.1.2.3, fe80::1, ops@corp.example.net) \
                    via api.eu.corp.example.net at 10:02:00; Vec::new and Banana stay.";
        let out = rules().redact(text);
        assert_eq!(
            out,
            "The incident commander saw [redacted] fail on [redacted] ([redacted], [redacted], \
             [redacted]) via [redacted] at 10:02:00; Vec::new and Banana stay."
        );
        assert_eq!(rules().find_leak(&out), None);
    }

    #[test]
    fn leaks_name_the_term_and_its_origin() {
        let leak = rules().find_leak("we moved Project\nFalcon").unwrap();
        assert_eq!(leak.term, "Project Falcon");
        assert_eq!(leak.origin, RuleOrigin::Global);
        let leak = rules().find_leak("call 2001:db8::7").unwrap();
        assert_eq!(leak.term, "2001:db8::7");
        assert_eq!(leak.pattern.as_deref(), Some("IPv6 address"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert!(compile_pattern("(unclosed").is_err());
        assert!(compile_pattern("a*").is_err(), "matches the empty string");
        assert!(compile_pattern(&"a".repeat(501)).is_err());
        let mut rules = RedactionRules::default();
        rules
            .add_pattern(r"cust-\d+", RuleOrigin::Incident)
            .unwrap();
        assert_eq!(rules.redact("CUST-42 saw it"), "[redacted] saw it");
    }
}
