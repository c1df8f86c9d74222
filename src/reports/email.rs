//! The bodies of the mails Debrief sends, each as text and as HTML: sitrep
//! and reminder mails from `reports/templates/*_email.{txt,html}.j2`, and
//! the digest mail, whose HTML is the archived digest Markdown with the
//! chart shown by `cid:` reference (webmail clients do not show `data:`
//! images), dates kept on one line and incident and item references
//! linked. Links point into the service under `mail.link_base_url`; when
//! it is unset, mails carry none. Templates are embedded at compile time.

use std::sync::{LazyLock, OnceLock};

use minijinja::{Environment, Value, context};
use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd, TextMergeStream};
use regex::Regex;
use serde::Serialize;

use crate::{
    config::Settings,
    reports::{digest::CHART_REF, figures},
};

/// Where a mail's links point: `<base>/api/v1/…`, or nowhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailLinks {
    base: Option<String>,
}

impl MailLinks {
    /// Links under `base` (`https://debrief.example.com`); `None`: no links.
    pub fn new(base: Option<&str>) -> Self {
        Self {
            base: base
                .map(|b| b.trim().trim_end_matches('/').to_string())
                .filter(|b| !b.is_empty()),
        }
    }

    /// The links `mail.link_base_url` gives.
    pub fn from_settings(settings: &Settings) -> Self {
        Self::new(settings.mail.link_base_url.as_deref())
    }

    fn api(&self, path: &str) -> Option<String> {
        self.base
            .as_ref()
            .map(|base| format!("{base}/api/v1{path}"))
    }

    /// The incident (`INC-7`).
    pub fn incident(&self, reference: &str) -> Option<String> {
        self.api(&format!("/incidents/{reference}"))
    }

    /// One version of an incident's sitrep.
    pub fn sitrep(&self, reference: &str, version: i32) -> Option<String> {
        self.api(&format!("/incidents/{reference}/sitreps/{version}"))
    }

    /// A remediation item (`REM-3`).
    pub fn remediation(&self, reference: &str) -> Option<String> {
        self.api(&format!("/remediations/{reference}"))
    }

    /// A week's digest as a file: `html`, `pdf`, `md` or `png`.
    pub fn digest(&self, week: &str, extension: &str) -> Option<String> {
        self.api(&format!("/digests/{week}.{extension}"))
    }
}

/// A mail's two alternatives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailBody {
    pub text: String,
    pub html: String,
}

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = super::embedded_environment(&[
            (
                "sitrep_email.txt",
                include_str!("../../reports/templates/sitrep_email.txt.j2"),
            ),
            (
                "sitrep_email.html",
                include_str!("../../reports/templates/sitrep_email.html.j2"),
            ),
            (
                "reminder_email.txt",
                include_str!("../../reports/templates/reminder_email.txt.j2"),
            ),
            (
                "reminder_email.html",
                include_str!("../../reports/templates/reminder_email.html.j2"),
            ),
            (
                "digest_email.html",
                include_str!("../../reports/templates/digest_email.html.j2"),
            ),
        ]);
        env.add_filter("words", words_filter);
        env.add_filter("href", href_filter);
        env
    })
}

/// `incident_commander` → `Incident commander`: the stored name in words
/// ([`figures::words`]), starting a line.
fn words_filter(value: String) -> String {
    figures::capitalised(&figures::words(&value))
}

/// A link target inside a double-quoted attribute: escaped for that place
/// only, so `/` stays `/` (minijinja's HTML escaping writes `&#x2f;`).
fn href_filter(value: String) -> Value {
    Value::from_safe_string(html_escape::encode_double_quoted_attribute(&value).into_owned())
}

/// Render the mail `name` (`sitrep_email`, `reminder_email`): its text and
/// its HTML template with the same context.
pub fn render_mail(name: &str, ctx: impl Serialize) -> anyhow::Result<MailBody> {
    let ctx = Value::from_serialize(ctx);
    let env = environment();
    Ok(MailBody {
        text: env
            .get_template(&format!("{name}.txt"))?
            .render(ctx.clone())?,
        html: env.get_template(&format!("{name}.html"))?.render(ctx)?,
    })
}

/// A text body shown as HTML, for mails queued before they had an HTML
/// body of their own.
pub fn text_as_html(text: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n</head>\n<body>\n\
         <pre style=\"white-space: pre-wrap; font-family: inherit;\">{}</pre>\n</body>\n</html>\n",
        html_escape::encode_text(text)
    )
}

/// The digest mail's text: the digest's Markdown, then where it is online.
pub fn digest_mail_text(week: &str, markdown: &str, links: &MailLinks) -> String {
    let mut text = markdown.trim_end().to_string();
    text.push('\n');
    if let (Some(html), Some(pdf)) = (links.digest(week, "html"), links.digest(week, "pdf")) {
        text.push_str(&format!("\nThis digest in Debrief: {html} (PDF: {pdf})\n"));
    }
    text
}

/// The digest mail's HTML: the digest's Markdown rendered as for the
/// downloadable page (raw HTML in it shown as text), except that the
/// chart is `cid:{chart_cid}`, dates and weeks do not wrap, and incident
/// and remediation references link to them.
pub fn digest_mail_html(
    week: &str,
    markdown: &str,
    chart_cid: &str,
    links: &MailLinks,
) -> anyhow::Result<String> {
    let body = digest_mail_body(markdown, chart_cid, links);
    Ok(environment()
        .get_template("digest_email.html")?
        .render(context! {
            week => week,
            body => Value::from_safe_string(body),
            html_url => links.digest(week, "html"),
            pdf_url => links.digest(week, "pdf"),
        })?)
}

fn digest_mail_body(markdown: &str, chart_cid: &str, links: &MailLinks) -> String {
    let parser = Parser::new_ext(
        markdown,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    )
    .map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        other => other,
    });
    // Inside a link or an image (its alt text), text stays as it is.
    let mut inside_link = 0usize;
    let events = TextMergeStream::new(parser).map(|event| match event {
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => {
            inside_link += 1;
            let dest_url = if dest_url.as_ref() == CHART_REF {
                CowStr::from(format!("cid:{chart_cid}"))
            } else {
                dest_url
            };
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            })
        }
        Event::Start(link @ Tag::Link { .. }) => {
            inside_link += 1;
            Event::Start(link)
        }
        Event::End(end @ (TagEnd::Image | TagEnd::Link)) => {
            inside_link = inside_link.saturating_sub(1);
            Event::End(end)
        }
        Event::Text(text) if inside_link == 0 => Event::Html(CowStr::from(mark_up(&text, links))),
        other => other,
    });
    let mut html = String::with_capacity(markdown.len() * 2);
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

/// Dates (`2026-11-10`, `16 November 2026`), weeks (`2026-W47`) and
/// references (`INC-3`, `REM-12`).
static MARKED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b(?:(?P<ref>(?:INC|REM)-\d+)|\d{4}-\d{2}-\d{2}|\d{4}-W\d{2}|\d{1,2} (?:January|February|March|April|May|June|July|August|September|October|November|December) \d{4})\b",
    )
    .expect("the pattern compiles")
});

/// Text as HTML, escaped, with each date, week and reference kept on one
/// line and each reference linked when there are links.
fn mark_up(text: &str, links: &MailLinks) -> String {
    const NOWRAP: &str = "white-space: nowrap;";
    let mut out = String::with_capacity(text.len() + 32);
    let mut last = 0;
    for found in MARKED.captures_iter(text) {
        let whole = found.get(0).expect("a match has a whole");
        out.push_str(&html_escape::encode_text(&text[last..whole.start()]));
        let shown = html_escape::encode_text(whole.as_str());
        let href = found.name("ref").and_then(|r| {
            let r = r.as_str();
            if r.starts_with("INC-") {
                links.incident(r)
            } else {
                links.remediation(r)
            }
        });
        match href {
            Some(href) => out.push_str(&format!(
                "<a href=\"{}\" style=\"{NOWRAP}\">{shown}</a>",
                html_escape::encode_double_quoted_attribute(&href)
            )),
            None => out.push_str(&format!("<span style=\"{NOWRAP}\">{shown}</span>")),
        }
        last = whole.end();
    }
    out.push_str(&html_escape::encode_text(&text[last..]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_only_with_a_base() {
        let none = MailLinks::new(None);
        assert_eq!(none.incident("INC-7"), None);
        let links = MailLinks::new(Some("https://debrief.example.com/"));
        assert_eq!(
            links.incident("INC-7").as_deref(),
            Some("https://debrief.example.com/api/v1/incidents/INC-7")
        );
        assert_eq!(
            links.digest("2026-W47", "pdf").as_deref(),
            Some("https://debrief.example.com/api/v1/digests/2026-W47.pdf")
        );
        assert_eq!(MailLinks::new(Some(" ")), none);
    }

    #[test]
    fn dates_stay_whole_and_references_link() {
        let links = MailLinks::new(Some("https://d.example.com"));
        let html = mark_up(
            "REM-3 <due> 2026-11-10, week 2026-W47; 16 November 2026",
            &links,
        );
        assert_eq!(
            html,
            "<a href=\"https://d.example.com/api/v1/remediations/REM-3\" \
             style=\"white-space: nowrap;\">REM-3</a> &lt;due&gt; \
             <span style=\"white-space: nowrap;\">2026-11-10</span>, week \
             <span style=\"white-space: nowrap;\">2026-W47</span>; \
             <span style=\"white-space: nowrap;\">16 November 2026</span>"
        );
        assert_eq!(
            mark_up("INC-1", &MailLinks::default()),
            "<span style=\"white-space: nowrap;\">INC-1</span>"
        );
    }

    #[test]
    fn the_chart_is_a_cid_and_raw_html_is_text() {
        let html = digest_mail_body(
            "Hi <b>x</b>\n\n![Trend 2026-W47](chart.png)\n\n| Due |\n|---|\n| 2026-11-10 |\n",
            "chart.1@example.com",
            &MailLinks::default(),
        );
        assert!(
            html.contains("src=\"cid:chart.1@example.com\" alt=\"Trend 2026-W47\""),
            "{html}"
        );
        assert!(html.contains("&lt;b&gt;"), "{html}");
        assert!(
            html.contains("<td><span style=\"white-space: nowrap;\">2026-11-10</span></td>"),
            "{html}"
        );
    }

    #[test]
    fn roles_read_as_words() {
        assert_eq!(
            words_filter("incident_commander".into()),
            "Incident commander"
        );
        assert_eq!(words_filter(String::new()), "");
    }
}
