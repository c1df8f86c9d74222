use serde_json::{Value, json};

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn ic_hand_off_relieves_the_previous_holder_and_keeps_history() {
    let app = spawn_app().await;
    app.simple_incident().await;
    let resp = app
        .post(
            "/incidents/INC-1/roles",
            json!({"role": "incident_commander", "person": "Ana"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    app.post(
        "/incidents/INC-1/roles",
        json!({"role": "scribe", "person": "Cy"}),
    )
    .await;
    app.post(
        "/incidents/INC-1/roles",
        json!({"role": "responder", "person": "Dee"}),
    )
    .await;
    app.post(
        "/incidents/INC-1/roles",
        json!({"role": "responder", "person": "Eve"}),
    )
    .await;
    app.clock.advance(chrono::Duration::minutes(45));
    app.post(
        "/incidents/INC-1/roles",
        json!({"role": "incident_commander", "person": "Ben"}),
    )
    .await;

    let roles: Value = app
        .get("/incidents/INC-1/roles")
        .await
        .json()
        .await
        .unwrap();
    let current: Vec<(String, String)> = roles["current"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["role"].as_str().unwrap().into(),
                r["person"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(current.contains(&("incident_commander".into(), "Ben".into())));
    assert!(!current.contains(&("incident_commander".into(), "Ana".into())));
    assert_eq!(
        current.iter().filter(|(r, _)| r == "responder").count(),
        2,
        "responders are not exclusive"
    );
    let ana = roles["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["person"] == "Ana")
        .unwrap();
    assert_eq!(ana["active"], false);
    assert_eq!(ana["relieved_at"], "2026-11-20T10:45:00+00:00");

    let timeline: Value = app
        .get("/incidents/INC-1/timeline?kind=note")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        timeline["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["body"] == "Incident Commander handed off from Ana to Ben.")
    );

    let detail: Value = app.get("/incidents/INC-1").await.json().await.unwrap();
    assert_eq!(detail["roles"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn bad_role_inputs() {
    let app = spawn_app().await;
    app.simple_incident().await;
    assert_problem(
        app.post(
            "/incidents/INC-1/roles",
            json!({"role": "Chief Wizard", "person": "A"}),
        )
        .await,
        422,
        Some("role"),
    )
    .await;
    assert_problem(
        app.post("/incidents/INC-1/roles", json!({"role": "comms"}))
            .await,
        422,
        Some("person"),
    )
    .await;
    assert_problem(
        app.post(
            "/incidents/INC-9/roles",
            json!({"role": "comms", "person": "A"}),
        )
        .await,
        404,
        None,
    )
    .await;
    app.post(
        "/incidents/INC-1/roles",
        json!({"role": "comms", "person": "A"}),
    )
    .await;
    assert_problem(
        app.post(
            "/incidents/INC-1/roles",
            json!({"role": "comms", "person": "A"}),
        )
        .await,
        409,
        Some("person"),
    )
    .await;
    // A custom role is fine.
    assert_eq!(
        app.post(
            "/incidents/INC-1/roles",
            json!({"role": "db_liaison", "person": "B"})
        )
        .await
        .status(),
        201
    );
}
