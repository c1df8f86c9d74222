//! The digest as Markdown (from `reports/templates/digest.md.j2`) and HTML
//! (the same Markdown through pulldown-cmark, the chart inline) for the
//! download; the mails' bodies are `reports::email`'s. Templates are
//! embedded at compile time.

use std::sync::OnceLock;

use base64::Engine as _;
use minijinja::{Environment, Value, context};
use pulldown_cmark::{CowStr, Event, Options, Parser, Tag};
use serde::Serialize;

use crate::{
    reports::{chart::TrendPoint, figures},
    services::stats::{FactorWeeks, PeriodStats},
};

/// Where the Markdown points at the chart; HTML replaces it with the image.
pub const CHART_REF: &str = "chart.png";

/// One week's figures, as shown in the comparison columns.
#[derive(Debug, Clone, Serialize)]
pub struct WeekColumn {
    pub week: String,
    pub stats: PeriodStats,
}

/// Everything the digest templates are given.
#[derive(Debug, Clone, Serialize)]
pub struct DigestModel {
    pub week: String,
    /// "16 November 2026 to 22 November 2026".
    pub period: String,
    pub time_zone: String,
    /// The week itself.
    pub current: PeriodStats,
    /// The week, then the four before it.
    pub weeks: Vec<WeekColumn>,
    /// The last twelve weeks, oldest first.
    pub trend: Vec<TrendPoint>,
    /// Incidents naming each contributing factor over the same twelve weeks.
    pub factors: FactorWeeks,
    /// Overdue items and post-mortems listed at most (most overdue first).
    pub list_limit: usize,
    /// The week's first and last day, for `GET /api/v1/stats`.
    pub from_day: String,
    pub to_day: String,
}

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = super::embedded_environment(&[
            (
                "digest.md",
                include_str!("../../reports/templates/digest.md.j2"),
            ),
            (
                "digest.html",
                include_str!("../../reports/templates/digest.html.j2"),
            ),
        ]);
        env.add_filter("dur", duration_filter);
        env.add_filter("pct", percent_filter);
        env.add_filter("md", markdown_text_filter);
        env.add_filter("link", link_target_filter);
        env.add_filter("words", figures::words_filter);
        // The time figures' names, shared with the post-mortem.
        env.add_global(
            "time_to",
            context! {
                detect => figures::TIME_TO_DETECT,
                acknowledge => figures::TIME_TO_ACKNOWLEDGE,
                mitigate => figures::TIME_TO_MITIGATE,
                resolve => figures::TIME_TO_RESOLVE,
            },
        );
        env
    })
}

/// Render an embedded template.
pub fn render(template: &str, ctx: impl Serialize) -> anyhow::Result<String> {
    Ok(environment().get_template(template)?.render(ctx)?)
}

/// `{{ seconds | dur }}`: a duration as every figure is written
/// ([`figures::duration`]); `—` when absent.
fn duration_filter(value: Value) -> String {
    i64::try_from(value).map_or_else(|_| "—".into(), figures::duration)
}

fn percent_filter(value: Value) -> String {
    match f64::try_from(value) {
        Ok(rate) if !rate.is_nan() => format!("{:.0} %", rate * 100.0),
        _ => "—".into(),
    }
}

/// User text inside a Markdown table cell: one line, and no character that
/// Markdown would read as syntax.
fn markdown_text_filter(value: Value) -> String {
    if value.is_none() || value.is_undefined() {
        return String::new();
    }
    let text = value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_string);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '!' | '~' | '&' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// A URL as the destination of a Markdown link inside a table cell: only
/// `http(s)`, and the characters that would end the destination or the
/// cell (space, parentheses, `|`, angle brackets …) percent-encoded; empty
/// for anything else (the template then shows no link).
fn link_target_filter(value: Value) -> String {
    let Some(url) = value.as_str() else {
        return String::new();
    };
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return String::new();
    }
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            ' ' | '(' | ')' | '|' | '<' | '>' | '[' | ']' | '\\' | '"' | '`' => {
                out.push_str(&format!("%{:02X}", c as u32));
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// The digest's Markdown.
pub fn digest_markdown(model: &DigestModel) -> anyhow::Result<String> {
    render("digest.md", model)
}

/// The digest's HTML page: the Markdown rendered, raw HTML neutralised, and
/// the chart inline as a PNG data URI.
pub fn digest_html(
    model: &DigestModel,
    markdown: &str,
    chart_png: &[u8],
) -> anyhow::Result<String> {
    let chart_uri = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(chart_png)
    );
    let body = markdown_to_html(markdown, Some(&chart_uri));
    render(
        "digest.html",
        context! { week => model.week, body => Value::from_safe_string(body) },
    )
}

/// Markdown to HTML with tables; raw HTML in the source is shown as text,
/// never passed through. `chart` replaces the chart's image reference.
pub fn markdown_to_html(markdown: &str, chart: Option<&str>) -> String {
    let parser = Parser::new_ext(
        markdown,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    )
    .map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) if dest_url.as_ref() == CHART_REF => Event::Start(Tag::Image {
            link_type,
            dest_url: chart.map_or(dest_url, |uri| CowStr::from(uri.to_string())),
            title,
            id,
        }),
        other => other,
    });
    let mut html = String::with_capacity(markdown.len() * 2);
    pulldown_cmark::html::push_html(&mut html, parser);
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_everywhere_else() {
        assert_eq!(duration_filter(Value::from(())), "—");
        assert_eq!(duration_filter(Value::from(720)), "12 min");
        assert_eq!(duration_filter(Value::from(3 * 3600 + 300)), "3 h 5 min");
        assert_eq!(
            duration_filter(Value::from(24 * 3600 + 14 * 60)),
            "1 d 0 h 14 min"
        );
    }

    #[test]
    fn raw_html_is_shown_not_run() {
        let html = markdown_to_html(
            "Hello <script>alert(1)</script>\n\n![c](chart.png)",
            Some("data:x"),
        );
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("src=\"data:x\""), "{html}");
    }

    #[test]
    fn table_cells_escape_markdown() {
        assert_eq!(
            markdown_text_filter(Value::from("a|b <i>\n*x*")),
            "a\\|b \\<i\\> \\*x\\*"
        );
        assert_eq!(markdown_text_filter(Value::from(())), "");
    }
}
