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
    let events: Vec<Value> = (0..2_000)
        .map(|i| serde_json::json!({"kind": "note", "body": format!("Event {i}"), "external_id": format!("e{i}")}))
        .collect();
    let body = serde_json::to_vec(&serde_json::json!({"events": events})).unwrap();
    let (first, rest) = body.split_at(body.len() / 2);
    // The body arrives in two parts: the request is in flight (headers and
    // half the body read) when the shutdown is asked for.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(2);
    tx.send(Ok(first.to_vec())).await.unwrap();
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let request = app
        .api(reqwest::Method::POST, "/incidents/INC-1/timeline")
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send();
    let in_flight = tokio::spawn(request);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    app.shutdown.take().unwrap().send(()).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    tx.send(Ok(rest.to_vec())).await.unwrap();
    drop(tx);
    let resp = in_flight
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(resp.status(), 200);
    let summary: Value = resp.json().await.unwrap();
    assert_eq!(summary["created"], 2_000);
    app.stopped.take().unwrap().await.unwrap().unwrap();
    assert!(
        app.client.get(app.url("/healthz")).send().await.is_err(),
        "no longer listening"
    );
}
