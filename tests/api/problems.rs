//! Every kind of problem body the service sends, as one reviewed snapshot:
//! status, content type, the headers that go with it, and the body. A change
//! to any error's wording or shape shows up as a snapshot diff. Volatile
//! parts (ids, ports) are replaced before the snapshot is taken.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, spawn_app_with};

/// One answer as the snapshot shows it.
async fn answer(case: &str, resp: Response) -> Value {
    let status = resp.status().as_u16();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let mut headers = serde_json::Map::new();
    for name in ["content-type", "www-authenticate", "allow", "retry-after"] {
        if let Some(value) = header(name) {
            headers.insert(name.into(), Value::String(value));
        }
    }
    let body: Value = resp.json().await.expect("a problem body is JSON");
    json!({"case": case, "status": status, "headers": headers, "body": body})
}

/// Send a raw HTTP/1.1 request and read the answer until the server closes
/// the connection or `wait` passes.
async fn raw(app: &TestApp, request: &[u8], wait: Duration) -> (u16, Value) {
    let mut stream = TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(wait, stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer).to_string();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let content_type = head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        })
        .map(|(_, v)| v.trim().to_string());
    let body: Value = serde_json::from_str(body.trim()).unwrap_or(Value::String(body.into()));
    (status, json!({"content-type": content_type, "body": body}))
}

fn json_post(app: &TestApp, path: &str, body: &str) -> RequestBuilder {
    app.api(Method::POST, path)
        .header("content-type", "application/json")
        .body(body.to_string())
}

/// Replace what changes from run to run (ids, ports) by stable names.
fn stable(value: Value) -> Value {
    let text = value.to_string();
    let uuid =
        regex::Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").unwrap();
    let port = regex::Regex::new(r"127\.0\.0\.1:\d+").unwrap();
    let text = uuid.replace_all(&text, "[uuid]");
    let text = port.replace_all(&text, "127.0.0.1:[port]");
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn every_problem_kind_keeps_its_shape() {
    let app = spawn_app_with(|s| s.body_limit_bytes = 64 * 1024).await;
    let incident = app.simple_incident().await;
    let mut cases = Vec::new();

    let resp = json_post(&app, "/incidents", "{\"title\": ").send().await;
    cases.push(answer("400 body is not JSON", resp.unwrap()).await);

    let resp = app
        .api(Method::PATCH, "/incidents/INC-1")
        .header("content-type", "application/json")
        .header("if-match", "not-a-version")
        .body("{\"title\": \"x\"}")
        .send()
        .await;
    cases.push(answer("400 If-Match names no version", resp.unwrap()).await);

    let resp = app.client.get(app.url("/api/v1/incidents")).send().await;
    cases.push(answer("401 no token", resp.unwrap()).await);

    let read = app.token("read").await;
    let resp = app
        .client
        .post(app.url("/api/v1/incidents"))
        .bearer_auth(read)
        .json(&json!({"title": "x", "severity": "sev1"}))
        .send()
        .await;
    cases.push(answer("403 scope too small", resp.unwrap()).await);

    let resp = app.get("/incidents/INC-999").await;
    cases.push(answer("404 no such resource", resp).await);

    let resp = app.api(Method::GET, "/nowhere").send().await;
    cases.push(answer("404 no such route", resp.unwrap()).await);

    let resp = app.api(Method::DELETE, "/incidents").send().await;
    cases.push(answer("405 method not allowed", resp.unwrap()).await);

    let resp = app
        .post(
            "/incidents/INC-1/cleanup-items",
            json!({"kind": "silenced_alert", "description": "Silenced checkout-5xx", "owner": "ben"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let resp = app
        .patch("/incidents/INC-1", json!({"status": "closed"}))
        .await;
    cases.push(answer("409 pending cleanup items", resp).await);

    let resp = app
        .post("/incidents/INC-1/postmortem/publish", json!({}))
        .await;
    cases.push(answer("409 state does not allow it", resp).await);

    let version = incident["version"].as_i64().unwrap();
    let resp = app
        .patch("/incidents/INC-1", json!({"title": "Renamed"}))
        .await;
    assert_eq!(resp.status(), 200);
    let resp = app
        .api(Method::PATCH, "/incidents/INC-1")
        .header("content-type", "application/json")
        .header("if-match", format!("\"{version}\""))
        .body("{\"title\": \"Stale\"}")
        .send()
        .await;
    cases.push(answer("412 stale If-Match", resp.unwrap()).await);

    let resp = json_post(&app, "/incidents", &format!("\"{}\"", "x".repeat(100_000)))
        .send()
        .await;
    cases.push(answer("413 body over the limit", resp.unwrap()).await);

    let long = "a".repeat(70_000);
    let (status, raw_answer) = raw(
        &app,
        format!("GET /api/v1/incidents?q={long} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        Duration::from_secs(5),
    )
    .await;
    cases.push(json!({"case": "414 URI too long", "status": status, "answer": raw_answer}));

    let resp = app
        .api(Method::POST, "/incidents")
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await;
    cases.push(answer("415 not JSON", resp.unwrap()).await);

    let resp = app
        .post("/incidents", json!({"title": "", "severity": "sev1"}))
        .await;
    cases.push(answer("422 rule broken", resp).await);

    let resp = app
        .post(
            "/incidents",
            json!({"title": "x", "severity": "sev1", "colour": "red"}),
        )
        .await;
    cases.push(answer("422 unknown field", resp).await);

    let resp = app.get("/incidents?limit=100000").await;
    cases.push(answer("422 query parameter out of range", resp).await);

    let resp = app.get("/incidents/nope").await;
    cases.push(answer("422 path parameter malformed", resp).await);

    insta::assert_yaml_snapshot!("problem_bodies", stable(Value::Array(cases)));
}

/// The kinds that need a service in a particular state: a stalled upload,
/// a full render queue, a corrupt stored row, a closed database.
#[tokio::test]
async fn problems_of_a_service_under_strain_keep_their_shape() {
    let app = spawn_app_with(|s| {
        s.limits.body_timeout_seconds = 1;
        s.limits.renders = 1;
        s.limits.render_queue = 0;
    })
    .await;
    app.simple_incident().await;
    let mut cases = Vec::new();

    let head = format!(
        "POST /api/v1/incidents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"title\":",
        app.admin_token
    );
    let (status, raw_answer) = raw(&app, head.as_bytes(), Duration::from_secs(10)).await;
    cases
        .push(json!({"case": "408 body stopped arriving", "status": status, "answer": raw_answer}));

    let running = app.context.renders.admit().await.unwrap();
    let resp = app.get("/incidents/INC-1/postmortem/internal.pdf").await;
    cases.push(answer("503 render queue full", resp).await);
    drop(running);

    use sea_orm::ConnectionTrait;
    app.context
        .db
        .execute_unprepared("UPDATE incidents SET severity = 'sev9'")
        .await
        .unwrap();
    let resp = app.get("/incidents/INC-1").await;
    cases.push(answer("500 corrupt stored row", resp).await);

    app.context.db.clone().close().await.unwrap();
    let resp = app.get("/incidents").await;
    cases.push(answer("503 database unavailable", resp).await);

    insta::assert_yaml_snapshot!("problem_bodies_under_strain", stable(Value::Array(cases)), {
        "[].headers[\"retry-after\"]" => "[seconds]",
    });
}
