//! Every kind of mail Debrief sends (sitrep, reminder, digest), read back
//! with a standard parser (`mail-parser`) as a mail client would: MIME
//! headers, text and HTML alternatives, UTF-8 round trips of non-ASCII
//! names and subjects, links, the digest chart by Content-ID; and a
//! snapshot of each with its volatile fields redacted.

use chrono::{TimeZone, Utc};
use mail_parser::{Message, MessageParser, MimeHeaders as _, PartType};
use serde_json::json;

use crate::helpers::{TestApp, spawn_app_with, t0};

const FROM: &str = "Débrief — Chloé's SRE <debrief@example.com>";
const LINK_BASE: &str = "https://debrief.example.com";

fn messages(app: &TestApp) -> Vec<debrief::notify::SentMail> {
    app.jobs
        .mailer()
        .mailbox()
        .expect("memory mailer")
        .messages()
}

fn parse(raw: &str) -> Message<'_> {
    MessageParser::default()
        .parse(raw.as_bytes())
        .expect("a parseable message")
}

/// The decoded text alternative, lines ending in `\n`.
fn body_text(message: &Message<'_>) -> String {
    message
        .body_text(0)
        .expect("a text body")
        .replace("\r\n", "\n")
}

/// The decoded HTML alternative, lines ending in `\n`.
fn body_html(message: &Message<'_>) -> String {
    message
        .body_html(0)
        .expect("an HTML body")
        .replace("\r\n", "\n")
}

fn content_type(part: &mail_parser::MessagePart<'_>) -> String {
    part.content_type().map_or_else(
        || "(none)".to_string(),
        |c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")),
    )
}

/// The MIME tree as `type[children]`, e.g.
/// `multipart/alternative[text/plain, text/html]`.
fn tree(message: &Message<'_>, id: u32) -> String {
    let part = message.part(id).expect("a part");
    match &part.body {
        PartType::Multipart(children) => format!(
            "{}[{}]",
            content_type(part),
            children
                .iter()
                .map(|c| tree(message, *c))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => content_type(part),
    }
}

/// What every mail must be: 7-bit clean on the wire, MIME 1.0, every text
/// part UTF-8 with a transfer encoding, and a text and an HTML alternative.
fn assert_well_formed(raw: &str) -> Message<'_> {
    assert!(raw.is_ascii(), "non-ASCII is encoded, never sent raw");
    assert!(
        raw.split("\r\n").all(|line| line.len() <= 998),
        "no line is longer than RFC 5322 allows"
    );
    let message = parse(raw);
    assert_eq!(
        message.header_raw("MIME-Version").map(str::trim),
        Some("1.0")
    );
    for part in &message.parts {
        let ctype = part.content_type().expect("every part has a Content-Type");
        if matches!(part.body, PartType::Multipart(_)) {
            assert!(ctype.attribute("boundary").is_some());
            continue;
        }
        let encoding = part
            .content_transfer_encoding()
            .expect("every leaf part has a Content-Transfer-Encoding");
        assert!(
            ["7bit", "quoted-printable", "base64"].contains(&encoding),
            "{encoding}"
        );
        if ctype.ctype() == "text" {
            assert_eq!(
                ctype.attribute("charset").map(str::to_ascii_lowercase),
                Some("utf-8".to_string()),
                "{ctype:?}"
            );
        }
    }
    let from = message.from().and_then(|f| f.first()).expect("a From");
    assert_eq!(from.name(), Some("Débrief — Chloé's SRE"), "decoded intact");
    assert_eq!(message.text_body_count(), 1, "one text alternative");
    assert_eq!(message.html_body_count(), 1, "one HTML alternative");
    assert!(
        tree(&message, 0).contains("multipart/alternative[text/plain, "),
        "{}",
        tree(&message, 0)
    );
    message
}

fn redact(text: &str) -> String {
    let rules = [
        (r#"boundary="?[^";\r\n]+"?"#, "boundary=\"[boundary]\""),
        (r"(?m)^Message-ID: .*$", "Message-ID: [message-id]"),
        (r"Content-ID: <[^>\n]*>", "Content-ID: <[cid]>"),
        (r"cid:[^\x22'\s)]+", "cid:[cid]"),
    ];
    let mut text = text.replace("\r\n", "\n");
    for (pattern, replacement) in rules {
        text = regex::Regex::new(pattern)
            .unwrap()
            .replace_all(&text, replacement)
            .into_owned();
    }
    text
}

/// The digest mail's own lines around the digest: its first line and its
/// link line (text), its page head and its footer (HTML).
fn elided<'a>(lines: &[&'a str], html: bool) -> Vec<&'a str> {
    let (head, tail) = if html {
        (
            lines
                .iter()
                .position(|l| *l == "<body>")
                .map_or(1, |i| i + 1),
            lines
                .iter()
                .rposition(|l| l.starts_with("<p style=\"color: #555"))
                .unwrap_or(lines.len().saturating_sub(2)),
        )
    } else {
        (1, lines.len().saturating_sub(1))
    };
    let mut shown = lines[..head.min(tail)].to_vec();
    shown.push("[…]");
    shown.extend_from_slice(&lines[tail..]);
    shown
}

/// A mail as a reviewer reads it: the raw header block, the MIME tree with
/// each part's raw headers, and each text part decoded. `elide` keeps only
/// what the mail adds around the digest (the digest itself has its
/// snapshot in `digests`).
fn mail_snapshot(raw: &str, elide: bool) -> String {
    let message = parse(raw);
    let bytes = message.raw_message();
    let mut out = String::new();
    fn walk(
        message: &Message<'_>,
        bytes: &[u8],
        id: u32,
        depth: usize,
        elide: bool,
        out: &mut String,
    ) {
        let part = message.part(id).unwrap();
        let indent = "    ".repeat(depth);
        let headers =
            String::from_utf8_lossy(&bytes[part.offset_header as usize..part.offset_body as usize]);
        out.push_str(&format!("{indent}== part {id}: {}\n", content_type(part)));
        if depth > 0 {
            for line in headers.trim_end().lines() {
                out.push_str(&format!("{indent}| {line}\n"));
            }
        }
        match &part.body {
            PartType::Multipart(children) => {
                for child in children {
                    walk(message, bytes, *child, depth + 1, elide, out);
                }
            }
            PartType::Text(text) | PartType::Html(text) => {
                let lines: Vec<&str> = text.lines().collect();
                let shown = if elide {
                    elided(&lines, matches!(part.body, PartType::Html(_)))
                } else {
                    lines
                };
                for line in shown {
                    out.push_str(format!("{indent}  {line}").trim_end());
                    out.push('\n');
                }
            }
            PartType::Binary(data) | PartType::InlineBinary(data) => {
                let kind = if data.starts_with(b"\x89PNG") {
                    "a PNG image"
                } else if data.starts_with(b"%PDF-") {
                    "a PDF document"
                } else {
                    "binary data"
                };
                out.push_str(&format!("{indent}  ({kind})\n"));
            }
            PartType::Message(_) => out.push_str(&format!("{indent}  (a message)\n")),
        }
    }
    let root = message.part(0).unwrap();
    out.push_str(&String::from_utf8_lossy(
        &bytes[..root.offset_body as usize],
    ));
    out.push_str("---- decoded ----\n");
    let decoded_address = |a: Option<&mail_parser::Address<'_>>| {
        a.and_then(|a| a.first())
            .map_or_else(String::new, |a| match a.name() {
                Some(name) => format!("{name} <{}>", a.address().unwrap_or("")),
                None => format!("<{}>", a.address().unwrap_or("")),
            })
    };
    out.push_str(&format!("From: {}\n", decoded_address(message.from())));
    out.push_str(&format!("To: {}\n", decoded_address(message.to())));
    out.push_str(&format!("Subject: {}\n", message.subject().unwrap_or("")));
    out.push_str("---- parts ----\n");
    walk(&message, bytes, 0, 0, elide, &mut out);
    redact(&out)
}

async fn mail_app(links: bool) -> TestApp {
    spawn_app_with(|s| {
        s.mail.from = FROM.into();
        s.mail.link_base_url = links.then(|| format!("{LINK_BASE}/"));
        s.reminders.owner_domain = Some("example.com".into());
        s.digest.recipients = vec!["leads@example.com".into()];
    })
    .await
}

async fn payment_incident(app: &TestApp) -> String {
    let incident = app
        .create_incident(json!({"title": "決済 failing for Chloé's customers", "severity": "sev2"}))
        .await;
    incident["ref"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_sitrep_mail_is_mime_with_text_html_names_and_links() {
    let app = mail_app(true).await;
    let reference = payment_incident(&app).await;
    let resp = app
        .post(
            &format!("/incidents/{reference}/roles"),
            json!({"role": "incident_commander", "person": "Chloé Martin"}),
        )
        .await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let resp = app
        .post(
            &format!("/incidents/{reference}/channels"),
            json!({"kind": "email", "target": "war-room@example.com"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let resp = app
        .post(
            &format!("/incidents/{reference}/sitreps"),
            json!({"summary": "決済 (payments) fail for 12 % of card checkouts.\nŁukasz is rolling back deploy 4312.",
                   "customer_impact": "Chloé's shop cannot take cards <b>at all</b>.",
                   "current_actions": ["Rolling back → web tier (Łukasz)"],
                   "open_issues": ["Why did canary pass?"],
                   "author": "Łukasz"}),
        )
        .await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let report = app.jobs.drain_outbox().await.unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    let mails = messages(&app);
    let message = assert_well_formed(&mails[0].raw);
    assert_eq!(
        tree(&message, 0),
        "multipart/alternative[text/plain, text/html]"
    );

    let subject = format!("[{reference}] Sitrep v1: 決済 failing for Chloé's customers");
    assert_eq!(message.subject(), Some(subject.as_str()));
    assert!(
        message.header_raw("Subject").unwrap().contains("=?utf-8?"),
        "the subject is encoded words (RFC 2047)"
    );
    assert!(
        message.header_raw("From").unwrap().contains("=?utf-8?"),
        "the display name is encoded words (RFC 2047)"
    );
    let from = message.from().unwrap().first().unwrap();
    assert_eq!(from.address(), Some("debrief@example.com"));
    assert_eq!(message.date().unwrap().to_timestamp(), t0().timestamp());

    let text = body_text(&message);
    for expected in [
        "決済 (payments) fail for 12 % of card checkouts.\nŁukasz is rolling back deploy 4312.",
        "Customer impact: Chloé's shop cannot take cards <b>at all</b>.",
        "- Incident commander: Chloé Martin",
        "- Rolling back → web tier (Łukasz)",
        "Issued by Łukasz.",
        "INC-1 in Debrief: https://debrief.example.com/api/v1/incidents/INC-1",
        "This sitrep: https://debrief.example.com/api/v1/incidents/INC-1/sitreps/1",
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }
    let html = body_html(&message);
    for expected in [
        "<a href=\"https://debrief.example.com/api/v1/incidents/INC-1\"",
        "決済 failing for Chloé&#x27;s customers",
        "Chloé&#x27;s shop cannot take cards &lt;b&gt;at all&lt;&#x2f;b&gt;.",
        "<li>Incident commander: Chloé Martin</li>",
        "<li>Rolling back → web tier (Łukasz)</li>",
        "<a href=\"https://debrief.example.com/api/v1/incidents/INC-1/sitreps/1\">This sitrep</a>",
    ] {
        assert!(html.contains(expected), "{expected:?} in\n{html}");
    }
    assert!(!html.contains("<b>"), "user text is escaped");
    insta::assert_snapshot!("sitrep_mail", mail_snapshot(&mails[0].raw, false));
}

#[tokio::test]
async fn without_a_link_base_mails_carry_no_links() {
    let app = mail_app(false).await;
    let reference = payment_incident(&app).await;
    app.post(
        &format!("/incidents/{reference}/channels"),
        json!({"kind": "email", "target": "war-room@example.com"}),
    )
    .await;
    let resp = app
        .post(
            &format!("/incidents/{reference}/sitreps"),
            json!({"summary": "Rolling back."}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    app.jobs.drain_outbox().await.unwrap();
    let mails = messages(&app);
    let message = assert_well_formed(&mails[0].raw);
    let text = body_text(&message);
    let html = body_html(&message);
    assert!(!text.contains("http"), "{text}");
    assert!(!html.contains("href"), "{html}");
    assert!(!text.contains("in Debrief"), "{text}");
}

/// Remediation items for `reminders_and_digest`: planned in October, all
/// overdue by 23 November but the last. Owners: one item for Łukasz (a
/// mailbox), three for Chloé (an address), one for Ben (a name).
async fn overdue_items(app: &TestApp, reference: &str) {
    app.clock
        .set(Utc.with_ymd_and_hms(2026, 10, 20, 10, 0, 0).unwrap());
    for (title, owner, due) in [
        (
            "決済 retries must be idempotent",
            "Łukasz Nowak <lukasz@example.com>",
            "2026-11-10",
        ),
        (
            "Alert on card decline rate",
            "chloe@example.com",
            "2026-11-12",
        ),
        (
            "Runbook for payment failover",
            "chloe@example.com",
            "2026-11-13",
        ),
        ("Canary covers checkout", "chloe@example.com", "2026-11-16"),
        ("Capacity review", "Ben", "2026-11-01"),
        ("Not yet due", "chloe@example.com", "2026-12-30"),
    ] {
        let resp = app
            .post(
                "/remediations",
                json!({"title": title, "kind": "process", "priority": "p1", "owner": owner,
                       "team": "Paiements", "due_date": due, "incidents": [reference]}),
            )
            .await;
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    }
}

#[tokio::test]
async fn reminder_mails_are_mime_with_names_plurals_and_links() {
    let app = mail_app(true).await;
    let reference = payment_incident(&app).await;
    overdue_items(&app, &reference).await;
    // Monday 08:00 UTC: the default reminder schedule.
    app.clock
        .set(Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 30).unwrap());
    app.jobs.run_once().await.unwrap();
    let mails = messages(&app);
    let reminders: Vec<_> = mails
        .iter()
        .filter(|m| {
            parse(&m.raw)
                .subject()
                .is_some_and(|s| s.contains("overdue"))
        })
        .collect();
    assert_eq!(reminders.len(), 3, "one per owner");
    let to = |address: &str| {
        reminders
            .iter()
            .find(|m| m.to == [address])
            .unwrap_or_else(|| panic!("a reminder to {address}"))
    };

    // One item: singular throughout; the owner's name in To.
    let lukasz = to("lukasz@example.com");
    let message = assert_well_formed(&lukasz.raw);
    assert_eq!(message.subject(), Some("1 overdue remediation item"));
    let recipient = message.to().unwrap().first().unwrap();
    assert_eq!(recipient.name(), Some("Łukasz Nowak"));
    assert!(
        message.header_raw("To").unwrap().contains("=?utf-8?"),
        "the display name is encoded words (RFC 2047)"
    );
    let text = body_text(&message);
    for expected in [
        "Hello Łukasz Nowak,",
        "1 remediation item you own is overdue:",
        "- REM-1 (p1, Paiements): 決済 retries must be idempotent, due 2026-11-10, 13 days overdue",
        "  https://debrief.example.com/api/v1/remediations/REM-1",
        "Please close it, or change its due date if the plan changed.",
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }
    assert!(!text.contains("them"), "{text}");
    let html = body_html(&message);
    for expected in [
        "<a href=\"https://debrief.example.com/api/v1/remediations/REM-1\">REM-1</a>",
        "決済 retries must be idempotent",
        "white-space: nowrap;\">2026-11-10</td>",
        "Please close it,",
    ] {
        assert!(html.contains(expected), "{expected:?} in\n{html}");
    }
    insta::assert_snapshot!("reminder_mail_one_item", mail_snapshot(&lukasz.raw, false));

    // Three items: plural throughout.
    let chloe = to("chloe@example.com");
    let message = assert_well_formed(&chloe.raw);
    assert_eq!(message.subject(), Some("3 overdue remediation items"));
    let text = body_text(&message);
    assert!(text.contains("3 remediation items you own are overdue:"));
    assert!(text.contains("Please close them, or change their due dates"));
    assert!(text.contains("7 days overdue") && !text.contains("REM-6"));
    insta::assert_snapshot!(
        "reminder_mail_three_items",
        mail_snapshot(&chloe.raw, false)
    );

    // A name at reminders.owner_domain, with the name shown.
    let ben = to("ben@example.com");
    let message = assert_well_formed(&ben.raw);
    assert_eq!(message.to().unwrap().first().unwrap().name(), Some("Ben"));
    assert!(body_text(&message).contains("Hello Ben,"));
}

#[tokio::test]
async fn the_digest_mail_shows_its_chart_by_content_id() {
    let app = mail_app(true).await;
    let reference = payment_incident(&app).await;
    overdue_items(&app, &reference).await;
    app.clock.set(t0());
    let resp = app.post("/digests/2026-W47/send", json!({})).await;
    assert_eq!(resp.status(), 202, "{}", resp.text().await.unwrap());
    let report = app.jobs.drain_outbox().await.unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    let mails = messages(&app);
    let message = assert_well_formed(&mails[0].raw);
    assert_eq!(
        tree(&message, 0),
        "multipart/mixed[multipart/alternative[text/plain, \
         multipart/related[text/html, image/png]], application/pdf]"
    );
    assert_eq!(message.subject(), Some("Ops Review digest 2026-W47"));

    // The HTML shows the chart by cid:, and that is the image's Content-ID.
    let html = body_html(&message);
    let cid = regex::Regex::new(r#"<img src="cid:([^"]+)""#)
        .unwrap()
        .captures(&html)
        .unwrap_or_else(|| panic!("an image by cid: in\n{html}"))[1]
        .to_string();
    assert!(!html.contains("data:"), "no data: URI in the mail");
    let image = message
        .parts
        .iter()
        .find(|p| p.content_type().is_some_and(|c| c.ctype() == "image"))
        .unwrap();
    assert_eq!(image.content_id(), Some(cid.as_str()));
    assert_eq!(
        image.content_disposition().map(|d| d.ctype()),
        Some("inline")
    );
    assert!(image.contents().starts_with(b"\x89PNG"));
    assert_eq!(message.attachment_count(), 2, "the chart and the PDF");
    assert!(
        message
            .attachments()
            .any(|a| a.attachment_name() == Some("ops-review-2026-W47.pdf"))
    );

    // Names, titles and dates intact; dates and references kept whole;
    // references and the digest itself linked.
    let text = body_text(&message);
    for expected in [
        "# Ops Review digest 2026-W47",
        "決済 failing for Chloé",
        "Łukasz Nowak",
        "This digest in Debrief: https://debrief.example.com/api/v1/digests/2026-W47.html \
         (PDF: https://debrief.example.com/api/v1/digests/2026-W47.pdf)",
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }
    for expected in [
        "決済 failing for Chloé",
        "Łukasz Nowak",
        "<td><span style=\"white-space: nowrap;\">2026-11-10</span></td>",
        "<a href=\"https://debrief.example.com/api/v1/remediations/REM-1\" \
         style=\"white-space: nowrap;\">REM-1</a>",
        "<a href=\"https://debrief.example.com/api/v1/incidents/INC-1\" \
         style=\"white-space: nowrap;\">INC-1</a>",
        "<a href=\"https://debrief.example.com/api/v1/digests/2026-W47.pdf\">PDF</a>",
    ] {
        assert!(html.contains(expected), "{expected:?} in\n{html}");
    }
    insta::assert_snapshot!("digest_mail", mail_snapshot(&mails[0].raw, true));

    // The downloadable page keeps its data: URI (it is one file).
    let page = app
        .get("/digests/2026-W47.html")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("<img src=\"data:image/png;base64,"));
    assert!(!page.contains("cid:"));
}

#[tokio::test]
async fn a_mail_queued_before_html_bodies_still_goes_out_as_mime() {
    // Rows queued by an earlier version have a text body only.
    let app = mail_app(false).await;
    let reference = payment_incident(&app).await;
    app.post(
        &format!("/incidents/{reference}/channels"),
        json!({"kind": "email", "target": "war-room@example.com"}),
    )
    .await;
    app.post(
        &format!("/incidents/{reference}/sitreps"),
        json!({"summary": "Chloé <rolls> back 決済."}),
    )
    .await;
    use sea_orm::{ConnectionTrait as _, Statement};
    let db = &app.context.db;
    db.execute_raw(Statement::from_string(
        db.get_database_backend(),
        "UPDATE deliveries SET html = NULL",
    ))
    .await
    .unwrap();
    app.jobs.drain_outbox().await.unwrap();
    let mails = messages(&app);
    let message = assert_well_formed(&mails[0].raw);
    let html = body_html(&message);
    assert!(
        html.contains("Chloé &lt;rolls&gt; back 決済."),
        "the text, escaped: {html}"
    );
}
