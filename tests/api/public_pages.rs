//! Public pages a company can publish: its name and logo, the dates, a way
//! back to the index, the PDF, pages for browsers where a program gets a
//! problem, and caching headers on the listings.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app_with};

async fn published(app: &TestApp) -> String {
    app.create_incident(json!({
        "title": "Checkout failing for EU customers", "severity": "sev2",
        "detected_at": "2026-11-20T09:58:00Z", "resolved_at": "2026-11-20T11:00:00Z"
    }))
    .await;
    let resp = app
        .api(reqwest::Method::PUT, "/incidents/INC-1/postmortem")
        .json(&json!({"status": "in_review", "sections": [
            {"key": "public_summary", "title": "Summary", "visibility": "public",
             "body": "Card payments failed for an hour."}
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = app
        .post("/incidents/INC-1/postmortem/publish", json!({}))
        .await;
    assert_eq!(resp.status(), 201);
    resp.json::<Value>().await.unwrap()["slug"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn get(app: &TestApp, path: &str, accept: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("Accept", accept)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn pages_carry_the_organisation_the_dates_and_the_pdf() {
    let logo = tempfile::Builder::new().suffix(".svg").tempfile().unwrap();
    std::fs::write(
        logo.path(),
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="#0d55b3"/></svg>"##,
    )
    .unwrap();
    let logo_path = logo.path().to_path_buf();
    let app = spawn_app_with(move |s| {
        s.documents.organisation = Some("Acme Payments".into());
        s.documents.logo = Some(logo_path);
    })
    .await;
    let slug = published(&app).await;

    let index = get(&app, "/public/postmortems", "text/html")
        .await
        .text()
        .await
        .unwrap();
    assert!(index.contains("Acme Payments"), "{index}");
    assert!(
        index.contains("src=\"data:image/svg+xml;base64,"),
        "{index}"
    );

    let page = get(&app, &format!("/public/postmortems/{slug}"), "text/html")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Acme Payments"));
    assert!(page.contains("data:image/svg+xml;base64,"));
    assert!(page.contains("href=\"../postmortems\">All post-mortems</a>"));
    assert!(page.contains("Published 20 November 2026"), "{page}");
    assert!(!page.contains("updated"), "one version: no update date");

    // A second version says when it was updated.
    app.clock.advance(chrono::TimeDelta::days(2));
    let resp = app
        .api(reqwest::Method::PUT, "/incidents/INC-1/postmortem")
        .json(&json!({"sections": [
            {"key": "public_summary", "title": "Summary", "visibility": "public",
             "body": "Card payments failed for an hour; we added a canary."}
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        app.post("/incidents/INC-1/postmortem/publish", json!({}))
            .await
            .status(),
        201
    );
    let page = get(&app, &format!("/public/postmortems/{slug}"), "text/html")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Published 20 November 2026 · updated 22 November 2026 (version 2)"),
        "{page}"
    );

    let pdf = get(
        &app,
        &format!("/public/postmortems/{slug}?format=pdf"),
        "*/*",
    )
    .await;
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF-"));
    let bad = get(
        &app,
        &format!("/public/postmortems/{slug}?format=docx"),
        "*/*",
    )
    .await;
    assert_problem(bad, 422, Some("format")).await;
}

#[tokio::test]
async fn browsers_get_pages_and_programs_get_problems_for_missing_ones() {
    let app = spawn_app_with(|s| s.documents.organisation = Some("Acme Payments".into())).await;
    let slug = published(&app).await;
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let resp = get(&app, "/public/postmortems/no-such-thing", browser).await;
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
    let html = resp.text().await.unwrap();
    assert!(html.contains("No post-mortem here") && html.contains("Acme Payments"));
    assert!(html.contains("href=\"/public/postmortems\""));
    let resp = get(
        &app,
        "/public/postmortems/no-such-thing",
        "application/json",
    )
    .await;
    assert_problem(resp, 404, None).await;

    assert_eq!(
        app.post("/incidents/INC-1/postmortem/unpublish", json!({}))
            .await
            .status(),
        200
    );
    let resp = get(&app, &format!("/public/postmortems/{slug}"), browser).await;
    assert_eq!(resp.status(), 410);
    assert!(resp.text().await.unwrap().contains("no longer here"));
    let resp = get(&app, &format!("/public/postmortems/{slug}"), "*/*").await;
    assert_problem(resp, 410, None).await;
}

#[tokio::test]
async fn the_index_and_the_feed_can_be_cached() {
    let app = spawn_app_with(|_| {}).await;
    published(&app).await;
    for path in ["/public/postmortems", "/public/postmortems/feed.atom"] {
        let first = get(&app, path, "*/*").await;
        assert_eq!(first.status(), 200);
        let tag = first.headers()["etag"].to_str().unwrap().to_string();
        assert_eq!(
            first.headers()["last-modified"],
            "Fri, 20 Nov 2026 10:00:00 GMT",
            "{path}"
        );
        let again = app
            .client
            .get(app.url(path))
            .header("If-None-Match", &tag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert!(again.bytes().await.unwrap().is_empty());
        let since = app
            .client
            .get(app.url(path))
            .header("If-Modified-Since", "Fri, 20 Nov 2026 10:00:00 GMT")
            .send()
            .await
            .unwrap();
        assert_eq!(since.status(), 304, "{path}");
        let stale = app
            .client
            .get(app.url(path))
            .header("If-None-Match", "\"something-else\"")
            .send()
            .await
            .unwrap();
        assert_eq!(stale.status(), 200, "{path}");
    }
}
