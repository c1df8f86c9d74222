//! The digest as Markdown (from `reports/templates/digest.md.j2`) and HTML
//! (the same Markdown through pulldown-cmark, the chart inline), and the
//! text bodies of the sitrep and reminder e-mails. Templates are embedded at
//! compile time.

use std::sync::OnceLock;

use base64::Engine as _;
use minijinja::{Environment, Value, context};
use pulldown_cmark::{CowStr, Event, Options, Parser, Tag};
use serde::Serialize;

use crate::{reports::chart::TrendPoint, services::stats::PeriodStats};

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
    /// Overdue items and post-mortems listed at most (most overdue first).
    pub list_limit: usize,
    /// The week's first and last day, for `GET /api/v1/stats`.
    pub from_day: String,
    pub to_day: String,
}

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_keep_trailing_newline(true);
        for (name, source) in [
            (
                "digest.md",
                include_str!("../../reports/templates/digest.md.j2"),
            ),
            (
                "digest.html",
                include_str!("../../reports/templates/digest.html.j2"),
            ),
            (
                "sitrep_email.txt",
                include_str!("../../reports/templates/sitrep_email.txt.j2"),
            ),
            (
                "reminder_email.txt",
                include_str!("../../reports/templates/reminder_email.txt.j2"),
            ),
        ] {
            env.add_template(name, source)
                .expect("the embedded templates parse");
        }
        env.add_filter("dur", duration_filter);
        env.add_filter("pct", percent_filter);
        env.add_filter("md", markdown_text_filter);
        env
    })
}

/// Render an embedded template.
pub fn render(template: &str, ctx: impl Serialize) -> anyhow::Result<String> {
    Ok(environment().get_template(template)?.render(ctx)?)
}

/// A duration in seconds as text: `45 s`, `12 min`, `3 h 05 min`, `2 d 4 h`;
/// `—` when absent.
pub fn format_duration(seconds: Option<i64>) -> String {
    let Some(s) = seconds else {
        return "—".into();
    };
    let sign = if s < 0 { "-" } else { "" };
    let s = s.abs();
    let text = match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    };
    format!("{sign}{text}")
}

fn duration_filter(value: Value) -> String {
    format_duration(i64::try_from(value).ok())
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
    fn durations_read_well() {
        assert_eq!(format_duration(None), "—");
        assert_eq!(format_duration(Some(42)), "42 s");
        assert_eq!(format_duration(Some(720)), "12 min");
        assert_eq!(format_duration(Some(3 * 3600 + 300)), "3 h 05 min");
        assert_eq!(format_duration(Some(2 * 86_400 + 4 * 3600)), "2 d 4 h");
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
