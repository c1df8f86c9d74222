//! CSV exports: RFC 4180 as a spreadsheet reads it (header row, CRLF,
//! quoting, formula cells kept as text), the lists' filters, and a large
//! export streamed in chunks.

use chrono::Duration;
use debrief::{
    domain::{IncidentStatus, Severity},
    entities::incident,
};
use reqwest::{Method, Response};
use sea_orm::{EntityTrait, IntoActiveModel};
use serde_json::json;

use crate::helpers::{TestApp, assert_problem, spawn_app, t0};

/// The records of an RFC 4180 body, each a list of fields (a small
/// reader, strict about CRLF and quotes, so the test sees what a
/// spreadsheet would).
fn records(body: &str) -> Vec<Vec<String>> {
    assert!(body.is_empty() || body.ends_with("\r\n"), "ends with CRLF");
    let mut records = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = body.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => {
                assert!(field.is_empty(), "a quote inside an unquoted field");
                quoted = true;
            }
            (false, ',') => fields.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "CR only before LF");
                fields.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut fields));
            }
            (false, '\n') => panic!("a bare LF ends no record"),
            (false, c) => field.push(c),
        }
    }
    assert!(!quoted, "an unterminated quote");
    records
}

async fn csv(app: &TestApp, path: &str) -> (Response, Vec<Vec<String>>) {
    let resp = app.get(path).await;
    assert_eq!(resp.status(), 200, "{path}");
    let head = resp.headers().clone();
    assert_eq!(head["content-type"], "text/csv; charset=utf-8");
    let body = resp.text().await.unwrap();
    let rows = records(&body);
    // The response is gone; hand back a fresh one for its headers.
    let again = app.get(path).await;
    assert_eq!(
        again.headers()["content-disposition"],
        head["content-disposition"]
    );
    (again, rows)
}

/// The value of `column` in each row after the header.
fn column(rows: &[Vec<String>], name: &str) -> Vec<String> {
    let at = rows[0]
        .iter()
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no column {name}"));
    rows[1..].iter().map(|r| r[at].clone()).collect()
}

#[tokio::test]
async fn incidents_export_quotes_guards_and_filters() {
    let app = spawn_app().await;
    for (title, severity) in [
        ("Checkout, payments \"down\"\nfor EU", "sev1"),
        ("=HYPERLINK(\"http://evil\",\"x\")", "sev2"),
        ("+1 minus -1", "sev2"),
        ("@SUM(A1:A9)", "sev3"),
        ("Zürich 東京 ✓ naïve", "sev1"),
    ] {
        app.create_incident(json!({
            "title": title, "severity": severity,
            "started_at": "2026-11-19T08:00:00Z",
            "affected_components": ["checkout", "payments-api"],
            "labels": ["-cmd"]
        }))
        .await;
    }
    let resp = app
        .api(Method::PUT, "/incidents/INC-1/postmortem")
        .json(&json!({"contributing_factors": [{"factor": "capacity"}, {"factor": "unknown"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let (resp, rows) = csv(&app, "/incidents.csv").await;
    assert_eq!(
        resp.headers()["content-disposition"],
        "attachment; filename=\"incidents.csv\""
    );
    assert_eq!(
        rows[0][..5],
        ["reference", "id", "title", "severity", "status"]
    );
    assert_eq!(rows.len(), 6, "a header and five incidents: {rows:?}");
    assert!(rows.iter().all(|r| r.len() == rows[0].len()), "{rows:?}");
    assert_eq!(
        column(&rows, "reference"),
        ["INC-5", "INC-4", "INC-3", "INC-2", "INC-1"],
        "newest first, as the list"
    );
    assert_eq!(
        column(&rows, "title"),
        [
            "Zürich 東京 ✓ naïve",
            "'@SUM(A1:A9)",
            "'+1 minus -1",
            "'=HYPERLINK(\"http://evil\",\"x\")",
            "Checkout, payments \"down\"\nfor EU",
        ]
    );
    assert_eq!(column(&rows, "labels")[0], "'-cmd");
    assert_eq!(
        column(&rows, "affected_components")[0],
        "checkout; payments-api"
    );
    assert_eq!(column(&rows, "started_at")[0], "2026-11-19T08:00:00Z");
    assert_eq!(column(&rows, "postmortem_status")[4], "draft");
    assert_eq!(
        column(&rows, "contributing_factors")[4],
        "capacity; unknown"
    );
    assert_eq!(column(&rows, "contributing_factors")[0], "");

    // The list's filters, checked the same way.
    let (_, rows) = csv(&app, "/incidents.csv?severity=sev1").await;
    assert_eq!(column(&rows, "reference"), ["INC-5", "INC-1"]);
    let (_, rows) = csv(&app, "/incidents.csv?q=z%C3%BCrich").await;
    assert_eq!(column(&rows, "reference"), ["INC-5"]);
    let (_, rows) = csv(&app, "/incidents.csv?since=2026-11-20").await;
    assert_eq!(rows.len(), 1, "only the header: {rows:?}");
    for (path, field) in [
        ("/incidents.csv?severity=sev9", "severity"),
        ("/incidents.csv?since=2026-13-01", "since"),
        (
            "/incidents.csv?customer_update_overdue=maybe",
            "customer_update_overdue",
        ),
    ] {
        assert_problem(app.get(path).await, 422, Some(field)).await;
    }
    // Read scope; without a token, nothing.
    let read = app.token("read").await;
    let resp = app
        .client
        .get(app.url("/api/v1/incidents.csv"))
        .bearer_auth(read)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = app
        .client
        .get(app.url("/api/v1/incidents.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn remediations_export_follows_the_list_filters() {
    let app = spawn_app().await;
    app.simple_incident().await;
    app.simple_incident().await;
    for (title, status, incidents) in [
        (
            "Add canary, then \"bake\"",
            "open",
            json!(["INC-1", "INC-2"]),
        ),
        ("-Remove the cron", "blocked", json!(["INC-2"])),
        ("Write runbook", "done", json!(["INC-1"])),
    ] {
        let resp = app
            .post(
                "/remediations",
                json!({"title": title, "kind": "prevent", "priority": "p1",
                       "incidents": incidents, "team": "payments", "due_date": "2026-11-30"}),
            )
            .await;
        assert_eq!(resp.status(), 201);
        let item: serde_json::Value = resp.json().await.unwrap();
        if status != "open" {
            let resp = app
                .patch(
                    &format!("/remediations/{}", item["ref"].as_str().unwrap()),
                    json!({"status": status, "reason": "waiting on vendor"}),
                )
                .await;
            assert_eq!(resp.status(), 200, "{status}");
        }
    }
    let (resp, rows) = csv(&app, "/remediations.csv").await;
    assert_eq!(
        resp.headers()["content-disposition"],
        "attachment; filename=\"remediations.csv\""
    );
    assert_eq!(rows.len(), 4);
    let titles = column(&rows, "title");
    assert!(
        titles.contains(&"Add canary, then \"bake\"".to_string()),
        "{titles:?}"
    );
    assert!(
        titles.contains(&"'-Remove the cron".to_string()),
        "{titles:?}"
    );
    let (_, rows) = csv(&app, "/remediations.csv?status=open,blocked&incident=INC-2").await;
    let mut refs = column(&rows, "reference");
    refs.sort();
    assert_eq!(refs, ["REM-1", "REM-2"]);
    let linked = column(&rows, "incidents");
    assert!(linked.contains(&"INC-1; INC-2".to_string()), "{linked:?}");
    assert_eq!(column(&rows, "due_date")[0], "2026-11-30");
    for (path, field) in [
        ("/remediations.csv?status=open,later", "status"),
        ("/remediations.csv?due_before=soon", "due_before"),
        ("/remediations.csv?incident=INC-x", "incident"),
    ] {
        assert_problem(app.get(path).await, 422, Some(field)).await;
    }
    let resp = app.get("/remediations.csv?incident=INC-99").await;
    assert_problem(resp, 404, None).await;
}

#[tokio::test]
async fn stats_export_has_a_row_per_figure() {
    let app = spawn_app().await;
    app.create_incident(json!({"title": "A", "severity": "sev1",
        "started_at": "2026-11-17T10:00:00Z", "resolved_at": "2026-11-17T11:00:00Z"}))
        .await;
    let resp = app
        .api(Method::PUT, "/incidents/INC-1/postmortem")
        .json(&json!({"contributing_factors": [{"factor": "change_deploy"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (resp, rows) = csv(&app, "/stats.csv?from=2026-11-16&to=2026-11-22").await;
    assert_eq!(
        resp.headers()["content-disposition"],
        "attachment; filename=\"stats-20261116T000000Z-20261123T000000Z.csv\""
    );
    assert_eq!(rows[0], ["from", "to", "figure", "key", "value"]);
    let find = |figure: &str, key: &str| -> String {
        rows.iter()
            .find(|r| r[2] == figure && r[3] == key)
            .unwrap_or_else(|| panic!("no row {figure} {key}"))[4]
            .clone()
    };
    assert_eq!(rows[1][0], "2026-11-16T00:00:00Z");
    assert_eq!(rows[1][1], "2026-11-23T00:00:00Z");
    assert_eq!(find("incidents_opened", "sev1"), "1");
    assert_eq!(find("incidents_opened", "total"), "1");
    assert_eq!(find("time_to_median_seconds", "resolve"), "3600");
    assert_eq!(find("time_to_median_seconds", "detect"), "", "no figure");
    assert_eq!(find("contributing_factor_total", "change_deploy"), "1");
    assert_eq!(find("contributing_factor_sev1", "change_deploy"), "1");
    assert_eq!(find("contributing_factor_total", "unknown"), "0");
    assert_eq!(find("remediations_completion_rate", ""), "");
    for (path, field) in [
        ("/stats.csv?from=2026-11-16&to=2026-11-01", "to"),
        ("/stats.csv?from=2024-01-01&to=2026-01-01", "to"),
        ("/stats.csv?from=2026-02-30&to=2026-03-01", "from"),
        ("/stats.csv?to=2026-03-01", "from"),
    ] {
        assert_problem(app.get(path).await, 422, Some(field)).await;
    }
}

/// 5,000 incidents: the body arrives in several chunks (a page of rows
/// each), every row once.
#[tokio::test]
async fn a_large_export_streams_in_chunks() {
    let app = spawn_app().await;
    let db = &app.context.db;
    for batch in 0..10 {
        let rows = (0..500).map(|i| {
            let n = batch * 500 + i + 1;
            let at = t0() - Duration::minutes(n);
            incident::Model {
                id: uuid::Uuid::new_v4(),
                number: n,
                title: format!("Incident {n}, \"bulk\""),
                severity: Severity::Sev3,
                status: IncidentStatus::Resolved,
                customer_impact: None,
                affected_components: vec!["api".to_string()].into(),
                chat_room_url: None,
                labels: Vec::<String>::new().into(),
                started_at: Some(at),
                detected_at: None,
                acknowledged_at: None,
                mitigated_at: None,
                resolved_at: Some(at + Duration::minutes(5)),
                closed_at: None,
                last_customer_update_at: None,
                sitrep_count: 0,
                version: 1,
                created_at: at,
                updated_at: at,
            }
            .into_active_model()
        });
        incident::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await
            .unwrap();
    }
    let mut resp = app.get("/incidents.csv").await;
    assert_eq!(resp.status(), 200);
    let mut chunks = 0;
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.unwrap() {
        chunks += 1;
        body.extend_from_slice(&chunk);
    }
    let rows = records(&String::from_utf8(body).unwrap());
    assert_eq!(rows.len(), 5001);
    assert!(chunks >= 10, "a chunk per page of 500 at least: {chunks}");
    let mut numbers: Vec<i64> = column(&rows, "reference")
        .iter()
        .map(|r| r.trim_start_matches("INC-").parse().unwrap())
        .collect();
    assert_eq!(numbers[0], 5000);
    numbers.dedup();
    assert_eq!(numbers.len(), 5000, "every incident once");
    assert_eq!(column(&rows, "title")[0], "Incident 5000, \"bulk\"");
}

/// An export declares its list's parameters again (poem-openapi declares
/// parameters per operation): the spec must show the same ones, with the
/// same schemas, but for the list's paging (`limit`, `cursor`).
#[test]
fn each_export_takes_exactly_its_lists_filters() {
    let spec: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.yaml"))
            .expect("openapi/openapi.yaml"),
    )
    .expect("the spec is YAML");
    let parameters = |path: &str| -> Vec<serde_yaml::Value> {
        let mut params: Vec<serde_yaml::Value> = spec["paths"][path]["get"]["parameters"]
            .as_sequence()
            .unwrap_or_else(|| panic!("GET {path} has parameters"))
            .iter()
            .filter(|p| !matches!(p["name"].as_str(), Some("limit" | "cursor")))
            .cloned()
            .collect();
        params.sort_by_key(|p| p["name"].as_str().unwrap_or_default().to_string());
        params
    };
    for (list, export) in [
        ("/incidents", "/incidents.csv"),
        ("/remediations", "/remediations.csv"),
    ] {
        assert!(parameters(list).len() >= 4, "GET {list} has its filters");
        assert_eq!(
            parameters(list),
            parameters(export),
            "GET {export} must take the filters of GET {list}"
        );
    }
}
