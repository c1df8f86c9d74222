use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn an_incident_cannot_close_with_pending_cleanup() {
    let app = spawn_app().await;
    app.simple_incident().await;
    let silenced: Value = app
        .post("/incidents/INC-1/cleanup-items", json!({"kind": "silenced_alert", "description": "Silenced disk alert on db-7", "owner": "Ana"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(silenced["status"], "pending");
    let maintenance: Value = app
        .post(
            "/incidents/INC-1/cleanup-items",
            json!({"kind": "maintenance_mode", "description": "Status page in maintenance"}),
        )
        .await
        .json()
        .await
        .unwrap();

    let resp = app
        .patch("/incidents/INC-1", json!({"status": "closed"}))
        .await;
    let problem = assert_problem(resp, 409, Some("status")).await;
    let pending: Vec<&str> = problem["pending_cleanup_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        pending,
        [
            silenced["id"].as_str().unwrap(),
            maintenance["id"].as_str().unwrap()
        ]
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("Silenced disk alert on db-7")
    );
    let inc: Value = app.get("/incidents/INC-1").await.json().await.unwrap();
    assert_eq!(inc["status"], "investigating", "nothing changed");

    let path = format!(
        "/incidents/INC-1/cleanup-items/{}",
        silenced["id"].as_str().unwrap()
    );
    // kept needs a reason
    assert_problem(
        app.patch(&path, json!({"status": "kept"})).await,
        422,
        Some("reason"),
    )
    .await;
    let resp = app
        .api(Method::PATCH, &path)
        .header("If-Match", "\"1\"")
        .json(&json!({"status": "undone"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["etag"], "\"2\"");
    let resp = app
        .api(Method::PATCH, &path)
        .header("If-Match", "\"1\"")
        .json(&json!({"status": "pending"}))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 412, Some("If-Match")).await;

    let path = format!(
        "/incidents/INC-1/cleanup-items/{}",
        maintenance["id"].as_str().unwrap()
    );
    let kept: Value = app
        .patch(
            &path,
            json!({"status": "kept", "reason": "Planned maintenance follows"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(kept["reason"], "Planned maintenance follows");

    let closed: Value = app
        .patch("/incidents/INC-1", json!({"status": "closed"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(closed["status"], "closed");
    assert!(closed["closed_at"].is_string());
    assert!(closed["resolved_at"].is_string());

    let list: Value = app
        .get("/incidents/INC-1/cleanup-items")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert_problem(
        app.patch(
            &format!("/incidents/INC-1/cleanup-items/{}", uuid::Uuid::new_v4()),
            json!({"status": "undone"}),
        )
        .await,
        404,
        None,
    )
    .await;
    assert_problem(
        app.post(
            "/incidents/INC-1/cleanup-items",
            json!({"kind": "unicorn", "description": "x"}),
        )
        .await,
        422,
        Some("kind"),
    )
    .await;
}
