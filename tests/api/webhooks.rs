//! Outgoing webhook calls: where they may go (checked at registration and
//! again at send time), no redirects, a signature per call, Slack control
//! sequences escaped, `last_error` without connection details, and webhook
//! URLs masked for read-scope tokens.

use std::sync::{Arc, Mutex};

use chrono::Duration;
use hmac::{Hmac, Mac};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
};

use crate::helpers::{TestApp, assert_problem, fresh_database, spawn_app, spawn_app_with};

/// One request a [`receiver`] got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    /// Header names in lower case.
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A loopback HTTP receiver answering every request with `status` (a
/// status line's code and reason) and `extra_headers`; it keeps what it
/// got. Returns its base URL (`http://127.0.0.1:port`).
async fn receiver(status: &str, extra_headers: &str) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let kept = got.clone();
    let answer = format!(
        "HTTP/1.1 {status}\r\n{extra_headers}content-length: 2\r\nconnection: close\r\n\r\nok"
    );
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let kept = kept.clone();
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(stream);
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).await.unwrap_or(0) == 0 {
                    return;
                }
                let path = request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_string();
                let mut headers = Vec::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if line == "\r\n" {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':') {
                        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
                    }
                }
                let length = headers
                    .iter()
                    .find(|(n, _)| n == "content-length")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0usize);
                let mut body = vec![0u8; length];
                if reader.read_exact(&mut body).await.is_err() {
                    return;
                }
                kept.lock().unwrap().push(Received {
                    path,
                    headers,
                    body: String::from_utf8_lossy(&body).into_owned(),
                });
                let _ = reader.get_mut().write_all(answer.as_bytes()).await;
            });
        }
    });
    (base, got)
}

/// Register a webhook channel; returns the creation answer.
async fn add_webhook(app: &TestApp, reference: &str, target: &str) -> Value {
    let resp = app
        .post(
            &format!("/incidents/{reference}/channels"),
            json!({"kind": "webhook", "target": target}),
        )
        .await;
    assert_eq!(resp.status(), 201, "{target}");
    resp.json().await.unwrap()
}

/// Issue a sitrep; returns it.
async fn issue_sitrep(app: &TestApp, reference: &str, summary: &str) -> Value {
    let resp = app
        .post(
            &format!("/incidents/{reference}/sitreps"),
            json!({"summary": summary}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    resp.json().await.unwrap()
}

/// The webhook delivery records of sitrep `version`, by recipient, as the
/// admin token sees them.
async fn webhook_deliveries(app: &TestApp, reference: &str, version: i32) -> Vec<Value> {
    let sitrep: Value = app
        .get(&format!("/incidents/{reference}/sitreps/{version}"))
        .await
        .json()
        .await
        .unwrap();
    sitrep["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["channel"] == "webhook")
        .cloned()
        .collect()
}

#[tokio::test]
async fn targets_reaching_internal_addresses_are_refused_at_registration() {
    // The production default: no exceptions.
    let app = spawn_app_with(|s| s.webhooks.allow_addresses.clear()).await;
    let incident = app.simple_incident().await;
    let path = format!("/incidents/{}/channels", incident["ref"].as_str().unwrap());
    for (target, why) in [
        ("http://127.0.0.1:9/hook", "loopback"),
        ("http://localhost:8080/hook", "localhost is loopback"),
        (
            "http://hooks.localhost/hook",
            "every *.localhost name is loopback",
        ),
        ("http://[::ffff:127.0.0.1]/hook", "IPv4-mapped loopback"),
        ("http://2130706433/hook", "loopback as one decimal number"),
        ("http://0x7f.1/hook", "loopback in hex, short form"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://[::]/hook", "IPv6 unspecified"),
        (
            "http://169.254.169.254/latest/meta-data/",
            "cloud metadata, link-local",
        ),
        ("http://[::1]:8080/hook", "IPv6 loopback"),
        ("http://10.0.0.1/hook", "private"),
        ("https://192.168.1.10/hook", "private"),
        ("http://172.16.0.1/hook", "private"),
        ("http://100.64.0.1/hook", "CGNAT"),
        ("http://[fd00::1]/hook", "unique-local"),
        ("http://[fe80::1]/hook", "IPv6 link-local"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://255.255.255.255/hook", "broadcast"),
        ("http://192.0.2.1/hook", "documentation"),
    ] {
        let resp = app
            .post(&path, json!({"kind": "webhook", "target": target}))
            .await;
        let problem = assert_problem(resp, 422, Some("target")).await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("webhooks.allow_addresses"),
            "{why}: {problem}"
        );
    }
    let list: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(list["items"], json!([]), "nothing stored");

    // A public address is accepted (no call is made at registration).
    let resp = app
        .post(
            &path,
            json!({"kind": "webhook", "target": "https://1.1.1.1/hook"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
}

#[tokio::test]
async fn an_allowed_receiver_gets_a_signed_call_with_slack_sequences_escaped() {
    // The test app allows 127.0.0.0/8 and ::1.
    let app = spawn_app().await;
    let incident = app
        .create_incident(json!({"title": "Checkout <!here> errors", "severity": "sev2"}))
        .await;
    let reference = incident["ref"].as_str().unwrap();
    let (base, got) = receiver("200 OK", "").await;
    let created = add_webhook(&app, reference, &format!("{base}/hooks/incident")).await;
    let secret = created["signing_secret"].as_str().unwrap().to_string();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 70,
        "{secret}"
    );
    // Shown once: never listed, not even to an admin token.
    let list: Value = app
        .get(&format!("/incidents/{reference}/channels"))
        .await
        .json()
        .await
        .unwrap();
    assert!(list["items"][0].get("signing_secret").is_none(), "{list}");
    assert!(!list.to_string().contains(&secret));

    issue_sitrep(
        &app,
        reference,
        "Paging <!channel> and <@U123>; see <https://evil.example|Click here> & wait.",
    )
    .await;
    let report = app.jobs.drain_outbox().await.unwrap();
    assert_eq!(report.sent, 1, "{report:?}");

    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let call = &got[0];
    assert_eq!(call.path, "/hooks/incident");
    assert_eq!(
        call.header("user-agent"),
        Some(format!("Debrief/{}", env!("CARGO_PKG_VERSION")).as_str())
    );
    assert_eq!(call.header("content-type"), Some("application/json"));

    // Debrief-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">.
    let signature = call.header("debrief-signature").expect("signed");
    let (t, v1) = signature
        .split_once(',')
        .and_then(|(t, v)| Some((t.strip_prefix("t=")?, v.strip_prefix("v1=")?)))
        .expect("t=…,v1=…");
    assert_eq!(
        t,
        app.context.now().timestamp().to_string(),
        "the send time"
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", call.body).as_bytes());
    mac.verify_slice(&hex::decode(v1).expect("hex"))
        .expect("the signature verifies with the secret from the creation answer");
    let mut other = Hmac::<Sha256>::new_from_slice(b"whsec_other").unwrap();
    other.update(format!("{t}.{}", call.body).as_bytes());
    assert!(other.verify_slice(&hex::decode(v1).unwrap()).is_err());

    let text = serde_json::from_str::<Value>(&call.body).unwrap()["text"]
        .as_str()
        .unwrap()
        .to_string();
    for shown in [
        "&lt;!channel&gt;",
        "&lt;@U123&gt;",
        "&lt;https://evil.example|Click here&gt;",
        "&amp; wait",
        "Checkout &lt;!here&gt; errors",
    ] {
        assert!(text.contains(shown), "{shown} in {text}");
    }
    assert!(!text.contains('<') && !text.contains('>'), "{text}");
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let app = spawn_app().await;
    let incident = app.simple_incident().await;
    let reference = incident["ref"].as_str().unwrap();
    let (elsewhere, elsewhere_got) = receiver("200 OK", "").await;
    let (base, got) = receiver("302 Found", &format!("location: {elsewhere}/stolen\r\n")).await;
    add_webhook(&app, reference, &format!("{base}/hook")).await;
    issue_sitrep(&app, reference, "Checkout errors since deploy 4312.").await;

    let report = app.jobs.drain_outbox().await.unwrap();
    assert_eq!((report.sent, report.retrying), (0, 1), "{report:?}");
    assert_eq!(got.lock().unwrap().len(), 1);
    assert!(
        elsewhere_got.lock().unwrap().is_empty(),
        "the Location is never requested"
    );
    let delivery = &webhook_deliveries(&app, reference, 1).await[0];
    assert_eq!(delivery["status"], "pending");
    assert_eq!(
        delivery["last_error"],
        "the webhook answered HTTP 302 (redirects are not followed)"
    );
}

#[tokio::test]
async fn a_target_refused_at_send_time_is_reported_without_its_address() {
    let app = spawn_app().await;
    let incident = app.simple_incident().await;
    let reference = incident["ref"].as_str().unwrap();
    let (base, got) = receiver("200 OK", "").await;
    let port = base.rsplit(':').next().unwrap().to_string();
    // Both allowed when registered: an address literal (checked before the
    // call) and a name (checked by the resolver, after resolution).
    add_webhook(&app, reference, &format!("{base}/literal")).await;
    add_webhook(&app, reference, &format!("http://localhost:{port}/named")).await;
    issue_sitrep(&app, reference, "Checkout errors since deploy 4312.").await;

    // The same database and outbox, sent by a worker whose allowlist is
    // empty, as after an operator narrowed it (or a name now resolving to
    // loopback: the resolver refuses it the same way).
    let mut settings = (*app.context.settings).clone();
    settings.webhooks.allow_addresses.clear();
    let strict_context = app.context.with_settings(Arc::new(settings));
    let strict = debrief::jobs::Jobs::new(strict_context, app.jobs.mailer().clone()).unwrap();
    let report = strict.drain_outbox().await.unwrap();
    assert_eq!((report.sent, report.retrying), (0, 2), "{report:?}");
    assert!(got.lock().unwrap().is_empty(), "no connection was made");

    let deliveries = webhook_deliveries(&app, reference, 1).await;
    assert_eq!(deliveries.len(), 2);
    for delivery in &deliveries {
        let error = delivery["last_error"].as_str().unwrap();
        assert_eq!(
            error, "refused: the target address is not allowed",
            "{delivery}"
        );
        assert!(!error.contains("127.0.0.1") && !error.contains(&port));
    }

    // The next attempt, by a worker allowing loopback, goes through.
    app.clock.advance(Duration::minutes(5));
    let report = app.jobs.drain_outbox().await.unwrap();
    assert_eq!(report.sent, 2, "{report:?}");
    assert_eq!(got.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn connection_failures_name_no_address_or_system_error() {
    let app = spawn_app().await;
    let incident = app.simple_incident().await;
    let reference = incident["ref"].as_str().unwrap();
    // A port nobody listens on: bound, then closed.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    add_webhook(&app, reference, &format!("http://127.0.0.1:{port}/hook")).await;
    issue_sitrep(&app, reference, "Checkout errors since deploy 4312.").await;
    let report = app.jobs.drain_outbox().await.unwrap();
    assert_eq!(report.retrying, 1, "{report:?}");
    let delivery = &webhook_deliveries(&app, reference, 1).await[0];
    assert_eq!(
        delivery["last_error"],
        "no HTTP answer (connection failed or timed out)"
    );
}

#[tokio::test]
async fn a_queued_call_to_a_removed_channel_is_given_up() {
    let app = spawn_app().await;
    let incident = app.simple_incident().await;
    let reference = incident["ref"].as_str().unwrap();
    let (base, got) = receiver("200 OK", "").await;
    let created = add_webhook(&app, reference, &format!("{base}/hook")).await;
    issue_sitrep(&app, reference, "Checkout errors since deploy 4312.").await;
    let resp = app
        .api(
            reqwest::Method::DELETE,
            &format!(
                "/incidents/{reference}/channels/{}",
                created["id"].as_str().unwrap()
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);

    let report = app.jobs.drain_outbox().await.unwrap();
    assert_eq!(report.failed, 1, "no retry can sign it: {report:?}");
    assert!(got.lock().unwrap().is_empty(), "never sent unsigned");
    let delivery = &webhook_deliveries(&app, reference, 1).await[0];
    assert_eq!(delivery["status"], "failed");
    assert_eq!(delivery["last_error"], "not sent: the channel was removed");
}

#[tokio::test]
async fn read_tokens_see_webhook_urls_masked() {
    let app = spawn_app().await;
    let incident = app.simple_incident().await;
    let reference = incident["ref"].as_str().unwrap();
    // A public address literal: registration makes no DNS query, and the
    // outbox is not drained, so no call is made.
    let target = "https://bot:hunter2@1.1.1.1:8443/services/T000/B000/XXX?token=zq9secret";
    add_webhook(&app, reference, target).await;
    let resp = app
        .post(
            &format!("/incidents/{reference}/channels"),
            json!({"kind": "email", "target": "war-room@example.com"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    issue_sitrep(&app, reference, "Checkout errors since deploy 4312.").await;

    let read = app.token("read").await;
    let write = app.token("write").await;
    for (token, webhook_shown) in [
        (read.as_str(), "https://1.1.1.1:8443/…"),
        (write.as_str(), target),
        (app.admin_token.as_str(), target),
    ] {
        let channels: Value = app
            .client
            .get(app.url(&format!("/api/v1/incidents/{reference}/channels")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let targets: Vec<&str> = channels["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["target"].as_str().unwrap())
            .collect();
        assert_eq!(targets, [webhook_shown, "war-room@example.com"]);
        assert!(
            channels["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c.get("signing_secret").is_none())
        );

        for path in [
            format!("/api/v1/incidents/{reference}/sitreps/1"),
            format!("/api/v1/incidents/{reference}/sitreps"),
        ] {
            let body = app
                .client
                .get(app.url(&path))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let body: Value = serde_json::from_str(&body).unwrap();
            let sitrep = body.get("items").map_or(&body, |items| &items[0]);
            let recipients: Vec<&str> = sitrep["deliveries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["recipient"].as_str().unwrap())
                .collect();
            assert!(
                recipients.contains(&webhook_shown),
                "{path}: {recipients:?}"
            );
            assert!(recipients.contains(&"war-room@example.com"));
            if token == read {
                let text = body.to_string();
                assert!(
                    !text.contains("hunter2")
                        && !text.contains("XXX")
                        && !text.contains("zq9secret"),
                    "{path}: {text}"
                );
            }
        }
    }
}

#[tokio::test]
async fn channels_created_before_signing_get_a_random_secret_each() {
    // The schema as it was before signing secrets, with two channels, then
    // the remaining migrations.
    let data_dir = tempfile::tempdir().unwrap();
    let url = match fresh_database().await {
        Some(url) => url,
        None => format!(
            "sqlite://{}?mode=rwc",
            data_dir.path().join("old.db").display()
        ),
    };
    let db = Database::connect(&url).await.unwrap();
    use migration::MigratorTrait as _;
    migration::Migrator::up(&db, Some(6)).await.unwrap();
    let incident = uuid::Uuid::new_v4();
    db.execute_unprepared(&format!(
        "INSERT INTO incidents (id, number, title, severity, status, affected_components, labels, \
         created_at, updated_at) VALUES ('{incident}', 1, 'Old', 'sev2', 'investigating', '[]', '[]', \
         '2026-11-01T10:00:00Z', '2026-11-01T10:00:00Z')"
    ))
    .await
    .unwrap();
    for target in ["https://hooks.example.com/a", "https://hooks.example.com/b"] {
        db.execute_unprepared(&format!(
            "INSERT INTO incident_channels (id, incident_id, kind, target, created_at) \
             VALUES ('{}', '{incident}', 'webhook', '{target}', '2026-11-01T10:00:00Z')",
            uuid::Uuid::new_v4()
        ))
        .await
        .unwrap();
    }
    migration::Migrator::up(&db, None).await.unwrap();
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT signing_secret FROM incident_channels ORDER BY target",
        ))
        .await
        .unwrap();
    let secrets: Vec<String> = rows
        .iter()
        .map(|row| row.try_get::<String>("", "signing_secret").unwrap())
        .collect();
    assert_eq!(secrets.len(), 2);
    for secret in &secrets {
        assert!(
            secret.starts_with("whsec_")
                && secret.len() == 70
                && secret[6..]
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
            "{secret}"
        );
    }
    assert_ne!(secrets[0], secrets[1], "one secret per channel");
    db.close().await.ok();
}
