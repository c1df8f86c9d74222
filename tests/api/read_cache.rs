//! Reads are never stale: the hot-read cache (SQLite) answers exactly what
//! the database would, whoever changed it.

use reqwest::Method;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn incident_reads_follow_the_apps_own_writes() {
    let app = spawn_app().await;
    app.simple_incident().await;
    // Read twice: the second answer may come from the cache.
    for _ in 0..2 {
        let detail: Value = app.get("/incidents/INC-1").await.json().await.unwrap();
        assert_eq!(detail["counts"]["timeline_events"], 1, "{detail}");
        assert!(detail["current_sitrep"].is_null());
    }

    let resp = app
        .post(
            "/incidents/INC-1/timeline",
            json!({"kind": "note", "body": "Rolled back", "occurred_at": "2026-11-20T10:05:00Z"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let detail: Value = app.get("/incidents/INC-1").await.json().await.unwrap();
    assert_eq!(detail["counts"]["timeline_events"], 2, "{detail}");

    let resp = app
        .post(
            "/incidents/INC-1/sitreps",
            json!({"summary": "Rollback under way"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let resp = app
        .post(
            "/incidents/INC-1/roles",
            json!({"role": "incident_commander", "person": "Ana"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let resp = app
        .api(Method::PATCH, "/incidents/INC-1")
        .json(&json!({"title": "Checkout errors in eu-west"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    for path in [
        "/incidents/INC-1",
        &format!("/incidents/{}", incident_id(&app).await),
    ] {
        let detail: Value = app.get(path).await.json().await.unwrap();
        assert_eq!(detail["title"], "Checkout errors in eu-west", "{detail}");
        assert_eq!(detail["current_sitrep"]["version"], 1, "{detail}");
        assert_eq!(detail["roles"][0]["person"], "Ana", "{detail}");
        assert_eq!(detail["counts"]["sitreps"], 1);
    }
}

#[tokio::test]
async fn commits_by_another_connection_are_seen_at_once() {
    let app = spawn_app().await;
    app.simple_incident().await;
    let reader = app.token("read").await;
    let get = |token: String| {
        app.client
            .get(app.url("/api/v1/incidents/INC-1"))
            .bearer_auth(token)
            .send()
    };
    for _ in 0..2 {
        let detail: Value = get(reader.clone()).await.unwrap().json().await.unwrap();
        assert_eq!(detail["title"], "Checkout errors");
    }

    // Another process (a `debrief import`, a second replica) changes the
    // database behind the app's back.
    let other = Database::connect(&app.database_url).await.unwrap();
    other
        .execute_unprepared("UPDATE incidents SET title = 'Renamed elsewhere' WHERE number = 1")
        .await
        .unwrap();
    let detail: Value = get(reader.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(detail["title"], "Renamed elsewhere", "{detail}");

    other
        .execute_unprepared(
            "UPDATE api_tokens SET revoked_at = created_at WHERE name = 'read-token'",
        )
        .await
        .unwrap();
    assert_problem(get(reader).await.unwrap(), 401, Some("Authorization")).await;
}

async fn incident_id(app: &crate::helpers::TestApp) -> String {
    let detail: Value = app.get("/incidents/INC-1").await.json().await.unwrap();
    detail["id"].as_str().unwrap().to_string()
}
