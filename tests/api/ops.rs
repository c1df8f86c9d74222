use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = spawn_app().await;
    let health: Value = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let ready: Value = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["database"], "ok");

    app.simple_incident().await;
    app.get("/incidents/INC-1").await;
    app.get("/incidents/INC-404").await;
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"debrief_http_requests_total{method="GET",route="/api/v1/incidents/{reference}",status="200"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"route="/api/v1/incidents/{reference}",status="404"} 1"#));
    assert!(metrics.contains(
        r#"debrief_http_requests_total{method="POST",route="/api/v1/incidents",status="201"} 1"#
    ));
    assert!(metrics.contains("debrief_http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn swagger_ui_is_served() {
    let app = spawn_app().await;
    let resp = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.text()
            .await
            .unwrap()
            .to_lowercase()
            .contains("swagger")
    );
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let mut app = spawn_app().await;
    app.simple_incident().await;
    let events: Vec<Value> = (0..10_000)
        .map(|i| serde_json::json!({"kind": "note", "body": format!("Event {i} {}", "x".repeat(100)), "external_id": format!("e{i}")}))
        .collect();
    let request = app
        .api(reqwest::Method::POST, "/incidents/INC-1/timeline")
        .json(&serde_json::json!({"events": events}))
        .send();
    let in_flight = tokio::spawn(request);
    // Let the request reach the server, then ask it to stop.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    app.shutdown.take().unwrap().send(()).unwrap();
    let resp = in_flight
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(resp.status(), 200);
    let summary: Value = resp.json().await.unwrap();
    assert_eq!(summary["created"], 10_000);
    app.stopped.take().unwrap().await.unwrap().unwrap();
    assert!(
        app.client.get(app.url("/healthz")).send().await.is_err(),
        "no longer listening"
    );
}
