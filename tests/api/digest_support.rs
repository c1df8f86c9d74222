//! Test support for the digest: the real-case fixtures loaded through the
//! API (shifted into November 2026), an in-process SMTP sink on loopback and
//! a webhook sink.

use std::{
    path::Path,
    sync::{Arc, Mutex},
};

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
};

use crate::helpers::TestApp;

/// Monday 2026-11-23 09:00 UTC: the default schedule's run for 2026-W47.
pub fn w48_monday_nine() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// The real cases, where each lands in 2026, its severity, and the owners
/// and teams of its remediation items.
const CASES: [(&str, &str, &str, &str); 3] = [
    (
        "stripe-2019-07-10-api-database-election-failure",
        "2026-11-11",
        "sev1",
        "storage",
    ),
    (
        "github-2023-09-05-primary-database-partial-host-failure",
        "2026-11-17",
        "sev2",
        "platform",
    ),
    (
        "cloudflare-2019-07-02-waf-regex-cpu-exhaustion",
        "2026-11-19",
        "sev1",
        "edge",
    ),
];

const PRIORITIES: [&str; 3] = ["p0", "p1", "p2"];
const OWNERS: [&str; 3] = ["ana@example.com", "ben@example.com", "chidi@example.com"];

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(a, _)| a);
    format!("{cut}…")
}

/// Load the three real cases through the API, each moved to its 2026 day
/// (times of day and durations kept), with status updates, timeline,
/// remediation items (some done, some overdue) and one pending cleanup
/// item. Leaves the clock at Monday 2026-11-23 09:00 UTC.
pub async fn load_realcases(app: &TestApp) -> Vec<Value> {
    // A copy of shared/fixtures/realcases, so the suite runs from a fresh checkout.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/realcases");
    let mut incidents = Vec::new();
    let mut owner = 0usize;
    for (slug, day, severity, team) in CASES {
        let text = std::fs::read_to_string(dir.join(format!("{slug}.json")))
            .unwrap_or_else(|e| panic!("fixture {slug}: {e}"));
        let case: Value = serde_json::from_str(&text).unwrap();
        let started = at(case["started_at"].as_str().unwrap());
        let target = at(&format!("{day}T00:00:00Z"))
            + (started - started.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc());
        let shift = target - started;
        let moved = |v: &Value| v.as_str().map(|t| (at(t) + shift).to_rfc3339());
        app.clock.set(target + Duration::hours(6));
        let incident = app
            .create_incident(json!({
                "title": case["title"],
                "severity": severity,
                "status": "resolved",
                "customer_impact": case["customer_impact"],
                "started_at": moved(&case["started_at"]),
                "detected_at": moved(&case["detected_at"]),
                "mitigated_at": moved(&case["mitigated_at"]),
                "resolved_at": moved(&case["resolved_at"]),
            }))
            .await;
        let reference = incident["ref"].as_str().unwrap().to_string();
        let events: Vec<Value> = case["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, e)| {
                json!({
                    "occurred_at": moved(&e["at"]),
                    "kind": e["kind"],
                    "body": e["text"],
                    "source": "import",
                    "external_id": format!("{slug}/{i}"),
                })
            })
            .collect();
        let resp = app
            .post(
                &format!("/incidents/{reference}/timeline"),
                json!({ "events": events }),
            )
            .await;
        assert!(
            resp.status().is_success(),
            "timeline of {slug}: {}",
            resp.text().await.unwrap()
        );
        for update in case["status_updates"].as_array().unwrap() {
            let resp = app
                .post(
                    &format!("/incidents/{reference}/status-updates"),
                    json!({
                        "status": update["status"],
                        "message": update["text"],
                        "posted_at": moved(&update["at"]),
                    }),
                )
                .await;
            assert_eq!(resp.status(), 201, "status update of {slug}");
        }
        for (i, item) in case["remediation_items"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            let text = item["text"].as_str().unwrap();
            let due = (target + Duration::days(2 + 2 * i as i64)).date_naive();
            let resp = app
                .post(
                    "/remediations",
                    json!({
                        "title": shorten(text, 100),
                        "description": text,
                        "kind": item["kind"],
                        "priority": PRIORITIES[i % 3],
                        "owner": OWNERS[owner % OWNERS.len()],
                        "team": team,
                        "due_date": due.to_string(),
                        "incidents": [reference],
                    }),
                )
                .await;
            assert_eq!(
                resp.status(),
                201,
                "remediation of {slug}: {}",
                resp.text().await.unwrap()
            );
            owner += 1;
            let item: Value = resp.json().await.unwrap();
            if i % 3 == 1 {
                // Done the day after it was due... or on time for even ones.
                app.clock
                    .set((target + Duration::days(1 + 2 * i as i64)).with_timezone(&Utc));
                let resp = app
                    .patch(
                        &format!("/remediations/{}", item["ref"].as_str().unwrap()),
                        json!({ "status": "done" }),
                    )
                    .await;
                assert_eq!(resp.status(), 200, "close remediation");
                app.clock.set(target + Duration::hours(6));
            }
        }
        // The post-mortem: the Stripe one (W46) published two days after
        // the incident, the GitHub one a draft, the Cloudflare one in review
        // (due Sunday 22 November, so overdue at the end of W47).
        // Each names the contributing factors its public write-up gives.
        let (status, owner, factors) = match slug.split('-').next() {
            Some("stripe") => (
                "in_review",
                OWNERS[0],
                json!([
                    {"factor": "software_bug", "note": "A bug in the cluster's election protocol"},
                    {"factor": "change_deploy", "note": "The database upgrade rolled out days before"},
                ]),
            ),
            Some("github") => (
                "draft",
                OWNERS[1],
                json!([{"factor": "hardware_network", "note": "Partial failure of a primary's host"}]),
            ),
            _ => (
                "in_review",
                OWNERS[2],
                json!([
                    {"factor": "change_deploy", "note": "A WAF rule deployed globally at once"},
                    {"factor": "software_bug", "note": "A regular expression that backtracked"},
                    {"factor": "process_human", "note": ""},
                ]),
            ),
        };
        let resp = app
            .api(
                reqwest::Method::PUT,
                &format!("/incidents/{reference}/postmortem"),
            )
            .json(&json!({ "status": status, "owner": owner, "contributing_factors": factors }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "post-mortem of {slug}");
        if slug.starts_with("stripe") {
            app.clock.set(target + Duration::days(2));
            let resp = app
                .post(
                    &format!("/incidents/{reference}/postmortem/publish"),
                    json!({}),
                )
                .await;
            assert_eq!(
                resp.status(),
                201,
                "publish {slug}: {}",
                resp.text().await.unwrap()
            );
            app.clock.set(target + Duration::hours(6));
        }
        incidents.push(incident);
    }
    // A temporary change still to undo.
    let github = incidents[1]["ref"].as_str().unwrap().to_string();
    let resp = app
        .post(
            &format!("/incidents/{github}/cleanup-items"),
            json!({"kind": "silenced_alert", "description": "Silenced the replica-lag alert on the primary cluster", "owner": "ben@example.com"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    app.clock.set(w48_monday_nine());
    incidents
}

/// A message the SMTP sink received.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub data: String,
}

/// An SMTP server on loopback that accepts every message.
#[derive(Clone, Default)]
pub struct SmtpSink {
    pub received: Arc<Mutex<Vec<Received>>>,
}

impl SmtpSink {
    /// Serve on `listener` until the test ends.
    pub fn serve(listener: TcpListener) -> Self {
        Self::serve_slowly(listener, std::time::Duration::ZERO)
    }

    /// Serve on `listener`, taking `delay` to accept each message.
    pub fn serve_slowly(listener: TcpListener, delay: std::time::Duration) -> Self {
        let sink = Self::default();
        let received = sink.received.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let received = received.clone();
                tokio::spawn(async move {
                    let _ = conversation(stream, received, delay).await;
                });
            }
        });
        sink
    }

    pub fn messages(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn conversation(
    stream: tokio::net::TcpStream,
    received: Arc<Mutex<Vec<Received>>>,
    delay: std::time::Duration,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink.test ESMTP ready\r\n").await?;
    let mut mail_from = String::new();
    let mut rcpt_to = Vec::new();
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            write
                .write_all(b"250-sink.test\r\n250 8BITMIME\r\n")
                .await?;
        } else if upper.starts_with("MAIL FROM:") {
            mail_from = line[10..].trim().to_string();
            rcpt_to.clear();
            write.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            rcpt_to.push(line[8..].trim().to_string());
            write.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("DATA") {
            write.write_all(b"354 go ahead\r\n").await?;
            let mut data = Vec::new();
            loop {
                let mut chunk = Vec::new();
                if lines.read_until(b'\n', &mut chunk).await? == 0 {
                    return Ok(());
                }
                if chunk == b".\r\n" {
                    break;
                }
                let chunk = if chunk.starts_with(b"..") {
                    &chunk[1..]
                } else {
                    &chunk[..]
                };
                data.extend_from_slice(chunk);
            }
            tokio::time::sleep(delay).await;
            received.lock().unwrap().push(Received {
                mail_from: mail_from.clone(),
                rcpt_to: rcpt_to.clone(),
                data: String::from_utf8_lossy(&data).into_owned(),
            });
            write.write_all(b"250 queued\r\n").await?;
        } else if upper.starts_with("QUIT") {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            // RSET, NOOP and anything else.
            write.write_all(b"250 OK\r\n").await?;
        }
    }
}

/// A webhook receiver on loopback: answers `fail_first` requests with 500,
/// then 200, and keeps the bodies it accepted.
pub async fn webhook_sink(fail_first: usize) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/incident", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    let calls = Arc::new(Mutex::new(0usize));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let kept = kept.clone();
            let calls = calls.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(stream);
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0u8; length];
                if reader.read_exact(&mut body).await.is_err() {
                    return;
                }
                let n = {
                    let mut c = calls.lock().unwrap();
                    *c += 1;
                    *c
                };
                let ok = n > fail_first;
                if ok {
                    kept.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&body).into_owned());
                }
                let status = if ok {
                    "200 OK"
                } else {
                    "500 Internal Server Error"
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                );
                let _ = reader.get_mut().write_all(answer.as_bytes()).await;
            });
        }
    });
    (url, bodies)
}
