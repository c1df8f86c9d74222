//! The weekly Ops Review digest: figures, formats, the scheduler, the
//! outbox and SMTP delivery, exactly once per recipient.

use chrono::Duration;
use debrief::config::{MailTransport, SmtpSecurity};
use mail_parser::MimeHeaders as _;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::{
    digest_support::{SmtpSink, load_realcases, w48_monday_nine},
    helpers::{TestApp, assert_problem, spawn_app_with},
};

const RECIPIENTS: [&str; 2] = ["leads@example.com", "ops-review@example.com"];

fn with_recipients(s: &mut debrief::config::Settings) {
    s.digest.recipients = RECIPIENTS.iter().map(|r| (*r).to_string()).collect();
}

async fn smtp_app(port: u16) -> TestApp {
    spawn_app_with(|s| {
        with_recipients(s);
        s.mail.transport = MailTransport::Smtp;
        s.mail.from = "Debrief <debrief@example.com>".into();
        s.mail.smtp.host = "127.0.0.1".into();
        s.mail.smtp.port = Some(port);
        s.mail.smtp.security = SmtpSecurity::Plain;
        s.mail.smtp.timeout_seconds = 5;
    })
    .await
}

fn mailbox(app: &TestApp) -> Vec<debrief::notify::SentMail> {
    app.jobs
        .mailer()
        .mailbox()
        .expect("memory mailer")
        .messages()
}

#[tokio::test]
async fn digest_markdown_from_the_real_cases_is_stable() {
    let app = spawn_app_with(with_recipients).await;
    load_realcases(&app).await;
    let resp = app.get("/digests/2026-W47.md").await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/markdown")
    );
    let markdown = resp.text().await.unwrap();
    insta::assert_snapshot!("digest_2026_w47_markdown", markdown);
    // Same data, same digest.
    let again = app.get("/digests/2026-W47.md").await.text().await.unwrap();
    assert_eq!(markdown, again);
}

#[tokio::test]
async fn stats_count_what_the_readme_defines() {
    let app = spawn_app_with(with_recipients).await;
    load_realcases(&app).await;
    let resp = app.get("/stats?from=2026-11-16&to=2026-11-22").await;
    assert_eq!(resp.status(), 200);
    let stats: Value = resp.json().await.unwrap();
    // GitHub (sev2, 17 Nov) and Cloudflare (sev1, 19 Nov); Stripe was W46.
    assert_eq!(stats["opened"]["total"], 2, "{stats}");
    assert_eq!(stats["opened"]["sev1"], 1);
    assert_eq!(stats["opened"]["sev2"], 1);
    assert_eq!(stats["resolved"]["total"], 2);
    // Resolve: GitHub 37 min 49 s, Cloudflare 70 min → median 53 min 54 s.
    assert_eq!(stats["response_times"]["resolve"]["count"], 2);
    assert_eq!(
        stats["response_times"]["resolve"]["median_seconds"],
        (2269 + 4200) / 2
    );
    assert_eq!(stats["response_times"]["resolve"]["worst_seconds"], 4200);
    // Detect: only Cloudflare has both started and detected (3 min).
    assert_eq!(stats["response_times"]["detect"]["count"], 1);
    assert_eq!(stats["response_times"]["detect"]["median_seconds"], 180);
    let refs: Vec<&str> = stats["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["reference"].as_str().unwrap())
        .collect();
    assert_eq!(refs, ["INC-2", "INC-3"]);
    assert_eq!(stats["pending_cleanup"].as_array().unwrap().len(), 1);
    let statuses: Vec<&str> = stats["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["postmortem_status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["draft", "in_review"]);
    // Cloudflare's (sev1, started Friday 19th) was due Sunday 22nd, is in
    // review, so 1 day overdue at the week's end (Monday 23rd, 00:00: an
    // item due on a day is overdue from the next, and counts from 1 as the
    // reminders do); GitHub's (sev2, five
    // business days) is due on Tuesday 24th, in the next week; Stripe's
    // (W46) was published on 13 November.
    let pm = &stats["postmortems"];
    assert_eq!(pm["due"], 1, "{pm}");
    assert_eq!(pm["published"], 0);
    assert_eq!(pm["overdue"], 1);
    assert_eq!(pm["overdue_items"][0]["incident"], "INC-3");
    assert_eq!(pm["overdue_items"][0]["due_date"], "2026-11-22");
    assert_eq!(pm["overdue_items"][0]["days_overdue"], 1);
    assert_eq!(pm["overdue_items"][0]["owner"], "chidi@example.com");

    let w46 = app.get("/stats?from=2026-11-09&to=2026-11-15").await;
    let w46: Value = w46.json().await.unwrap();
    assert_eq!(w46["opened"]["total"], 1);
    assert_eq!(w46["opened"]["sev1"], 1);
    assert_eq!(w46["postmortems"]["due"], 1, "Stripe's, due 14 November");
    assert_eq!(w46["postmortems"]["published"], 1);
    assert_eq!(w46["postmortems"]["overdue"], 0);
    // A week on, GitHub's is overdue too (6 days when the week ends).
    let w48 = app.get("/stats?from=2026-11-23&to=2026-11-29").await;
    let w48: Value = w48.json().await.unwrap();
    assert_eq!(w48["postmortems"]["due"], 1, "GitHub's, due 24 November");
    assert_eq!(w48["postmortems"]["overdue"], 2);
    let overdue: Vec<(&str, i64)> = w48["postmortems"]["overdue_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["incident"].as_str().unwrap(),
                p["days_overdue"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(overdue, [("INC-3", 8), ("INC-2", 6)]);
}

async fn w47(app: &TestApp) -> Value {
    let stats: Value = app
        .get("/stats?from=2026-11-16&to=2026-11-22")
        .await
        .json()
        .await
        .unwrap();
    stats["postmortems"].clone()
}

#[tokio::test]
async fn a_post_mortem_is_due_by_its_severity_until_a_date_is_set() {
    let app = spawn_app_with(with_recipients).await;
    // sev3, started Monday 16 November: due after 10 business days (30th).
    app.create_incident(json!({
        "title": "Slow search",
        "severity": "sev3",
        "started_at": "2026-11-16T08:00:00Z",
    }))
    .await;
    let pm = w47(&app).await;
    assert_eq!(
        (pm["due"].as_u64(), pm["overdue"].as_u64()),
        (Some(0), Some(0))
    );
    // Raised to sev1: due three days after the start, overdue by Sunday.
    let resp = app
        .patch("/incidents/INC-1", json!({"severity": "sev1"}))
        .await;
    assert_eq!(resp.status(), 200);
    let pm = w47(&app).await;
    assert_eq!(
        (pm["due"].as_u64(), pm["overdue"].as_u64()),
        (Some(1), Some(1)),
        "{pm}"
    );
    assert_eq!(pm["overdue_items"][0]["due_date"], "2026-11-19");
    assert_eq!(pm["overdue_items"][0]["days_overdue"], 4);
    // A date set on the post-mortem wins over the severity's.
    let resp = app
        .api(reqwest::Method::PUT, "/incidents/INC-1/postmortem")
        .json(&json!({"due_date": "2026-12-10"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let pm = w47(&app).await;
    assert_eq!(
        (pm["due"].as_u64(), pm["overdue"].as_u64()),
        (Some(0), Some(0))
    );
    // Back to the severity's.
    let resp = app
        .api(reqwest::Method::PUT, "/incidents/INC-1/postmortem")
        .json(&json!({"due_date": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(w47(&app).await["overdue"], 1);
}

#[tokio::test]
async fn bad_periods_and_weeks_are_refused_naming_the_field() {
    let app = spawn_app_with(with_recipients).await;
    for (query, status, field, why) in [
        ("from=yesterday&to=2026-11-22", 422, "from", "not a date"),
        ("from=2026-11-16&to=2026-13-01", 422, "to", "no 13th month"),
        (
            "from=2026-11-16T25:00:00Z&to=2026-11-22",
            422,
            "from",
            "no hour 25",
        ),
        (
            "from=2026-11-16&to=22.11.2026",
            422,
            "to",
            "not the form of a date",
        ),
        (
            "from=2026-11-22&to=2026-11-16",
            422,
            "to",
            "ends before it starts",
        ),
        (
            "from=2020-01-01&to=2026-01-01",
            422,
            "to",
            "longer than 400 days",
        ),
    ] {
        let resp = app.get(&format!("/stats?{query}")).await;
        let body = assert_problem(resp, status, Some(field)).await;
        assert!(body["detail"].is_string(), "{why}");
    }
    let resp = app.get("/stats?from=2026-11-16").await;
    assert_problem(resp, 422, Some("to")).await;
    for (file, status, why) in [
        ("2026-W47.doc", 422, "unknown format"),
        ("2026-47.md", 422, "not a week"),
        ("2026-W54.md", 422, "no week 54"),
        ("2025-W53.md", 422, "2025 has 52 weeks"),
        ("1969-W10.md", 422, "before 1970"),
        ("9999-W10.md", 422, "after 9998"),
    ] {
        let resp = app.get(&format!("/digests/{file}")).await;
        assert_problem(resp, status, Some("file")).await;
        let _ = why;
    }
    let resp = app.post("/digests", json!({"week": "2026-W99"})).await;
    assert_problem(resp, 422, Some("week")).await;
    let resp = app.post("/digests", json!({"week": 47})).await;
    assert_problem(resp, 422, Some("week")).await;
    let resp = app.post("/digests/2026-W99/send", json!({})).await;
    assert_problem(resp, 422, Some("week")).await;
    let resp = app.post("/digests/2025-W53/send", json!({})).await;
    assert_problem(resp, 422, Some("week")).await;
    let resp = app.post("/digests", json!({"week": "2025-W53"})).await;
    assert_problem(resp, 422, Some("week")).await;
    let resp = app
        .post("/digests/2026-W47/send", json!({"resend": "yes"}))
        .await;
    assert_problem(resp, 422, Some("resend")).await;
    // Nothing was archived or queued by any of them.
    let list: Value = app.get("/digests").await.json().await.unwrap();
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn preview_html_and_chart_are_served_without_sending() {
    let app = spawn_app_with(with_recipients).await;
    load_realcases(&app).await;
    let pdf = app.get("/digests/2026-W47.pdf").await;
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF-"));
    let resp = app.post("/digests", json!({"week": "2026-W47"})).await;
    assert_eq!(resp.status(), 200);
    let preview: Value = resp.json().await.unwrap();
    assert_eq!(preview["week"], "2026-W47");
    assert_eq!(preview["stats"]["opened"]["total"], 2);
    assert!(
        preview["markdown"]
            .as_str()
            .unwrap()
            .starts_with("# Ops Review digest 2026-W47")
    );

    let html = app.get("/digests/2026-W47.html").await;
    assert_eq!(html.status(), 200);
    let html = html.text().await.unwrap();
    assert!(
        html.contains("<img src=\"data:image/png;base64,"),
        "chart inline"
    );
    assert!(html.contains("<table>"));
    let png = app.get("/digests/2026-W47.png").await;
    assert_eq!(png.headers()["content-type"], "image/png");
    let bytes = png.bytes().await.unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");

    // A preview sends nothing and archives nothing.
    let report = app.jobs.drain_outbox().await.unwrap();
    assert!(!report.did_work());
    assert!(mailbox(&app).is_empty());
    let list: Value = app.get("/digests").await.json().await.unwrap();
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn a_real_smtp_conversation_delivers_text_html_and_stable_ids() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let sink = SmtpSink::serve(listener);
    let app = smtp_app(port).await;
    load_realcases(&app).await;

    let resp = app.post("/digests/2026-W47/send", json!({})).await;
    assert_eq!(resp.status(), 202);
    let queued: Value = resp.json().await.unwrap();
    assert_eq!(queued["send_number"], 1);
    let report = app.jobs.drain_outbox().await.unwrap();
    assert_eq!(report.sent, 2, "{report:?}");

    let messages = sink.messages();
    assert_eq!(messages.len(), 2);
    let mut to: Vec<String> = messages.iter().flat_map(|m| m.rcpt_to.clone()).collect();
    to.sort();
    assert_eq!(to, ["<leads@example.com>", "<ops-review@example.com>"]);
    for received in &messages {
        assert_eq!(received.mail_from, "<debrief@example.com>");
        let parsed = mail_parser::MessageParser::default()
            .parse(received.data.as_bytes())
            .expect("a parseable message");
        assert_eq!(parsed.subject(), Some("Ops Review digest 2026-W47"));
        assert_eq!(
            parsed
                .from()
                .and_then(|f| f.first())
                .and_then(|a| a.address()),
            Some("debrief@example.com")
        );
        let message_id = parsed.message_id().unwrap();
        assert!(
            message_id.starts_with("digest-2026-W47-1-") && message_id.ends_with("@example.com"),
            "{message_id}"
        );
        let text = parsed.body_text(0).unwrap();
        assert!(text.starts_with("# Ops Review digest 2026-W47"), "{text}");
        assert!(text.contains("INC-3"));
        let html = parsed.body_html(0).unwrap();
        assert!(
            html.contains(
                "<h1>Ops Review digest <span style=\"white-space: nowrap;\">2026-W47</span></h1>"
            ),
            "{html}"
        );
        // The twelve weeks of contributing factors, in both parts.
        assert!(
            text.contains("## Contributing factors, last 12 weeks")
                && text.contains(
                    "| Change / deploy | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 1 | 1 | 2 |"
                ),
            "{text}"
        );
        assert!(
            html.contains("Contributing factors, last 12 weeks</h2>"),
            "{html}"
        );
        assert!(html.contains("<tr><td>Hardware / network</td>"), "{html}");
        // The chart is an inline part shown by cid: (see `mails`).
        assert!(html.contains("<img src=\"cid:chart.digest-2026-W47-1-"));
        assert!(!html.contains("data:image/png;base64,"));
        // The PDF is attached, and carries the chart as an image.
        assert_eq!(parsed.attachment_count(), 2, "the chart and the PDF");
        let attachment = parsed
            .attachments()
            .find(|a| a.attachment_name() == Some("ops-review-2026-W47.pdf"))
            .unwrap();
        assert_eq!(
            attachment.attachment_name(),
            Some("ops-review-2026-W47.pdf")
        );
        assert_eq!(
            attachment.content_type().map(|c| (c.ctype(), c.subtype())),
            Some(("application", Some("pdf")))
        );
        let pdf = attachment.contents();
        assert!(pdf.starts_with(b"%PDF-"));
        let document = lopdf::Document::load_mem(pdf).expect("a readable PDF");
        let images = document
            .objects
            .values()
            .filter(|o| {
                o.as_stream().is_ok_and(|s| {
                    s.dict
                        .get(b"Subtype")
                        .and_then(|v| v.as_name())
                        .is_ok_and(|n| n == b"Image")
                })
            })
            .count();
        assert!(images >= 1, "the chart is embedded in the PDF");
        assert!(!document.get_pages().is_empty());
    }
    // The Message-ID is stable per week, send and recipient.
    let ids: Vec<String> = messages
        .iter()
        .map(|m| {
            mail_parser::MessageParser::default()
                .parse(m.data.as_bytes())
                .unwrap()
                .message_id()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_ne!(ids[0], ids[1]);

    // The archive shows one delivery record per recipient, sent.
    let list: Value = app.get("/digests").await.json().await.unwrap();
    let week = &list["items"][0];
    assert_eq!(week["week"], "2026-W47");
    assert_eq!(week["sends"][0]["trigger"], "api");
    let deliveries = week["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 2);
    assert!(
        deliveries
            .iter()
            .all(|d| d["status"] == "sent" && d["attempts"] == 1)
    );
}

#[tokio::test]
async fn smtp_down_then_up_delivers_everything_once() {
    // A port with nobody listening: the server is down.
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let app = smtp_app(port).await;
    let resp = app.post("/digests/2026-W47/send", json!({})).await;
    assert_eq!(resp.status(), 202);
    let report = app.jobs.drain_outbox().await.unwrap();
    assert_eq!((report.sent, report.retrying), (0, 2), "{report:?}");
    let list: Value = app.get("/digests").await.json().await.unwrap();
    for d in list["items"][0]["deliveries"].as_array().unwrap() {
        assert_eq!(d["status"], "pending");
        assert!(d["last_error"].as_str().unwrap().contains("SMTP"), "{d}");
    }
    // Before the backoff has passed nothing is retried.
    let report = app.jobs.drain_outbox().await.unwrap();
    assert!(!report.did_work());

    // The server comes up; after the backoff everything goes out, once.
    let sink = SmtpSink::serve(TcpListener::bind(("127.0.0.1", port)).await.unwrap());
    app.clock.advance(Duration::minutes(2));
    let report = app.jobs.drain_outbox().await.unwrap();
    assert_eq!(report.sent, 2, "{report:?}");
    app.clock.advance(Duration::hours(2));
    assert!(!app.jobs.drain_outbox().await.unwrap().did_work());
    let mut to: Vec<String> = sink
        .messages()
        .iter()
        .flat_map(|m| m.rcpt_to.clone())
        .collect();
    to.sort();
    assert_eq!(to, ["<leads@example.com>", "<ops-review@example.com>"]);
    let list: Value = app.get("/digests").await.json().await.unwrap();
    for d in list["items"][0]["deliveries"].as_array().unwrap() {
        assert_eq!(d["status"], "sent");
        assert_eq!(d["attempts"], 2);
    }
}

#[tokio::test]
async fn three_instances_on_one_database_mail_each_recipient_once() {
    let first = spawn_app_with(with_recipients).await;
    let url = first.database_url.clone();
    let on_shared = |s: &mut debrief::config::Settings| {
        with_recipients(s);
        s.database_url = Some(debrief::config::Secret::new(url.clone()));
    };
    let (second, third) = tokio::join!(spawn_app_with(on_shared), spawn_app_with(on_shared));
    let apps = [&first, &second, &third];
    // All reach the Monday 09:00 run of the default schedule at once.
    for app in apps {
        app.clock.set(w48_monday_nine() + Duration::seconds(5));
    }
    let (a, b, c) = tokio::join!(
        first.jobs.run_once(),
        second.jobs.run_once(),
        third.jobs.run_once()
    );
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    let digest_runs = a
        .runs
        .iter()
        .chain(&b.runs)
        .chain(&c.runs)
        .filter(|r| r.starts_with("digest@"))
        .count();
    assert_eq!(
        digest_runs, 1,
        "one instance runs the week: {a:?} {b:?} {c:?}"
    );
    // Whatever the first pass left, another pass on each finishes it.
    for app in apps {
        app.jobs.run_once().await.unwrap();
    }
    let mut to: Vec<String> = apps
        .into_iter()
        .flat_map(mailbox)
        .flat_map(|m| m.to)
        .collect();
    to.sort();
    assert_eq!(
        to, RECIPIENTS,
        "one mail per recipient across the instances"
    );

    // All asking through the API: the week was sent, so all get 409.
    let (r1, r2, r3) = tokio::join!(
        first.post("/digests/2026-W47/send", json!({})),
        second.post("/digests/2026-W47/send", json!({})),
        third.post("/digests/2026-W47/send", json!({}))
    );
    for resp in [r1, r2, r3] {
        assert_problem(resp, 409, Some("resend")).await;
    }
}

#[tokio::test]
async fn a_claim_abandoned_by_a_crash_is_finished_after_restart() {
    let crashed = spawn_app_with(with_recipients).await;
    let url = crashed.database_url.clone();
    crashed.clock.set(w48_monday_nine());
    // The process claims the run, then dies before doing anything.
    let claim = crashed
        .jobs
        .claim(debrief::jobs::ScheduledJob::Digest, w48_monday_nine())
        .await
        .unwrap();
    assert_eq!(claim, debrief::jobs::Claim::Won);
    // (`crashed` is never used again; it stays alive only because its
    // temporary directory holds the SQLite file.)

    let restarted = spawn_app_with(|s| {
        with_recipients(s);
        s.database_url = Some(debrief::config::Secret::new(url));
    })
    .await;
    // While the claim is live the run is not started twice.
    restarted
        .clock
        .set(w48_monday_nine() + Duration::minutes(1));
    let report = restarted.jobs.run_once().await.unwrap();
    assert!(
        !report.runs.iter().any(|r| r.starts_with("digest@")),
        "{report:?}"
    );
    assert!(mailbox(&restarted).is_empty());
    // Once it expires (jobs.claim_seconds, 10 min), the run is taken over.
    restarted
        .clock
        .set(w48_monday_nine() + Duration::minutes(11));
    let report = restarted.jobs.run_once().await.unwrap();
    assert_eq!(report.deliveries.sent, 2, "{report:?}");
    assert!(report.runs.iter().any(|r| r.starts_with("digest@")));
    let list: Value = restarted.get("/digests").await.json().await.unwrap();
    assert_eq!(list["items"][0]["week"], "2026-W47");
    assert_eq!(list["items"][0]["sends"][0]["trigger"], "schedule");
    // And never again.
    restarted.clock.advance(Duration::hours(1));
    restarted.jobs.run_once().await.unwrap();
    assert_eq!(mailbox(&restarted).len(), 2);
    assert!(mailbox(&crashed).is_empty());
}

#[tokio::test]
async fn a_run_missed_while_down_is_caught_up_once_then_the_next_one_runs() {
    let app = spawn_app_with(|s| {
        with_recipients(s);
        s.digest.time_zone = "Europe/Berlin".into();
        // The 5-field form is accepted too.
        s.digest.schedule = "0 9 * * Mon".into();
    })
    .await;
    // Down all Monday; started on Wednesday.
    app.clock.set(w48_monday_nine() + Duration::days(2));
    let report = app.jobs.run_once().await.unwrap();
    assert_eq!(
        report
            .runs
            .iter()
            .filter(|r| r.starts_with("digest@"))
            .collect::<Vec<_>>(),
        ["digest@2026-11-23T08:00:00+00:00"],
        "Monday 09:00 Berlin is 08:00 UTC"
    );
    assert_eq!(mailbox(&app).len(), 2);
    let report = app.jobs.run_once().await.unwrap();
    assert!(!report.did_work(), "nothing left to do: {report:?}");
    // Next Monday 09:00 Berlin: the digest of 2026-W48.
    app.clock.set(w48_monday_nine() + Duration::days(7));
    app.jobs.run_once().await.unwrap();
    let messages = mailbox(&app);
    assert_eq!(messages.len(), 4);
    assert!(
        messages[3]
            .raw
            .contains("Subject: Ops Review digest 2026-W48")
    );
}

#[tokio::test]
async fn a_resend_needs_the_flag_and_is_recorded() {
    let app = spawn_app_with(with_recipients).await;
    let resp = app.post("/digests/2026-W47/send", json!({})).await;
    assert_eq!(resp.status(), 202);
    let resp = app.post("/digests/2026-W47/send", json!({})).await;
    assert_problem(resp, 409, Some("resend")).await;
    let resp = app
        .post("/digests/2026-W47/send", json!({"resend": true}))
        .await;
    assert_eq!(resp.status(), 202);
    let queued: Value = resp.json().await.unwrap();
    assert_eq!(queued["send_number"], 2);
    app.jobs.drain_outbox().await.unwrap();
    assert_eq!(mailbox(&app).len(), 4, "two sends to two recipients");
    let list: Value = app.get("/digests").await.json().await.unwrap();
    let sends = list["items"][0]["sends"].as_array().unwrap();
    assert_eq!(sends.len(), 2);
    assert_eq!(sends[1]["send_number"], 2);
    assert_eq!(sends[1]["requested_by"], "test-admin");
    // A read token may look but not send.
    let read = app.token("read").await;
    let resp = app
        .client
        .post(app.url("/api/v1/digests/2026-W47/send"))
        .bearer_auth(read)
        .json(&json!({"resend": true}))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 403, None).await;
}

#[tokio::test]
async fn without_recipients_a_send_is_refused_and_nothing_is_archived() {
    let app = spawn_app_with(|_| {}).await;
    let resp = app.post("/digests/2026-W47/send", json!({})).await;
    let body = assert_problem(resp, 409, None).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("DEBRIEF_DIGEST_RECIPIENTS")
    );
    let list: Value = app.get("/digests").await.json().await.unwrap();
    assert_eq!(list["items"], json!([]));
}

/// `reports/samples/` holds the digest of the real cases (HTML, chart PNG,
/// Markdown, and PDF when there is one). Regenerate with
/// `UPDATE_DIGEST_SAMPLES=1 cargo test --test api digests::samples`.
#[tokio::test]
async fn samples_match_the_committed_ones() {
    let app = spawn_app_with(|s| {
        with_recipients(s);
        // Items synced with GitHub show their issue (never called: no job runs).
        s.trackers.github = Some(debrief::config::GithubSettings {
            api_url: "http://127.0.0.1:9".into(),
            web_url: Some("https://github.com".into()),
            token: debrief::config::Secret::new("t"),
            repository: "acme/ops".into(),
            webhook_secret: debrief::config::Secret::new("s"),
            ..debrief::config::GithubSettings::default()
        });
    })
    .await;
    load_realcases(&app).await;
    for (n, issue) in [(1, 41), (2, 42), (4, 57)] {
        let url = format!("https://github.com/acme/ops/issues/{issue}");
        let resp = app
            .post(
                &format!("/remediations/REM-{n}/tracker"),
                json!({ "url": url }),
            )
            .await;
        assert_eq!(resp.status(), 200, "link REM-{n}");
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/samples");
    let update = std::env::var("UPDATE_DIGEST_SAMPLES").is_ok_and(|v| v == "1");
    for format in ["md", "html", "png", "pdf"] {
        let resp = app.get(&format!("/digests/2026-W47.{format}")).await;
        if format == "pdf" && resp.status() == 404 {
            continue;
        }
        assert_eq!(resp.status(), 200, "{format}");
        let bytes = resp.bytes().await.unwrap();
        let path = dir.join(format!("digest-2026-W47.{format}"));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        } else if format != "pdf" {
            let committed = std::fs::read(&path).unwrap_or_default();
            assert!(
                committed == bytes,
                "{} is stale: run UPDATE_DIGEST_SAMPLES=1 cargo test --test api digests::samples",
                path.display()
            );
        }
    }
}

#[tokio::test]
async fn starttls_is_required_not_silently_dropped() {
    // The sink does not offer STARTTLS: a `starttls` mailer must refuse to
    // send in clear text, and the delivery stays pending with the reason.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let sink = SmtpSink::serve(listener);
    let app = spawn_app_with(|s| {
        with_recipients(s);
        s.mail.transport = MailTransport::Smtp;
        s.mail.smtp.host = "127.0.0.1".into();
        s.mail.smtp.port = Some(port);
        s.mail.smtp.security = SmtpSecurity::Starttls;
        s.mail.smtp.timeout_seconds = 5;
    })
    .await;
    assert_eq!(
        app.post("/digests/2026-W47/send", json!({})).await.status(),
        202
    );
    let report = app.jobs.drain_outbox().await.unwrap();
    assert_eq!((report.sent, report.retrying), (0, 2), "{report:?}");
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn a_delivery_cut_short_by_a_crash_is_sent_after_restart() {
    // An SMTP server that accepts the connection and then never answers:
    // the first process is killed while it waits there.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (accepted_tx, accepted) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let _ = accepted_tx.send(());
        std::future::pending::<()>().await;
        drop(stream);
    });
    let crashed = spawn_app_with(|s| {
        with_recipients(s);
        s.digest.recipients.truncate(1);
        s.mail.transport = MailTransport::Smtp;
        s.mail.smtp.host = "127.0.0.1".into();
        s.mail.smtp.port = Some(port);
        s.mail.smtp.security = SmtpSecurity::Plain;
        s.mail.smtp.timeout_seconds = 3600;
    })
    .await;
    assert_eq!(
        crashed
            .post("/digests/2026-W47/send", json!({}))
            .await
            .status(),
        202
    );
    let jobs = crashed.jobs.clone();
    let sending = tokio::spawn(async move { jobs.drain_outbox().await });
    accepted.await.unwrap();
    sending.abort(); // killed mid-send: the row stays leased ("sending")
    let list: Value = crashed.get("/digests").await.json().await.unwrap();
    assert_eq!(list["items"][0]["deliveries"][0]["status"], "sending");

    let url = crashed.database_url.clone();
    let restarted = spawn_app_with(|s| {
        with_recipients(s);
        s.database_url = Some(debrief::config::Secret::new(url));
    })
    .await;
    // Leased until the claim time passes; then the restarted process sends it.
    assert!(!restarted.jobs.drain_outbox().await.unwrap().did_work());
    restarted.clock.advance(Duration::minutes(11));
    let report = restarted.jobs.drain_outbox().await.unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    assert_eq!(mailbox(&restarted)[0].to, [RECIPIENTS[0]]);
    let list: Value = restarted.get("/digests").await.json().await.unwrap();
    let delivery = &list["items"][0]["deliveries"][0];
    assert_eq!(delivery["status"], "sent");
    assert_eq!(delivery["attempts"], 2);
}

#[tokio::test]
async fn the_digest_lists_the_hundred_most_overdue_items_and_counts_the_rest() {
    let app = spawn_app_with(with_recipients).await;
    // 103 items created on 1 October, due 1 to 103 days later.
    app.clock.set(
        chrono::DateTime::parse_from_rfc3339("2026-10-01T09:00:00Z")
            .unwrap()
            .to_utc(),
    );
    app.create_incident(json!({"title": "Disk full on db-3", "severity": "sev2"}))
        .await;
    for i in 1..=103 {
        let due = chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap() + Duration::days(i);
        let resp = app
            .post(
                "/remediations",
                json!({"title": format!("Fix {i}"), "kind": "prevent", "priority": "p2",
                       "owner": "ana@example.com", "team": "storage", "due_date": due.to_string(),
                       "incidents": ["INC-1"]}),
            )
            .await;
        assert_eq!(resp.status(), 201);
    }
    app.clock.set(w48_monday_nine());
    // Overdue at the end of W47: the 52 due by Sunday 22 November.
    let stats: Value = app
        .get("/stats?from=2026-11-16&to=2026-11-22")
        .await
        .json()
        .await
        .unwrap();
    let overdue = stats["remediations"]["overdue"].as_u64().unwrap();
    assert_eq!(overdue, 52);
    assert_eq!(
        stats["remediations"]["overdue_items"]
            .as_array()
            .unwrap()
            .len(),
        52,
        "the API lists every one"
    );
    let markdown = app.get("/digests/2026-W47.md").await.text().await.unwrap();
    assert!(!markdown.contains("more, all listed by"), "52 fit");

    // In 2027-W02 all 103 are: 100 are listed, the other 3 counted.
    let markdown = app.get("/digests/2027-W02.md").await.text().await.unwrap();
    let listed = markdown.matches("| REM-").count();
    assert_eq!(listed, 100, "{markdown}");
    assert!(markdown.contains("| REM-1 |"), "the most overdue first");
    assert!(
        markdown.contains("…and 3 more, all listed by `GET /api/v1/remediations?overdue=true`."),
        "{markdown}"
    );
}

#[tokio::test]
async fn a_digest_lists_the_hundred_most_overdue_items_and_counts_them_all() {
    let app = spawn_app_with(with_recipients).await;
    app.simple_incident().await;
    for i in 0..105 {
        let resp = app
            .post(
                "/remediations",
                json!({"title": format!("Follow-up {i}"), "kind": "prevent", "priority": "p0",
                       "incidents": ["INC-1"], "due_date": format!("2026-11-{:02}", 21 + i % 5)}),
            )
            .await;
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    }
    // In W50 (7 to 13 December) every one of them is overdue.
    app.clock.advance(Duration::days(21));
    let preview: Value = app
        .post("/digests", json!({"week": "2026-W50"}))
        .await
        .json()
        .await
        .unwrap();
    let rem = &preview["stats"]["remediations"];
    assert_eq!(rem["overdue"], 105, "every overdue item is counted");
    let listed = rem["overdue_items"].as_array().unwrap();
    assert_eq!(listed.len(), 100, "the hundred most overdue are listed");
    assert_eq!(listed[0]["due_date"], "2026-11-21", "most overdue first");
    assert_eq!(listed[0]["reference"], "REM-1");
    // Left out: the least overdue, due last and numbered highest.
    for left_out in ["REM-85", "REM-90", "REM-95", "REM-100", "REM-105"] {
        assert!(
            listed.iter().all(|item| item["reference"] != left_out),
            "{left_out} is not among the hundred most overdue"
        );
    }
    assert!(
        preview["markdown"]
            .as_str()
            .unwrap()
            .contains("…and 5 more, all listed by"),
        "the digest says how many more there are"
    );
}
