//! HTML from the Markdown source, through pulldown-cmark. Raw HTML in the
//! Markdown (which can only come from user text: the templates write none)
//! is turned into escaped text, and links with a scripting scheme lose their
//! target, so nothing a user typed can run in a reader's browser.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag};

/// The stylesheet of every HTML document and public page.
pub const STYLESHEET: &str = include_str!("../../reports/templates/style.css");

/// Markdown options shared by the HTML and PDF renderings.
pub fn markdown_options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS
}

/// The body of an HTML document (no `<html>` wrapper) from Markdown.
pub fn markdown_to_html(markdown: &str) -> String {
    let parser = Parser::new_ext(markdown, markdown_options()).map(neutralise);
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut out, parser);
    out
}

fn neutralise(event: Event<'_>) -> Event<'_> {
    match event {
        Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        other => other,
    }
}

fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    if is_scripting_url(&url) {
        CowStr::from("#")
    } else {
        url
    }
}

/// Whether a link target would run something or embed a document when
/// followed (`javascript:`, `vbscript:`, `data:`, `file:`): such targets are
/// disarmed in HTML and in PDF link annotations alike. Invisible characters
/// and escapes inside the scheme do not hide it.
pub fn is_scripting_url(url: &str) -> bool {
    let folded = super::fold::fold(url, super::fold::Fold::Plain);
    let trimmed: String = folded
        .trim_start()
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect();
    if trimmed.starts_with('/') || !trimmed.contains(':') {
        return false;
    }
    let scheme = trimmed
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    matches!(scheme.as_str(), "javascript" | "vbscript" | "data" | "file")
}

/// The values of the attributes a reader can obtain from a page (`href`,
/// `src`, `title`, `alt`), one per line, entities decoded: the leak check
/// reads them with the visible text.
pub fn attribute_values(html: &str) -> String {
    static ATTRIBUTE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"(?i)\s(?:href|src|title|alt)\s*=\s*(?:"([^"]*)"|'([^']*)')"#)
            .expect("the attribute pattern compiles")
    });
    let mut out = String::new();
    for caps in ATTRIBUTE.captures_iter(html) {
        if let Some(value) = caps.get(1).or_else(|| caps.get(2)) {
            out.push_str(&html_escape::decode_html_entities(value.as_str()));
            out.push('\n');
        }
    }
    out
}

/// A complete, standalone HTML page around a rendered body.
pub fn page(title: &str, lang: &str, body_html: &str, marking: Option<&str>) -> String {
    let title = escape(title);
    let marking = marking
        .map(|m| format!("<p class=\"marking\">{}</p>\n", escape(m)))
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>\n{STYLESHEET}</style>\n</head>\n<body>\n\
         <main class=\"document\">\n{marking}{body_html}</main>\n</body>\n</html>\n"
    )
}

/// Escape text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The text a reader sees in an HTML page: tags dropped (block tags become
/// a space, inline ones nothing, as a browser shows them), the stylesheet
/// dropped, entities decoded.
pub fn visible_text(html: &str) -> String {
    const INLINE: &[&str] = &[
        "a", "b", "i", "em", "strong", "code", "span", "del", "s", "sup", "sub", "mark", "small",
    ];
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let tag = &rest[start..];
        let lower = tag.get(..8).unwrap_or(tag).to_ascii_lowercase();
        if lower.starts_with("<style") {
            match tag.to_ascii_lowercase().find("</style>") {
                Some(end) => rest = &tag[end + "</style>".len()..],
                None => rest = "",
            }
            continue;
        }
        let end = tag.find('>').map_or(tag.len(), |e| e + 1);
        let name: String = tag[1..end.max(1)]
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        if !INLINE.contains(&name.as_str()) {
            out.push(' ');
        }
        rest = &tag[end..];
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_in_user_text_comes_out_inert() {
        let html = markdown_to_html(
            "Rolled back <script>alert('x')</script> and <img src=x onerror=alert(1)>\n\n<div onclick=\"x()\">block</div>\n",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<div"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn scripting_links_lose_their_target() {
        let html = markdown_to_html("[click](javascript:alert(1)) [ok](https://example.com)");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains("href=\"https://example.com\""));
    }

    #[test]
    fn visible_text_drops_tags_and_decodes() {
        let text =
            visible_text("<p>a &lt;b&gt; <strong>c</strong>d</p><style>p{}</style><td>é</td>x");
        assert_eq!(
            text.split_whitespace().collect::<Vec<_>>().join(" "),
            "a <b> cd é x"
        );
    }
}
