use serde_json::{Value, json};

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn status_updates_are_listed_in_posting_order() {
    let app = spawn_app().await;
    app.simple_incident().await;
    app.post("/incidents/INC-1/status-updates", json!({"status": "identified", "message": "Found it", "posted_at": "2026-11-20T10:20:00Z", "affected_components": ["checkout"]})).await;
    app.post("/incidents/INC-1/status-updates", json!({"status": "investigating", "message": "Looking", "posted_at": "2026-11-20T10:05:00Z"})).await;
    let list: Value = app
        .get("/incidents/INC-1/status-updates")
        .await
        .json()
        .await
        .unwrap();
    let messages: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["Looking", "Found it"]);
    assert_eq!(list["items"][1]["affected_components"], json!(["checkout"]));
    let inc: Value = app.get("/incidents/INC-1").await.json().await.unwrap();
    assert_eq!(
        inc["last_customer_update_at"], "2026-11-20T10:20:00+00:00",
        "the latest, not the last posted"
    );
    assert_problem(
        app.post(
            "/incidents/INC-1/status-updates",
            json!({"status": "closed", "message": "x"}),
        )
        .await,
        422,
        Some("status"),
    )
    .await;
    assert_problem(
        app.post(
            "/incidents/INC-1/status-updates",
            json!({"status": "resolved"}),
        )
        .await,
        422,
        Some("message"),
    )
    .await;
}
