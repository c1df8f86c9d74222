//! Slack's message markup ("mrkdwn") to Markdown.
//!
//! Slack escapes `&`, `<` and `>` in message text and writes links, mentions
//! and special words between `<` and `>`
//! (docs.slack.dev/messaging/formatting-message-text). The rules:
//!
//! | Slack                         | Markdown                     |
//! |-------------------------------|------------------------------|
//! | `<https://x\|dashboard>`      | `[dashboard](https://x)`     |
//! | `<https://x>`                 | `<https://x>` (autolink)     |
//! | `<@U123>`                     | `@Ana Ruiz` (resolved name)  |
//! | `<#C123\|general>`            | `#general`                   |
//! | `<!channel>`, `<!here>`       | `@channel`, `@here`          |
//! | `<!subteam^S1\|@oncall>`      | `@oncall`                    |
//! | `<!date^…\|fallback>`         | `fallback`                   |
//! | `:fire:`, `:wave::skin-tone-3:` | 🔥, 👋🏼 (unknown names kept) |
//! | `*bold*`, `_italic_`, `~strike~` | `**bold**`, `*italic*`, `~~strike~~` |
//! | `` `code` ``, ```` ```block``` ```` | kept; a block gets its own lines |
//! | `&lt;` `&gt;` `&amp;`         | `<` `>` `&`                  |
//!
//! Emphasis follows Slack's own rule: a marker opens after a non-word
//! character (or at the start) before a non-blank one, and closes on the same
//! line before a non-word character, so `snake_case_name` and `2*3*4` stay
//! as they are. Nothing is converted inside code.

use std::collections::HashMap;

/// Names that mentions resolve to.
#[derive(Debug, Default, Clone)]
pub struct Names {
    /// User id (`U123`) → the name shown for the user.
    pub users: HashMap<String, String>,
    /// Channel id (`C123`) → channel name.
    pub channels: HashMap<String, String>,
}

/// Stand-ins for converted pieces while emphasis and emoji are converted
/// around them: characters of Supplementary Private Use Area-A, which the
/// text itself never needs (any it holds are protected the same way).
const STAND_IN: u32 = 0xF0000;
const STAND_INS: usize = 0xFFFE;

/// Convert a Slack message's text to Markdown.
pub fn to_markdown(text: &str, names: &Names) -> String {
    let mut kept: Vec<String> = Vec::new();
    let mut work = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let piece = if kept.len() >= STAND_INS {
            None
        } else if let Some(code) = rest.strip_prefix("```") {
            code.find("```")
                .map(|end| (code_block(&code[..end]), 6 + end))
        } else if c == '`' {
            rest[1..]
                .find(['`', '\n'])
                .filter(|&end| end > 0 && rest.as_bytes()[1 + end] == b'`')
                .map(|end| (format!("`{}`", decode(&rest[1..1 + end])), 2 + end))
        } else if c == '<' {
            rest[1..]
                .find(['>', '\n'])
                .filter(|&end| rest.as_bytes()[1 + end] == b'>')
                .map(|end| (token(&rest[1..1 + end], names), 2 + end))
        } else if is_stand_in(c) {
            Some((c.to_string(), c.len_utf8()))
        } else {
            None
        };
        match piece {
            Some((converted, used)) => {
                work.push(stand_in(kept.len()));
                kept.push(converted);
                rest = &rest[used..];
            }
            None => {
                work.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    let work = decode(&emphasis(&emoji(&work)));
    let mut out = String::with_capacity(work.len());
    for c in work.chars() {
        match index_of(c).and_then(|i| kept.get(i)) {
            Some(piece) => out.push_str(piece),
            None => out.push(c),
        }
    }
    out.trim_matches('\n').to_string()
}

fn stand_in(index: usize) -> char {
    char::from_u32(STAND_IN + index as u32).expect("a private use character")
}

fn is_stand_in(c: char) -> bool {
    (STAND_IN..STAND_IN + STAND_INS as u32).contains(&(c as u32))
}

fn index_of(c: char) -> Option<usize> {
    is_stand_in(c).then(|| (c as u32 - STAND_IN) as usize)
}

/// `&lt;`, `&gt;` and `&amp;`, the only entities Slack writes.
fn decode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let (c, used) = if rest.starts_with("&lt;") {
            ('<', 4)
        } else if rest.starts_with("&gt;") {
            ('>', 4)
        } else if rest.starts_with("&amp;") {
            ('&', 5)
        } else {
            ('&', 1)
        };
        out.push(c);
        rest = &rest[used..];
    }
    out.push_str(rest);
    out
}

/// A fenced code block on lines of its own.
fn code_block(inner: &str) -> String {
    let inner = decode(inner);
    let inner = inner.trim_matches('\n');
    format!("\n```\n{inner}\n```\n")
}

/// What stood between `<` and `>`.
fn token(inner: &str, names: &Names) -> String {
    let (target, label) = match inner.split_once('|') {
        Some((target, label)) => (target, Some(decode(label)).filter(|l| !l.is_empty())),
        None => (inner, None),
    };
    if let Some(id) = target.strip_prefix('@') {
        let name = names.users.get(id).cloned().or(label);
        return format!("@{}", name.unwrap_or_else(|| id.to_string()));
    }
    if let Some(id) = target.strip_prefix('#') {
        let name = label.or_else(|| names.channels.get(id).cloned());
        return format!("#{}", name.unwrap_or_else(|| id.to_string()));
    }
    if let Some(special) = target.strip_prefix('!') {
        return match special {
            "channel" | "here" | "everyone" => format!("@{special}"),
            _ if special.starts_with("subteam^") => label.unwrap_or_else(|| "@team".into()),
            _ => label.unwrap_or_else(|| format!("@{special}")),
        };
    }
    let url = decode(target);
    let is_link = url.contains(':') && !url.contains(char::is_whitespace);
    if !is_link {
        return decode(inner);
    }
    let destination = if url.contains(['(', ')', ' ', '<', '>']) {
        format!("<{}>", url.replace(['<', '>'], ""))
    } else {
        url.clone()
    };
    match label {
        Some(label) if label != url => {
            let label = label.replace('[', "\\[").replace(']', "\\]");
            format!("[{label}]({destination})")
        }
        _ => format!("<{}>", url.replace(['<', '>'], "")),
    }
}

/// Slack's skin tone modifiers, `:skin-tone-2:` (lightest) to `-6:`.
fn skin_tone(n: &str) -> Option<emojis::SkinTone> {
    use emojis::SkinTone::*;
    Some(match n {
        "2" => Light,
        "3" => MediumLight,
        "4" => Medium,
        "5" => MediumDark,
        "6" => Dark,
        _ => return None,
    })
}

/// `:shortcode:` → the emoji; names the table does not know (a workspace's
/// own emoji) stay as they are.
fn emoji(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(':') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let after = &rest[1..];
        let name = after.find(':').map(|end| &after[..end]).filter(|name| {
            !name.is_empty()
                && name.len() <= 100
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_+-'".contains(&b))
        });
        let Some((name, found)) =
            name.and_then(|name| emojis::get_by_shortcode(name).map(|e| (name, e)))
        else {
            out.push(':');
            rest = after;
            continue;
        };
        let mut found = found;
        let mut used = 1 + name.len() + 1;
        if let Some(tone) = rest[used..].strip_prefix(":skin-tone-")
            && let Some((n, _)) = tone.split_once(':')
            && let Some(tone) = skin_tone(n)
            && let Some(toned) = found.with_skin_tone(tone)
        {
            found = toned;
            used += ":skin-tone-".len() + n.len() + 1;
        }
        out.push_str(found.as_str());
        rest = &rest[used..];
    }
    out.push_str(rest);
    out
}

/// `*bold*`, `_italic_` and `~strike~` on one line, by Slack's word rule.
fn emphasis(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if matches!(c, '*' | '_' | '~')
            && opens(&chars, i)
            && let Some(end) = closes(&chars, i)
        {
            let inner: String = chars[i + 1..end].iter().collect();
            let mark = match c {
                '*' => "**",
                '_' => "*",
                _ => "~~",
            };
            out.push_str(mark);
            out.push_str(&emphasis(&inner));
            out.push_str(mark);
            i = end + 1;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

fn opens(chars: &[char], i: usize) -> bool {
    let c = chars[i];
    let before = i == 0 || (!chars[i - 1].is_alphanumeric() && chars[i - 1] != c);
    let after = chars
        .get(i + 1)
        .is_some_and(|&n| !n.is_whitespace() && n != c);
    before && after
}

fn closes(chars: &[char], open: usize) -> Option<usize> {
    let c = chars[open];
    for j in open + 2..chars.len() {
        if chars[j] == '\n' {
            return None;
        }
        if chars[j] == c
            && !chars[j - 1].is_whitespace()
            && chars
                .get(j + 1)
                .is_none_or(|n| !n.is_alphanumeric() && *n != c)
        {
            return Some(j);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        let mut names = Names::default();
        names.users.insert("U123".into(), "Ana Ruiz".into());
        names.channels.insert("C9".into(), "ops".into());
        names
    }

    #[test]
    fn slack_markup_becomes_markdown() {
        let cases = [
            (
                "see <https://x.io/d|dashboard>",
                "see [dashboard](https://x.io/d)",
            ),
            ("see <https://x.io/d>", "see <https://x.io/d>"),
            ("<@U123> is on it", "@Ana Ruiz is on it"),
            ("<@U999|sam> too", "@sam too"),
            ("<@U777> too", "@U777 too"),
            ("in <#C123|general>", "in #general"),
            ("in <#C9>", "in #ops"),
            ("<!channel> <!here> <!everyone>", "@channel @here @everyone"),
            ("<!subteam^S1|@oncall> page", "@oncall page"),
            (
                "at <!date^1392734382^{date}|Feb 18, 2014>",
                "at Feb 18, 2014",
            ),
            (":fire: on :fire:", "🔥 on 🔥"),
            (":wave::skin-tone-3: hi", "👋🏼 hi"),
            (":our-own-emoji: stays", ":our-own-emoji: stays"),
            ("at 10:30:00 sharp", "at 10:30:00 sharp"),
            (
                "*bold* and _italic_ and ~gone~",
                "**bold** and *italic* and ~~gone~~",
            ),
            ("*_both_*", "***both***"),
            ("snake_case_name and 2*3*4", "snake_case_name and 2*3*4"),
            ("* a list\n* item", "* a list\n* item"),
            ("*not\nbold*", "*not\nbold*"),
            ("a &lt;b&gt; &amp;&amp; c", "a <b> && c"),
            ("&amp;lt; stays", "&lt; stays"),
            ("`*x* :fire: &lt;`", "`*x* :fire: <`"),
            ("run:\n```make *all*```", "run:\n\n```\nmake *all*\n```"),
            (
                "<https://x.io/a_b_c|the _docs_>",
                "[the _docs_](https://x.io/a_b_c)",
            ),
            ("<mailto:a@b.io|a@b.io>", "[a@b.io](mailto:a@b.io)"),
            ("*see <https://x.io|this>*", "**see [this](https://x.io)**"),
            ("a < b", "a < b"),
        ];
        for (slack, markdown) in cases {
            assert_eq!(to_markdown(slack, &names()), markdown, "{slack:?}");
        }
    }

    #[test]
    fn private_use_characters_in_the_text_are_kept() {
        let text = format!("{} <@U123>", char::from_u32(STAND_IN).unwrap());
        assert_eq!(
            to_markdown(&text, &names()),
            format!("{} @Ana Ruiz", char::from_u32(STAND_IN).unwrap())
        );
    }
}
