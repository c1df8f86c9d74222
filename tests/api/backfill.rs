//! Bringing history in whole: post-mortems that are `not_required`,
//! imported history marked so, and remediation items due in the past.

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app, spawn_app_with};

async fn put_postmortem(app: &TestApp, reference: &str, body: Value) -> Response {
    app.api(Method::PUT, &format!("/incidents/{reference}/postmortem"))
        .json(&body)
        .send()
        .await
        .expect("request")
}

async fn get_json(app: &TestApp, path: &str) -> Value {
    let resp = app.get(path).await;
    assert_eq!(resp.status(), 200, "GET {path}");
    resp.json().await.unwrap()
}

/// The week's digest figures (a preview: nothing is stored).
async fn digest(app: &TestApp, week: &str) -> Value {
    let resp = app.post("/digests", json!({ "week": week })).await;
    assert_eq!(resp.status(), 200, "digest preview of {week}");
    resp.json().await.unwrap()
}

fn statuspage_2019() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/statuspage/cloudflare-2019-07-02-waf-regex-cpu-exhaustion.json"
    ))
    .expect("fixture")
}

async fn import_statuspage(app: &TestApp, query: &str) -> Value {
    let resp = app
        .api(Method::POST, &format!("/imports/statuspage{query}"))
        .header("content-type", "application/json")
        .body(statuspage_2019())
        .send()
        .await
        .expect("request");
    let status = resp.status();
    let report: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{report}");
    report
}

fn postmortem_counts(report: &Value) -> (u64, u64, u64) {
    let c = &report["counts"]["postmortems"];
    (
        c["created"].as_u64().unwrap(),
        c["updated"].as_u64().unwrap(),
        c["unchanged"].as_u64().unwrap(),
    )
}

#[tokio::test]
async fn a_not_required_postmortem_is_never_due_and_is_not_published() {
    let app = spawn_app().await;
    // sev1, started on the Monday of the tests' week: due after 3 days,
    // the day before the tests' "now".
    app.create_incident(json!({"title": "Replica lag", "severity": "sev1",
                               "started_at": "2026-11-16T08:00:00Z"}))
        .await;
    let pm = get_json(&app, "/incidents/INC-1/postmortem").await;
    assert_eq!(pm["overdue"], true);
    assert_eq!(pm["due_date"], "2026-11-19");

    // Refused, each for its reason; nothing changes.
    let cases = [
        (
            json!({"status": "not_required"}),
            422,
            "not_required_reason",
            "no reason",
        ),
        (
            json!({"status": "not_required", "not_required_reason": " \n "}),
            422,
            "not_required_reason",
            "a blank reason",
        ),
        (
            json!({"status": "not_required", "not_required_reason": "x".repeat(2001)}),
            422,
            "not_required_reason",
            "a reason over 2,000 characters",
        ),
        (
            json!({"status": "in_review", "not_required_reason": "Duplicate of INC-7"}),
            422,
            "not_required_reason",
            "a reason without `not_required`",
        ),
    ];
    for (body, status, field, why) in cases {
        let resp = put_postmortem(&app, "INC-1", body).await;
        assert_eq!(resp.status(), status, "{why}");
        assert_problem(resp, status, Some(field)).await;
    }
    assert_eq!(
        get_json(&app, "/incidents/INC-1/postmortem").await["version"],
        pm["version"],
        "nothing changed"
    );

    let resp = put_postmortem(
        &app,
        "INC-1",
        json!({"status": "not_required", "not_required_reason": "Duplicate of INC-7"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let pm: Value = resp.json().await.unwrap();
    assert_eq!(pm["status"], "not_required");
    assert_eq!(pm["not_required_reason"], "Duplicate of INC-7");
    assert_eq!(pm["overdue"], false);
    assert_eq!(pm["due_date"], Value::Null);
    assert_eq!(pm["due_date_source"], "not_required");

    // Not due, not overdue: the digest neither counts nor lists it.
    let week = digest(&app, "2026-W47").await;
    assert_eq!(week["stats"]["postmortems"]["due"], 0);
    assert_eq!(week["stats"]["postmortems"]["overdue"], 0);
    assert_eq!(week["stats"]["postmortems"]["overdue_items"], json!([]));
    assert_eq!(
        week["stats"]["incidents"][0]["postmortem_status"],
        "not_required"
    );

    // Not published while `not_required`.
    let resp = app
        .post("/incidents/INC-1/postmortem/publish", json!({}))
        .await;
    assert_problem(resp, 409, Some("status")).await;

    // Back to `in_review`: the reason goes, the due date is in force again.
    let resp = put_postmortem(&app, "INC-1", json!({"status": "in_review"})).await;
    assert_eq!(resp.status(), 200);
    let pm: Value = resp.json().await.unwrap();
    assert_eq!(pm["not_required_reason"], Value::Null);
    assert_eq!(pm["due_date"], "2026-11-19");
    assert_eq!(pm["overdue"], true);
    let week = digest(&app, "2026-W47").await;
    assert_eq!(week["stats"]["postmortems"]["due"], 1);
    assert_eq!(week["stats"]["postmortems"]["overdue"], 1);

    // A published post-mortem is withdrawn before it can be `not_required`.
    let resp = app
        .post("/incidents/INC-1/postmortem/publish", json!({}))
        .await;
    assert_eq!(resp.status(), 201);
    let resp = put_postmortem(
        &app,
        "INC-1",
        json!({"status": "not_required", "not_required_reason": "Duplicate of INC-7"}),
    )
    .await;
    assert_problem(resp, 409, Some("status")).await;
    let resp = app
        .post("/incidents/INC-1/postmortem/unpublish", json!({}))
        .await;
    assert_eq!(resp.status(), 200);
    let resp = put_postmortem(
        &app,
        "INC-1",
        json!({"status": "not_required", "not_required_reason": "Duplicate of INC-7"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn imported_history_needs_no_postmortem_and_old_follow_ups_are_overdue() {
    let app = spawn_app().await;
    let report = import_statuspage(&app, "?history_before=2026-01-01").await;
    assert_eq!(report["incidents"], json!(["INC-1"]));
    let pm = get_json(&app, "/incidents/INC-1/postmortem").await;
    assert_eq!(pm["status"], "not_required");
    assert_eq!(
        pm["not_required_reason"],
        "imported history: resolved before 2026-01-01"
    );
    assert_eq!(pm["overdue"], false);
    // Importing it again changes nothing.
    let again = import_statuspage(&app, "?history_before=2026-01-01").await;
    assert_eq!(postmortem_counts(&again), (0, 0, 0));
    assert_eq!(again["counts"]["incidents"]["updated"], 0, "{again}");

    // A follow-up from last year, entered now: overdue from the start.
    let resp = app
        .post(
            "/remediations",
            json!({"title": "Bound regex backtracking in WAF rules", "kind": "prevent",
                   "priority": "p1", "owner": "ana@example.com", "team": "edge",
                   "due_date": "2025-11-20", "incidents": ["INC-1"]}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let item: Value = resp.json().await.unwrap();
    assert_eq!(item["due_date"], "2025-11-20");
    assert_eq!(item["overdue"], true);
    let overdue = get_json(&app, "/remediations?overdue=true").await;
    assert_eq!(overdue["items"][0]["ref"], "REM-1");
    // A due date moved into the past is accepted too; one that does not
    // exist is not.
    let resp = app
        .patch("/remediations/REM-1", json!({"due_date": "2025-10-01"}))
        .await;
    assert_eq!(resp.status(), 200);
    let resp = app
        .patch("/remediations/REM-1", json!({"due_date": "2025-02-29"}))
        .await;
    assert_problem(resp, 422, Some("due_date")).await;

    // A week in 2026: nothing from the 2019 incident is overdue, the
    // follow-up is.
    let week = digest(&app, "2026-W47").await;
    let postmortems = &week["stats"]["postmortems"];
    assert_eq!(postmortems["overdue"], 0, "{postmortems}");
    assert_eq!(postmortems["overdue_items"], json!([]));
    let remediations = &week["stats"]["remediations"];
    assert_eq!(remediations["overdue"], 1);
    assert_eq!(remediations["overdue_items"][0]["reference"], "REM-1");
    assert_eq!(remediations["overdue_items"][0]["days_overdue"], 418);
    let markdown = week["markdown"].as_str().unwrap();
    assert!(
        markdown.contains("No post-mortem is overdue."),
        "{markdown}"
    );
    assert!(markdown.contains("REM-1"), "{markdown}");
}

#[tokio::test]
async fn the_setting_is_the_default_and_the_import_option_overrides_it() {
    let app = spawn_app_with(|s| s.imports.history_before = "2026-01-01".parse().ok()).await;
    // An earlier day: the 2019 incident was resolved after it.
    import_statuspage(&app, "?history_before=2019-01-01").await;
    let pm = get_json(&app, "/incidents/INC-1/postmortem").await;
    assert_eq!(pm["status"], "draft");
    assert_eq!(pm["overdue"], true, "a 2019 draft is overdue");

    // The setting: the stored incident's post-mortem is marked, once.
    let report = import_statuspage(&app, "").await;
    assert_eq!(postmortem_counts(&report), (0, 1, 0), "{report}");
    let pm = get_json(&app, "/incidents/INC-1/postmortem").await;
    assert_eq!(pm["status"], "not_required");
    let report = import_statuspage(&app, "").await;
    assert_eq!(postmortem_counts(&report), (0, 0, 0), "{report}");

    // The bundle carries it (as the schema says), and a fresh database
    // takes it as it is.
    let bundle = get_json(&app, "/incidents/INC-1/bundle").await;
    let schema = serde_json::from_str(include_str!("../../openapi/bundle.schema.json")).unwrap();
    let errors: Vec<String> = jsonschema::validator_for(&schema)
        .unwrap()
        .iter_errors(&bundle)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(bundle["postmortem"]["status"], "not_required");
    assert_eq!(
        bundle["postmortem"]["not_required_reason"],
        "imported history: resolved before 2026-01-01"
    );
    let other = spawn_app().await;
    let resp = other
        .api(Method::POST, "/imports/bundle")
        .json(&bundle)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let pm = get_json(&other, "/incidents/INC-1/postmortem").await;
    assert_eq!(pm["status"], "not_required");
    assert_eq!(pm["overdue"], false);
    assert_eq!(get_json(&other, "/incidents/INC-1/bundle").await, bundle);

    // A bundle saying `not_required` without a reason is refused.
    let mut bad = bundle.clone();
    bad["postmortem"]
        .as_object_mut()
        .unwrap()
        .remove("not_required_reason");
    let resp = spawn_app()
        .await
        .api(Method::POST, "/imports/bundle")
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_problem(resp, 422, Some("postmortem.not_required_reason")).await;
}
