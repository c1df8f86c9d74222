//! Folding text for the leak check, so that a term matches however it is
//! disguised: what a reader sees as `Mercurial` must match the rule
//! `mercurial` whether it was typed with a zero-width space inside, in
//! fullwidth letters, with a Cyrillic `е`, as `mercu&#114;ial` or as
//! `mercu%72ial`.
//!
//! Two folds, applied the same way to the checked text and to the rules:
//! - [`Fold::Plain`] (for patterns: addresses, host names, custom regular
//!   expressions): HTML entities and percent-escapes decoded, invisible
//!   format characters (Unicode category Cf: zero-width space and joiners,
//!   soft hyphen, word joiner, bidi controls …) removed, NFKC per character.
//! - [`Fold::Skeleton`] (for terms and names): the same decoding, then NFKD,
//!   Unicode default case folding and the UTS #39 confusable skeleton
//!   (which also drops every default-ignorable code point), lower-cased.
//!
//! Folding works one decoded character at a time, so every folded
//! character can be traced back to the span of the source it came from:
//! a refusal quotes the text as it was written, not its skeleton.

use std::{ops::Range, sync::LazyLock};

use caseless::Caseless;
use regex::Regex;
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Which fold to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fold {
    /// Decoded, invisible characters removed, NFKC.
    Plain,
    /// [`Fold::Plain`], case-folded and reduced to confusable skeletons.
    Skeleton,
}

/// Where folded characters go: a plain string, or a string with the source
/// span of each character.
trait Sink {
    fn push(&mut self, c: char, from: &Range<usize>);
}

impl Sink for String {
    fn push(&mut self, c: char, _from: &Range<usize>) {
        String::push(self, c);
    }
}

/// Folded text with, for each of its characters, the source span.
#[derive(Debug, Default)]
pub struct Mapped {
    pub text: String,
    /// (byte offset in `text`, span in the source), in order.
    spans: Vec<(usize, Range<usize>)>,
}

impl Sink for Mapped {
    fn push(&mut self, c: char, from: &Range<usize>) {
        self.spans.push((self.text.len(), from.clone()));
        self.text.push(c);
    }
}

impl Mapped {
    /// The span of the source that `folded` (a byte range of `self.text`)
    /// came from.
    pub fn source_span(&self, folded: Range<usize>) -> Range<usize> {
        let first = self.spans.partition_point(|(at, _)| *at < folded.start);
        let last = self
            .spans
            .partition_point(|(at, _)| *at < folded.end)
            .saturating_sub(1);
        match (self.spans.get(first), self.spans.get(last.max(first))) {
            (Some((_, a)), Some((_, b))) => a.start.min(b.start)..a.end.max(b.end),
            _ => 0..0,
        }
    }
}

/// `text` folded.
pub fn fold(text: &str, how: Fold) -> String {
    let mut out = String::with_capacity(text.len());
    fold_into(text, how, &mut out);
    out
}

/// `text` folded, with the source span of every folded character.
pub fn fold_mapped(text: &str, how: Fold) -> Mapped {
    let mut out = Mapped::default();
    fold_into(text, how, &mut out);
    out
}

static ENTITY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\A&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?")
        .expect("the entity pattern compiles")
});
static PERCENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\A(?:%[0-9A-Fa-f]{2})+").expect("the escape pattern compiles"));

fn fold_into(text: &str, how: Fold, sink: &mut impl Sink) {
    let mut at = 0;
    while at < text.len() {
        let rest = &text[at..];
        let decoded = match rest.as_bytes()[0] {
            b'&' => ENTITY.find(rest).and_then(|m| {
                let out = html_escape::decode_html_entities(m.as_str());
                (out != m.as_str()).then(|| (out.into_owned(), m.end()))
            }),
            b'%' => PERCENT.find(rest).map(|m| {
                let bytes: Vec<u8> = percent_encoding::percent_decode_str(m.as_str()).collect();
                (String::from_utf8_lossy(&bytes).into_owned(), m.end())
            }),
            _ => None,
        };
        match decoded {
            Some((chars, len)) => {
                let span = at..at + len;
                for c in chars.chars() {
                    fold_char(c, &span, how, sink);
                }
                at += len;
            }
            None => {
                let c = rest.chars().next().expect("not at the end");
                let span = at..at + c.len_utf8();
                fold_char(c, &span, how, sink);
                at = span.end;
            }
        }
    }
}

/// The skeleton fold of each ASCII character, computed once from the same
/// functions as every other character.
static ASCII_SKELETONS: LazyLock<Vec<String>> =
    LazyLock::new(|| (0u8..128).map(|b| skeleton_slow(b as char)).collect());

fn skeleton_slow(c: char) -> String {
    let folded: String = std::iter::once(c).nfkd().default_case_fold().collect();
    unicode_security::confusable_detection::skeleton(&folded)
        .flat_map(char::to_lowercase)
        .collect()
}

fn fold_char(c: char, span: &Range<usize>, how: Fold, sink: &mut impl Sink) {
    if c.general_category() == GeneralCategory::Format {
        return;
    }
    match how {
        Fold::Plain => {
            if c.is_ascii() {
                sink.push(c, span);
            } else {
                for d in std::iter::once(c).nfkc() {
                    sink.push(d, span);
                }
            }
        }
        Fold::Skeleton => {
            if c.is_ascii() {
                for d in ASCII_SKELETONS[c as usize].chars() {
                    sink.push(d, span);
                }
            } else {
                for d in skeleton_slow(c).chars() {
                    sink.push(d, span);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: &str, b: &str) {
        assert_eq!(
            fold(a, Fold::Skeleton),
            fold(b, Fold::Skeleton),
            "{a:?} and {b:?} should fold alike"
        );
    }

    #[test]
    fn disguised_terms_fold_to_the_plain_term() {
        for disguised in [
            "Mercu\u{200b}rial",  // zero-width space
            "Mercu\u{200d}rial",  // zero-width joiner
            "Mercu\u{2060}rial",  // word joiner
            "Mercu\u{ad}rial",    // soft hyphen
            "Mercu\u{202e}rial",  // bidi override
            "M\u{435}rcurial",    // Cyrillic е
            "Ｍｅｒｃｕｒｉａｌ", // fullwidth
            "MERCURIAL",
            "mercu&#114;ial",
            "mercu&#x72;ial",
            "mercu%72ial",
        ] {
            same(disguised, "mercurial");
        }
    }

    #[test]
    fn plain_folding_keeps_digits_and_case() {
        assert_eq!(fold("10.0.0.1&#46;5 Ｄb", Fold::Plain), "10.0.0.1.5 Db");
        assert_eq!(fold("10.\u{200b}0.0.1", Fold::Plain), "10.0.0.1");
    }

    #[test]
    fn spans_lead_back_to_the_source() {
        let source = "see mercu&#114;ial now";
        let mapped = fold_mapped(source, Fold::Skeleton);
        let term = fold("mercurial", Fold::Skeleton);
        let at = mapped.text.find(&term).unwrap();
        let span = mapped.source_span(at..at + term.len());
        assert_eq!(&source[span], "mercu&#114;ial");
    }
}
