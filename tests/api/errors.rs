use reqwest::Method;
use serde_json::Value;

use crate::helpers::{assert_problem, spawn_app, spawn_app_with};

#[tokio::test]
async fn malformed_json_wrong_content_type_and_unknown_routes_are_problems() {
    let app = spawn_app().await;
    let cases: Vec<(RequestSpec, u16, Option<&str>, &str)> = vec![
        (
            RequestSpec::post("/api/v1/incidents", "application/json", "{\"title\": "),
            400,
            Some("body"),
            "truncated JSON",
        ),
        (
            RequestSpec::post("/api/v1/incidents", "application/json", ""),
            400,
            Some("body"),
            "empty body",
        ),
        (
            RequestSpec::post(
                "/api/v1/incidents",
                "application/json",
                "{\"title\": \"x\", \"severity\": \"sev1\"} trailing",
            ),
            400,
            Some("body"),
            "trailing garbage",
        ),
        (
            RequestSpec::post("/api/v1/incidents", "text/plain", "{}"),
            415,
            Some("Content-Type"),
            "not JSON",
        ),
        (
            RequestSpec::get("/api/v1/nowhere"),
            404,
            None,
            "unknown API route",
        ),
        (RequestSpec::get("/nowhere"), 404, None, "unknown route"),
        (
            RequestSpec {
                method: Method::DELETE,
                path: "/api/v1/incidents",
                content_type: None,
                body: None,
            },
            405,
            None,
            "wrong method",
        ),
    ];
    for (spec, status, field, why) in cases {
        let mut req = app
            .client
            .request(spec.method.clone(), app.url(spec.path))
            .bearer_auth(&app.admin_token);
        if let Some(ct) = spec.content_type {
            req = req.header("content-type", ct);
        }
        if let Some(body) = spec.body {
            req = req.body(body.to_string());
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), status, "{why}");
        assert_problem(resp, status, field).await;
    }
    let list: Value = app.get("/incidents").await.json().await.unwrap();
    assert_eq!(list["items"], serde_json::json!([]));
}

struct RequestSpec {
    method: Method,
    path: &'static str,
    content_type: Option<&'static str>,
    body: Option<&'static str>,
}

impl RequestSpec {
    fn post(path: &'static str, content_type: &'static str, body: &'static str) -> Self {
        Self {
            method: Method::POST,
            path,
            content_type: Some(content_type),
            body: Some(body),
        }
    }
    fn get(path: &'static str) -> Self {
        Self {
            method: Method::GET,
            path,
            content_type: None,
            body: None,
        }
    }
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_and_change_nothing() {
    let app = spawn_app_with(|s| s.body_limit_bytes = 1024).await;
    let big = format!(
        "{{\"title\": \"{}\", \"severity\": \"sev1\"}}",
        "x".repeat(2000)
    );
    let resp = app
        .api(Method::POST, "/incidents")
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_problem(resp, 413, None).await;
    // Without Content-Length (chunked), the limit still holds.
    let stream = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(big.into_bytes())]);
    let resp = app
        .api(Method::POST, "/incidents")
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 413, None).await;
    let list: Value = app.get("/incidents").await.json().await.unwrap();
    assert_eq!(list["items"], serde_json::json!([]));
}

#[tokio::test]
async fn method_not_allowed_says_what_is_allowed() {
    let app = spawn_app().await;
    app.simple_incident().await;
    let resp = app
        .api(Method::DELETE, "/incidents/INC-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "GET, PATCH");
    assert_problem(resp, 405, None).await;
}

#[tokio::test]
async fn if_match_that_names_no_version_is_a_bad_request() {
    let app = spawn_app().await;
    app.simple_incident().await;
    for value in ["", "\"abc\"", "W/"] {
        let resp = app
            .api(Method::PATCH, "/incidents/INC-1")
            .header("If-Match", value)
            .json(&serde_json::json!({"title": "New"}))
            .send()
            .await
            .unwrap();
        assert_problem(resp, 400, Some("If-Match")).await;
    }
    let resp = app
        .api(Method::PATCH, "/incidents/INC-1")
        .header("If-Match", "\"7\", \"1\"")
        .json(&serde_json::json!({"title": "New"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "a list of ETags matches when one does");
}

#[tokio::test]
async fn unknown_fields_and_nulls_that_cannot_be_null_are_refused() {
    let app = spawn_app().await;
    let problem = assert_problem(
        app.post(
            "/incidents",
            serde_json::json!({"title": "Checkout", "severity": "sev2", "custmer_impact": "x"}),
        )
        .await,
        422,
        Some("custmer_impact"),
    )
    .await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("did you mean `customer_impact`?"),
        "{problem}"
    );
    let list: Value = app.get("/incidents").await.json().await.unwrap();
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        0,
        "nothing created"
    );

    app.simple_incident().await;
    for (body, field) in [
        (serde_json::json!({"title": null}), "title"),
        (serde_json::json!({"severity": null}), "severity"),
        (serde_json::json!({"labels": null}), "labels"),
        (serde_json::json!({"sevrity": "sev1"}), "sevrity"),
    ] {
        assert_problem(app.patch("/incidents/INC-1", body).await, 422, Some(field)).await;
    }
    let incident: Value = app.get("/incidents/INC-1").await.json().await.unwrap();
    assert_eq!(incident["title"], "Checkout errors", "unchanged");
    assert_eq!(incident["version"], 1, "no refused PATCH changed anything");
    // A field that may be cleared takes null.
    for value in [serde_json::json!("Some card payments fail"), Value::Null] {
        let resp = app
            .patch(
                "/incidents/INC-1",
                serde_json::json!({"customer_impact": value.clone()}),
            )
            .await;
        assert_eq!(resp.status(), 200);
        let incident: Value = resp.json().await.unwrap();
        assert_eq!(incident["customer_impact"], value);
    }

    // Nested objects and batches too, with the path of the field.
    let resp = app
        .post(
            "/incidents/INC-1/timeline",
            serde_json::json!({"events": [
                {"kind": "note", "body": "a"},
                {"kind": "note", "body": "b", "external_id": ""}
            ]}),
        )
        .await;
    assert_problem(resp, 422, Some("events[1].external_id")).await;
    let resp = app
        .post(
            "/incidents/INC-1/timeline",
            serde_json::json!({"kind": "note", "body": "a", "colour": "red"}),
        )
        .await;
    assert_problem(resp, 422, Some("colour")).await;
}

#[tokio::test]
async fn parameters_are_checked_in_debriefs_own_words() {
    let app = spawn_app().await;
    app.simple_incident().await;
    for (path, field, says) in [
        (
            "/incidents?limit=501",
            "limit",
            "`limit` is \"501\": it must be a whole number from 1 to 500",
        ),
        (
            "/incidents?status=bogus",
            "status",
            "`status` is \"bogus\": it must be one of `investigating`",
        ),
        (
            "/incidents?since=2026-13-01",
            "since",
            "it must be a date such as 2026-11-30 or an RFC 3339 date-time",
        ),
        (
            "/incidents?customer_update_overdue=maybe",
            "customer_update_overdue",
            "it must be `true` or `false`",
        ),
        ("/incidents/INC-x", "reference", "INC-42"),
        (
            "/remediations?due_before=soon",
            "due_before",
            "it must be a date such as 2026-11-30",
        ),
    ] {
        let problem = assert_problem(app.get(path).await, 422, Some(field)).await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(says), "{path}: {detail}");
        assert!(!detail.contains("optional_"), "{path}: {detail}");
    }
    let resp = app
        .api(Method::DELETE, "/redactions/not-a-uuid")
        .send()
        .await
        .unwrap();
    let problem = assert_problem(resp, 422, Some("rule_id")).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("a UUID"),
        "{problem}"
    );

    // A date or a date-time, in every date filter.
    for path in [
        "/incidents?since=2026-11-17&until=2026-11-30",
        "/incidents?since=2026-11-17T00:00:00Z",
        "/remediations?due_before=2026-11-17",
        "/remediations?due_after=2026-11-17T10:00:00%2B01:00",
        "/remediations/summary?from=2026-01-01&to=2026-11-30T12:00:00Z",
    ] {
        assert_eq!(app.get(path).await.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn every_error_status_has_a_problem_body() {
    let app = spawn_app().await;
    // 401 says how to authenticate.
    let resp = app
        .client
        .get(app.url("/api/v1/incidents"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["www-authenticate"],
        "Bearer realm=\"debrief\""
    );
    assert_problem(resp, 401, Some("Authorization")).await;

    // 414: hyper's own answer, with a problem body.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let long = "a".repeat(70_000);
    stream
        .write_all(format!("GET /api/v1/incidents?q={long} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut answer),
    )
    .await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 414"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["status"], 414);
}

#[tokio::test]
async fn an_incident_opened_with_a_milestone_started_at_the_earliest_one() {
    let app = spawn_app().await;
    // The test clock is 2026-11-20; these milestones are days before it.
    let incident = app
        .create_incident(serde_json::json!({
            "title": "Back-dated", "severity": "sev3",
            "detected_at": "2026-11-02T09:58:00Z", "mitigated_at": "2026-11-02T11:00:00Z"
        }))
        .await;
    let started: chrono::DateTime<chrono::Utc> =
        incident["started_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(started.to_rfc3339(), "2026-11-02T09:58:00+00:00");
    let incident = app
        .create_incident(serde_json::json!({"title": "Now", "severity": "sev3"}))
        .await;
    assert!(incident["started_at"].is_string());
}
