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
    if app.database_url.starts_with("postgres") {
        // Replicas trust a token they found live for up to a second
        // (`read_cache::TOKEN_TTL`): the revocation is seen within it.
        let revoked = std::time::Instant::now();
        while get(reader.clone()).await.unwrap().status() == 200 {
            assert!(
                revoked.elapsed() < debrief::services::read_cache::TOKEN_TTL * 2,
                "the revocation is seen within a second"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    assert_problem(get(reader).await.unwrap(), 401, Some("Authorization")).await;
}

/// A token the cache holds stays cached across commits, and a revocation
/// by another connection is still refused at once on SQLite; by this
/// process, at once on both databases.
#[tokio::test]
async fn a_revoked_token_is_refused_at_once_whoever_revokes_it() {
    let app = spawn_app().await;
    app.simple_incident().await;
    let writer = app.token("write").await;
    let post = |token: String, n: u32| {
        app.client
            .post(app.url("/api/v1/incidents/INC-1/timeline"))
            .bearer_auth(token)
            .json(&json!({"kind": "note", "body": format!("note {n}"), "occurred_at": "2026-11-20T10:05:00Z"}))
            .send()
    };
    // Commits between uses: the token is checked again, not reloaded.
    for n in 0..3 {
        assert_eq!(post(writer.clone(), n).await.unwrap().status(), 201);
    }
    let listed: Value = app.get("/tokens").await.json().await.unwrap();
    let id = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "write-token")
        .map(|t| t["id"].as_str().unwrap().to_string())
        .expect("the write token is listed");
    let resp = app
        .client
        .delete(app.url(&format!("/api/v1/tokens/{id}")))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_problem(post(writer, 9).await.unwrap(), 401, Some("Authorization")).await;
}

async fn incident_id(app: &crate::helpers::TestApp) -> String {
    let detail: Value = app.get("/incidents/INC-1").await.json().await.unwrap();
    detail["id"].as_str().unwrap().to_string()
}
