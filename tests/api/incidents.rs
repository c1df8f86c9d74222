use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn create_and_get_by_ref_and_uuid() {
    let app = spawn_app().await;
    let created = app
        .create_incident(json!({
            "title": "Payments API returning 500s",
            "severity": "sev1",
            "customer_impact": "Card payments fail",
            "affected_components": ["payments-api"],
            "labels": ["payments"],
            "chat_room_url": "https://chat.example.com/inc",
            "started_at": "2026-11-20T09:50:00Z",
            "detected_at": "2026-11-20T09:55:00Z"
        }))
        .await;
    assert_eq!(created["ref"], "INC-1");
    assert_eq!(created["status"], "investigating");
    assert_eq!(created["version"], 1);
    assert_eq!(created["started_at"], "2026-11-20T09:50:00+00:00");

    for reference in [
        created["ref"].as_str().unwrap(),
        created["id"].as_str().unwrap(),
    ] {
        let resp = app.get(&format!("/incidents/{reference}")).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["etag"], "\"1\"");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["title"], "Payments API returning 500s");
        assert_eq!(body["affected_components"], json!(["payments-api"]));
        // The opening is recorded by Debrief itself.
        assert_eq!(body["counts"]["timeline_events"], 1);
        assert!(body["current_sitrep"].is_null());
    }
    let second = app.simple_incident().await;
    assert_eq!(second["ref"], "INC-2");
}

#[tokio::test]
async fn unknown_incident_is_404_and_malformed_ref_is_422() {
    let app = spawn_app().await;
    assert_problem(app.get("/incidents/INC-999").await, 404, None).await;
    assert_problem(
        app.get(&format!("/incidents/{}", uuid::Uuid::new_v4()))
            .await,
        404,
        None,
    )
    .await;
    assert_problem(app.get("/incidents/INC-x").await, 422, Some("reference")).await;
}

#[tokio::test]
async fn milestones_out_of_order_are_refused_naming_both_fields() {
    let app = spawn_app().await;
    let resp = app
        .post(
            "/incidents",
            json!({"title": "x", "severity": "sev2",
                   "started_at": "2026-11-20T10:00:00Z", "mitigated_at": "2026-11-20T09:00:00Z"}),
        )
        .await;
    let problem = assert_problem(resp, 422, Some("started_at,mitigated_at")).await;
    assert!(problem["detail"].as_str().unwrap().contains("mitigated_at"));
    // Nothing was created.
    let list: Value = app.get("/incidents").await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 0);

    // The same rule holds on PATCH, against the stored values.
    let inc = app
        .create_incident(
            json!({"title": "x", "severity": "sev2", "started_at": "2026-11-20T08:00:00Z",
                                "acknowledged_at": "2026-11-20T09:00:00Z"}),
        )
        .await;
    let resp = app
        .patch(
            "/incidents/INC-1",
            json!({"detected_at": "2026-11-20T09:30:00Z"}),
        )
        .await;
    assert_problem(resp, 422, Some("detected_at,acknowledged_at")).await;
    let after: Value = app.get("/incidents/INC-1").await.json().await.unwrap();
    assert_eq!(after["version"], inc["version"]);
    assert!(after["detected_at"].is_null());
}

#[tokio::test]
async fn patch_with_if_match_and_stale_version() {
    let app = spawn_app().await;
    app.simple_incident().await;
    let resp = app
        .api(Method::PATCH, "/incidents/INC-1")
        .header("If-Match", "\"1\"")
        .json(&json!({"status": "identified", "customer_impact": "Slow checkout"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["etag"], "\"2\"");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "identified");
    assert_eq!(body["version"], 2);

    // A second writer still holding version 1 is refused and changes nothing.
    let resp = app
        .api(Method::PATCH, "/incidents/INC-1")
        .header("If-Match", "\"1\"")
        .json(&json!({"title": "Overwritten"}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(resp, 412, Some("If-Match")).await;
    assert_eq!(problem["current_version"], 2);
    let now: Value = app.get("/incidents/INC-1").await.json().await.unwrap();
    assert_eq!(now["title"], "Checkout errors");

    // null clears an optional field.
    let body: Value = app
        .patch("/incidents/INC-1", json!({"customer_impact": null}))
        .await
        .json()
        .await
        .unwrap();
    assert!(body["customer_impact"].is_null());
    assert_eq!(body["version"], 3);
}

#[tokio::test]
async fn status_changes_write_system_events_and_resolve_sets_milestone() {
    let app = spawn_app().await;
    app.simple_incident().await;
    app.clock.advance(chrono::Duration::minutes(30));
    let body: Value = app
        .patch("/incidents/INC-1", json!({"status": "resolved"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["resolved_at"], "2026-11-20T10:30:00+00:00");
    let timeline: Value = app
        .get("/incidents/INC-1/timeline?kind=status_change")
        .await
        .json()
        .await
        .unwrap();
    let bodies: Vec<&str> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert!(
        bodies[1].contains("from investigating to resolved"),
        "{bodies:?}"
    );
    assert!(
        timeline["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["source"] == "system")
    );
}

#[tokio::test]
async fn list_filters_and_paginates() {
    let app = spawn_app().await;
    for i in 0..7 {
        let severity = if i % 2 == 0 { "sev1" } else { "sev3" };
        app.create_incident(
            json!({"title": format!("Incident number {i}"), "severity": severity,
                                   "started_at": format!("2026-11-1{i}T10:00:00Z")}),
        )
        .await;
    }
    app.create_incident(json!({"title": "Disk full on Primary DB", "severity": "sev2"}))
        .await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/incidents?limit=3&cursor={c}"),
            None => "/incidents?limit=3".to_string(),
        };
        let page: Value = app.get(&path).await.json().await.unwrap();
        for item in page["items"].as_array().unwrap() {
            seen.push(item["ref"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let expected: Vec<String> = (1..=8).rev().map(|n| format!("INC-{n}")).collect();
    assert_eq!(seen, expected, "newest first, each once");

    let sev1: Value = app
        .get("/incidents?severity=sev1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sev1["items"].as_array().unwrap().len(), 4);
    let q: Value = app
        .get("/incidents?q=primary%20db")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(q["items"].as_array().unwrap().len(), 1);
    let window: Value = app
        .get("/incidents?since=2026-11-12T00:00:00Z&until=2026-11-14T00:00:00Z")
        .await
        .json()
        .await
        .unwrap();
    let refs: Vec<&str> = window["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["ref"].as_str().unwrap())
        .collect();
    assert_eq!(refs, ["INC-4", "INC-3"]);
    let like_chars: Value = app.get("/incidents?q=%25").await.json().await.unwrap();
    assert_eq!(
        like_chars["items"].as_array().unwrap().len(),
        0,
        "% is literal"
    );

    assert_problem(
        app.get("/incidents?cursor=garbage").await,
        422,
        Some("cursor"),
    )
    .await;
    assert_problem(
        app.get("/incidents?status=bogus").await,
        422,
        Some("status"),
    )
    .await;
    assert_problem(app.get("/incidents?limit=501").await, 422, Some("limit")).await;
}

#[tokio::test]
async fn customer_update_overdue_follows_the_clock_and_status_updates() {
    let app = spawn_app().await;
    // sev1: 30 minutes by default.
    app.create_incident(json!({"title": "Outage", "severity": "sev1"}))
        .await;
    // sev4: never overdue.
    app.create_incident(json!({"title": "Typo", "severity": "sev4"}))
        .await;
    let get = |r: &'static str| {
        let app = &app;
        async move {
            app.get(&format!("/incidents/{r}"))
                .await
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(get("INC-1").await["customer_update_overdue"], false);

    app.clock.advance(chrono::Duration::minutes(31));
    assert_eq!(get("INC-1").await["customer_update_overdue"], true);
    assert_eq!(get("INC-2").await["customer_update_overdue"], false);
    let overdue: Value = app
        .get("/incidents?customer_update_overdue=true")
        .await
        .json()
        .await
        .unwrap();
    let refs: Vec<&str> = overdue["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["ref"].as_str().unwrap())
        .collect();
    assert_eq!(refs, ["INC-1"]);
    let not_overdue: Value = app
        .get("/incidents?customer_update_overdue=false")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(not_overdue["items"].as_array().unwrap().len(), 1);

    let resp = app
        .post(
            "/incidents/INC-1/status-updates",
            json!({"status": "investigating", "message": "We are looking into it."}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let inc = get("INC-1").await;
    assert_eq!(inc["customer_update_overdue"], false);
    assert_eq!(inc["last_customer_update_at"], "2026-11-20T10:31:00+00:00");

    app.clock.advance(chrono::Duration::minutes(31));
    assert_eq!(get("INC-1").await["customer_update_overdue"], true);
    // Resolved incidents are never overdue.
    app.patch("/incidents/INC-1", json!({"status": "resolved"}))
        .await;
    assert_eq!(get("INC-1").await["customer_update_overdue"], false);
}

#[tokio::test]
async fn bad_create_inputs_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            json!({"severity": "sev1"}),
            422,
            "title",
            "title is required",
        ),
        (
            json!({"title": "x"}),
            422,
            "severity",
            "severity is required",
        ),
        (
            json!({"title": "x", "severity": "sev9"}),
            422,
            "severity",
            "unknown severity",
        ),
        (
            json!({"title": "   ", "severity": "sev1"}),
            422,
            "title",
            "blank title",
        ),
        (
            json!({"title": "x".repeat(301), "severity": "sev1"}),
            422,
            "title",
            "title too long",
        ),
        (
            json!({"title": "x", "severity": "sev1", "status": "done"}),
            422,
            "status",
            "unknown status",
        ),
        (
            json!({"title": "x", "severity": "sev1", "started_at": "yesterday"}),
            422,
            "started_at",
            "bad time",
        ),
        (
            json!({"title": "x", "severity": "sev1", "labels": "a,b"}),
            422,
            "labels",
            "labels not a list",
        ),
        (
            json!({"title": "x", "severity": "sev1", "labels": [""]}),
            422,
            "labels[0]",
            "blank label",
        ),
        (
            json!({"title": "x", "severity": "sev1", "chat_room_url": "slack"}),
            422,
            "chat_room_url",
            "not a URL",
        ),
        (json!(["not", "an", "object"]), 422, "body", "not an object"),
    ];
    for (body, status, field, why) in cases {
        let resp = app.post("/incidents", body).await;
        assert_eq!(resp.status(), status, "{why}");
        assert_problem(resp, status, Some(field)).await;
    }
    let list: Value = app.get("/incidents").await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn reopening_clears_resolved_and_closed_and_the_timeline_says_so() {
    let app = spawn_app().await;
    app.simple_incident().await;
    for status in ["resolved", "closed"] {
        let resp = app
            .patch("/incidents/INC-1", json!({ "status": status }))
            .await;
        assert_eq!(resp.status(), 200, "{status}");
    }
    let closed: Value = app.get("/incidents/INC-1").await.json().await.unwrap();
    assert_eq!(closed["resolved_at"], "2026-11-20T10:00:00+00:00");
    assert_eq!(closed["closed_at"], "2026-11-20T10:00:00+00:00");

    // Reopening and setting `resolved_at` in one change contradict each other.
    let resp = app
        .patch(
            "/incidents/INC-1",
            json!({"status": "investigating", "resolved_at": "2026-11-20T10:30:00Z"}),
        )
        .await;
    assert_problem(resp, 422, Some("resolved_at")).await;

    let resp = app
        .patch("/incidents/INC-1", json!({"status": "investigating"}))
        .await;
    assert_eq!(resp.status(), 200);
    let reopened: Value = resp.json().await.unwrap();
    assert_eq!(reopened["status"], "investigating");
    assert_eq!(reopened["resolved_at"], Value::Null);
    assert_eq!(reopened["closed_at"], Value::Null);

    // Resolved again, then reopened as `monitoring`: cleared again.
    app.patch("/incidents/INC-1", json!({"status": "resolved"}))
        .await;
    let resp = app
        .patch("/incidents/INC-1", json!({"status": "monitoring"}))
        .await;
    assert_eq!(
        resp.json::<Value>().await.unwrap()["resolved_at"],
        Value::Null
    );

    let timeline: Value = app
        .get("/incidents/INC-1/timeline?kind=status_change")
        .await
        .json()
        .await
        .unwrap();
    let reopenings: Vec<&Value> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["body"].as_str().unwrap().starts_with("Incident reopened"))
        .collect();
    assert_eq!(reopenings.len(), 2, "{timeline}");
    assert_eq!(reopenings[0]["source"], "system");
    assert_eq!(
        reopenings[0]["body"],
        "Incident reopened: status changed from closed to investigating. \
         Cleared resolved_at (2026-11-20T10:00:00+00:00) and closed_at (2026-11-20T10:00:00+00:00)."
    );
    assert_eq!(
        reopenings[1]["body"],
        "Incident reopened: status changed from resolved to monitoring. \
         Cleared resolved_at (2026-11-20T10:00:00+00:00)."
    );
}
