use serde_json::{Value, json};

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn versions_roles_snapshot_and_status_update_in_one_go() {
    let app = spawn_app().await;
    app.simple_incident().await;
    app.post(
        "/incidents/INC-1/roles",
        json!({"role": "incident_commander", "person": "Ana"}),
    )
    .await;
    let resp = app
        .post(
            "/incidents/INC-1/sitreps",
            json!({
                "summary": "Checkout failing for 30% of users.\nCause unknown.",
                "open_issues": ["Which deploy?"],
                "current_actions": ["Rolling back web tier"],
                "author": "Ana",
                "status_update": {"status": "investigating", "message": "Some payments fail; we are investigating."}
            }),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let v1: Value = resp.json().await.unwrap();
    assert_eq!(v1["version"], 1);
    assert_eq!(
        v1["roles"],
        json!([{"role": "incident_commander", "person": "Ana"}])
    );
    assert_eq!(v1["status_update"]["status"], "investigating");
    assert_eq!(v1["status_update_id"], v1["status_update"]["id"]);

    app.post(
        "/incidents/INC-1/roles",
        json!({"role": "incident_commander", "person": "Ben"}),
    )
    .await;
    let v2: Value = app
        .post(
            "/incidents/INC-1/sitreps",
            json!({
                "summary": "Checkout failing for 30% of users.\nCause: deploy 4312.",
                "open_issues": [],
                "resolved_issues": ["Which deploy?"],
                "current_actions": ["Rolling back web tier", "Verifying payments"],
                "author": "Ben"
            }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v2["version"], 2);

    let detail: Value = app.get("/incidents/INC-1").await.json().await.unwrap();
    assert_eq!(detail["current_sitrep"]["version"], 2);
    assert_eq!(detail["counts"]["sitreps"], 2);
    assert_eq!(detail["counts"]["status_updates"], 1);
    assert!(detail["last_customer_update_at"].is_string());

    let list: Value = app
        .get("/incidents/INC-1/sitreps")
        .await
        .json()
        .await
        .unwrap();
    let versions: Vec<i64> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [1, 2]);
    let one: Value = app
        .get("/incidents/INC-1/sitreps/1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["author"], "Ana");

    let diff: Value = app
        .get("/incidents/INC-1/sitreps/1/diff/2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(diff["from"], 1);
    assert_eq!(diff["to"], 2);
    let by_field = |f: &str| {
        diff["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["field"] == f)
            .cloned()
    };
    let summary = by_field("summary").expect("summary changed");
    assert!(
        summary["diff"]
            .as_str()
            .unwrap()
            .contains("+Cause: deploy 4312.")
    );
    assert_eq!(
        by_field("open_issues").unwrap()["removed"],
        json!(["Which deploy?"])
    );
    assert_eq!(
        by_field("current_actions").unwrap()["added"],
        json!(["Verifying payments"])
    );
    assert_eq!(
        by_field("roles").unwrap()["added"],
        json!(["incident_commander: Ben"])
    );
    assert!(by_field("customer_impact").is_none());

    let same: Value = app
        .get("/incidents/INC-1/sitreps/2/diff/2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(same["changes"], json!([]));

    assert_problem(app.get("/incidents/INC-1/sitreps/3").await, 404, None).await;
    assert_problem(
        app.get("/incidents/INC-1/sitreps/1/diff/9").await,
        404,
        None,
    )
    .await;

    let timeline: Value = app
        .get("/incidents/INC-1/timeline?kind=communication")
        .await
        .json()
        .await
        .unwrap();
    let texts: Vec<&str> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["body"].as_str().unwrap())
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("Sitrep v2 issued by Ben")),
        "{texts:?}"
    );
}

#[tokio::test]
async fn concurrent_writers_get_gap_free_versions() {
    let app = spawn_app().await;
    app.simple_incident().await;
    let writers = 24;
    let mut handles = Vec::new();
    for i in 0..writers {
        let client = app.client.clone();
        let url = app.url("/api/v1/incidents/INC-1/sitreps");
        let token = app.admin_token.clone();
        handles.push(tokio::spawn(async move {
            let resp = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"summary": format!("Update from writer {i}")}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 201, "writer {i}");
            resp.json::<Value>().await.unwrap()["version"]
                .as_i64()
                .unwrap()
        }));
    }
    let mut versions = Vec::new();
    for h in handles {
        versions.push(h.await.unwrap());
    }
    versions.sort_unstable();
    assert_eq!(
        versions,
        (1..=writers as i64).collect::<Vec<_>>(),
        "on {}",
        app.backend
    );
    let list: Value = app
        .get("/incidents/INC-1/sitreps")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), writers);
}

#[tokio::test]
async fn a_bad_status_update_rolls_the_sitrep_back() {
    let app = spawn_app().await;
    app.simple_incident().await;
    let resp = app
        .post(
            "/incidents/INC-1/sitreps",
            json!({"summary": "ok", "status_update": {"status": "investigating", "message": " "}}),
        )
        .await;
    assert_problem(resp, 422, Some("status_update.message")).await;
    let resp = app
        .post(
            "/incidents/INC-1/sitreps",
            json!({"summary": "ok", "status_update": {"status": "closed", "message": "x"}}),
        )
        .await;
    assert_problem(resp, 422, Some("status_update.status")).await;
    let list: Value = app
        .get("/incidents/INC-1/sitreps")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"], json!([]));
    // The next accepted sitrep is still version 1.
    let v: Value = app
        .post("/incidents/INC-1/sitreps", json!({"summary": "first"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["version"], 1);
}
