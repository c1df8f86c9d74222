//! The search query language, parsed into a small tree ([`SearchQuery`])
//! that is then written out as an SQLite FTS5 `MATCH` expression or a
//! PostgreSQL `to_tsquery` text. User text never reaches either syntax
//! as typed: every word is cut into plain letter-and-digit tokens first.
//!
//! The syntax (README, "Search"): words, all required; `"a phrase"`;
//! `prefix*`; `-excluded` (a word or a phrase); `a OR b` (`OR` in capitals,
//! binding tighter than the implicit AND); `AND` in capitals is allowed
//! and changes nothing.

use poem_openapi::Enum;
use serde::{Deserialize, Serialize};
use unicode_normalization::{UnicodeNormalization, char::is_combining_mark};

use super::{Invalid, enums::text_enum};

text_enum! {
    /// The kinds of record search finds.
    #[derive(Enum, Serialize, Deserialize)]
    #[oai(rename_all = "snake_case")]
    #[serde(rename_all = "snake_case")]
    pub enum SearchKind {
        /// An incident: its title, customer impact, components and labels.
        Incident = "incident",
        /// A timeline event's body.
        TimelineEvent = "timeline_event",
        /// A sitrep: summary, impact, open and resolved issues, actions.
        Sitrep = "sitrep",
        /// A written post-mortem section: its title and body.
        PostmortemSection = "postmortem_section",
        /// A remediation item: title, description and reason.
        RemediationItem = "remediation_item",
    }
}

impl SearchKind {
    /// A comma-separated list of kinds (`types=incident,sitrep`).
    pub fn parse_list(field: &str, text: &str) -> Result<Vec<Self>, Invalid> {
        let mut kinds = Vec::new();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let kind: Self = name
                .parse()
                .map_err(|e: String| Invalid::new(field, format!("`{field}`: {e}")))?;
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        if kinds.is_empty() {
            return Err(Invalid::new(
                field,
                format!("`{field}` names no kind; leave it out to search every kind"),
            ));
        }
        Ok(kinds)
    }
}

/// Longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 500;
/// Most words (tokens) in a query, counting those inside phrases.
pub const MAX_QUERY_TERMS: usize = 16;
/// Fewest characters before a `*`.
pub const MIN_PREFIX_CHARS: usize = 2;

const FIELD: &str = "q";

/// Consecutive tokens, the last one possibly a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phrase {
    pub tokens: Vec<String>,
    pub prefix: bool,
}

/// A parsed query: every clause must match (one of its alternatives) and
/// no excluded phrase may.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    pub clauses: Vec<Vec<Phrase>>,
    pub excluded: Vec<Phrase>,
}

/// One piece of the query as typed.
enum Item {
    Or,
    Term { phrase: Phrase, excluded: bool },
}

/// The tokens of a text as both indexes see them: runs of letters and
/// digits, lower-cased, accents removed.
pub fn tokens(text: &str) -> Vec<String> {
    token_spans(text)
        .into_iter()
        .map(|(start, end)| normalize(&text[start..end]))
        .collect()
}

/// The byte ranges of the tokens of `text`.
pub fn token_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        let word = c.is_alphanumeric() || (start.is_some() && is_combining_mark(c));
        match (word, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, text.len()));
    }
    spans
}

/// A token folded as the indexes fold it: accents removed, lower case.
pub fn normalize(token: &str) -> String {
    token
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

impl SearchQuery {
    /// Parse a query as typed, or say what is wrong with it (field `q`).
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        if text.chars().count() > MAX_QUERY_CHARS {
            return Err(invalid(format!(
                "the query is too long: at most {MAX_QUERY_CHARS} characters"
            )));
        }
        if text.trim().is_empty() {
            return Err(invalid("the query is empty: give at least one word"));
        }
        let items = lex(text)?;
        let query = group(items)?;
        let terms: usize = query
            .clauses
            .iter()
            .flatten()
            .chain(&query.excluded)
            .map(|p| p.tokens.len())
            .sum();
        if terms > MAX_QUERY_TERMS {
            return Err(invalid(format!(
                "the query has too many terms ({terms}): at most {MAX_QUERY_TERMS} words"
            )));
        }
        Ok(query)
    }

    /// Whether the query may match a large share of all records: one word
    /// or prefix, or alternatives joined by `OR`. A query of several words
    /// or a phrase matches only where they all meet, which narrows it by
    /// itself.
    pub fn is_broad(&self) -> bool {
        match self.clauses.as_slice() {
            [only] => only.len() > 1 || only.iter().all(|p| p.tokens.len() == 1),
            _ => false,
        }
    }

    /// Every phrase a hit may contain (for marking snippets).
    pub fn positive_phrases(&self) -> impl Iterator<Item = &Phrase> {
        self.clauses.iter().flatten()
    }

    /// The expression for SQLite FTS5's `MATCH`.
    pub fn to_fts5(&self) -> String {
        let phrase = |p: &Phrase| {
            format!(
                "\"{}\"{}",
                p.tokens.join(" ").replace('"', "\"\""),
                if p.prefix { "*" } else { "" }
            )
        };
        let mut out = self
            .clauses
            .iter()
            .map(|alternatives| {
                let alts: Vec<String> = alternatives.iter().map(phrase).collect();
                format!("({})", alts.join(" OR "))
            })
            .collect::<Vec<_>>()
            .join(" AND ");
        if !self.excluded.is_empty() {
            out = format!("({out})");
            for p in &self.excluded {
                out.push_str(" NOT ");
                out.push_str(&phrase(p));
            }
        }
        out
    }

    /// The text for PostgreSQL's `to_tsquery('simple', …)`.
    pub fn to_tsquery(&self) -> String {
        let phrase = |p: &Phrase| {
            let mut words: Vec<String> = p.tokens.iter().map(|t| format!("'{t}'")).collect();
            if p.prefix
                && let Some(last) = words.last_mut()
            {
                last.push_str(":*");
            }
            format!("({})", words.join(" <-> "))
        };
        let mut parts: Vec<String> = self
            .clauses
            .iter()
            .map(|alternatives| {
                let alts: Vec<String> = alternatives.iter().map(phrase).collect();
                format!("({})", alts.join(" | "))
            })
            .collect();
        parts.extend(self.excluded.iter().map(|p| format!("!{}", phrase(p))));
        parts.join(" & ")
    }
}

fn invalid(detail: impl Into<String>) -> Invalid {
    Invalid::new(FIELD, detail)
}

/// Cut the text into words, phrases and `OR`s.
fn lex(text: &str) -> Result<Vec<Item>, Invalid> {
    let mut items = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Ok(items);
        }
        let excluded = rest.starts_with('-') && rest.len() > 1;
        if excluded {
            rest = &rest[1..];
        }
        if let Some(inner) = rest.strip_prefix('"') {
            let Some(end) = inner.find('"') else {
                return Err(invalid(
                    "the query has an unbalanced quote: close every `\"` phrase",
                ));
            };
            let tokens = tokens(&inner[..end]);
            if tokens.is_empty() {
                return Err(invalid("a quoted phrase has no words to search for"));
            }
            rest = &inner[end + 1..];
            let prefix = rest.starts_with('*');
            rest = rest.trim_start_matches('*');
            items.push(term(tokens, prefix, excluded)?);
            continue;
        }
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '"')
            .unwrap_or(rest.len());
        let word = &rest[..end];
        rest = &rest[end..];
        match word {
            "OR" if !excluded => items.push(Item::Or),
            "AND" if !excluded => {}
            _ => {
                let prefix = word.ends_with('*');
                let tokens = tokens(word);
                // A word of punctuation only (`&&`, `-`) has nothing to find.
                if !tokens.is_empty() {
                    items.push(term(tokens, prefix, excluded)?);
                }
            }
        }
    }
}

fn term(tokens: Vec<String>, prefix: bool, excluded: bool) -> Result<Item, Invalid> {
    if prefix {
        let last = tokens.last().map(|t| t.chars().count()).unwrap_or(0);
        if last < MIN_PREFIX_CHARS {
            return Err(invalid(format!(
                "a prefix search needs at least {MIN_PREFIX_CHARS} letters or digits before `*`"
            )));
        }
    }
    Ok(Item::Term {
        phrase: Phrase { tokens, prefix },
        excluded,
    })
}

/// Join the items into clauses: `OR` binds its two neighbours together.
fn group(items: Vec<Item>) -> Result<SearchQuery, Invalid> {
    let misplaced_or = || invalid("`OR` must stand between two search terms");
    let mut query = SearchQuery {
        clauses: Vec::new(),
        excluded: Vec::new(),
    };
    let mut pending_or = false;
    let mut last_was_positive = false;
    for item in items {
        match item {
            Item::Or => {
                if pending_or || !last_was_positive {
                    return Err(misplaced_or());
                }
                pending_or = true;
            }
            Item::Term { phrase, excluded } => {
                if excluded {
                    if pending_or {
                        return Err(invalid(
                            "an excluded term (`-word`) cannot be one side of `OR`",
                        ));
                    }
                    query.excluded.push(phrase);
                    last_was_positive = false;
                } else {
                    match query.clauses.last_mut() {
                        Some(alternatives) if pending_or => alternatives.push(phrase),
                        _ => query.clauses.push(vec![phrase]),
                    }
                    pending_or = false;
                    last_was_positive = true;
                }
            }
        }
    }
    if pending_or {
        return Err(misplaced_or());
    }
    if query.clauses.is_empty() {
        return Err(invalid(if query.excluded.is_empty() {
            "the query has no words to search for (only punctuation or operators)"
        } else {
            "the query needs at least one word that is not excluded"
        }));
    }
    Ok(query)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(q: &str) -> (String, String) {
        let query = SearchQuery::parse(q).unwrap();
        (query.to_fts5(), query.to_tsquery())
    }

    #[test]
    fn words_phrases_prefixes_or_and_exclusions() {
        assert_eq!(
            both("Database timeout"),
            (
                "(\"database\") AND (\"timeout\")".into(),
                "(('database')) & (('timeout'))".into()
            )
        );
        assert_eq!(
            both("\"connection pool\" latenc*"),
            (
                "(\"connection pool\") AND (\"latenc\"*)".into(),
                "(('connection' <-> 'pool')) & (('latenc':*))".into()
            )
        );
        assert_eq!(
            both("dns OR bgp AND outage -test"),
            (
                "((\"dns\" OR \"bgp\") AND (\"outage\")) NOT \"test\"".into(),
                "(('dns') | ('bgp')) & (('outage')) & !('test')".into()
            )
        );
        // Punctuation splits words as the indexes do; accents and case fold.
        assert_eq!(
            both("db-primary Café"),
            (
                "(\"db primary\") AND (\"cafe\")".into(),
                "(('db' <-> 'primary')) & (('cafe'))".into()
            )
        );
        // Quotes and operators of either syntax never pass through.
        assert_eq!(
            both("a' & !bb:* (c) NEAR"),
            (
                "(\"a\") AND (\"bb\"*) AND (\"c\") AND (\"near\")".into(),
                "(('a')) & (('bb':*)) & (('c')) & (('near'))".into()
            )
        );
        assert_eq!(both("or").0, "(\"or\")");
    }

    #[test]
    fn broad_queries_are_one_word_prefix_or_alternatives() {
        let broad = |q: &str| SearchQuery::parse(q).unwrap().is_broad();
        for q in [
            "database",
            "deploy*",
            "dns OR bgp",
            "database -test",
            "\"dns\" OR \"bgp peer\"",
        ] {
            assert!(broad(q), "{q}");
        }
        for q in [
            "database timeout",
            "\"connection pool\"",
            "db-primary",
            "dns OR bgp outage",
        ] {
            assert!(!broad(q), "{q}");
        }
    }

    #[test]
    fn bad_queries_say_what_is_wrong() {
        let long = "a".repeat(MAX_QUERY_CHARS + 1);
        let many = "w ".repeat(MAX_QUERY_TERMS + 1);
        for (q, expected) in [
            ("", "empty"),
            ("   ", "empty"),
            (long.as_str(), "too long"),
            (many.as_str(), "too many terms"),
            ("\"open phrase", "unbalanced quote"),
            ("\"\"", "no words"),
            ("OR dns", "`OR` must stand between"),
            ("dns OR", "`OR` must stand between"),
            ("dns OR OR bgp", "`OR` must stand between"),
            ("dns OR -bgp", "cannot be one side of `OR`"),
            ("-dns", "at least one word that is not excluded"),
            ("&& ||", "no words"),
            ("a*", "prefix search needs at least 2"),
        ] {
            let err = SearchQuery::parse(q).unwrap_err();
            assert_eq!(err.field, "q");
            assert!(err.detail.contains(expected), "{q:?}: {}", err.detail);
        }
    }

    #[test]
    fn tokens_are_letter_and_digit_runs() {
        assert_eq!(
            tokens("Ünïcode, e-mail 5xx_rate"),
            ["unicode", "e", "mail", "5xx", "rate"]
        );
    }
}
