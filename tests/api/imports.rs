//! Imports (bundle, Statuspage, PagerDuty, Slack) and the bundle export.
//!
//! The real incidents in `tests/fixtures/realcases/` (our own summary
//! format) are converted here into each import format; the Statuspage files
//! in `tests/fixtures/statuspage/` are real Statuspage JSON.

use chrono::{DateTime, Duration, Utc};
use reqwest::{Method, Response};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, assert_problem, spawn_app, spawn_app_with};

const REALCASES: [&str; 3] = [
    "cloudflare-2019-07-02-waf-regex-cpu-exhaustion",
    "github-2023-09-05-primary-database-partial-host-failure",
    "stripe-2019-07-10-api-database-election-failure",
];

fn fixture(path: &str) -> Value {
    let file = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&file).expect(&file)).expect("fixture is JSON")
}

fn realcase(slug: &str) -> Value {
    fixture(&format!("realcases/{slug}.json"))
}

async fn import_raw(app: &TestApp, format: &str, query: &str, body: Vec<u8>) -> Response {
    app.api(Method::POST, &format!("/imports/{format}{query}"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request")
}

async fn import(app: &TestApp, format: &str, query: &str, body: &Value) -> Response {
    import_raw(app, format, query, serde_json::to_vec(body).unwrap()).await
}

/// Import and expect success; returns the report.
async fn import_ok(app: &TestApp, format: &str, query: &str, body: &Value) -> Value {
    let resp = import(app, format, query, body).await;
    let status = resp.status();
    let report: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{report}");
    report
}

fn counts(report: &Value, kind: &str) -> (u64, u64, u64) {
    let c = &report["counts"][kind];
    (
        c["created"].as_u64().unwrap(),
        c["updated"].as_u64().unwrap(),
        c["unchanged"].as_u64().unwrap(),
    )
}

/// Nothing was created or updated, of any kind.
fn nothing_changed(report: &Value) {
    for (kind, c) in report["counts"].as_object().unwrap() {
        assert_eq!(c["created"], 0, "{kind} created in {report}");
        assert_eq!(c["updated"], 0, "{kind} updated in {report}");
    }
}

async fn get_json(app: &TestApp, path: &str) -> Value {
    let resp = app.get(path).await;
    assert_eq!(resp.status(), 200, "GET {path}");
    resp.json().await.unwrap()
}

async fn export(app: &TestApp, reference: &str) -> Value {
    get_json(app, &format!("/incidents/{reference}/bundle")).await
}

fn at(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

/// The same instant, whatever the offset notation.
fn assert_time(value: &Value, expected: &str) {
    assert_eq!(at(value), at(&json!(expected)), "{value} is not {expected}");
}

// ---------------------------------------------------------------- converters

/// A realcase as a Debrief bundle.
fn realcase_bundle(case: &Value) -> Value {
    let timeline: Vec<Value> = case["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            json!({
                "id": Uuid::new_v4(),
                "occurred_at": e["at"],
                "kind": e["kind"],
                "body": e["text"],
                "author": null,
                "source": "import",
                "external_id": null,
                "visibility": if e["kind"] == "communication" { "public" } else { "internal" },
            })
        })
        .collect();
    let updates: Vec<Value> = case["status_updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            json!({
                "id": Uuid::new_v4(),
                "status": u["status"],
                "message": u["text"],
                "affected_components": [],
                "posted_at": u["at"],
            })
        })
        .collect();
    let remediation: Vec<Value> = case["remediation_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let text = r["text"].as_str().unwrap();
            json!({
                "id": Uuid::new_v4(),
                "title": text.chars().take(300).collect::<String>(),
                "description": text,
                "kind": r["kind"],
                "priority": "p2",
                "status": "open",
                "created_at": case["resolved_at"],
            })
        })
        .collect();
    json!({
        "format": "debrief-bundle",
        "version": 1,
        "incident": {
            "id": Uuid::new_v4(),
            "title": case["title"],
            "severity": "sev1",
            "status": "resolved",
            "customer_impact": case["customer_impact"],
            "affected_components": case["affected_components"],
            "labels": [case["organization"].as_str().unwrap().to_lowercase()],
            "started_at": case["started_at"],
            "detected_at": case["detected_at"],
            "mitigated_at": case["mitigated_at"],
            "resolved_at": case["resolved_at"],
            "created_at": case["started_at"],
        },
        "roles": [{
            "id": Uuid::new_v4(),
            "role": "incident_commander",
            "person": format!("{} on-call", case["organization"].as_str().unwrap()),
            "assigned_at": case["started_at"],
        }],
        "status_updates": updates,
        "remediation_items": remediation,
        "timeline": timeline,
    })
}

/// A realcase's timeline as PagerDuty log entries: the first detection is the
/// trigger, an acknowledgement follows a minute later, mitigations and
/// actions are annotations, the resolution resolves.
fn realcase_pagerduty(case: &Value) -> Value {
    let mut entries = Vec::new();
    let mut triggered = false;
    for (i, e) in case["timeline"].as_array().unwrap().iter().enumerate() {
        let entry_type = match e["kind"].as_str().unwrap() {
            "detection" if !triggered => {
                triggered = true;
                "trigger_log_entry"
            }
            "resolution" => "resolve_log_entry",
            "communication" => "notify_log_entry",
            _ => "annotate_log_entry",
        };
        entries.push(json!({
            "id": format!("R{i:04}"),
            "type": entry_type,
            "summary": e["text"],
            "created_at": e["at"],
            "agent": {"id": "PUSER1", "type": "user_reference", "summary": "Dana Ops"},
            "channel": {"type": "web_ui"},
        }));
        if entry_type == "trigger_log_entry" {
            let ack = at(&e["at"]) + Duration::minutes(1);
            entries.push(json!({
                "id": format!("A{i:04}"),
                "type": "acknowledge_log_entry",
                "summary": "Acknowledged by Dana Ops",
                "created_at": ack,
                "agent": {"summary": "Dana Ops"},
            }));
        }
    }
    entries.push(json!({
        "id": "SNOOZE1",
        "type": "snooze_log_entry",
        "summary": "Snoozed",
        "created_at": case["resolved_at"],
    }));
    json!({"log_entries": entries, "limit": 100, "offset": 0, "more": false})
}

/// A realcase's timeline as a Slack channel export, with a join and a bot
/// message that must be skipped.
fn realcase_slack(case: &Value) -> Value {
    let mut messages = vec![json!({
        "type": "message", "subtype": "channel_join", "user": "U1",
        "text": "<@U1> has joined the channel", "ts": "1000000000.000100"
    })];
    for (i, e) in case["timeline"].as_array().unwrap().iter().enumerate() {
        let t = at(&e["at"]);
        messages.push(json!({
            "type": "message",
            "user": "U2",
            "user_profile": {"real_name": "Sam Responder", "display_name": "sam"},
            "text": e["text"],
            "ts": format!("{}.{:06}", t.timestamp(), i),
        }));
    }
    messages.push(json!({
        "type": "message", "subtype": "bot_message", "bot_id": "B1",
        "text": "Deploy finished", "ts": "1000000001.000200"
    }));
    Value::Array(messages)
}

// ---------------------------------------------------------------- statuspage

#[tokio::test]
async fn statuspage_page_becomes_incidents_with_public_updates_and_is_idempotent() {
    let app = spawn_app().await;
    let page = fixture("statuspage/incidents-page.json");
    let report = import_ok(&app, "statuspage", "", &page).await;
    assert_eq!(report["incidents"], json!(["INC-1", "INC-2", "INC-3"]));
    assert_eq!(counts(&report, "incidents"), (3, 0, 0));
    assert_eq!(counts(&report, "status_updates"), (21, 0, 0));
    assert_eq!(counts(&report, "timeline_events"), (21, 0, 0));

    let cloudflare = get_json(&app, "/incidents/INC-1").await;
    assert_eq!(cloudflare["severity"], "sev1", "critical → sev1");
    assert_eq!(cloudflare["status"], "resolved");
    assert_time(&cloudflare["started_at"], "2019-07-02T13:42:00Z");
    assert_time(&cloudflare["mitigated_at"], "2019-07-02T14:15:00Z");
    assert_time(&cloudflare["resolved_at"], "2019-07-02T14:52:00Z");
    assert_eq!(get_json(&app, "/incidents/INC-2").await["severity"], "sev2");
    let stripe = get_json(&app, "/incidents/INC-3").await;
    assert_eq!(stripe["severity"], "sev2", "major → sev2");
    assert_time(&stripe["started_at"], "2019-07-10T16:35:00Z");

    let updates = get_json(&app, "/incidents/INC-1/status-updates").await;
    let statuses: Vec<&str> = updates["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["investigating", "monitoring", "resolved"]);
    assert!(
        updates["items"][2]["affected_components"]
            .as_array()
            .unwrap()
            .contains(&json!("WAF Managed Rules (Lua WAF using PCRE)"))
    );
    let timeline = get_json(&app, "/incidents/INC-1/timeline?visibility=public").await;
    let events = timeline["items"].as_array().unwrap();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e["kind"] == "communication"
        && e["source"] == "statuspage"
        && e["visibility"] == "public"));

    let again = import_ok(&app, "statuspage", "", &page).await;
    nothing_changed(&again);
    assert_eq!(counts(&again, "incidents"), (0, 0, 3));
    assert_eq!(counts(&again, "status_updates"), (0, 0, 21));
    assert_eq!(again["incidents"], json!(["INC-1", "INC-2", "INC-3"]));
    let list = get_json(&app, "/incidents").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn statuspage_single_incident_and_a_changed_update_is_updated() {
    let app = spawn_app().await;
    let page = fixture("statuspage/cloudflare-2019-07-02-waf-regex-cpu-exhaustion.json");
    let mut incident = page["incidents"][0].clone();
    incident["status"] = json!("postmortem");
    let report = import_ok(&app, "statuspage", "", &incident).await;
    assert_eq!(counts(&report, "incidents"), (1, 0, 0));
    assert_eq!(
        get_json(&app, "/incidents/INC-1").await["status"],
        "resolved",
        "postmortem maps to resolved"
    );

    incident["incident_updates"][0]["body"] = json!("Resolved; a post-mortem follows.");
    let report = import_ok(&app, "statuspage", "", &incident).await;
    assert_eq!(counts(&report, "incidents"), (0, 0, 1));
    assert_eq!(counts(&report, "status_updates"), (0, 1, 2));
    assert_eq!(counts(&report, "timeline_events"), (0, 1, 2));
}

// ---------------------------------------------------------------- pagerduty

#[tokio::test]
async fn pagerduty_log_entries_fill_the_timeline_and_milestones() {
    let app = spawn_app().await;
    let case = realcase("stripe-2019-07-10-api-database-election-failure");
    app.create_incident(json!({"title": "Stripe API degraded", "severity": "sev1", "started_at": case["started_at"]}))
        .await;
    let log = realcase_pagerduty(&case);
    let report = import_ok(&app, "pagerduty", "?incident=INC-1", &log).await;
    let entries = log["log_entries"].as_array().unwrap().len() as u64;
    assert_eq!(counts(&report, "timeline_events"), (entries - 1, 0, 0));
    assert_eq!(report["skipped"], 1, "the snooze entry");

    let incident = get_json(&app, "/incidents/INC-1").await;
    assert_time(&incident["detected_at"], "2019-07-10T16:36:00Z");
    assert_time(&incident["acknowledged_at"], "2019-07-10T16:37:00Z");
    let timeline = get_json(&app, "/incidents/INC-1/timeline?kind=acknowledgement").await;
    let ack = &timeline["items"][0];
    assert_eq!(ack["source"], "pagerduty");
    assert_eq!(ack["author"], "Dana Ops");
    assert_eq!(ack["external_id"], "A0001");
    let pages = get_json(&app, "/incidents/INC-1/timeline?kind=detection").await;
    assert_eq!(pages["items"].as_array().unwrap().len(), 1);

    let again = import_ok(&app, "pagerduty", "?incident=INC-1", &log).await;
    nothing_changed(&again);
    assert_eq!(counts(&again, "timeline_events"), (0, 0, entries - 1));
    assert_eq!(
        get_json(&app, "/incidents/INC-1").await["version"],
        incident["version"],
        "the second import did not touch the incident"
    );
}

// ---------------------------------------------------------------- slack

#[tokio::test]
async fn slack_export_becomes_internal_notes_without_noise() {
    let app = spawn_app().await;
    let case = realcase("cloudflare-2019-07-02-waf-regex-cpu-exhaustion");
    app.simple_incident().await;
    let export = realcase_slack(&case);
    let report = import_ok(&app, "slack", "?incident=INC-1", &export).await;
    let n = case["timeline"].as_array().unwrap().len() as u64;
    assert_eq!(counts(&report, "timeline_events"), (n, 0, 0));
    assert_eq!(report["skipped"], 2, "join and bot messages");
    let notes = get_json(&app, "/incidents/INC-1/timeline?kind=note").await;
    let notes = notes["items"].as_array().unwrap();
    assert_eq!(notes.len() as u64, n);
    assert!(notes.iter().all(|e| e["source"] == "chat"
        && e["visibility"] == "internal"
        && e["author"] == "Sam Responder"));
    assert_eq!(notes[0]["external_id"], export[1]["ts"]);

    let again = import_ok(&app, "slack", "?incident=INC-1", &export).await;
    nothing_changed(&again);
}

// ---------------------------------------------------------------- bundle

#[tokio::test]
async fn realcase_bundles_import_export_and_reimport_identically() {
    let app = spawn_app().await;
    let empty = spawn_app().await;
    for (n, slug) in REALCASES.iter().enumerate() {
        let reference = format!("INC-{}", n + 1);
        let case = realcase(slug);
        let bundle = realcase_bundle(&case);
        let report = import_ok(&app, "bundle", "", &bundle).await;
        assert_eq!(report["incidents"], json!([reference]));
        assert_eq!(
            counts(&report, "timeline_events").0 as usize,
            case["timeline"].as_array().unwrap().len()
        );
        assert_eq!(
            counts(&report, "remediation_items").0 as usize,
            case["remediation_items"].as_array().unwrap().len()
        );
        let again = import_ok(&app, "bundle", "", &bundle).await;
        nothing_changed(&again);

        let first = export(&app, &reference).await;
        assert_eq!(first["incident"]["id"], bundle["incident"]["id"]);
        assert_eq!(
            first["timeline"].as_array().unwrap().len(),
            case["timeline"].as_array().unwrap().len()
        );
        import_ok(&empty, "bundle", "", &first).await;
        let second = export(&empty, &reference).await;
        assert_eq!(first, second, "{slug}: export → import → export");
    }
    let summary = get_json(&app, "/remediations/summary").await;
    assert!(
        summary.to_string().contains("p2"),
        "counts kept in step: {summary}"
    );
}

/// An incident built through the API, with every kind of record, survives
/// export → import into an empty database → export unchanged.
#[tokio::test]
async fn api_built_incident_round_trips_through_a_bundle() {
    let app = spawn_app().await;
    app.create_incident(json!({
        "title": "Checkout errors", "severity": "sev2", "labels": ["payments"],
        "affected_components": ["checkout"], "customer_impact": "Some payments fail"
    }))
    .await;
    for person in ["Ana", "Ben"] {
        app.post(
            "/incidents/INC-1/roles",
            json!({"role": "incident_commander", "person": person}),
        )
        .await;
    }
    app.post(
        "/incidents/INC-1/roles",
        json!({"role": "comms", "person": "Cleo"}),
    )
    .await;
    let resp = app
        .post(
            "/incidents/INC-1/sitreps",
            json!({"summary": "Checkout failing", "open_issues": ["Which deploy?"],
                   "status_update": {"status": "investigating", "message": "We are investigating."}}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    app.post(
        "/incidents/INC-1/sitreps",
        json!({"summary": "Rolled back"}),
    )
    .await;
    app.post(
        "/incidents/INC-1/cleanup-items",
        json!({"kind": "silenced_alert", "description": "Silenced disk alert", "owner": "Ana"}),
    )
    .await;
    let resp = app
        .post(
            "/remediations",
            json!({"title": "Add canary", "kind": "prevent", "priority": "p1", "incidents": ["INC-1"], "team": "payments"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    app.post(
        "/incidents/INC-1/timeline",
        json!({"kind": "action", "body": "Rolled back \"web\" tier: regex \\d+ {a,b} NULL ✓", "occurred_at": "2026-11-20T10:05:00.123456Z"}),
    )
    .await;

    // The post-mortem is created with its default sections on first read.
    assert_eq!(app.get("/incidents/INC-1/postmortem").await.status(), 200);
    let first = export(&app, "INC-1").await;
    assert!(
        first["postmortem"]["sections"].as_array().unwrap().len() > 5,
        "{first}"
    );
    assert_eq!(first["roles"].as_array().unwrap().len(), 3);
    assert_eq!(first["sitreps"].as_array().unwrap().len(), 2);
    assert_eq!(first["status_updates"].as_array().unwrap().len(), 1);
    assert_eq!(first["cleanup_items"].as_array().unwrap().len(), 1);
    assert_eq!(first["remediation_items"].as_array().unwrap().len(), 1);
    assert!(first["timeline"].as_array().unwrap().len() >= 5, "{first}");

    let empty = spawn_app().await;
    let report = import_ok(&empty, "bundle", "", &first).await;
    assert_eq!(counts(&report, "roles"), (3, 0, 0));
    assert_eq!(counts(&report, "sitreps"), (2, 0, 0));
    assert_eq!(counts(&report, "postmortems"), (1, 0, 0));
    let second = export(&empty, "INC-1").await;
    assert_eq!(first, second);
    // The imported incident is a working incident: the next sitrep is 3.
    let resp = empty
        .post("/incidents/INC-1/sitreps", json!({"summary": "Next"}))
        .await;
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.json::<Value>().await.unwrap()["version"], 3);
    let incident = get_json(&empty, "/incidents/INC-1").await;
    assert_time(
        &incident["last_customer_update_at"],
        first["status_updates"][0]["posted_at"].as_str().unwrap(),
    );

    // And the same file into the first database changes nothing.
    nothing_changed(&import_ok(&app, "bundle", "", &first).await);
}

/// What the service derives from an incident's records: the remediation
/// count groups and list, and the incident's record counts, current sitrep
/// and last customer update.
async fn derived(app: &TestApp) -> Value {
    let detail = get_json(app, "/incidents/INC-1").await;
    let remediations: Vec<Value> = get_json(app, "/remediations").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            json!([
                r["ref"],
                r["status"],
                r["team"],
                r["priority"],
                r["overdue"],
                r["incidents"]
            ])
        })
        .collect();
    json!({
        "summary": get_json(app, "/remediations/summary").await,
        "remediations": remediations,
        "counts": detail["counts"],
        "sitrep": detail["current_sitrep"]["version"],
        "last_customer_update_at": detail["last_customer_update_at"],
        "customer_update_overdue": detail["customer_update_overdue"],
        "roles": detail["roles"].as_array().unwrap().len(),
    })
}

/// The importer writes through the API's service functions: an API-built
/// incident, exported and imported into an empty database, derives the
/// same counts there, and importing it again (there or into the first
/// database) changes nothing, counts included.
#[tokio::test]
async fn an_import_derives_what_the_api_derives_and_again_changes_nothing() {
    let app = spawn_app().await;
    app.create_incident(json!({"title": "Checkout errors", "severity": "sev2"}))
        .await;
    app.post(
        "/incidents/INC-1/roles",
        json!({"role": "incident_commander", "person": "Ana"}),
    )
    .await;
    let posts = [
        (
            "sitreps",
            json!({"summary": "Failing", "status_update": {"status": "investigating", "message": "Looking."}}),
        ),
        ("sitreps", json!({"summary": "Rolled back"})),
        (
            "status-updates",
            json!({"status": "monitoring", "message": "Fix deployed."}),
        ),
        (
            "cleanup-items",
            json!({"kind": "silenced_alert", "description": "Silenced disk alert"}),
        ),
        (
            "cleanup-items",
            json!({"kind": "feature_flag", "description": "Checkout v2 off"}),
        ),
    ];
    for (path, body) in posts {
        let resp = app.post(&format!("/incidents/INC-1/{path}"), body).await;
        assert_eq!(resp.status(), 201, "{path}");
    }
    let items = get_json(&app, "/incidents/INC-1/cleanup-items").await;
    let kept = format!(
        "/incidents/INC-1/cleanup-items/{}",
        items["items"][1]["id"].as_str().unwrap()
    );
    let resp = app
        .patch(&kept, json!({"status": "kept", "reason": "Stays off"}))
        .await;
    assert_eq!(resp.status(), 200);
    for (title, priority, team, status) in [
        ("Alert on disk", "p0", Some("storage"), None),
        (
            "Add canary",
            "p1",
            Some("web"),
            Some(json!({"status": "done"})),
        ),
        (
            "Rewrite checkout",
            "p2",
            None,
            Some(json!({"status": "wont_do", "reason": "Too big"})),
        ),
        (
            "Load test",
            "p1",
            Some("web"),
            Some(json!({"status": "in_progress"})),
        ),
    ] {
        let resp = app
            .post(
                "/remediations",
                json!({"title": title, "kind": "prevent", "priority": priority, "team": team, "incidents": ["INC-1"]}),
            )
            .await;
        assert_eq!(resp.status(), 201);
        let item: Value = resp.json().await.unwrap();
        if let Some(change) = status {
            let path = format!("/remediations/{}", item["ref"].as_str().unwrap());
            assert_eq!(app.patch(&path, change).await.status(), 200);
        }
    }
    let through_api = derived(&app).await;
    assert_eq!(
        through_api["summary"]["totals"]["closed"], 2,
        "{through_api}"
    );
    let bundle = export(&app, "INC-1").await;

    let empty = spawn_app().await;
    let report = import_ok(&empty, "bundle", "", &bundle).await;
    assert_eq!(counts(&report, "remediation_items"), (4, 0, 0));
    assert_eq!(derived(&empty).await, through_api, "imported");
    // The imported items' history starts with their creation, as the API's.
    let history = &get_json(&empty, "/remediations/REM-3").await["history"];
    assert_eq!(history[0]["field"], "created", "{history}");

    nothing_changed(&import_ok(&empty, "bundle", "", &bundle).await);
    assert_eq!(derived(&empty).await, through_api, "imported twice");
    nothing_changed(&import_ok(&app, "bundle", "", &bundle).await);
    assert_eq!(derived(&app).await, through_api, "imported over itself");
}

// ---------------------------------------------------------------- all or nothing

#[tokio::test]
async fn an_error_at_the_last_entry_leaves_the_database_unchanged() {
    let app = spawn_app().await;
    let mut bundle = realcase_bundle(&realcase(REALCASES[0]));
    let events = bundle["timeline"].as_array_mut().unwrap();
    // Enough events to span several chunks, so some were already written.
    let template = events[0].clone();
    for i in 0..2500 {
        let mut e = template.clone();
        e["id"] = json!(Uuid::new_v4());
        e["body"] = json!(format!("Event {i}"));
        events.push(e);
    }
    let last = events.len() - 1;
    events[last]["kind"] = json!("teleportation");
    let resp = import(&app, "bundle", "", &bundle).await;
    let problem = assert_problem(resp, 422, Some(&format!("timeline[{last}].kind"))).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("teleportation"),
        "{problem}"
    );
    let list = get_json(&app, "/incidents").await;
    assert_eq!(list["items"], json!([]), "nothing landed");
    assert_eq!(get_json(&app, "/remediations").await["items"], json!([]));

    // The same for a foreign format into an existing incident.
    app.simple_incident().await;
    let before = get_json(&app, "/incidents/INC-1/timeline").await;
    let mut slack = realcase_slack(&realcase(REALCASES[1]));
    let n = slack.as_array().unwrap().len();
    slack[n - 2]["ts"] = json!("yesterday");
    let resp = import(&app, "slack", "?incident=INC-1", &slack).await;
    assert_problem(resp, 422, Some(&format!("[{}].ts", n - 2))).await;
    assert_eq!(get_json(&app, "/incidents/INC-1/timeline").await, before);

    // Truncated JSON at the very end.
    let mut bytes = serde_json::to_vec(&realcase_bundle(&realcase(REALCASES[2]))).unwrap();
    bytes.truncate(bytes.len() - 3);
    let resp = import_raw(&app, "bundle", "", bytes).await;
    assert_problem(resp, 400, None).await;
    assert_eq!(
        get_json(&app, "/incidents").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn an_event_repeated_in_a_later_chunk_is_a_conflict_and_nothing_lands() {
    let app = spawn_app().await;
    let mut bundle = realcase_bundle(&realcase(REALCASES[0]));
    let events = bundle["timeline"].as_array_mut().unwrap();
    let template = events[0].clone();
    // More than one chunk, and on PostgreSQL more than one held INSERT.
    for i in 0..12_500 {
        let mut e = template.clone();
        e["id"] = json!(Uuid::new_v4());
        e["body"] = json!(format!("Event {i}"));
        events.push(e);
    }
    let first = events[1].clone();
    events.push(first);
    let resp = import(&app, "bundle", "", &bundle).await;
    let problem = assert_problem(resp, 409, None).await;
    assert!(
        problem["field"]
            .as_str()
            .is_some_and(|f| f.starts_with("timeline[")),
        "{problem}"
    );
    assert_eq!(get_json(&app, "/incidents").await["items"], json!([]));
}

#[tokio::test]
async fn a_dry_run_reports_the_work_and_stores_nothing() {
    let app = spawn_app().await;
    let page = fixture("statuspage/incidents-page.json");
    let report = import_ok(&app, "statuspage", "?dry_run=true", &page).await;
    assert_eq!(report["dry_run"], true);
    assert_eq!(counts(&report, "incidents"), (3, 0, 0));
    assert_eq!(counts(&report, "status_updates"), (21, 0, 0));
    assert_eq!(get_json(&app, "/incidents").await["items"], json!([]));
    let report = import_ok(&app, "statuspage", "", &page).await;
    assert_eq!(report["incidents"], json!(["INC-1", "INC-2", "INC-3"]));
}

#[tokio::test]
async fn bad_imports_are_problems_naming_the_field() {
    let app = spawn_app().await;
    app.simple_incident().await;
    let good = realcase_bundle(&realcase(REALCASES[2]));
    let with = |path: &[&str], value: Value| {
        let mut b = good.clone();
        let (last, parents) = path.split_last().unwrap();
        let mut at = &mut b;
        for p in parents {
            at = match p.parse::<usize>() {
                Ok(i) => &mut at[i],
                Err(_) => &mut at[*p],
            };
        }
        at[*last] = value;
        b
    };
    let cases: Vec<(&str, &str, Value, u16, &str)> = vec![
        ("slack", "", json!([]), 422, "incident"),
        ("pagerduty", "", json!({"log_entries": []}), 422, "incident"),
        ("bundle", "?incident=INC-1", good.clone(), 422, "incident"),
        (
            "statuspage",
            "?incident=INC-1",
            json!({"incidents": []}),
            422,
            "incident",
        ),
        ("slack", "?incident=INC-99", json!([]), 404, ""),
        ("slack", "?incident=nope", json!([]), 422, "incident"),
        ("bundle", "?dry_run=maybe", good.clone(), 422, "dry_run"),
        ("bundle", "", with(&["version"], json!(2)), 422, "version"),
        ("bundle", "", with(&["format"], json!("zip")), 422, "format"),
        ("bundle", "", with(&["colour"], json!("red")), 422, "colour"),
        (
            "bundle",
            "",
            with(&["incident", "severity"], json!("sev9")),
            422,
            "incident.severity",
        ),
        (
            "bundle",
            "",
            with(&["incident", "title"], json!("  ")),
            422,
            "incident.title",
        ),
        (
            "bundle",
            "",
            with(&["incident", "detected_at"], json!("2000-01-01T00:00:00Z")),
            422,
            "incident.started_at,incident.detected_at",
        ),
        (
            "bundle",
            "",
            with(&["roles", "0", "person"], json!("")),
            422,
            "roles[0].person",
        ),
        (
            "bundle",
            "",
            with(&["timeline", "3", "occurred_at"], json!("noon")),
            422,
            "timeline[3].occurred_at",
        ),
        (
            "bundle",
            "",
            with(&["remediation_items", "1", "priority"], json!("p9")),
            422,
            "remediation_items[1].priority",
        ),
        (
            "bundle",
            "",
            json!({"version": 1, "format": "debrief-bundle"}),
            422,
            "incident",
        ),
        ("bundle", "", json!([1, 2]), 422, "body"),
        (
            "statuspage",
            "",
            json!({"incidents": [{"id": "x", "name": "X", "status": "scheduled", "created_at": "2026-01-01T00:00:00Z"}]}),
            422,
            "incidents[0].status",
        ),
        (
            "statuspage",
            "",
            json!({"incidents": [{"id": "x", "name": "X", "status": "resolved", "impact": "huge", "created_at": "2026-01-01T00:00:00Z"}]}),
            422,
            "incidents[0].impact",
        ),
        (
            "statuspage",
            "",
            json!({"incidents": [{"id": "x", "status": "resolved", "created_at": "2026-01-01T00:00:00Z"}]}),
            422,
            "incidents[0].name",
        ),
        (
            "pagerduty",
            "?incident=INC-1",
            json!({"log_entries": [{"id": "Q", "type": "trigger_log_entry"}]}),
            422,
            "log_entries[0].created_at",
        ),
        (
            "pagerduty",
            "?incident=INC-1",
            json!({"entries": []}),
            422,
            "log_entries",
        ),
    ];
    for (format, query, body, status, field) in cases {
        eprintln!("case: {format}{query} expecting {status} {field}");
        let resp = import(&app, format, query, &body).await;
        let field = (!field.is_empty()).then_some(field);
        let got = resp.status();
        let problem = assert_problem(resp, status, field).await;
        assert!(got.is_client_error(), "{format}{query}: {problem}");
    }
    // The timeline is streamed, so it must come after the incident.
    let timeline_first = format!(
        r#"{{"timeline": {}, "format": "debrief-bundle", "version": 1, "incident": {}}}"#,
        good["timeline"], good["incident"]
    );
    let resp = import_raw(&app, "bundle", "", timeline_first.into_bytes()).await;
    assert_problem(resp, 422, Some("timeline")).await;
    let resp = import(&app, "zip", "", &json!({})).await;
    assert_problem(resp, 422, Some("format")).await;
    let resp = app
        .api(Method::POST, "/imports/bundle")
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(resp, 415, Some("Content-Type")).await;
    let resp = import_raw(
        &app,
        "bundle",
        "",
        b"{\"format\": \"debrief-bundle\",".to_vec(),
    )
    .await;
    assert_problem(resp, 400, None).await;
    let resp = app.get("/incidents/INC-42/bundle").await;
    assert_problem(resp, 404, None).await;
    // Nothing of all that landed.
    assert_eq!(
        get_json(&app, "/incidents").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let read = app.token("read").await;
    let resp = app
        .client
        .post(app.url("/api/v1/imports/bundle"))
        .bearer_auth(read)
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_problem(resp, 403, None).await;
}

#[tokio::test]
async fn an_import_over_the_limit_is_refused() {
    let app = spawn_app_with(|s| s.import_limit_bytes = 2048).await;
    let bundle = realcase_bundle(&realcase(REALCASES[0]));
    let resp = import(&app, "bundle", "", &bundle).await;
    assert_problem(resp, 413, Some("body")).await;
    // Streamed without a length: counted as it is read.
    let bytes = serde_json::to_vec(&bundle).unwrap();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(512).map(|c| Ok(c.to_vec())).collect();
    let resp = app
        .api(Method::POST, "/imports/bundle")
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 413, Some("body")).await;
    assert_eq!(get_json(&app, "/incidents").await["items"], json!([]));
}

// ---------------------------------------------------------------- schema

fn schema() -> jsonschema::Validator {
    let schema = serde_json::from_str(include_str!("../../openapi/bundle.schema.json"))
        .expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema")
}

fn assert_valid(validator: &jsonschema::Validator, bundle: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(bundle)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[tokio::test]
async fn the_example_and_exports_validate_against_the_bundle_schema() {
    let validator = schema();
    let example: Value =
        serde_json::from_str(include_str!("../../openapi/bundle.example.json")).unwrap();
    assert_valid(&validator, &example);
    assert!(
        !validator.is_valid(&json!({"format": "debrief-bundle", "version": 1})),
        "the schema is not vacuous"
    );
    let app = spawn_app().await;
    import_ok(&app, "bundle", "", &example).await;
    let exported = export(&app, example["incident"]["id"].as_str().unwrap()).await;
    assert_valid(&validator, &exported);
    assert_eq!(exported, example, "the example is in canonical export form");
    for slug in REALCASES {
        import_ok(&app, "bundle", "", &realcase_bundle(&realcase(slug))).await;
    }
    for n in 2..=4 {
        assert_valid(&validator, &export(&app, &format!("INC-{n}")).await);
    }
}

// ---------------------------------------------------------------- CLI

fn run_cli(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_debrief"))
        .args(args)
        .env("DEBRIEF_DATA_DIR", data)
        .env_remove("DEBRIEF_DATABASE_URL")
        .output()
        .expect("the binary runs")
}

/// The summary line of one kind: (created, updated, unchanged).
fn cli_counts(stdout: &str, kind: &str) -> (u64, u64, u64) {
    let line = stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(kind))
        .unwrap_or_else(|| panic!("no {kind} line in {stdout}"));
    let n: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap())
        .collect();
    (n[0], n[1], n[2])
}

#[tokio::test]
async fn cli_imports_a_file_and_prints_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let case = realcase(REALCASES[0]);
    let file = dir.path().join("bundle.json");
    std::fs::write(&file, serde_json::to_vec(&realcase_bundle(&case)).unwrap()).unwrap();
    let file = file.to_str().unwrap();
    let events = case["timeline"].as_array().unwrap().len() as u64;

    let dry = run_cli(&data, &["import", file, "--format", "bundle", "--dry-run"]);
    let out = String::from_utf8_lossy(&dry.stdout);
    assert!(
        dry.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(out.starts_with("Dry run, rolled back:"), "{out}");
    assert_eq!(cli_counts(&out, "timeline_events"), (events, 0, 0));

    let first = run_cli(&data, &["import", file, "--format", "bundle"]);
    let out = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(out.contains("into INC-1"), "{out}");
    assert_eq!(cli_counts(&out, "incidents"), (1, 0, 0));
    assert_eq!(cli_counts(&out, "timeline_events"), (events, 0, 0));

    let second = run_cli(&data, &["import", file, "--format", "bundle"]);
    let out = String::from_utf8_lossy(&second.stdout);
    assert_eq!(cli_counts(&out, "incidents"), (0, 0, 1), "{out}");
    assert_eq!(cli_counts(&out, "timeline_events"), (0, 0, events));

    let slack = dir.path().join("slack.json");
    std::fs::write(&slack, serde_json::to_vec(&realcase_slack(&case)).unwrap()).unwrap();
    let slack = slack.to_str().unwrap();
    let refused = run_cli(&data, &["import", slack, "--format", "slack"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("incident"));
    let ok = run_cli(
        &data,
        &["import", slack, "--format", "slack", "--incident", "INC-1"],
    );
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(out.contains("skipped entries: 2"), "{out}");

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, br#"{"format": "debrief-bundle", "version": 7}"#).unwrap();
    let failed = run_cli(
        &data,
        &["import", bad.to_str().unwrap(), "--format", "bundle"],
    );
    assert!(!failed.status.success());
    let err = String::from_utf8_lossy(&failed.stderr);
    assert!(
        err.contains("`version`") && err.contains("nothing was changed"),
        "{err}"
    );
}

#[tokio::test]
async fn an_id_stored_under_another_incident_is_a_conflict() {
    let app = spawn_app().await;
    let first = realcase_bundle(&realcase(REALCASES[0]));
    import_ok(&app, "bundle", "", &first).await;
    let mut second = realcase_bundle(&realcase(REALCASES[1]));
    let n = second["timeline"].as_array().unwrap().len();
    second["timeline"][n - 1]["id"] = first["timeline"][0]["id"].clone();
    let resp = import(&app, "bundle", "", &second).await;
    assert_problem(resp, 409, Some("timeline[0]")).await;
    let mut third = realcase_bundle(&realcase(REALCASES[2]));
    third["roles"][0]["id"] = first["roles"][0]["id"].clone();
    let resp = import(&app, "bundle", "", &third).await;
    assert_problem(resp, 409, Some("roles[0].id")).await;
    assert_eq!(
        get_json(&app, "/incidents").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_long_timeline_is_exported_page_by_page_in_order() {
    let app = spawn_app().await;
    let mut bundle = realcase_bundle(&realcase(REALCASES[1]));
    let start = at(&bundle["incident"]["started_at"]);
    let events: Vec<Value> = (0..2345)
        .map(|i| {
            json!({
                "id": Uuid::new_v4(),
                // Several events share a time: the export orders them by id.
                "occurred_at": start + Duration::seconds(i / 3),
                "kind": "note",
                "body": format!("Note {i}"),
                "source": "import",
                "visibility": "internal",
            })
        })
        .collect();
    bundle["timeline"] = Value::Array(events.clone());
    import_ok(&app, "bundle", "", &bundle).await;
    let exported = export(&app, "INC-1").await;
    let got: Vec<(DateTime<Utc>, String)> = exported["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (at(&e["occurred_at"]), e["id"].as_str().unwrap().to_string()))
        .collect();
    let mut expected: Vec<(DateTime<Utc>, String)> = events
        .iter()
        .map(|e| (at(&e["occurred_at"]), e["id"].as_str().unwrap().to_string()))
        .collect();
    expected.sort();
    assert_eq!(got, expected);
}

// ---------------------------------------------------------------- real exports come in whole

/// A Statuspage page whose first incident has a long name, a component
/// name longer than Debrief stores (412 and 201 characters) and an update
/// listing 120 components.
fn statuspage_with_long_values() -> (Value, String, String) {
    let mut page = fixture("statuspage/incidents-page.json");
    let long_name = format!("Elevated errors: {}", "WAF rule evaluation ".repeat(20))
        .trim_end()
        .to_string(); // 416 characters
    let long_component = format!("Edge {}", "x".repeat(407)); // 412
    let component_201 = "c".repeat(201);
    let incident = &mut page["incidents"][0];
    incident["name"] = json!(long_name);
    incident["components"] = json!([
        {"id": "a1", "name": "API"},
        {"id": "a2", "name": "Dashboard"},
        {"id": "a3", "name": "CDN"},
        {"id": "a4", "name": long_component},
        {"id": "a5", "name": component_201},
    ]);
    let many: Vec<Value> = (0..120)
        .map(|i| json!({"id": format!("m{i}"), "name": format!("PoP {i:03}")}))
        .collect();
    incident["incident_updates"][0]["affected_components"] = json!(many);
    (page, long_name, long_component)
}

#[tokio::test]
async fn values_longer_than_debrief_stores_are_shortened_kept_whole_and_reported() {
    let app = spawn_app().await;
    let (page, long_name, long_component) = statuspage_with_long_values();
    let report = import_ok(&app, "statuspage", "", &page).await;
    assert_eq!(report["incidents"], json!(["INC-1", "INC-2", "INC-3"]));
    assert_eq!(counts(&report, "incidents"), (3, 0, 0));
    let shortened = report["shortened"].as_array().unwrap();
    let expected = [
        json!({"field": "incidents[0].name", "from": long_name.chars().count(), "to": 300, "unit": "characters"}),
        json!({"field": "incidents[0].components[3].name", "from": 412, "to": 200, "unit": "characters"}),
        json!({"field": "incidents[0].components[4].name", "from": 201, "to": 200, "unit": "characters"}),
        json!({"field": "incidents[0].incident_updates[0].affected_components", "from": 120, "to": 100, "unit": "entries"}),
    ];
    assert_eq!(shortened, &expected, "{report}");
    assert_eq!(report["shortened_total"], 4);

    let incident = get_json(&app, "/incidents/INC-1").await;
    let title = incident["title"].as_str().unwrap();
    assert_eq!(title.chars().count(), 300);
    assert!(title.ends_with('…') && long_name.starts_with(title.trim_end_matches('…')));
    let components = incident["affected_components"].as_array().unwrap();
    assert_eq!(components.len(), 5);
    let stored = components[3].as_str().unwrap();
    assert_eq!(stored.chars().count(), 200);
    assert!(stored.starts_with("Edge xxx") && stored.ends_with('…'));

    // Each whole value is an internal note of the incident.
    let notes = get_json(&app, "/incidents/INC-1/timeline?kind=note").await;
    let notes = notes["items"].as_array().unwrap();
    assert_eq!(notes.len(), 4, "{notes:#?}");
    assert!(notes.iter().all(|n| {
        n["visibility"] == "internal"
            && n["source"] == "statuspage"
            && n["body"]
                .as_str()
                .unwrap()
                .starts_with("Kept whole on import: ")
    }));
    let bodies: Vec<&str> = notes.iter().map(|n| n["body"].as_str().unwrap()).collect();
    assert!(bodies.iter().any(|b| b.contains(&long_component)
        && b.contains("`incidents[0].components[3].name` has 412 characters; Debrief stores 200")));
    assert!(bodies.iter().any(|b| b.contains(&long_name)));
    assert!(
        bodies
            .iter()
            .any(|b| b.contains("PoP 100\nPoP 101") && b.contains("PoP 119"))
    );
    let updates = get_json(&app, "/incidents/INC-1/status-updates").await;
    let newest = updates["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(newest["affected_components"].as_array().unwrap().len(), 100);

    // The same file again changes nothing, and still says what it shortens.
    let again = import_ok(&app, "statuspage", "", &page).await;
    nothing_changed(&again);
    assert_eq!(again["shortened"], report["shortened"]);
}

#[tokio::test]
async fn the_report_lists_at_most_a_thousand_shortenings_and_counts_all() {
    let app = spawn_app().await;
    app.simple_incident().await;
    let long = "n".repeat(250);
    let entries: Vec<Value> = (0..1005)
        .map(|i| {
            json!({"id": format!("L{i}"), "type": "annotate_log_entry", "summary": "note",
                   "created_at": "2026-11-20T10:00:00Z",
                   "agent": {"type": "user_reference", "summary": long}})
        })
        .collect();
    let report = import_ok(
        &app,
        "pagerduty",
        "?incident=INC-1",
        &json!({"log_entries": entries}),
    )
    .await;
    assert_eq!(report["shortened_total"], 1005);
    let listed = report["shortened"].as_array().unwrap();
    assert_eq!(listed.len(), 1000);
    assert_eq!(
        listed[7],
        json!({"field": "log_entries[7].agent.summary", "from": 250, "to": 200, "unit": "characters"})
    );
    // 1005 entries and the 1005 notes keeping the authors' names whole.
    assert_eq!(counts(&report, "timeline_events"), (2010, 0, 0));
}

// ---------------------------------------------------------------- slack workspace export

/// The workspace export in `tests/fixtures/slack-export/`, zipped as Slack
/// does, with `extra` entries added (name, bytes).
fn slack_zip(extra: &[(&str, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let dir = format!("{}/tests/fixtures/slack-export", env!("CARGO_MANIFEST_DIR"));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for name in [
        "channels.json",
        "users.json",
        "integration_logs.json",
        "general/2026-11-20.json",
        "incident-42/2026-11-20.json",
        "incident-42/2026-11-21.json",
    ] {
        zip.start_file(name, options).unwrap();
        zip.write_all(&std::fs::read(format!("{dir}/{name}")).unwrap())
            .unwrap();
    }
    for (name, bytes) in extra {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

async fn post_zip(app: &TestApp, query: &str, content_type: &str, body: Vec<u8>) -> Response {
    app.api(Method::POST, &format!("/imports/slack{query}"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn a_slack_workspace_export_zip_imports_one_channel_as_markdown() {
    let app = spawn_app().await;
    app.simple_incident().await;
    let before = get_json(&app, "/incidents/INC-1/timeline").await;
    // Names a path outside the export: read never, written never.
    let zip = slack_zip(&[("../../evil.json", b"[]".to_vec())]);

    // No channel, or one the export does not hold: 422 naming `channel`,
    // listing what there is; nothing stored.
    for query in ["?incident=INC-1", "?incident=INC-1&channel=incident-43"] {
        let resp = post_zip(&app, query, "application/zip", zip.clone()).await;
        let problem = assert_problem(resp, 422, Some("channel")).await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains("general, incident-42 (2 in all)"),
            "{detail}"
        );
    }
    assert_eq!(get_json(&app, "/incidents/INC-1/timeline").await, before);

    // Recognised by its first bytes, whatever the declared type.
    let report: Value = post_zip(
        &app,
        "?incident=INC-1&channel=incident-42",
        "application/json",
        zip.clone(),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(counts(&report, "timeline_events"), (5, 0, 0), "{report}");
    assert_eq!(report["skipped"], 5, "3 joins/leaves and 2 bot messages");
    assert_eq!(report["shortened"], json!([]));

    let notes = get_json(&app, "/incidents/INC-1/timeline?kind=note").await;
    let notes: Vec<(&str, &str)> = notes["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["author"].as_str().unwrap(), n["body"].as_str().unwrap()))
        .collect();
    assert_eq!(
        notes,
        [
            (
                "Ana Ruiz",
                "🔥 @channel checkout error rate is at 12%, see \
                 [dashboard](https://grafana.example.com/d/checkout?from=now-1h&to=now)"
            ),
            (
                "Sam O.",
                "@Ana Ruiz I'm on it. **Payments API** returns 502s since the *14:58* deploy 👀"
            ),
            (
                "Lee Chen",
                "Rolling back: ~~4f2a91c~~ → `payments-api@9b1d0e3`. Runbook: \
                 <https://wiki.example.com/runbooks/payments>"
            ),
            (
                "Ana Ruiz",
                "Error rate back to 0.1% ✅ — moving to monitoring. Follow-ups in #general and <the doc>"
            ),
            ("Sam O.", "Thanks all 🙏🏽"),
        ]
    );
    let timeline = get_json(&app, "/incidents/INC-1/timeline?kind=note").await;
    let first = &timeline["items"][0];
    assert_eq!(first["external_id"], "1763632920.000300");
    assert_eq!(first["source"], "chat");
    assert_eq!(first["visibility"], "internal");

    // Sent as a ZIP, again: each message is stored once.
    let resp = post_zip(
        &app,
        "?incident=INC-1&channel=incident-42",
        "application/zip",
        zip,
    )
    .await;
    assert_eq!(resp.status(), 200);
    nothing_changed(&resp.json().await.unwrap());
}

#[tokio::test]
async fn bad_slack_exports_are_refused_naming_the_field_and_store_nothing() {
    let app = spawn_app_with(|s| s.import_limit_bytes = 256 * 1024).await;
    app.simple_incident().await;
    let before = get_json(&app, "/incidents/INC-1/timeline").await;
    let q = "?incident=INC-1&channel=incident-42";

    // A zip bomb: a day file of a few hundred bytes that unpacks past the limit.
    let mut bomb = b"[".to_vec();
    bomb.extend(std::iter::repeat_n(b' ', 2 * 1024 * 1024));
    bomb.extend(b"]");
    let zip = slack_zip(&[("incident-42/2026-11-22.json", bomb)]);
    assert!(zip.len() < 64 * 1024, "the bomb is small: {}", zip.len());
    let problem = assert_problem(
        post_zip(&app, q, "application/zip", zip).await,
        422,
        Some("body"),
    )
    .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("import limit"),
        "{problem}"
    );

    // Too many entries.
    let many = {
        use std::io::Write;
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        zip.start_file("channels.json", options).unwrap();
        zip.write_all(b"[]").unwrap();
        for i in 0..100_000 {
            zip.start_file(format!("{i}"), options).unwrap();
        }
        zip.finish().unwrap().into_inner()
    };
    let app_big = spawn_app().await;
    app_big.simple_incident().await;
    let problem = assert_problem(
        post_zip(&app_big, q, "application/zip", many).await,
        422,
        Some("body"),
    )
    .await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("100001 entries"),
        "{problem}"
    );

    let cases: Vec<(String, &str, Vec<u8>, u16, &str)> = vec![
        // Declared a ZIP, but is not one.
        (q.into(), "application/zip", b"[]".to_vec(), 400, "body"),
        // A ZIP that is not a Slack export.
        (
            q.into(),
            "application/zip",
            {
                use std::io::Write;
                let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
                zip.start_file("notes.txt", zip::write::SimpleFileOptions::default())
                    .unwrap();
                zip.write_all(b"hello").unwrap();
                zip.finish().unwrap().into_inner()
            },
            422,
            "body",
        ),
        // A broken ZIP.
        (
            q.into(),
            "application/zip",
            slack_zip(&[])[..300].to_vec(),
            400,
            "body",
        ),
        // A bad message inside: the path names the file.
        (
            q.into(),
            "application/zip",
            slack_zip(&[(
                "incident-42/2026-11-22.json",
                br#"[{"type": "message", "text": "x", "user": "U01ANA", "ts": "yesterday"}]"#
                    .to_vec(),
            )]),
            422,
            "incident-42/2026-11-22.json[0].ts",
        ),
        (
            q.into(),
            "application/zip",
            slack_zip(&[("incident-42/2026-11-22.json", b"[{\"text\": ".to_vec())]),
            400,
            "incident-42/2026-11-22.json",
        ),
        // `channel` for a single channel's JSON array, or another format.
        (q.into(), "application/json", b"[]".to_vec(), 422, "channel"),
        (
            "?incident=INC-1&channel=a/b".into(),
            "application/zip",
            slack_zip(&[]),
            422,
            "channel",
        ),
    ];
    for (query, content_type, body, status, field) in cases {
        eprintln!("case: {query} {content_type} expecting {status} {field}");
        let resp = post_zip(&app, &query, content_type, body).await;
        assert_problem(resp, status, Some(field)).await;
    }
    let resp = app
        .api(
            Method::POST,
            "/imports/pagerduty?incident=INC-1&channel=incident-42",
        )
        .header("content-type", "application/json")
        .body(r#"{"log_entries": []}"#)
        .send()
        .await
        .unwrap();
    assert_problem(resp, 422, Some("channel")).await;
    let resp = app
        .api(Method::POST, "/imports/bundle")
        .header("content-type", "application/zip")
        .body(slack_zip(&[]))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 415, Some("Content-Type")).await;
    assert_eq!(get_json(&app, "/incidents/INC-1/timeline").await, before);
}

// ---------------------------------------------------------------- opsgenie

#[tokio::test]
async fn opsgenie_timeline_entries_become_events_and_hidden_ones_are_skipped() {
    let app = spawn_app().await;
    app.create_incident(json!({"title": "Checkout errors", "severity": "sev2",
                               "started_at": "2026-11-20T10:00:00Z"}))
        .await;
    let timeline = fixture("opsgenie/incident-timeline.json");
    let report = import_ok(&app, "opsgenie", "?incident=INC-1", &timeline).await;
    assert_eq!(counts(&report, "timeline_events"), (5, 0, 0), "{report}");
    assert_eq!(report["skipped"], 1, "the hidden entry");

    let events = get_json(&app, "/incidents/INC-1/timeline?limit=500").await;
    let events: Vec<(&str, &str, &Value)> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source"] == "opsgenie")
        .map(|e| {
            (
                e["kind"].as_str().unwrap(),
                e["body"].as_str().unwrap(),
                &e["author"],
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            (
                "detection",
                "Incident created: Checkout error rate above 5%",
                &Value::Null
            ),
            (
                "page",
                "Payments on-call team added as responder",
                &Value::Null
            ),
            (
                "acknowledgement",
                "Ana Ruiz acknowledged the alert",
                &json!("Ana Ruiz")
            ),
            (
                "note",
                "Rolled back payments-api to 9b1d0e3",
                &json!("Sam Okafor")
            ),
            ("resolution", "Incident resolved", &json!("Ana Ruiz")),
        ]
    );
    let again = import_ok(&app, "opsgenie", "?incident=INC-1", &timeline).await;
    nothing_changed(&again);

    // Pages of a longer timeline, as an array of responses.
    let mut second = timeline.clone();
    second["data"]["entries"] = json!([{
        "id": "page-2-entry", "group": "custom", "type": "CustomUserEntry",
        "eventTime": "2026-11-20T11:00:00Z", "hidden": false,
        "actor": {"name": "Ana Ruiz", "type": "user"},
        "description": {"name": "Post-mortem scheduled", "type": "plain_text"}
    }]);
    let report = import_ok(
        &app,
        "opsgenie",
        "?incident=INC-1",
        &json!([timeline, second]),
    )
    .await;
    assert_eq!(counts(&report, "timeline_events"), (1, 0, 5));

    // Well-formed but not a timeline: 422 naming the field; not JSON: 400.
    let resp = import_raw(&app, "opsgenie", "?incident=INC-1", b"{\"data\": ".to_vec()).await;
    assert_problem(resp, 400, Some("data")).await;
    let bad: Vec<(Value, u16, &str)> = vec![
        (json!({"data": {}}), 422, "data.entries"),
        (json!({"entries": []}), 422, "data"),
        (
            json!({"data": {"entries": [{"id": "x", "type": "CustomUserEntry"}]}}),
            422,
            "data.entries[0].eventTime",
        ),
        (
            json!({"data": {"entries": [{"id": "x", "eventTime": "noon"}]}}),
            422,
            "data.entries[0].eventTime",
        ),
        (
            json!({"data": {"entries": [{"id": " ", "eventTime": "2026-11-20T10:00:00Z"}]}}),
            422,
            "data.entries[0].id",
        ),
        (
            json!([{"data": {"entries": [{"id": "x"}]}}]),
            422,
            "[0].data.entries[0].eventTime",
        ),
    ];
    for (body, status, field) in bad {
        let resp = import(&app, "opsgenie", "?incident=INC-1", &body).await;
        assert_problem(resp, status, Some(field)).await;
    }
    let resp = import(&app, "opsgenie", "", &timeline).await;
    assert_problem(resp, 422, Some("incident")).await;
    let stored = get_json(&app, "/incidents/INC-1/timeline?limit=500").await;
    let stored = stored["items"].as_array().unwrap();
    assert_eq!(
        stored.iter().filter(|e| e["source"] == "opsgenie").count(),
        6
    );
}

#[tokio::test]
async fn cli_imports_one_channel_of_a_slack_zip_and_an_opsgenie_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let bundle = dir.path().join("bundle.json");
    std::fs::write(
        &bundle,
        serde_json::to_vec(&realcase_bundle(&realcase(REALCASES[0]))).unwrap(),
    )
    .unwrap();
    let ok = run_cli(
        &data,
        &["import", bundle.to_str().unwrap(), "--format", "bundle"],
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    let zip = dir.path().join("export.zip");
    std::fs::write(&zip, slack_zip(&[])).unwrap();
    let zip = zip.to_str().unwrap();
    let refused = run_cli(
        &data,
        &["import", zip, "--format", "slack", "--incident", "INC-1"],
    );
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("`channel`") && err.contains("incident-42"),
        "{err}"
    );
    let args = [
        "import",
        zip,
        "--format",
        "slack",
        "--incident",
        "INC-1",
        "--channel",
        "incident-42",
    ];
    let out = run_cli(&data, &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        cli_counts(&stdout, "timeline_events"),
        (5, 0, 0),
        "{stdout}"
    );
    assert!(stdout.contains("skipped entries: 5"), "{stdout}");

    let timeline = format!(
        "{}/tests/fixtures/opsgenie/incident-timeline.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let args = [
        "import",
        &timeline,
        "--format",
        "opsgenie",
        "--incident",
        "INC-1",
    ];
    let out = run_cli(&data, &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        cli_counts(&stdout, "timeline_events"),
        (5, 0, 0),
        "{stdout}"
    );
}
