//! Writes under load and faults, and the bounds on what a client may hold:
//! a stalled upload, many concurrent writers, idle and slow connections,
//! the render queue, redaction rule caps, bounded metric labels, and the
//! outbox exactly once when a pass outlasts the lease.

use std::time::{Duration, Instant};

use debrief::{
    clock::Clock as _,
    config::{MailTransport, SmtpSecurity},
};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

use crate::{
    digest_support::SmtpSink,
    helpers::{TestApp, assert_problem, spawn_app_with},
};

/// A bundle of one incident with `events` timeline events.
fn bundle(id: u32, events: usize) -> Value {
    let incident = format!("0193a5b2-7c00-7000-8000-{id:012}");
    let timeline: Vec<Value> = (0..events)
        .map(|i| {
            json!({
                "id": uuid::Uuid::now_v7(),
                "occurred_at": format!("2026-11-20T10:{:02}:{:02}Z", (i / 60) % 60, i % 60),
                "kind": "note",
                "body": format!("Event {i} of a long incident"),
                "author": "importer",
                "source": "api",
                "external_id": null,
                "visibility": "internal",
            })
        })
        .collect();
    json!({
        "format": "debrief-bundle",
        "version": 1,
        "incident": {
            "id": incident,
            "title": format!("Imported incident {id}"),
            "severity": "sev3",
            "status": "resolved",
            "customer_impact": null,
            "affected_components": [],
            "chat_room_url": null,
            "labels": [],
            "started_at": "2026-11-20T10:00:00Z",
            "detected_at": null,
            "acknowledged_at": null,
            "mitigated_at": null,
            "resolved_at": "2026-11-20T11:00:00Z",
            "closed_at": null,
            "created_at": "2026-11-20T10:00:00Z"
        },
        "roles": [],
        "sitreps": [],
        "status_updates": [],
        "cleanup_items": [],
        "remediation_items": [],
        "timeline": timeline,
    })
}

/// Send a request by hand and return the status line's code (0 when the
/// server closed the connection without answering).
async fn read_status(stream: &mut TcpStream) -> u16 {
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
        }
    }
    String::from_utf8_lossy(&answer)
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// Start a bundle import of `body` by hand, declaring its whole length,
/// and send only its first `sent` bytes.
async fn partial_upload(app: &TestApp, body: &[u8], sent: usize) -> TcpStream {
    let head = format!(
        "POST /api/v1/imports/bundle HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        app.base.trim_start_matches("http://"),
        app.admin_token,
        body.len()
    );
    let mut upload = TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    upload.write_all(head.as_bytes()).await.unwrap();
    upload.write_all(&body[..sent]).await.unwrap();
    upload
}

#[tokio::test]
async fn an_upload_that_stalls_for_30_s_holds_up_no_other_write() {
    let app = spawn_app_with(|s| s.limits.body_timeout_seconds = 60).await;
    app.simple_incident().await;
    let body = serde_json::to_vec(&bundle(1, 2000)).unwrap();
    let mut upload = partial_upload(&app, &body, 200).await;

    // While the upload stalls, other clients write as usual.
    let stall = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut writes = 0;
    while stall.elapsed() < Duration::from_secs(30) {
        let started = Instant::now();
        let resp = app
            .post(
                "/incidents/INC-1/timeline",
                json!({"kind": "note", "body": format!("during the stall {writes}")}),
            )
            .await;
        assert_eq!(resp.status(), 201, "a write during the stall");
        slowest = slowest.max(started.elapsed());
        writes += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!("{writes} writes during a 30 s stalled upload; slowest {slowest:?}");
    // The bound in the issue is 100 ms; a loaded CI machine gets headroom,
    // and a write that waited for the upload would take 30 s.
    assert!(
        slowest < Duration::from_secs(2),
        "a write waited {slowest:?} during the stall"
    );

    // The upload then completes and is imported whole.
    upload.write_all(&body[200..]).await.unwrap();
    assert_eq!(read_status(&mut upload).await, 200);
    let events: Value = app
        .get("/incidents/INC-2/timeline?limit=500")
        .await
        .json()
        .await
        .unwrap();
    assert!(!events["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn an_upload_that_stops_is_cut_off_after_the_body_timeout_and_changes_nothing() {
    let app = spawn_app_with(|s| s.limits.body_timeout_seconds = 1).await;
    let body = serde_json::to_vec(&bundle(1, 10)).unwrap();
    let mut upload = partial_upload(&app, &body, 100).await;
    let started = Instant::now();
    assert_eq!(read_status(&mut upload).await, 408);
    assert!(started.elapsed() < Duration::from_secs(10));
    let list: Value = app.get("/incidents").await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "nothing stored");
    // The spool holds nothing once the request is over.
    let spool = app.context.settings.data_dir.join("spool");
    let left = std::fs::read_dir(&spool).map_or(0, |d| d.count());
    assert_eq!(left, 0, "spooled files are removed");
}

/// One write of each kind, numbered `n`, on INC-1 (and its own incident).
async fn write_of_kind(app: &TestApp, n: usize) -> Vec<u16> {
    let (path, body) = match n % 8 {
        0 => (
            "/incidents",
            json!({"title": format!("Load {n}"), "severity": "sev3"}),
        ),
        1 => (
            "/incidents/INC-1/timeline",
            json!({"kind": "note", "body": format!("event {n}")}),
        ),
        2 => (
            "/incidents/INC-1/sitreps",
            json!({"summary": format!("sitrep {n}")}),
        ),
        3 => (
            "/incidents/INC-1/status-updates",
            json!({"status": "investigating", "message": format!("update {n}"), "posted_at": "2026-11-20T10:30:00Z"}),
        ),
        4 => (
            "/incidents/INC-1/cleanup-items",
            json!({"kind": "silenced_alert", "description": format!("alert {n}")}),
        ),
        5 => (
            "/remediations",
            json!({"title": format!("Fix {n}"), "kind": "prevent", "priority": "p2", "incidents": ["INC-1"]}),
        ),
        6 => (
            "/incidents/INC-1/roles",
            json!({"role": "scribe", "person": format!("Scribe {n}")}),
        ),
        _ => {
            // A write that fails inside its transaction: closing while
            // cleanup items are pending is a 409, and undoes only itself.
            let close = app
                .patch("/incidents/INC-1", json!({"status": "closed"}))
                .await;
            let edit = app
                .patch(
                    "/incidents/INC-1",
                    json!({"customer_impact": format!("impact {n}")}),
                )
                .await;
            return vec![close.status().as_u16(), edit.status().as_u16()];
        }
    };
    vec![app.post(path, body).await.status().as_u16()]
}

#[tokio::test]
async fn sixty_four_writers_of_every_kind_and_an_import_get_no_5xx() {
    let app = spawn_app_with(|_| {}).await;
    app.simple_incident().await;
    app.post(
        "/incidents/INC-1/cleanup-items",
        json!({"kind": "maintenance_mode", "description": "Status page in maintenance"}),
    )
    .await;
    let body = serde_json::to_vec(&bundle(7, 20_000)).unwrap();
    let import = async {
        let resp = app
            .api(Method::POST, "/imports/bundle")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    };
    let writers = futures_util::future::join_all((0..64).map(|w| {
        let app = &app;
        async move {
            let mut statuses = Vec::new();
            for round in 0..4 {
                statuses.extend(write_of_kind(app, w + round * 64).await);
            }
            statuses
        }
    }));
    let (import_status, statuses) = tokio::join!(import, writers);
    assert_eq!(
        import_status.0, 200,
        "the import lands: {}",
        import_status.1
    );
    let statuses: Vec<u16> = statuses.into_iter().flatten().collect();
    let server_errors = statuses.iter().filter(|s| **s >= 500).count();
    assert_eq!(server_errors, 0, "5xx among {statuses:?}");
    assert!(
        statuses.iter().all(|s| matches!(s, 200 | 201 | 409)),
        "every write is stored, or refused for its own reason: {statuses:?}"
    );
    assert!(
        statuses.iter().filter(|s| **s == 409).count() >= 32,
        "the refused closes"
    );
    // Every accepted event is there, next to the refused writes.
    let events: Value = app
        .get("/incidents/INC-1/timeline?limit=500")
        .await
        .json()
        .await
        .unwrap();
    let posted = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["body"].as_str().unwrap().starts_with("event "))
        .count();
    assert_eq!(posted, 32, "each of the 32 posted events");
    if app.backend == "sqlite" {
        let batches = &app.context.metrics.commit_batch;
        assert!(
            batches.get_sample_sum() > batches.get_sample_count() as f64,
            "concurrent writes share commits: {} writes in {} commits",
            batches.get_sample_sum(),
            batches.get_sample_count()
        );
    }
}

#[tokio::test]
async fn a_failed_write_in_a_shared_commit_undoes_only_itself() {
    use debrief::{entities::redaction_rule, services::insert_model};
    use sea_orm::{EntityTrait, IntoActiveModel};
    let app = spawn_app_with(|_| {}).await;
    let ctx = app.context.clone();
    let rule = |value: &str| redaction_rule::Model {
        id: uuid::Uuid::now_v7(),
        incident_id: None,
        kind: debrief::domain::RedactionKind::Term,
        value: value.into(),
        created_at: ctx.now(),
    };
    let first = ctx.begin_write().await.unwrap();
    insert_model(&first, rule("alpha").into_active_model())
        .await
        .unwrap();
    // The second writer queues behind the first …
    let second = tokio::spawn({
        let ctx = ctx.clone();
        let beta = rule("beta");
        async move {
            let txn = ctx.begin_write().await.unwrap();
            insert_model(&txn, beta.into_active_model()).await.unwrap();
            txn.rollback().await.unwrap();
        }
    });
    if app.backend == "sqlite" {
        while ctx.metrics.write_queue.get() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    // … so the first one's commit is shared with it, and the second
    // rolls back inside the same batch.
    first.commit().await.unwrap();
    second.await.unwrap();
    let third = ctx.begin_write().await.unwrap();
    insert_model(&third, rule("gamma").into_active_model())
        .await
        .unwrap();
    third.commit().await.unwrap();
    let mut values: Vec<String> = redaction_rule::Entity::find()
        .all(&ctx.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.value)
        .collect();
    values.sort();
    assert_eq!(values, ["alpha", "gamma"]);
}

/// A single-statement write (`Context::write_statement`, the hot path of a
/// new timeline event) joins the open batch with no savepoint: when it
/// fails, the writers it shares the commit with keep their data, and when
/// it succeeds its row is durable with theirs.
#[tokio::test]
async fn a_failed_single_statement_in_a_shared_commit_undoes_only_itself() {
    use debrief::{entities::redaction_rule, services::insert_model};
    use sea_orm::{
        EntityTrait, IntoActiveModel,
        sea_query::{Expr, Query},
    };
    let app = spawn_app_with(|_| {}).await;
    let ctx = app.context.clone();
    let id = uuid::Uuid::now_v7();
    let insert = |id: uuid::Uuid, value: &str| {
        let mut statement = Query::insert();
        statement
            .into_table(redaction_rule::Entity)
            .columns([
                redaction_rule::Column::Id,
                redaction_rule::Column::Kind,
                redaction_rule::Column::Value,
                redaction_rule::Column::CreatedAt,
            ])
            .values_panic([
                Expr::val(id),
                Expr::val("term"),
                Expr::val(value),
                Expr::val(ctx.now()),
            ]);
        ctx.db.get_database_backend().build(&statement)
    };
    let first = ctx.begin_write().await.unwrap();
    insert_model(
        &first,
        redaction_rule::Model {
            id,
            incident_id: None,
            kind: debrief::domain::RedactionKind::Term,
            value: "alpha".into(),
            created_at: ctx.now(),
        }
        .into_active_model(),
    )
    .await
    .unwrap();
    // Both statements queue behind the first writer and join its batch:
    // one repeats its primary key and fails, the other is stored.
    let clash = tokio::spawn({
        let (ctx, statement) = (ctx.clone(), insert(id, "clash"));
        async move { ctx.write_statement(statement).await }
    });
    let fine = tokio::spawn({
        let (ctx, statement) = (ctx.clone(), insert(uuid::Uuid::now_v7(), "beta"));
        async move { ctx.write_statement(statement).await }
    });
    if app.backend == "sqlite" {
        while ctx.metrics.write_queue.get() < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    first.commit().await.unwrap();
    assert!(clash.await.unwrap().is_err(), "the repeated key fails");
    fine.await.unwrap().expect("the other statement is stored");
    let mut values: Vec<String> = redaction_rule::Entity::find()
        .all(&ctx.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.value)
        .collect();
    values.sort();
    assert_eq!(values, ["alpha", "beta"]);
}

#[tokio::test]
async fn idle_and_slow_connections_do_not_starve_healthz() {
    let app = spawn_app_with(|s| {
        s.limits.header_timeout_seconds = 2;
        s.limits.idle_timeout_seconds = 30;
    })
    .await;
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut idle = Vec::with_capacity(5000);
    for _ in 0..5000 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    // A client that sends its head a byte at a time.
    let slow = tokio::spawn({
        let addr = addr.clone();
        async move {
            let mut stream = TcpStream::connect(&addr).await.unwrap();
            let started = Instant::now();
            for byte in
                b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaa\r\n\r\n"
            {
                if stream.write_all(&[*byte]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                let mut probe = [0u8; 1];
                if let Ok(Ok(0)) =
                    tokio::time::timeout(Duration::from_millis(1), stream.read(&mut probe)).await
                {
                    break;
                }
            }
            started.elapsed()
        }
    });
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let started = Instant::now();
        let resp = reqwest::get(app.url("/healthz")).await.unwrap();
        assert_eq!(resp.status(), 200);
        slowest = slowest.max(started.elapsed());
    }
    eprintln!("healthz with 5,000 idle connections: slowest {slowest:?}");
    assert!(slowest < Duration::from_secs(1), "healthz took {slowest:?}");
    let cut_after = slow.await.unwrap();
    assert!(
        cut_after >= Duration::from_secs(2) && cut_after < Duration::from_secs(6),
        "the slow client was cut off after {cut_after:?}"
    );
    assert!(app.context.metrics.connections.get() >= 5000);
    drop(idle);
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_idle_timeout() {
    let app = spawn_app_with(|s| s.limits.idle_timeout_seconds = 1).await;
    let mut stream = TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_status(&mut stream).await, 200);
    let started = Instant::now();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the idle connection was closed");
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn renders_past_the_queue_get_503_with_retry_after() {
    let app = spawn_app_with(|s| {
        s.limits.renders = 1;
        s.limits.render_queue = 1;
    })
    .await;
    app.simple_incident().await;
    // A render holds the only slot.
    let running = app.context.renders.admit().await.unwrap();
    // The next one waits in the queue …
    let queued = tokio::spawn({
        let request = app.api(Method::GET, "/incidents/INC-1/postmortem/internal.md");
        async move { request.send().await.unwrap().status().as_u16() }
    });
    let waiting = app.context.metrics.renders.with_label_values(&["waiting"]);
    while waiting.get() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // … and the one after is refused at once.
    let refused = app.get("/incidents/INC-1/postmortem/internal.pdf").await;
    let retry_after: u64 = refused
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=300).contains(&retry_after));
    assert_problem(refused, 503, None).await;
    drop(running);
    assert_eq!(queued.await.unwrap(), 200, "the queued render ran");
}

#[tokio::test]
async fn redaction_rules_are_capped_per_scope() {
    let app = spawn_app_with(|s| {
        s.limits.redaction_rules = 2;
        s.limits.redaction_pattern_bytes = 4096;
    })
    .await;
    app.simple_incident().await;
    for term in ["project-x", "hunter2"] {
        let resp = app.post("/redactions", json!({"term": term})).await;
        assert_eq!(resp.status(), 201);
    }
    let body = assert_problem(
        app.post("/redactions", json!({"term": "third"})).await,
        422,
        Some("term"),
    )
    .await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("limits.redaction_rules")
    );
    // Another scope has its own count, and its compiled size is capped.
    let resp = app
        .post("/incidents/INC-1/redactions", json!({"term": "own"}))
        .await;
    assert_eq!(resp.status(), 201);
    let body = assert_problem(
        app.post(
            "/incidents/INC-1/redactions",
            json!({"pattern": "[a-z]{500}-secret"}),
        )
        .await,
        422,
        Some("pattern"),
    )
    .await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("limits.redaction_pattern_bytes"),
        "{body}"
    );
    let rules: Value = app
        .get("/incidents/INC-1/redactions")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rules["items"].as_array().unwrap().len(), 1, "nothing added");
}

#[tokio::test]
async fn metrics_fold_unknown_methods_and_show_queues_and_jobs() {
    let app = spawn_app_with(|_| {}).await;
    for i in 0..50 {
        let method = Method::from_bytes(format!("MADEUP{i}").as_bytes()).unwrap();
        app.client
            .request(method, app.url("/healthz"))
            .send()
            .await
            .unwrap();
    }
    app.simple_incident().await;
    let text = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("MADEUP"), "raw methods never become labels");
    assert!(text.contains(r#"method="other""#));
    for metric in [
        "debrief_http_connections_open",
        "debrief_write_queue_depth",
        r#"debrief_outbox_deliveries{status="pending"} 0"#,
        r#"debrief_outbox_deliveries{status="failed"} 0"#,
        r#"debrief_outbox_deliveries{status="sent"} 0"#,
        r#"debrief_renders{state="running"} 0"#,
        r#"debrief_renders{state="waiting"} 0"#,
    ] {
        assert!(text.contains(metric), "{metric} in\n{text}");
    }
    if app.backend == "sqlite" {
        assert!(text.contains("debrief_write_commit_batch_size_count"));
    }
    // A scheduled run that succeeds is stamped.
    app.clock.set(crate::digest_support::w48_monday_nine());
    app.jobs.run_once().await.unwrap();
    let text = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"debrief_job_last_success_timestamp_seconds{job="reminders"}"#),
        "{text}"
    );
}

/// Ten drains of `app`'s outbox, 150 ms apart: what it sent in all.
async fn drain_again_and_again(app: &TestApp) -> debrief::jobs::DrainReport {
    let mut total = debrief::jobs::DrainReport::default();
    for _ in 0..10 {
        let report = app.jobs.drain_outbox().await.unwrap();
        total.sent += report.sent;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    total
}

#[tokio::test]
async fn a_pass_longer_than_the_lease_sends_each_delivery_once_across_replicas() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // Each message takes 200 ms to be accepted; 150 recipients, so that
    // each replica (eight at once) has several rounds to send.
    let sink = SmtpSink::serve_slowly(listener, Duration::from_millis(200));
    let recipients: Vec<String> = (0..150).map(|i| format!("lead{i}@example.com")).collect();
    let configure = |s: &mut debrief::config::Settings| {
        s.digest.recipients = recipients.clone();
        s.mail.transport = MailTransport::Smtp;
        s.mail.from = "Debrief <debrief@example.com>".into();
        s.mail.smtp.host = "127.0.0.1".into();
        s.mail.smtp.port = Some(port);
        s.mail.smtp.security = SmtpSecurity::Plain;
        s.mail.smtp.timeout_seconds = 5;
        // A lease of 10 s on a clock that runs up to ten times faster than
        // real time (below; fewer when the machine is busy): one delivery
        // (200 ms) fits with room for a loaded machine (a send would have
        // to take at least 1 s of real time to outlive its lease), a whole
        // pass (3 to 4 s of real time, 20 to 30 s on the clock) does not
        // (checked below).
        s.jobs.claim_seconds = 10;
    };
    let first = spawn_app_with(configure).await;
    let url = first.database_url.clone();
    let on_shared = |s: &mut debrief::config::Settings| {
        configure(s);
        s.database_url = Some(debrief::config::Secret::new(url.clone()));
    };
    let (second, third) = tokio::join!(spawn_app_with(on_shared), spawn_app_with(on_shared));
    let resp = first.post("/digests/2026-W47/send", json!({})).await;
    assert_eq!(resp.status(), 202, "{}", resp.text().await.unwrap());
    let clocks = [&first, &second, &third].map(|app| app.clock.clone());
    let ticking = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            for clock in &clocks {
                clock.advance(chrono::Duration::seconds(1));
            }
        }
    });
    let started = Instant::now();
    let started_on_clock = first.clock.now();
    // The other replicas drain again and again during the first's pass.
    let first_pass = async {
        let report = first.jobs.drain_outbox().await;
        (report, first.clock.now() - started_on_clock)
    };
    let ((a, pass_on_clock), b, c) = tokio::join!(
        first_pass,
        drain_again_and_again(&second),
        drain_again_and_again(&third)
    );
    ticking.abort();
    let a = a.unwrap();
    eprintln!(
        "pass took {:?} ({pass_on_clock} on the clock); sent {}, {}, {}",
        started.elapsed(),
        a.sent,
        b.sent,
        c.sent
    );
    assert!(
        pass_on_clock > chrono::Duration::seconds(10),
        "the first pass outlived a lease ({pass_on_clock})"
    );
    let mut to: Vec<String> = sink
        .messages()
        .iter()
        .flat_map(|m| m.rcpt_to.clone())
        .collect();
    to.sort();
    let mut expected: Vec<String> = recipients.iter().map(|r| format!("<{r}>")).collect();
    expected.sort();
    assert_eq!(to, expected, "each recipient exactly once");
    assert_eq!(a.sent + b.sent + c.sent, 150);
}
