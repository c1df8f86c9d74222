//! A read never writes: every `GET` of the API (taken from the spec, so a
//! new one is covered as soon as it exists) and of the public pages leaves
//! the database exactly as it was.

use reqwest::Method;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// A fingerprint of everything stored. On SQLite, `PRAGMA data_version` of a
/// connection of our own: it changes with every commit of any other
/// connection, even one that changed no value. On PostgreSQL, a digest of
/// every row of every table.
async fn fingerprint(app: &TestApp) -> String {
    if let Some(path) = debrief::db::sqlite_path(&app.database_url) {
        // One connection kept for the whole test: data_version is relative
        // to the connection that reads it.
        thread_local! {
            static PROBE: std::cell::RefCell<Option<rusqlite::Connection>> = const { std::cell::RefCell::new(None) };
        }
        return PROBE.with(|probe| {
            let mut probe = probe.borrow_mut();
            let conn = probe.get_or_insert_with(|| rusqlite::Connection::open(&path).unwrap());
            let version: i64 = conn
                .query_row("PRAGMA data_version", [], |row| row.get(0))
                .unwrap();
            version.to_string()
        });
    }
    let db = &app.context.db;
    let backend = db.get_database_backend();
    let tables = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename",
        ))
        .await
        .unwrap();
    let mut digest = String::new();
    for row in tables {
        let table: String = row.try_get_by_index(0).unwrap();
        let sum = db
            .query_one_raw(Statement::from_string(
                backend,
                format!(
                    "SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') \
                     FROM \"{table}\" t"
                ),
            ))
            .await
            .unwrap()
            .unwrap();
        let sum: String = sum.try_get_by_index(0).unwrap();
        digest.push_str(&format!("{table}:{sum};"));
    }
    digest
}

/// An incident with something of every kind, a remediation item and a
/// published post-mortem.
async fn a_full_record(app: &TestApp) {
    app.create_incident(json!({
        "title": "Checkout failing for EU customers", "severity": "sev1",
        "detected_at": "2026-11-20T09:58:00Z", "affected_components": ["checkout"]
    }))
    .await;
    let writes = [
        (
            "/incidents/INC-1/roles",
            json!({"role": "incident_commander", "person": "Ana"}),
        ),
        (
            "/incidents/INC-1/timeline",
            json!({"events": [{"occurred_at": "2026-11-20T10:02:00Z", "kind": "action",
                               "body": "Rolled back deploy 4312", "author": "ben"}]}),
        ),
        (
            "/incidents/INC-1/sitreps",
            json!({"summary": "Rolling back", "author": "Ana",
                   "status_update": {"status": "identified", "message": "Rolling back."}}),
        ),
        (
            "/incidents/INC-1/sitreps",
            json!({"summary": "Rolled back", "author": "Ana"}),
        ),
        (
            "/incidents/INC-1/cleanup-items",
            json!({"kind": "silenced_alert", "description": "Silenced checkout-5xx", "owner": "ben"}),
        ),
        (
            "/incidents/INC-1/channels",
            json!({"kind": "webhook", "target": "https://hooks.example.com/debrief"}),
        ),
        (
            "/incidents/INC-1/redactions",
            json!({"pattern": "payments-db-\\d+"}),
        ),
        (
            "/remediations",
            json!({"title": "Alert on replica lag", "kind": "detect", "priority": "p1",
                   "owner": "ana", "incidents": ["INC-1"]}),
        ),
    ];
    for (path, body) in writes {
        let resp = app.post(path, body).await;
        assert!(resp.status().is_success(), "POST {path}: {}", resp.status());
    }
    let resp = app
        .api(Method::PUT, "/incidents/INC-1/postmortem")
        .json(&json!({"status": "in_review"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = app
        .post("/incidents/INC-1/postmortem/publish", json!({}))
        .await;
    assert_eq!(resp.status(), 201);
}

/// Every GET path of the spec, with its parameters filled in.
fn api_reads() -> Vec<String> {
    let spec: Value = serde_json::from_str(&debrief::api::spec::spec_json()).unwrap();
    let mut paths = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        if item.get("get").is_none() {
            continue;
        }
        let filled = path
            .replace("{reference}", "INC-1")
            .replace("{remediation}", "REM-1")
            .replace("{version}", "1")
            .replace("{other}", "2");
        let query = if path == "/stats" || path == "/remediations/summary" {
            "?from=2026-11-01&to=2026-11-30"
        } else if path == "/search" {
            "?q=checkout%20OR%20lag*"
        } else {
            ""
        };
        let variants: Vec<String> = if filled.contains("{document}") {
            ["internal", "public"]
                .iter()
                .flat_map(|v| ["md", "html", "pdf"].map(|f| format!("{v}.{f}")))
                .map(|d| filled.replace("{document}", &d))
                .collect()
        } else if filled.contains("{file}") {
            ["md", "html", "pdf"]
                .iter()
                .map(|f| filled.replace("{file}", &format!("2026-W47.{f}")))
                .collect()
        } else {
            vec![filled]
        };
        paths.extend(variants.into_iter().map(|p| format!("/api/v1{p}{query}")));
    }
    paths
}

#[tokio::test]
async fn no_read_writes_anything() {
    let app = spawn_app().await;
    a_full_record(&app).await;
    let slug = app.get("/incidents/INC-1/postmortem").await;
    let slug: Value = slug.json().await.unwrap();
    let slug = slug["publication"]["slug"]
        .as_str()
        .or(slug["slug"].as_str())
        .map(str::to_string);
    // The token's last use is recorded off the request's path: let that
    // settle (it is written at most once an hour per token).
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let mut reads = api_reads();
    assert!(reads.len() >= 25, "the spec's GETs: {reads:?}");
    reads.extend(
        [
            "/healthz",
            "/readyz",
            "/metrics",
            "/openapi.json",
            "/public/postmortems",
            "/public/postmortems/feed.atom",
        ]
        .map(String::from),
    );
    if let Some(slug) = slug {
        reads.push(format!("/public/postmortems/{slug}"));
    }
    let before = fingerprint(&app).await;
    for path in &reads {
        let resp = app
            .client
            .get(app.url(path))
            .bearer_auth(&app.admin_token)
            .send()
            .await
            .unwrap();
        assert!(
            !resp.status().is_server_error(),
            "GET {path}: {}",
            resp.status()
        );
        assert_eq!(
            fingerprint(&app).await,
            before,
            "GET {path} changed the database"
        );
    }
    // The fingerprint does see a write.
    let resp = app
        .post(
            "/incidents/INC-1/timeline",
            json!({"events": [{"occurred_at": "2026-11-20T10:03:00Z",
            "kind": "note", "body": "one more"}]}),
        )
        .await;
    assert!(resp.status().is_success());
    assert_ne!(fingerprint(&app).await, before, "a write shows");
}
