use serde_json::{Value, json};

use crate::helpers::{assert_problem, spawn_app};

fn event(i: usize) -> Value {
    json!({
        "occurred_at": format!("2026-11-20T10:{:02}:{:02}Z", (i / 60) % 60, i % 60),
        "kind": "action",
        "body": format!("Step {i}"),
        "author": "alice",
        "source": "chat",
        "external_id": format!("msg-{i}"),
    })
}

#[tokio::test]
async fn one_event_is_stored_once() {
    let app = spawn_app().await;
    app.simple_incident().await;
    let resp = app.post("/incidents/INC-1/timeline", event(1)).await;
    assert_eq!(resp.status(), 201);
    let first: Value = resp.json().await.unwrap();
    assert_eq!(first["visibility"], "internal");
    assert_eq!(first["source"], "chat");

    let resp = app.post("/incidents/INC-1/timeline", event(1)).await;
    assert_eq!(
        resp.status(),
        200,
        "a duplicate answers with the stored event"
    );
    let again: Value = resp.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);

    // Without an external id, every post is a new event.
    let plain = json!({"kind": "note", "body": "Looking at dashboards"});
    assert_eq!(
        app.post("/incidents/INC-1/timeline", plain.clone())
            .await
            .status(),
        201
    );
    assert_eq!(
        app.post("/incidents/INC-1/timeline", plain).await.status(),
        201
    );
    let detail: Value = app.get("/incidents/INC-1").await.json().await.unwrap();
    assert_eq!(detail["counts"]["timeline_events"], 4, "opening + 3");
}

#[tokio::test]
async fn batches_are_idempotent_and_report_new_events() {
    let app = spawn_app().await;
    app.simple_incident().await;
    let batch: Vec<Value> = (0..2500).map(event).collect();
    let resp = app
        .post("/incidents/INC-1/timeline", json!({"events": batch}))
        .await;
    assert_eq!(resp.status(), 200);
    let summary: Value = resp.json().await.unwrap();
    assert_eq!(
        summary,
        json!({"received": 2500, "created": 2500, "duplicates": 0})
    );

    // Re-sent with 500 new ones: only those are stored.
    let batch: Vec<Value> = (0..3000).map(event).collect();
    let summary: Value = app
        .post("/incidents/INC-1/timeline", json!({"events": batch}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        summary,
        json!({"received": 3000, "created": 500, "duplicates": 2500})
    );

    // Read back in time order through the cursor.
    let mut count = 0;
    let mut last = String::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/incidents/INC-1/timeline?limit=500&cursor={c}"),
            None => "/incidents/INC-1/timeline?limit=500".into(),
        };
        let page: Value = app.get(&path).await.json().await.unwrap();
        for e in page["items"].as_array().unwrap() {
            let at = e["occurred_at"].as_str().unwrap().to_string();
            assert!(at >= last, "ordered by time");
            last = at;
            count += 1;
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(count, 3001, "3000 events and the opening");
}

#[tokio::test]
async fn a_bad_event_in_a_batch_rejects_the_whole_batch() {
    let app = spawn_app().await;
    app.simple_incident().await;
    let mut batch: Vec<Value> = (0..100).map(event).collect();
    batch[57]["kind"] = json!("party");
    let resp = app
        .post(
            "/incidents/INC-1/timeline",
            json!({"events": batch.clone()}),
        )
        .await;
    assert_problem(resp, 422, Some("events[57].kind")).await;

    batch[57]["kind"] = json!("note");
    batch[99]["body"] = json!("   ");
    let resp = app
        .post(
            "/incidents/INC-1/timeline",
            json!({"events": batch.clone()}),
        )
        .await;
    assert_problem(resp, 422, Some("events[99].body")).await;

    batch[99]["body"] = json!("ok");
    batch[3]["source"] = json!("system");
    let resp = app
        .post("/incidents/INC-1/timeline", json!({"events": batch}))
        .await;
    assert_problem(resp, 422, Some("events[3].source")).await;

    let detail: Value = app.get("/incidents/INC-1").await.json().await.unwrap();
    assert_eq!(
        detail["counts"]["timeline_events"], 1,
        "nothing of the rejected batches stored"
    );

    let too_many: Vec<Value> = (0..10_001)
        .map(|i| json!({"kind": "note", "body": format!("{i}")}))
        .collect();
    let resp = app
        .post("/incidents/INC-1/timeline", json!({"events": too_many}))
        .await;
    assert_problem(resp, 422, Some("events")).await;
}

#[tokio::test]
async fn filters_by_visibility_and_kind() {
    let app = spawn_app().await;
    app.simple_incident().await;
    app.post(
        "/incidents/INC-1/timeline",
        json!({"kind": "communication", "body": "Public note", "visibility": "public"}),
    )
    .await;
    app.post(
        "/incidents/INC-1/timeline",
        json!({"kind": "action", "body": "Restarted db-7"}),
    )
    .await;
    let public: Value = app
        .get("/incidents/INC-1/timeline?visibility=public")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(public["items"].as_array().unwrap().len(), 1);
    assert_eq!(public["items"][0]["body"], "Public note");
    let actions: Value = app
        .get("/incidents/INC-1/timeline?kind=action")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(actions["items"][0]["body"], "Restarted db-7");
    assert_problem(
        app.get("/incidents/INC-1/timeline?kind=party").await,
        422,
        Some("kind"),
    )
    .await;
}
