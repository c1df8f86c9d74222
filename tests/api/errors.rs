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
