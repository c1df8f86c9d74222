//! Redaction of public documents: terms (case-insensitive, whitespace
//! tolerant), people's names (whole words, replaced by their role), custom
//! regular expressions, and the built-in patterns that always apply: IPv4
//! and IPv6 addresses, e-mail addresses and host names under the configured
//! internal domains. The same rules then check the rendered documents: a
//! document in which any of them still matches is refused (fail closed).
//!
//! Redaction replaces what it finds as written; the check looks further: it
//! matches the rules against the folded text ([`super::fold`]), so a term
//! disguised with invisible characters, look-alike letters, fullwidth forms
//! or entity and percent escapes is still caught, and the document refused.

use std::net::Ipv6Addr;

use regex::{Regex, RegexBuilder};

use super::fold::{Fold, fold, fold_mapped};

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
    /// The rule as the check applies it, to text folded with `fold`.
    check: Regex,
    fold: Fold,
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
    /// The text as it appears in the checked output (it can differ from
    /// the term: `Mercu&#114;ial`, a look-alike letter, an invisible one).
    pub shown: String,
    /// Which rule matched (an index into the rules).
    rule: usize,
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

/// The check's form of a term: the folded term, any spacing between words.
fn folded_term_regex(term: &str, whole_word: bool) -> Option<Regex> {
    term_regex(&fold(term, Fold::Skeleton), whole_word)
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
            check: Regex::new(source).expect("built-in patterns compile"),
            fold: Fold::Plain,
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
        if let (Some(regex), Some(check)) =
            (term_regex(term, false), folded_term_regex(term, false))
        {
            self.rules.push(Rule {
                label: term.trim().to_string(),
                regex,
                check,
                fold: Fold::Skeleton,
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
        if let (Some(regex), Some(check)) = (term_regex(name, true), folded_term_regex(name, true))
        {
            self.rules.push(Rule {
                label: name.to_string(),
                regex,
                check,
                fold: Fold::Skeleton,
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
            check: regex.clone(),
            fold: Fold::Plain,
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
                            super::figures::capitalised(&rule.replacement)
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
    /// visible text, a link target, a title …), if any. The rules match the
    /// folded text, so disguised forms of a term are found too.
    pub fn find_leak(&self, text: &str) -> Option<Leak> {
        let plain = fold(text, Fold::Plain);
        let skeleton = fold(text, Fold::Skeleton);
        for (index, rule) in self.rules.iter().enumerate() {
            let folded = match rule.fold {
                Fold::Plain => &plain,
                Fold::Skeleton => &skeleton,
            };
            if let Some(found) = rule_match(rule, folded) {
                // Only on a leak: fold again with the spans, to quote the
                // text as it was written.
                let mapped = fold_mapped(text, rule.fold);
                let span = rule_match(rule, &mapped.text)
                    .map(|m| mapped.source_span(m))
                    .unwrap_or(0..0);
                let shown = text.get(span).unwrap_or_default().to_string();
                let term = if rule.is_pattern {
                    folded[found].to_string()
                } else {
                    rule.label.clone()
                };
                return Some(Leak {
                    term,
                    pattern: rule.is_pattern.then(|| rule.label.clone()),
                    origin: rule.origin.clone(),
                    shown,
                    rule: index,
                });
            }
        }
        None
    }

    /// Whether the rule behind `leak` matches `text` (a source of the
    /// document, as redaction left it): to trace a leak to where it came
    /// from. Markdown formatting is ignored when `ignore_formatting`.
    pub fn still_leaks(&self, leak: &Leak, text: &str, ignore_formatting: bool) -> bool {
        let Some(rule) = self.rules.get(leak.rule) else {
            return false;
        };
        let text = if ignore_formatting {
            text.chars()
                .filter(|c| !matches!(c, '*' | '_' | '`' | '~' | '#' | '\\'))
                .collect()
        } else {
            text.to_string()
        };
        rule_match(rule, &fold(&text, rule.fold)).is_some()
    }
}

/// Where `rule` matches folded text (an IPv6 candidate only if it is one).
fn rule_match(rule: &Rule, folded: &str) -> Option<std::ops::Range<usize>> {
    rule.check
        .find_iter(folded)
        .find(|m| !rule.ipv6 || is_ipv6_at(folded, m.start(), m.end()))
        .map(|m| m.range())
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

    #[test]
    fn disguised_terms_are_caught_and_quoted_as_written() {
        let mut rules = RedactionRules::default();
        rules.add_term("Mercurial", RuleOrigin::Global);
        for shown in [
            "Mercu\u{200b}rial",
            "M\u{435}rcurial",
            "ＭＥＲＣＵＲＩＡＬ",
            "mercu&#114;ial",
            "mercu%72ial",
        ] {
            let text = format!("the {shown} cluster");
            let leak = rules
                .find_leak(&text)
                .unwrap_or_else(|| panic!("{shown:?} passed"));
            assert_eq!(leak.term, "Mercurial");
            assert_eq!(leak.shown, shown);
        }
        assert_eq!(rules.find_leak("the Mercury cluster"), None);
    }

    #[test]
    fn disguised_addresses_are_caught() {
        let rules = RedactionRules::with_builtins(&["corp.example.net".to_string()]);
        let leak = rules.find_leak("at 10.\u{200b}1.2.3").unwrap();
        assert_eq!(leak.pattern.as_deref(), Some("IPv4 address"));
        assert_eq!(leak.shown, "10.\u{200b}1.2.3");
        assert!(rules.find_leak("api.corp&#46;example.net").is_some());
    }
}
