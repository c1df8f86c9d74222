use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn every_api_route_needs_a_valid_token() {
    let app = spawn_app().await;
    let anonymous = app
        .client
        .get(app.url("/api/v1/incidents"))
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, 401, Some("Authorization")).await;
    let wrong = app
        .client
        .get(app.url("/api/v1/incidents"))
        .bearer_auth("dbf_not-a-token")
        .send()
        .await
        .unwrap();
    assert_problem(wrong, 401, None).await;
    let not_bearer = app
        .client
        .get(app.url("/api/v1/incidents"))
        .header("Authorization", "Basic YTpi")
        .send()
        .await
        .unwrap();
    assert_problem(not_bearer, 401, None).await;
    // Auth is checked before the body: no token and a bad body is still 401.
    let resp = app
        .client
        .post(app.url("/api/v1/incidents"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_problem(resp, 401, None).await;
}

#[tokio::test]
async fn scopes_read_write_admin() {
    let app = spawn_app().await;
    let read = app.token("read").await;
    let write = app.token("write").await;
    let create = |token: &str| {
        app.client
            .post(app.url("/api/v1/incidents"))
            .bearer_auth(token.to_string())
            .json(&json!({"title": "x", "severity": "sev3"}))
            .send()
    };
    assert_problem(create(&read).await.unwrap(), 403, None).await;
    assert_eq!(create(&write).await.unwrap().status(), 201);
    let list = app
        .client
        .get(app.url("/api/v1/incidents"))
        .bearer_auth(&read)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200);
    let tokens = app
        .client
        .get(app.url("/api/v1/tokens"))
        .bearer_auth(&write)
        .send()
        .await
        .unwrap();
    assert_problem(tokens, 403, None).await;
}

#[tokio::test]
async fn tokens_are_shown_once_stored_hashed_and_revocable() {
    let app = spawn_app().await;
    let created: Value = app
        .post("/tokens", json!({"name": "chat-bot", "scope": "write"}))
        .await
        .json()
        .await
        .unwrap();
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("dbf_"));
    let list: Value = app.get("/tokens").await.json().await.unwrap();
    let text = list.to_string();
    assert!(!text.contains(&secret), "a listing never shows a secret");
    assert!(text.contains("chat-bot"));

    let ok = app
        .client
        .get(app.url("/api/v1/incidents"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    // The use is recorded off the request's path, at once.
    let mut last_used = Value::Null;
    for _ in 0..100 {
        let list: Value = app.get("/tokens").await.json().await.unwrap();
        last_used = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "chat-bot")
            .unwrap()["last_used_at"]
            .clone();
        if !last_used.is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(last_used, "2026-11-20T10:00:00+00:00");
    let id = created["id"].as_str().unwrap();
    let revoked = app
        .api(Method::DELETE, &format!("/tokens/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let after = app
        .client
        .get(app.url("/api/v1/incidents"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_problem(after, 401, None).await;
}

#[tokio::test]
async fn public_operational_routes_need_no_token() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        let resp = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn metrics_can_require_a_token() {
    let app =
        crate::helpers::spawn_app_with(|s| s.metrics = debrief::config::MetricsAccess::Token).await;
    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_problem(resp, 401, None).await;
    let resp = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}
