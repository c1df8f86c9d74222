//! Snippets of search hits: the part of a text with the most matched words,
//! HTML-escaped, each matched word inside `<mark>…</mark>`. Built here, not
//! by the database, so that both databases give the same snippet and the
//! marking can never be confused with the text (which is escaped first).

use crate::domain::search::{Phrase, normalize, token_spans};

/// Words shown around the matches.
const WINDOW_WORDS: usize = 24;
/// Words shown before the first match of the window.
const LEAD_WORDS: usize = 6;
/// Longest snippet, in characters of the original text.
const MAX_SNIPPET_CHARS: usize = 320;

/// The snippet of the first of `texts` (in order) that contains a match, or
/// the start of the first non-empty one, unmarked.
pub fn snippet(texts: &[&str], phrases: &[&Phrase]) -> String {
    for text in texts {
        let spans = token_spans(text);
        let marked = matched_tokens(text, &spans, phrases);
        if let Some(start) = best_start(&marked) {
            return render(text, &spans, &marked, start);
        }
    }
    texts
        .iter()
        .find(|t| !t.trim().is_empty())
        .map(|text| {
            let spans = token_spans(text);
            render(text, &spans, &vec![false; spans.len()], 0)
        })
        .unwrap_or_default()
}

/// Which tokens belong to an occurrence of one of the phrases.
fn matched_tokens(text: &str, spans: &[(usize, usize)], phrases: &[&Phrase]) -> Vec<bool> {
    let words: Vec<String> = spans.iter().map(|&(s, e)| normalize(&text[s..e])).collect();
    let mut marked = vec![false; words.len()];
    for phrase in phrases {
        let n = phrase.tokens.len();
        if n == 0 || n > words.len() {
            continue;
        }
        for start in 0..=words.len() - n {
            let hit = phrase.tokens.iter().enumerate().all(|(j, token)| {
                let word = &words[start + j];
                if phrase.prefix && j == n - 1 {
                    word.starts_with(token.as_str())
                } else {
                    word == token
                }
            });
            if hit {
                marked[start..start + n].iter_mut().for_each(|m| *m = true);
            }
        }
    }
    marked
}

/// The first word of the window holding the most matches, if any matched.
fn best_start(marked: &[bool]) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None;
    for (position, _) in marked.iter().enumerate().filter(|(_, m)| **m) {
        let start = position.saturating_sub(LEAD_WORDS);
        let end = (start + WINDOW_WORDS).min(marked.len());
        let count = marked[start..end].iter().filter(|m| **m).count();
        if best.is_none_or(|(_, most)| count > most) {
            best = Some((start, count));
        }
    }
    best.map(|(start, _)| start)
}

fn render(text: &str, spans: &[(usize, usize)], marked: &[bool], start: usize) -> String {
    if spans.is_empty() {
        return escape(&cut(text, MAX_SNIPPET_CHARS)).trim().to_string();
    }
    let end = (start + WINDOW_WORDS).min(spans.len());
    let mut out = String::new();
    let mut shown = 0;
    let mut cursor = if start == 0 { 0 } else { spans[start].0 };
    if start > 0 {
        out.push('…');
    }
    for (k, &(s, e)) in spans.iter().enumerate().take(end).skip(start) {
        let gap = &text[cursor..s];
        let word = &text[s..e];
        shown += gap.chars().count() + word.chars().count();
        if shown > MAX_SNIPPET_CHARS && k > start {
            return format!("{}…", out.trim_end());
        }
        out.push_str(&escape(gap));
        let word = escape(&cut(word, MAX_SNIPPET_CHARS));
        if marked[k] {
            out.push_str("<mark>");
            out.push_str(&word);
            out.push_str("</mark>");
        } else {
            out.push_str(&word);
        }
        cursor = e;
    }
    if end < spans.len() {
        out.push('…');
    } else {
        out.push_str(&escape(&cut(&text[cursor..], 40)));
    }
    out.trim().to_string()
}

/// At most `max` characters of `text`.
fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// HTML-escaped, each run of white space as one space.
fn escape(text: &str) -> String {
    let mut spaced = String::with_capacity(text.len());
    let mut in_space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            if !in_space {
                spaced.push(' ');
            }
            in_space = true;
        } else {
            spaced.push(c);
            in_space = false;
        }
    }
    html_escape::encode_safe(&spaced).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::search::SearchQuery;

    fn snip(texts: &[&str], q: &str) -> String {
        let query = SearchQuery::parse(q).unwrap();
        let phrases: Vec<&Phrase> = query.positive_phrases().collect();
        snippet(texts, &phrases)
    }

    #[test]
    fn marks_words_phrases_and_prefixes_and_escapes_the_rest() {
        assert_eq!(
            snip(
                &["The <b>primary</b> database   failed over"],
                "databas* \"failed over\""
            ),
            "The &lt;b&gt;primary&lt;&#x2F;b&gt; <mark>database</mark> <mark>failed</mark> <mark>over</mark>"
        );
        assert_eq!(snip(&["", "Café crash"], "cafe"), "<mark>Café</mark> crash");
    }

    #[test]
    fn long_texts_show_the_window_with_the_matches() {
        let text = format!(
            "{} needle here {}",
            "word ".repeat(100),
            "tail ".repeat(100)
        );
        let out = snip(&[&text], "needle");
        assert!(out.starts_with("…word"), "{out}");
        assert!(out.contains("<mark>needle</mark> here"), "{out}");
        assert!(out.ends_with('…'), "{out}");
    }

    #[test]
    fn no_match_shows_the_start_unmarked() {
        assert_eq!(snip(&["", "Nothing here"], "absent"), "Nothing here");
    }
}
