use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app};

async fn two_incidents(app: &TestApp) {
    app.simple_incident().await;
    app.create_incident(json!({"title": "DNS outage", "severity": "sev1"}))
        .await;
}

async fn create(app: &TestApp, body: Value) -> Value {
    let resp = app.post("/remediations", body).await;
    assert_eq!(resp.status(), 201, "create remediation");
    resp.json().await.unwrap()
}

#[tokio::test]
async fn create_with_default_due_date_and_read_back_with_history() {
    let app = spawn_app().await;
    two_incidents(&app).await;
    let item = create(
        &app,
        json!({"title": "Add replica lag alert", "kind": "detect", "priority": "p1",
               "owner": "ana", "team": "storage", "incidents": ["INC-1", "INC-2"],
               "tracker_url": "https://tracker.example.com/OPS-12"}),
    )
    .await;
    assert_eq!(item["ref"], "REM-1");
    assert_eq!(item["status"], "open");
    assert_eq!(
        item["due_date"], "2026-12-20",
        "p1: 30 days from 2026-11-20"
    );
    assert_eq!(item["incidents"], json!(["INC-1", "INC-2"]));
    assert_eq!(item["overdue"], false);
    assert_eq!(item["version"], 1);
    let incident: Value = app.get("/incidents/INC-2").await.json().await.unwrap();
    assert_eq!(incident["counts"]["remediation_items"], 1);

    let p3 = create(&app, json!({"title": "Write runbook", "kind": "process", "priority": "p3", "incidents": ["INC-1"]})).await;
    assert!(p3["due_date"].is_null(), "p3 has no default due date");

    let resp = app
        .api(Method::PATCH, "/remediations/REM-1")
        .header("If-Match", "\"1\"")
        .json(&json!({"status": "in_progress", "owner": "ben"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["etag"], "\"2\"");

    let detail: Value = app
        .get(&format!("/remediations/{}", item["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    let history = detail["history"].as_array().unwrap();
    let fields: Vec<&str> = history
        .iter()
        .map(|h| h["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["created", "owner", "status"]);
    let owner = &history[1];
    assert_eq!(
        (owner["old_value"].as_str(), owner["new_value"].as_str()),
        (Some("ana"), Some("ben"))
    );
    assert_eq!(owner["actor"], "test-admin");
    assert_eq!(history[2]["old_value"], "open");
    assert_eq!(history[2]["new_value"], "in_progress");

    // Stale version: 412, nothing changes.
    let resp = app
        .api(Method::PATCH, "/remediations/REM-1")
        .header("If-Match", "\"1\"")
        .json(&json!({"title": "Overwritten"}))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 412, Some("If-Match")).await;
}

#[tokio::test]
async fn status_rules_wont_do_needs_a_reason_and_closed_items_only_reopen() {
    let app = spawn_app().await;
    app.simple_incident().await;
    create(&app, json!({"title": "Fix retry storm", "kind": "prevent", "priority": "p0", "incidents": ["INC-1"]})).await;
    assert_problem(
        app.patch("/remediations/REM-1", json!({"status": "wont_do"}))
            .await,
        422,
        Some("reason"),
    )
    .await;
    let done: Value = app
        .patch("/remediations/REM-1", json!({"status": "done"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done["closed_at"], "2026-11-20T10:00:00+00:00");
    assert_problem(
        app.patch("/remediations/REM-1", json!({"status": "in_progress"}))
            .await,
        422,
        Some("status"),
    )
    .await;
    assert_problem(
        app.patch(
            "/remediations/REM-1",
            json!({"status": "wont_do", "reason": "x"}),
        )
        .await,
        422,
        Some("status"),
    )
    .await;
    let reopened: Value = app
        .patch("/remediations/REM-1", json!({"status": "open"}))
        .await
        .json()
        .await
        .unwrap();
    assert!(reopened["closed_at"].is_null());
    let wont: Value = app
        .patch(
            "/remediations/REM-1",
            json!({"status": "wont_do", "reason": "Service is being retired"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(wont["reason"], "Service is being retired");
    assert!(wont["closed_at"].is_string());
}

#[tokio::test]
async fn bad_inputs_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    app.simple_incident().await;
    let base = json!({"title": "t", "kind": "prevent", "priority": "p2", "incidents": ["INC-1"]});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            with("incidents", json!(["INC-77"])),
            422,
            "incidents[0]",
            "link to an incident that does not exist",
        ),
        (
            with("incidents", json!([])),
            422,
            "incidents",
            "no incident",
        ),
        (
            with("incidents", json!(["nonsense"])),
            422,
            "incidents[0]",
            "not a reference",
        ),
        (
            with("due_date", json!("2026-02-30")),
            422,
            "due_date",
            "a date that does not exist (a past date is fine: back-filling)",
        ),
        (
            with("due_date", json!("soon")),
            422,
            "due_date",
            "not a date",
        ),
        (
            with("priority", json!("p9")),
            422,
            "priority",
            "unknown priority",
        ),
        (with("kind", json!("fix")), 422, "kind", "unknown kind"),
        (
            with("status", json!("wont_do")),
            422,
            "reason",
            "wont_do without reason",
        ),
        (
            with("tracker_url", json!("OPS-12")),
            422,
            "tracker_url",
            "tracker not a URL",
        ),
        (with("title", json!(" ")), 422, "title", "blank title"),
    ];
    for (body, status, field, why) in cases {
        let resp = app.post("/remediations", body).await;
        assert_eq!(resp.status(), status, "{why}");
        assert_problem(resp, status, Some(field)).await;
    }
    let list: Value = app.get("/remediations").await.json().await.unwrap();
    assert_eq!(list["items"], json!([]), "nothing was created");
    // A refused item used no number.
    let item = create(&app, base).await;
    assert_eq!(item["ref"], "REM-1");
    assert_problem(
        app.patch("/remediations/REM-1", json!({"due_date": "2025-02-29"}))
            .await,
        422,
        Some("due_date"),
    )
    .await;
    assert_problem(
        app.patch("/remediations/REM-1", json!({"status": "finished"}))
            .await,
        422,
        Some("status"),
    )
    .await;
    assert_problem(app.get("/remediations/REM-9").await, 404, None).await;
    assert_problem(
        app.get("/remediations/REM-x").await,
        422,
        Some("remediation"),
    )
    .await;
}

#[tokio::test]
async fn links_can_be_added_and_removed_but_never_the_last() {
    let app = spawn_app().await;
    two_incidents(&app).await;
    create(
        &app,
        json!({"title": "t", "kind": "mitigate", "priority": "p2", "incidents": ["INC-1"]}),
    )
    .await;
    let linked: Value = app
        .post(
            "/remediations/REM-1/incidents",
            json!({"incident": "INC-2"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(linked["incidents"], json!(["INC-1", "INC-2"]));
    assert_problem(
        app.post(
            "/remediations/REM-1/incidents",
            json!({"incident": "INC-3"}),
        )
        .await,
        422,
        Some("incident"),
    )
    .await;
    let resp = app
        .api(Method::DELETE, "/remediations/REM-1/incidents/INC-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["incidents"], json!(["INC-2"]));
    let resp = app
        .api(Method::DELETE, "/remediations/REM-1/incidents/INC-2")
        .send()
        .await
        .unwrap();
    assert_problem(resp, 409, Some("incident")).await;
    let detail: Value = app.get("/remediations/REM-1").await.json().await.unwrap();
    let links: Vec<&Value> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["field"] == "incidents")
        .collect();
    assert_eq!(links.len(), 2);
    assert_eq!(links[1]["old_value"], "INC-1, INC-2");
    assert_eq!(links[1]["new_value"], "INC-2");
    let by_incident: Value = app
        .get("/remediations?incident=INC-2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_incident["items"].as_array().unwrap().len(), 1);
    let none: Value = app
        .get("/remediations?incident=INC-1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["items"], json!([]));
}

#[tokio::test]
async fn overdue_follows_the_clock_and_outlives_the_incident() {
    let app = spawn_app().await;
    app.simple_incident().await;
    for (title, priority, team) in [
        ("a", "p0", "storage"),
        ("b", "p1", "storage"),
        ("c", "p0", "web"),
        ("d", "p3", "web"),
    ] {
        create(&app, json!({"title": title, "kind": "prevent", "priority": priority, "team": team, "incidents": ["INC-1"]})).await;
    }
    // The incident is closed; its follow-ups are still tracked.
    app.patch("/incidents/INC-1", json!({"status": "closed"}))
        .await;
    let overdue: Value = app
        .get("/remediations?overdue=true")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(overdue["items"], json!([]));

    app.clock.advance(chrono::Duration::days(8));
    let overdue: Value = app
        .get("/remediations?overdue=true")
        .await
        .json()
        .await
        .unwrap();
    let titles: Vec<&str> = overdue["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["a", "c"], "the two p0 items (due after 7 days)");
    assert!(
        overdue["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["overdue"] == true)
    );
    let storage: Value = app
        .get("/remediations?overdue=true&team=storage")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(storage["items"].as_array().unwrap().len(), 1);
    let not_overdue: Value = app
        .get("/remediations?overdue=false")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(not_overdue["items"].as_array().unwrap().len(), 2);

    // Done items are never overdue.
    app.patch("/remediations/REM-1", json!({"status": "done"}))
        .await;
    let overdue: Value = app
        .get("/remediations?overdue=true")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(overdue["items"].as_array().unwrap().len(), 1);

    // Sorted by due date, items without one last; filters combine.
    let all: Value = app.get("/remediations").await.json().await.unwrap();
    let order: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["a", "c", "b", "d"]);
    let open_p0: Value = app
        .get("/remediations?status=open,in_progress&priority=p0")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(open_p0["items"].as_array().unwrap().len(), 1);
    // A status list is bounded: every status once fits, a long repetition
    // is refused naming the parameter.
    let every = app
        .get("/remediations?status=open,in_progress,blocked,done,wont_do")
        .await;
    assert_eq!(every.status(), 200);
    let long = format!("/remediations?status={}", vec!["open"; 20].join(","));
    assert_problem(app.get(&long).await, 422, Some("status")).await;
    let due_window: Value = app
        .get("/remediations?due_after=2026-11-28&due_before=2026-12-31")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(due_window["items"].as_array().unwrap().len(), 1);
    let text: Value = app.get("/remediations?q=B").await.json().await.unwrap();
    assert_eq!(text["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn pages_follow_the_due_date_order() {
    let app = spawn_app().await;
    app.simple_incident().await;
    for i in 0..7 {
        let due = if i % 3 == 0 {
            Value::Null
        } else {
            json!(format!("2026-12-{:02}", 10 - i))
        };
        create(&app, json!({"title": format!("item {i}"), "kind": "other", "priority": "p3", "due_date": due, "incidents": ["INC-1"]})).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/remediations?limit=2&cursor={c}"),
            None => "/remediations?limit=2".into(),
        };
        let page: Value = app.get(&path).await.json().await.unwrap();
        for i in page["items"].as_array().unwrap() {
            seen.push(i["ref"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    // Due 12-05 (i=5), 12-06 (4), 12-08 (2), 12-09 (1), then undated by number.
    assert_eq!(
        seen,
        [
            "REM-6", "REM-5", "REM-3", "REM-2", "REM-1", "REM-4", "REM-7"
        ]
    );
}

#[tokio::test]
async fn summary_counts_rates_and_ages() {
    let app = spawn_app().await;
    app.simple_incident().await;
    // Created 2026-11-20: p0 due 11-27, p1 due 12-20.
    for (title, priority, team) in [
        ("a", "p0", "storage"),
        ("b", "p0", "storage"),
        ("c", "p1", "web"),
        ("d", "p0", "web"),
    ] {
        create(&app, json!({"title": title, "kind": "prevent", "priority": priority, "team": team, "incidents": ["INC-1"]})).await;
    }
    app.clock.advance(chrono::Duration::days(3));
    app.patch("/remediations/REM-1", json!({"status": "done"}))
        .await; // on time
    app.clock.advance(chrono::Duration::days(7)); // 11-30: the other p0 items are overdue
    app.patch("/remediations/REM-2", json!({"status": "done"}))
        .await; // late
    let s: Value = app
        .get("/remediations/summary?from=2026-11-01&to=2026-11-30")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["totals"], json!({"open": 2, "overdue": 1, "closed": 2}));
    let storage = s["by_team"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["team"] == "storage")
        .unwrap();
    assert_eq!(
        (storage["open"].as_u64(), storage["closed"].as_u64()),
        (Some(0), Some(2))
    );
    let web = s["by_team"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["team"] == "web")
        .unwrap();
    assert_eq!(
        (web["open"].as_u64(), web["overdue"].as_u64()),
        (Some(2), Some(1))
    );
    let p0 = s["by_priority"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["priority"] == "p0")
        .unwrap();
    assert_eq!(
        (
            p0["open"].as_u64(),
            p0["overdue"].as_u64(),
            p0["closed"].as_u64()
        ),
        (Some(1), Some(1), Some(2))
    );
    // Due in November: a (done on time), b (done late), d (open, past due).
    assert_eq!(s["due_in_period"], 3);
    assert_eq!(s["done_on_time"], 1);
    let rate = s["completion_rate"].as_f64().unwrap();
    assert!((rate - 1.0 / 3.0).abs() < 1e-9, "{rate}");
    assert_eq!(s["median_open_age_days"], 10.0);
    assert_problem(
        app.get("/remediations/summary?from=2026-12-01&to=2026-11-01")
            .await,
        422,
        Some("from,to"),
    )
    .await;

    // Counts follow changes of team and priority.
    app.patch(
        "/remediations/REM-3",
        json!({"team": "storage", "priority": "p0"}),
    )
    .await;
    let s: Value = app.get("/remediations/summary").await.json().await.unwrap();
    let storage = s["by_team"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["team"] == "storage")
        .unwrap();
    assert_eq!(
        (storage["open"].as_u64(), storage["closed"].as_u64()),
        (Some(1), Some(2))
    );
    let p1 = s["by_priority"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["priority"] == "p1");
    assert!(p1.is_none_or(|p| p["open"] == 0), "{s}");
    assert_eq!(s["totals"], json!({"open": 2, "overdue": 1, "closed": 2}));
}
