//! Post-mortems: the resource, its documents in every format, redaction with
//! the fail-closed leak check, publishing and the public pages.

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app, spawn_app_with, t0};

/// An incident with a record worth a document: roles with a hand-off,
/// internal and public timeline events, two sitreps, status updates, a
/// cleanup item, a remediation item and written sections.
async fn rich_incident(app: &TestApp) {
    app.create_incident(json!({
        "title": "Checkout failing for EU customers",
        "severity": "sev1",
        "customer_impact": "About 30% of card payments failed",
        "affected_components": ["checkout", "payments-api"],
        "started_at": "2026-11-20T09:40:00Z",
        "detected_at": "2026-11-20T09:52:00Z",
        "acknowledged_at": "2026-11-20T09:55:00Z",
        "mitigated_at": "2026-11-20T10:31:00Z",
        "resolved_at": "2026-11-20T10:59:00Z"
    }))
    .await;
    for (role, person) in [
        ("incident_commander", "Ana Lima"),
        ("comms", "Ben Okafor"),
        ("incident_commander", "Chen Wei"),
    ] {
        let resp = app
            .post(
                "/incidents/INC-1/roles",
                json!({"role": role, "person": person}),
            )
            .await;
        assert_eq!(resp.status(), 201, "assign {role}");
    }
    let resp = app
        .post(
            "/incidents/INC-1/timeline",
            json!({"events": [
                {"occurred_at": "2026-11-20T09:52:00Z", "kind": "detection", "author": "Ana Lima",
                 "body": "Alert: checkout 5xx above 5% on db-7.corp.example.net (10.4.2.17)", "source": "chat", "external_id": "e1"},
                {"occurred_at": "2026-11-20T09:58:00Z", "kind": "communication", "author": "Ben Okafor",
                 "body": "We are investigating failed card payments in Europe.", "visibility": "public", "source": "chat", "external_id": "e2"},
                {"occurred_at": "2026-11-20T10:05:00Z", "kind": "action", "author": "Chen Wei",
                 "body": "Rolled back deploy 4312 of Project Falcon <script>alert('x')</script>", "source": "chat", "external_id": "e3"},
                {"occurred_at": "2026-11-20T10:31:00Z", "kind": "mitigation", "author": "Chen Wei",
                 "body": "Error rate back to normal after the rollback.", "visibility": "public", "source": "chat", "external_id": "e4"},
                {"occurred_at": "2026-11-20T10:59:00Z", "kind": "resolution", "author": "Ana Lima",
                 "body": "Resolved | monitoring for one hour.", "visibility": "public", "source": "chat", "external_id": "e5"}
            ]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    for summary in [
        "Card payments failing since deploy 4312.",
        "Rollback done; error rate normal.",
    ] {
        let resp = app
            .post(
                "/incidents/INC-1/sitreps",
                json!({"summary": summary, "author": "Chen Wei"}),
            )
            .await;
        assert_eq!(resp.status(), 201);
    }
    let resp = app
        .post(
            "/incidents/INC-1/status-updates",
            json!({"status": "identified", "message": "We found the cause and are rolling back.",
                   "posted_at": "2026-11-20T10:10:00Z"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let resp = app
        .post(
            "/incidents/INC-1/cleanup-items",
            json!({"kind": "silenced_alert", "description": "Silenced checkout-5xx alert", "owner": "Ben Okafor"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let resp = app
        .post(
            "/remediations",
            json!({"title": "Canary deploys for payments-api", "kind": "prevent", "priority": "p1",
                   "owner": "Chen Wei", "team": "payments", "incidents": ["INC-1"]}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let resp = put(
        app,
        json!({
            "owner": "Ana Lima",
            "sections": [
                {"key": "summary", "title": "Summary", "body": "Deploy 4312 of **Project Falcon** broke card payments."},
                {"key": "timeline", "title": "Timeline", "body": ""},
                {"key": "root_cause", "title": "Root cause", "body": "A config change on db-7 halved the pool.\n\n- item one\n- item two"},
                {"key": "action_items", "title": "Action items", "body": ""},
                {"key": "public_summary", "title": "Summary", "visibility": "public",
                 "body": "Between 09:40 and 10:59 UTC some card payments in Europe failed. Chen Wei rolled back."},
                {"key": "what_happened", "title": "What happened", "visibility": "public",
                 "body": "A faulty deploy of Project Falcon reached db-7.corp.example.net; contact ops@example.com."}
            ]
        }),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
}

async fn put(app: &TestApp, body: Value, if_match: Option<&str>) -> Response {
    let mut req = app
        .api(Method::PUT, "/incidents/INC-1/postmortem")
        .json(&body);
    if let Some(tag) = if_match {
        req = req.header("If-Match", tag);
    }
    req.send().await.expect("request")
}

async fn document(app: &TestApp, name: &str) -> Response {
    app.get(&format!("/incidents/INC-1/postmortem/{name}"))
        .await
}

async fn text_of(app: &TestApp, name: &str) -> String {
    let resp = document(app, name).await;
    assert_eq!(resp.status(), 200, "{name}");
    resp.text().await.unwrap()
}

/// The text of each page of a PDF, parsed with lopdf.
fn pdf_pages(bytes: &[u8]) -> Vec<String> {
    let doc = lopdf::Document::load_mem(bytes).expect("a valid PDF");
    doc.get_pages()
        .keys()
        .map(|n| doc.extract_text(&[*n]).expect("text extracts"))
        .collect()
}

fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[tokio::test]
async fn a_new_postmortem_has_the_default_sections_and_a_due_date_from_severity() {
    let app = spawn_app().await;
    // 2026-11-20 is a Friday.
    for (severity, expected) in [
        ("sev1", Some("2026-11-23")),
        ("sev2", Some("2026-11-27")),
        ("sev3", Some("2026-12-04")),
        ("sev4", None),
    ] {
        let incident = app
            .create_incident(json!({"title": "Disk full", "severity": severity,
                                    "started_at": "2026-11-20T08:00:00Z"}))
            .await;
        let reference = incident["ref"].as_str().unwrap();
        let resp = app.get(&format!("/incidents/{reference}/postmortem")).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["etag"], "\"1\"");
        let pm: Value = resp.json().await.unwrap();
        assert_eq!(pm["due_date"].as_str(), expected, "{severity}");
        assert_eq!(pm["status"], "draft");
        assert_eq!(pm["kind"], "dedicated");
        assert_eq!(pm["incident_ref"], reference);
        let keys: Vec<&str> = pm["sections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["key"].as_str().unwrap())
            .collect();
        assert_eq!(
            keys,
            [
                "summary",
                "impact",
                "timeline",
                "root_cause",
                "trigger",
                "detection",
                "resolution",
                "contributing_factors",
                "what_went_well",
                "what_went_wrong",
                "where_we_got_lucky",
                "action_items",
                "public_summary",
                "what_happened",
                "what_we_are_doing"
            ]
        );
        let public: Vec<&str> = pm["sections"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["visibility"] == "public")
            .map(|s| s["key"].as_str().unwrap())
            .collect();
        assert_eq!(
            public,
            ["public_summary", "what_happened", "what_we_are_doing"]
        );
        assert_eq!(pm["sections"][2]["generated"], true);
    }
    // The second read finds the same post-mortem.
    let again: Value = app
        .get("/incidents/INC-1/postmortem")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["version"], 1);
}

#[tokio::test]
async fn due_periods_are_configurable() {
    let app = spawn_app_with(|s| {
        s.postmortem_due.sev2 = "2 days".into();
        s.postmortem_due.sev1 = "none".into();
    })
    .await;
    app.create_incident(
        json!({"title": "A", "severity": "sev2", "started_at": "2026-11-20T08:00:00Z"}),
    )
    .await;
    let pm: Value = app
        .get("/incidents/INC-1/postmortem")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pm["due_date"], "2026-11-22");
    assert_eq!(pm["due_date_source"], "severity");
}

#[tokio::test]
async fn put_changes_fields_and_sections_with_optimistic_concurrency() {
    let app = spawn_app().await;
    app.simple_incident().await;
    app.get("/incidents/INC-1/postmortem").await;
    let resp = put(
        &app,
        json!({"owner": "Ana", "kind": "ops_review", "due_date": "2026-12-01",
               "review_at": "2026-11-25T15:00:00Z", "status": "in_review",
               "sections": [{"key": "summary", "title": "Summary", "body": "Short."},
                            {"key": "notes", "title": "Notes", "body": "x", "visibility": "public"}]}),
        Some("\"1\""),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["etag"], "\"2\"");
    let pm: Value = resp.json().await.unwrap();
    assert_eq!(pm["owner"], "Ana");
    assert_eq!(pm["kind"], "ops_review");
    assert_eq!(pm["status"], "in_review");
    assert_eq!(pm["due_date"], "2026-12-01");
    assert_eq!(pm["due_date_source"], "set");
    assert_eq!(pm["review_at"], "2026-11-25T15:00:00+00:00");
    assert_eq!(pm["sections"].as_array().unwrap().len(), 2);
    assert_eq!(pm["sections"][1]["visibility"], "public");

    // A stale If-Match changes nothing.
    let resp = put(&app, json!({"owner": "Zed"}), Some("\"1\"")).await;
    assert_problem(resp, 412, Some("If-Match")).await;

    // null goes back to the severity's due date; owner can be cleared.
    let pm: Value = put(&app, json!({"due_date": null, "owner": null}), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pm["due_date_source"], "severity");
    assert!(pm["owner"].is_null());

    // Bad inputs: each is refused, naming the field, and changes nothing.
    let cases = [
        (json!({"status": "published"}), 422, "status"),
        (json!({"status": "finished"}), 422, "status"),
        (json!({"kind": "long"}), 422, "kind"),
        (json!({"due_date": "tomorrow"}), 422, "due_date"),
        (
            json!({"sections": [{"key": "a", "title": "A"}, {"key": "a", "title": "B"}]}),
            422,
            "sections[1].key",
        ),
        (
            json!({"sections": [{"key": "Bad Key", "title": "A"}]}),
            422,
            "sections[0].key",
        ),
        (
            json!({"sections": [{"key": "a", "title": "  "}]}),
            422,
            "sections[0].title",
        ),
        (
            json!({"sections": [{"key": "a", "title": "A", "visibility": "secret"}]}),
            422,
            "sections[0].visibility",
        ),
        (json!({"owner": "x".repeat(201)}), 422, "owner"),
    ];
    for (body, status, field) in cases {
        let resp = put(&app, body.clone(), None).await;
        assert_problem(resp, status, Some(field)).await;
    }
    let pm: Value = app
        .get("/incidents/INC-1/postmortem")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pm["version"], 3, "no bad input changed anything");

    let resp = app.get("/incidents/INC-99/postmortem").await;
    assert_problem(resp, 404, None).await;
}

#[tokio::test]
async fn internal_markdown_has_the_whole_record() {
    let app = spawn_app().await;
    rich_incident(&app).await;
    let resp = document(&app, "internal.md").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/markdown; charset=utf-8"
    );
    let markdown = resp.text().await.unwrap();
    insta::assert_snapshot!("internal_markdown", markdown);
}

#[tokio::test]
async fn public_markdown_has_only_public_material_redacted() {
    let app =
        spawn_app_with(|s| s.documents.internal_domains = vec!["corp.example.net".into()]).await;
    rich_incident(&app).await;
    let resp = app
        .post(
            "/incidents/INC-1/redactions",
            json!({"term": "Project Falcon"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let markdown = text_of(&app, "public.md").await;
    insta::assert_snapshot!("public_markdown", markdown);
    for hidden in [
        "Project Falcon",
        "db-7.corp.example.net",
        "10.4.2.17",
        "ops@example.com",
        "Chen Wei",
        "Ana Lima",
        "Ben Okafor",
        "Root cause",
        "Rolled back deploy",
        "Silenced",
        "REM-1",
    ] {
        assert!(
            !markdown.contains(hidden),
            "public document shows {hidden:?}"
        );
    }
    assert!(markdown.contains("failed. The incident commander rolled back"));
}

#[tokio::test]
async fn html_is_escaped_and_styled() {
    let app = spawn_app().await;
    rich_incident(&app).await;
    let resp = document(&app, "internal.html").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
    let html = resp.text().await.unwrap();
    assert!(!html.contains("<script>"), "user text came out live");
    assert!(html.contains("&lt;script&gt;alert("), "it is shown as text");
    assert!(html.contains("<style>") && html.contains("<table>"));
    assert!(html.contains("INTERNAL"));
    assert!(html.contains("<strong>Project Falcon</strong>"));
}

#[tokio::test]
async fn pdfs_hold_every_timeline_entry_in_order() {
    let app = spawn_app().await;
    rich_incident(&app).await;
    let resp = document(&app, "internal.pdf").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    let bytes = resp.bytes().await.unwrap();
    let pages = pdf_pages(&bytes);
    assert!(!pages.is_empty());
    for (i, page) in pages.iter().enumerate() {
        assert!(page.contains("INTERNAL"), "page {} is marked", i + 1);
        assert!(page.contains(&format!("Page {} of {}", i + 1, pages.len())));
    }
    let text = squash(&pages.join(" "));
    let mut at = 0;
    for entry in [
        "Alert: checkout 5xx above 5%",
        "We are investigating failed card payments",
        "Rolled back deploy 4312",
        "Error rate back to normal",
        "Resolved | monitoring",
    ] {
        let found = text[at..]
            .find(entry)
            .unwrap_or_else(|| panic!("{entry:?} missing or out of order"));
        at += found;
    }

    let bytes = document(&app, "public.pdf").await.bytes().await.unwrap();
    let text = squash(&pdf_pages(&bytes).join(" "));
    assert!(!text.contains("INTERNAL"));
    assert!(text.contains("We are investigating failed card payments"));
    assert!(
        !text.contains("Rolled back deploy"),
        "internal events stay out"
    );
}

#[tokio::test]
async fn a_term_that_survives_redaction_refuses_the_public_document() {
    let app = spawn_app().await;
    rich_incident(&app).await;
    app.post("/redactions", json!({"term": "Quicksilver"}))
        .await;
    // Markdown emphasis inside the term hides it from the redaction, but not
    // from the check of what a reader sees.
    let pm: Value = app
        .get("/incidents/INC-1/postmortem")
        .await
        .json()
        .await
        .unwrap();
    let mut sections = pm["sections"].as_array().unwrap().clone();
    sections.push(
        json!({"key": "what_we_are_doing", "title": "What we are doing", "visibility": "public",
                         "body": "We are moving Quick**silver** to a new cluster."}),
    );
    let sections: Vec<Value> = sections
        .into_iter()
        .map(|s| json!({"key": s["key"], "title": s["title"], "body": s["body"], "visibility": s["visibility"]}))
        .collect();
    assert_eq!(
        put(&app, json!({"sections": sections}), None)
            .await
            .status(),
        200
    );
    for name in ["public.md", "public.html", "public.pdf"] {
        let problem = assert_problem(
            document(&app, name).await,
            422,
            Some("sections.what_we_are_doing.body"),
        )
        .await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains("`Quicksilver`"), "{detail}");
        assert!(detail.contains("global redaction rule"), "{detail}");
    }
    // The internal document is not redacted.
    assert_eq!(document(&app, "internal.md").await.status(), 200);
    // Publishing refuses too, and stores nothing.
    put(&app, json!({"status": "in_review"}), None).await;
    let resp = app
        .post("/incidents/INC-1/postmortem/publish", json!({}))
        .await;
    assert_problem(resp, 422, Some("sections.what_we_are_doing.body")).await;
    let pm: Value = app
        .get("/incidents/INC-1/postmortem")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pm["published_version"], 0);
    let index = app
        .client
        .get(app.url("/public/postmortems"))
        .send()
        .await
        .unwrap();
    assert!(!index.text().await.unwrap().contains("Checkout failing"));
}

#[tokio::test]
async fn redaction_rules_are_managed_and_checked() {
    let app = spawn_app().await;
    app.simple_incident().await;
    let resp = app
        .post("/redactions", json!({"pattern": "cust-[0-9]+"}))
        .await;
    assert_eq!(resp.status(), 201);
    let rule: Value = resp.json().await.unwrap();
    assert_eq!(rule["pattern"], "cust-[0-9]+");
    assert!(rule["term"].is_null() && rule["incident_id"].is_null());
    // `null` is the same as leaving the other one out.
    let resp = app
        .post(
            "/incidents/INC-1/redactions",
            json!({"term": "Falcon", "pattern": null}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let listed: Value = app.get("/redactions").await.json().await.unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let listed: Value = app
        .get("/incidents/INC-1/redactions")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["term"], "Falcon");

    let cases = [
        (json!({}), 422, "term,pattern"),
        (json!({"term": null, "pattern": null}), 422, "term,pattern"),
        (json!({"term": "a", "pattern": "b"}), 422, "term,pattern"),
        (json!({"term": " "}), 422, "term"),
        (json!({"term": "x"}), 422, "term"),
        (json!({"pattern": "(unclosed"}), 422, "pattern"),
        (json!({"pattern": "a*"}), 422, "pattern"),
        (json!({"term": 7}), 422, "term"),
    ];
    for (body, status, field) in cases {
        assert_problem(app.post("/redactions", body).await, status, Some(field)).await;
    }
    let listed: Value = app.get("/redactions").await.json().await.unwrap();
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        1,
        "nothing was added"
    );

    let id = rule["id"].as_str().unwrap();
    let resp = app
        .api(Method::DELETE, &format!("/redactions/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let resp = app
        .api(Method::DELETE, &format!("/redactions/{id}"))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 404, None).await;
}

#[tokio::test]
async fn publishing_stores_snapshots_and_serves_public_pages() {
    let app =
        spawn_app_with(|s| s.documents.internal_domains = vec!["corp.example.net".into()]).await;
    rich_incident(&app).await;
    app.post("/redactions", json!({"term": "Project Falcon"}))
        .await;

    let resp = app
        .post("/incidents/INC-1/postmortem/publish", json!({}))
        .await;
    assert_problem(resp, 409, Some("status")).await;
    put(&app, json!({"status": "in_review"}), None).await;

    let resp = app
        .post("/incidents/INC-1/postmortem/publish", json!({}))
        .await;
    assert_eq!(resp.status(), 201);
    let publication: Value = resp.json().await.unwrap();
    assert_eq!(publication["version"], 1);
    let slug = publication["slug"].as_str().unwrap().to_string();
    assert_eq!(slug, "checkout-failing-for-eu-customers");
    let documents = publication["documents"].as_array().unwrap();
    assert_eq!(documents.len(), 6);
    for d in documents {
        assert_eq!(d["sha256"].as_str().unwrap().len(), 64);
        assert!(d["size"].as_i64().unwrap() > 0);
    }

    // The public page: no token needed; the stored document in the site's
    // frame (a link to the index, the dates, the PDF of the same version).
    let page = app
        .client
        .get(app.url(&format!("/public/postmortems/{slug}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let html = page.bytes().await.unwrap();
    {
        let page = String::from_utf8_lossy(&html);
        assert!(page.contains("<main class=\"document\">"), "{page}");
        assert!(page.contains("href=\"../postmortems\">All post-mortems</a>"));
        assert!(page.contains("Published 20 November 2026"), "{page}");
        assert!(page.contains("href=\"?format=pdf\""));
    }
    let pdf = app
        .client
        .get(app.url(&format!("/public/postmortems/{slug}?format=pdf")))
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let public_pdf = documents
        .iter()
        .find(|d| d["variant"] == "public" && d["format"] == "pdf")
        .unwrap();
    use sha2::Digest;
    assert_eq!(
        hex::encode(sha2::Sha256::digest(pdf.bytes().await.unwrap())),
        public_pdf["sha256"].as_str().unwrap(),
        "exactly the stored PDF"
    );
    let html = String::from_utf8(html.to_vec()).unwrap();
    assert!(html.contains("What happened") && !html.contains("Project Falcon"));

    let pm: Value = app
        .get("/incidents/INC-1/postmortem")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pm["status"], "published");
    assert_eq!(pm["published_version"], 1);
    assert_eq!(pm["slug"], slug.as_str());

    // A later change is not public until published again, as version 2.
    let mut sections = pm["sections"].as_array().unwrap().clone();
    for s in &mut sections {
        s.as_object_mut().unwrap().remove("generated");
    }
    sections.push(
        json!({"key": "what_we_are_doing", "title": "What we are doing about it",
                         "visibility": "public", "body": "We added canary deploys."}),
    );
    assert_eq!(
        put(&app, json!({"sections": sections}), None)
            .await
            .status(),
        200
    );
    let before = app
        .client
        .get(app.url(&format!("/public/postmortems/{slug}")))
        .send()
        .await
        .unwrap();
    assert!(!before.text().await.unwrap().contains("canary deploys"));
    app.clock.advance(chrono::TimeDelta::hours(2));
    let second: Value = app
        .post("/incidents/INC-1/postmortem/publish", json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["version"], 2);
    assert_eq!(second["slug"], slug.as_str(), "the address stays");
    let after = app
        .client
        .get(app.url(&format!("/public/postmortems/{slug}")))
        .send()
        .await
        .unwrap();
    assert!(after.text().await.unwrap().contains("canary deploys"));
    // `published_at` follows the latest publication, `first_published_at`
    // stays at the first (the digest counts a post-mortem published once).
    let pm: Value = app
        .get("/incidents/INC-1/postmortem")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pm["published_version"], 2);
    assert_eq!(pm["published_at"], second["published_at"]);
    assert_ne!(pm["first_published_at"], pm["published_at"]);
    assert_eq!(pm["first_published_at"], publication["published_at"]);

    let index = app
        .client
        .get(app.url("/public/postmortems"))
        .send()
        .await
        .unwrap();
    assert_eq!(index.status(), 200);
    let index = index.text().await.unwrap();
    assert!(index.contains(&format!("href=\"/public/postmortems/{slug}\"")));
    assert!(index.contains("Checkout failing for EU customers"));
    assert!(index.contains("version 2"));

    let feed = app
        .client
        .get(app.url("/public/postmortems/feed.atom"))
        .send()
        .await
        .unwrap();
    assert_eq!(feed.status(), 200);
    assert_eq!(
        feed.headers()["content-type"],
        "application/atom+xml; charset=utf-8"
    );
    let feed = feed.text().await.unwrap();
    assert!(feed.starts_with("<?xml"));
    assert!(feed.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\">"));
    assert_eq!(feed.matches("<entry>").count(), 1);
    // No `public_base_url` in the tests: links are relative, never from
    // the `Host` header; the entry's id is the post-mortem's own.
    assert!(feed.contains(&format!("href=\"/public/postmortems/{slug}\"")));
    assert!(feed.contains(&format!("<id>urn:uuid:{}</id>", pm["id"].as_str().unwrap())));
    assert!(feed.contains("<published>2026-11-20T10:00:00+00:00</published>"));
    assert!(feed.contains("<updated>2026-11-20T12:00:00+00:00</updated>"));

    let missing = app
        .client
        .get(app.url("/public/postmortems/inc-9-nothing"))
        .send()
        .await
        .unwrap();
    assert_problem(missing, 404, None).await;
}

#[tokio::test]
async fn document_names_are_checked() {
    let app = spawn_app().await;
    app.simple_incident().await;
    for name in ["internal.docx", "secret.md", "internal", "public.pdf.exe"] {
        assert_problem(document(&app, name).await, 422, Some("document")).await;
    }
    let resp = app.get("/incidents/INC-7/postmortem/internal.md").await;
    assert_problem(resp, 404, None).await;
    let read = app.token("read").await;
    let resp = app
        .client
        .get(app.url("/api/v1/incidents/INC-1/postmortem/internal.pdf"))
        .bearer_auth(read)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "a read token may read documents");
    let resp = app
        .client
        .get(app.url("/api/v1/incidents/INC-1/postmortem/internal.pdf"))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 401, Some("Authorization")).await;
}

#[tokio::test]
async fn long_documents_render_without_overflow() {
    let app = spawn_app().await;
    app.create_incident(json!({"title": "Long one", "severity": "sev2",
                               "started_at": "2026-11-20T00:00:00Z"}))
        .await;
    let events: Vec<Value> = (0..10_000)
        .map(|i| {
            json!({"occurred_at": format!("2026-11-20T{:02}:{:02}:{:02}Z", i / 3600, (i / 60) % 60, i % 60),
                   "kind": "note", "author": "bot", "body": format!("Step {i} of the long incident"),
                   "source": "import", "external_id": format!("n{i}")})
        })
        .collect();
    let resp = app
        .post("/incidents/INC-1/timeline", json!({"events": events}))
        .await;
    assert_eq!(resp.status(), 200);
    let long_word = "x".repeat(300);
    let five_thousand_words = "lorem ".repeat(5000);
    let resp = put(
        &app,
        json!({"sections": [
            {"key": "summary", "title": "Summary", "body": five_thousand_words},
            {"key": "timeline", "title": "Timeline", "body": ""},
            {"key": "notes", "title": "Notes", "body": format!("| Host | Detail |\n|---|---|\n| {long_word} | short |\n")}
        ]}),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let bytes = document(&app, "internal.pdf").await.bytes().await.unwrap();
    let pages = pdf_pages(&bytes);
    assert!(pages.len() > 100, "{} pages", pages.len());
    let text = squash(&pages.join(" "));
    let mut at = 0;
    for i in (0..10_000).step_by(997) {
        let needle = format!("Step {i} of the long incident");
        at += text[at..]
            .find(&needle)
            .unwrap_or_else(|| panic!("{needle} missing"));
    }
    assert!(text.contains("Step 9999 of the long incident"));
    assert!(
        text.matches('x').count() >= 300,
        "the 300-character word is all there"
    );
    let markdown = text_of(&app, "internal.md").await;
    assert_eq!(markdown.matches("of the long incident").count(), 10_000);
}

#[tokio::test]
async fn templates_can_be_overridden_from_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("postmortem_public.md.j2"),
        "# Our report on {{ title }}\n\nTimes in {{ time_zone }}.\n",
    )
    .unwrap();
    let path = dir.path().to_path_buf();
    let app = spawn_app_with(move |s| {
        s.documents.templates_dir = Some(path);
        s.documents.display_time_zone = "Europe/Paris".into();
    })
    .await;
    app.simple_incident().await;
    let markdown = text_of(&app, "public.md").await;
    assert_eq!(
        markdown,
        "# Our report on Checkout errors\n\nTimes in Europe/Paris.\n"
    );
    let internal = text_of(&app, "internal.md").await;
    assert!(
        internal.contains("- **Started:** 2026-11-20 11:00 CET\n"),
        "{internal}"
    );
}

/// The people who respond to the fixture incidents.
const PEOPLE: [&str; 3] = ["Riya Raman", "Tomasz Nowak", "Grace Hopkins"];

fn realcase_files() -> Vec<std::path::PathBuf> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/realcases");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// Load one real incident (`tests/fixtures/realcases/`, copied from the
/// shared fixtures) as `reference` through the API: roles, timeline (its
/// communications and resolution public), status updates, remediation items
/// and written sections. Its `internal_only_details` go into internal events,
/// the internal summary and a public section, and are registered as
/// redaction terms. Returns the case and those details.
async fn load_realcase(
    app: &TestApp,
    file: &std::path::Path,
    reference: &str,
) -> (Value, Vec<String>) {
    let case: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let details: Vec<String> = case["internal_only_details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect();
    let components: Vec<String> = case["affected_components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().chars().take(200).collect())
        .collect();
    let mut incident = json!({
        "title": case["title"].as_str().unwrap().chars().take(200).collect::<String>(),
        "severity": "sev1",
        "customer_impact": case["customer_impact"],
        "affected_components": components,
    });
    for field in ["started_at", "detected_at", "mitigated_at", "resolved_at"] {
        if case[field].is_string() {
            incident[field] = case[field].clone();
        }
    }
    app.create_incident(incident).await;
    for (role, person) in [("incident_commander", PEOPLE[0]), ("comms", PEOPLE[1])] {
        app.post(
            &format!("/incidents/{reference}/roles"),
            json!({"role": role, "person": person}),
        )
        .await;
    }
    let mut events: Vec<Value> = case["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let public = e["kind"] == "communication" || e["kind"] == "resolution";
            json!({"occurred_at": e["at"], "kind": e["kind"], "body": e["text"],
                   "author": PEOPLE[i % 3], "source": "import", "external_id": format!("t{i}"),
                   "visibility": if public { "public" } else { "internal" }})
        })
        .collect();
    for (i, detail) in details.iter().enumerate() {
        events.push(json!({"occurred_at": case["started_at"], "kind": "note", "body": detail,
                           "author": PEOPLE[2], "source": "import", "external_id": format!("d{i}")}));
    }
    let resp = app
        .post(
            &format!("/incidents/{reference}/timeline"),
            json!({"events": events}),
        )
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    for u in case["status_updates"].as_array().unwrap() {
        let resp = app
            .post(
                &format!("/incidents/{reference}/status-updates"),
                json!({"status": u["status"], "message": u["text"], "posted_at": u["at"]}),
            )
            .await;
        assert_eq!(resp.status(), 201);
    }
    for r in case["remediation_items"].as_array().unwrap() {
        let title: String = r["text"].as_str().unwrap().chars().take(300).collect();
        let resp = app
            .post(
                "/remediations",
                json!({"title": title, "kind": r["kind"], "priority": "p1",
                       "owner": PEOPLE[0], "incidents": [reference]}),
            )
            .await;
        assert_eq!(resp.status(), 201);
    }
    for detail in &details {
        let resp = app
            .post(
                &format!("/incidents/{reference}/redactions"),
                json!({"term": detail}),
            )
            .await;
        assert_eq!(resp.status(), 201);
    }
    let what_happened = format!(
        "{}\n\n{} led the response. {}",
        case["root_cause"].as_str().unwrap(),
        PEOPLE[0],
        details.join(" ")
    );
    let resp = app
        .api(Method::PUT, &format!("/incidents/{reference}/postmortem"))
        .json(&json!({"status": "in_review", "owner": PEOPLE[1], "sections": [
            {"key": "summary", "title": "Summary", "body": format!("{}\n\nInternal detail: {}", case["customer_impact"].as_str().unwrap(), details.join("; "))},
            {"key": "timeline", "title": "Timeline", "body": ""},
            {"key": "root_cause", "title": "Root cause", "body": case["root_cause"]},
            {"key": "action_items", "title": "Action items", "body": ""},
            {"key": "public_summary", "title": "Summary", "visibility": "public", "body": case["customer_impact"]},
            {"key": "what_happened", "title": "What happened", "visibility": "public", "body": what_happened},
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    (case, details)
}

/// The real incidents: the public documents, in every format, carry none
/// of each file's `internal_only_details` and no person's name.
#[tokio::test]
async fn real_incidents_publish_without_their_internal_details() {
    let files = realcase_files();
    assert_eq!(files.len(), 3);
    let app = spawn_app().await;
    for (n, file) in files.iter().enumerate() {
        let reference = format!("INC-{}", n + 1);
        let (case, details) = load_realcase(&app, file, &reference).await;
        let path = |name: &str| format!("/incidents/{reference}/postmortem/{name}");
        let markdown = app.get(&path("public.md")).await.text().await.unwrap();
        let html = app.get(&path("public.html")).await.text().await.unwrap();
        let pdf = app.get(&path("public.pdf")).await.bytes().await.unwrap();
        let pdf_text = squash(&pdf_pages(&pdf).join(" "));
        let internal = app.get(&path("internal.md")).await.text().await.unwrap();
        for (format, text) in [("Markdown", &markdown), ("HTML", &html), ("PDF", &pdf_text)] {
            let lower = squash(&text.to_lowercase());
            for detail in &details {
                assert!(
                    !lower.contains(&squash(&detail.to_lowercase())),
                    "{}: the public {format} carries {detail:?}",
                    file.display()
                );
            }
            for person in PEOPLE {
                assert!(
                    !lower.contains(&person.to_lowercase()),
                    "{}: the public {format} names {person}",
                    file.display()
                );
            }
        }
        assert!(pdf_text.contains("The incident commander led the response"));
        for detail in &details {
            assert!(
                internal.contains(detail.as_str()),
                "the internal document keeps it"
            );
        }
        if let Some(first_update) = case["status_updates"][0]["text"].as_str() {
            assert!(squash(&markdown).contains(&squash(first_update).replace('|', "\\|")));
        }
        let resp = app
            .post(
                &format!("/incidents/{reference}/postmortem/publish"),
                json!({}),
            )
            .await;
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    }
    let index = app
        .client
        .get(app.url("/public/postmortems"))
        .send()
        .await
        .unwrap();
    let index = index.text().await.unwrap();
    assert_eq!(index.matches("<li>").count(), 3);
}

/// Regenerates `reports/samples/` from the real incidents in the shared
/// fixtures: the internal and public documents (PDF, HTML), the public
/// index, a public page and the 404 page as a browser gets them, with
/// screenshots at desktop and mobile width (headless Chromium) and PNGs of
/// the first pages of every PDF (`pdftoppm`), when those tools are
/// installed. With the digest samples, one command regenerates them all:
/// `UPDATE_DIGEST_SAMPLES=1 cargo test --test api samples -- --include-ignored`.
#[tokio::test]
#[ignore = "writes reports/samples/; run on purpose to regenerate them"]
async fn regenerate_samples() {
    let app = spawn_app_with(|s| s.documents.organisation = Some("Example Networks".into())).await;
    let file = realcase_files()
        .into_iter()
        .find(|f| f.to_string_lossy().contains("cloudflare"))
        .unwrap();
    load_realcase(&app, &file, "INC-1").await;
    let resp = app
        .post("/incidents/INC-1/postmortem/publish", json!({}))
        .await;
    assert_eq!(resp.status(), 201);
    let publication: Value = resp.json().await.unwrap();
    let slug = publication["slug"].as_str().unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/samples");
    std::fs::create_dir_all(&dir).unwrap();
    let browser = "text/html";
    for (name, path, status) in [
        (
            "internal.pdf",
            "/api/v1/incidents/INC-1/postmortem/internal.pdf".to_string(),
            200,
        ),
        (
            "internal.html",
            "/api/v1/incidents/INC-1/postmortem/internal.html".to_string(),
            200,
        ),
        (
            "public.pdf",
            "/api/v1/incidents/INC-1/postmortem/public.pdf".to_string(),
            200,
        ),
        ("public.html", format!("/public/postmortems/{slug}"), 200),
        ("public-index.html", "/public/postmortems".to_string(), 200),
        (
            "public-404.html",
            "/public/postmortems/no-such-post-mortem".to_string(),
            404,
        ),
    ] {
        let resp = app
            .client
            .get(app.url(&path))
            .bearer_auth(&app.admin_token)
            .header("Accept", browser)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "{path}");
        std::fs::write(dir.join(name), resp.bytes().await.unwrap()).unwrap();
    }
    screenshots(&dir);
}

/// PNGs of the sample pages (desktop and mobile width) and of the first
/// page of every sample PDF, with the tools a user would look with.
fn screenshots(dir: &std::path::Path) {
    use std::process::Command;
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|bin| Command::new(bin).arg("--version").output().is_ok());
    match chromium {
        Some(bin) => {
            for page in [
                "public.html",
                "public-index.html",
                "public-404.html",
                "internal.html",
            ] {
                let stem = page.trim_end_matches(".html");
                for (width, height, label) in [(1280, 1400, "desktop"), (390, 1400, "mobile")] {
                    let out = dir.join(format!("{stem}-{label}.png"));
                    let status = Command::new(bin)
                        .args([
                            "--headless",
                            "--no-sandbox",
                            "--disable-gpu",
                            "--hide-scrollbars",
                            &format!("--window-size={width},{height}"),
                            &format!("--screenshot={}", out.display()),
                        ])
                        .arg(format!("file://{}", dir.join(page).display()))
                        .output()
                        .unwrap();
                    assert!(status.status.success(), "{bin} on {page}: {status:?}");
                }
            }
        }
        None => eprintln!("no Chromium found: page screenshots not regenerated"),
    }
    let pdfs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
        .collect();
    for pdf in pdfs {
        let stem = pdf.with_extension("");
        let out = Command::new("pdftoppm")
            .args(["-png", "-r", "60", "-f", "1", "-l", "2"])
            .arg(&pdf)
            .arg(format!("{}-page", stem.display()))
            .output();
        match out {
            Ok(out) => assert!(out.status.success(), "pdftoppm on {}", pdf.display()),
            Err(_) => {
                eprintln!("no pdftoppm found: PDF page images not regenerated");
                break;
            }
        }
    }
}

#[tokio::test]
async fn the_cli_renders_documents_to_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let mut database_url = None;
    let app = spawn_app_with(|s| {
        s.data_dir = data.clone();
        database_url = s.database_url.clone();
    })
    .await;
    rich_incident(&app).await;
    let render = |args: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_debrief"));
        command
            .arg("render")
            .args(args)
            .env("DEBRIEF_DATA_DIR", &data);
        match &database_url {
            Some(url) => command.env("DEBRIEF_DATABASE_URL", url.expose()),
            None => command.env_remove("DEBRIEF_DATABASE_URL"),
        };
        command.output().unwrap()
    };
    for (variant, format) in [("internal", "pdf"), ("public", "md"), ("public", "html")] {
        let file = dir.path().join(format!("out.{format}"));
        let out = render(&[
            "INC-1",
            "--variant",
            variant,
            "--format",
            format,
            "-o",
            file.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let api = document(&app, &format!("{variant}.{format}"))
            .await
            .bytes()
            .await
            .unwrap();
        let written = std::fs::read(&file).unwrap();
        if format == "pdf" {
            // The internal document says when it was generated: the CLI runs
            // on the real clock, the test app on its own.
            let (cli, api) = (pdf_pages(&written), pdf_pages(&api));
            assert_eq!(cli.len(), api.len(), "as many pages as the API's");
            assert!(squash(&cli.join(" ")).contains("Rolled back deploy 4312"));
        } else {
            assert_eq!(written, api.to_vec(), "same document as the API's");
        }
    }
    let out = render(&["INC-9", "--variant", "public", "--format", "md", "-o", "-"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("INC-9 not found"));
    let out = render(&["INC-1", "--variant", "secret", "--format", "md", "-o", "-"]);
    assert!(!out.status.success());
}

/// The value `v` of the one row `sql` selects.
async fn scalar<T: sea_orm::TryGetable>(db: &sea_orm::DatabaseConnection, sql: &str) -> T {
    use sea_orm::ConnectionTrait;
    db.query_one_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        sql,
    ))
    .await
    .unwrap()
    .expect("one row")
    .try_get::<T>("", "v")
    .unwrap()
}

#[tokio::test]
async fn every_incident_has_its_post_mortem_from_the_start() {
    use sea_orm::{ConnectionTrait, Database};
    let app = spawn_app().await;
    app.create_incident(json!({"title": "Queue backlog", "severity": "sev2"}))
        .await;
    app.create_incident(json!({"title": "Slow search", "severity": "sev3"}))
        .await;
    // Created with the incident, before anyone asked for it.
    let other = Database::connect(&app.database_url).await.unwrap();
    let count = |db: sea_orm::DatabaseConnection| async move {
        scalar::<i64>(&db, "SELECT COUNT(*) AS v FROM postmortems").await
    };
    assert_eq!(count(other.clone()).await, 2);
    // An incident recorded without one (as before post-mortems existed)
    // gets it, with the default sections, when the database is migrated.
    other
        .execute_unprepared(
            "DELETE FROM postmortem_sections WHERE postmortem_id IN (SELECT p.id FROM \
             postmortems p JOIN incidents i ON i.id = p.incident_id WHERE i.number = 2); \
             DELETE FROM postmortems WHERE incident_id IN \
             (SELECT id FROM incidents WHERE number = 2)",
        )
        .await
        .unwrap();
    assert_eq!(count(other.clone()).await, 1);
    migrate_and_bring_up_to_date(&other, &debrief::config::Settings::default()).await;
    assert_eq!(count(other.clone()).await, 2);
    let pm: Value = app
        .get("/incidents/INC-2/postmortem")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pm["status"], "draft");
    assert_eq!(pm["sections"].as_array().unwrap().len(), 15);
}

/// What a start does to the database: the schema migrations, then the
/// data brought up to date.
async fn migrate_and_bring_up_to_date(
    db: &sea_orm::DatabaseConnection,
    settings: &debrief::config::Settings,
) {
    debrief::db::migrate(db).await.unwrap();
    debrief::services::upkeep::bring_up_to_date(db, settings, chrono::Utc::now())
        .await
        .unwrap();
}

#[tokio::test]
async fn stored_due_dates_follow_a_change_of_the_configured_periods_only() {
    use sea_orm::{ConnectionTrait, Database};
    let app = spawn_app().await;
    // Started at t0: sev1 is due 3 calendar days later.
    app.create_incident(json!({
        "title": "Checkout failing", "severity": "sev1", "started_at": t0(),
    }))
    .await;
    let other = Database::connect(&app.database_url).await.unwrap();
    let due_on = |db: sea_orm::DatabaseConnection| async move {
        scalar::<String>(&db, "SELECT CAST(due_on AS TEXT) AS v FROM postmortems").await
    };
    let expected = (t0() + chrono::Days::new(3)).date_naive().to_string();
    assert_eq!(due_on(other.clone()).await, expected);

    // A start with the periods unchanged does not read the post-mortems
    // again: a date tampered with behind the service's back stays.
    other
        .execute_unprepared("UPDATE postmortems SET due_on = '2000-01-01'")
        .await
        .unwrap();
    let mut settings = debrief::config::Settings::default();
    migrate_and_bring_up_to_date(&other, &settings).await;
    assert_eq!(due_on(other.clone()).await, "2000-01-01");

    // Changed periods: every post-mortem without a set date follows them.
    settings.postmortem_due.sev1 = "5 days".into();
    migrate_and_bring_up_to_date(&other, &settings).await;
    let expected = (t0() + chrono::Days::new(5)).date_naive().to_string();
    assert_eq!(due_on(other.clone()).await, expected);
}

#[tokio::test]
async fn publishing_unchanged_documents_returns_the_latest_version() {
    let app = spawn_app().await;
    rich_incident(&app).await;
    put(&app, json!({"status": "in_review"}), None).await;
    let publish = || app.post("/incidents/INC-1/postmortem/publish", json!({}));
    let resp = publish().await;
    assert_eq!(resp.status(), 201);
    let first: Value = resp.json().await.unwrap();
    let pm: Value = app
        .get("/incidents/INC-1/postmortem")
        .await
        .json()
        .await
        .unwrap();

    // Later, with nothing changed: the documents would differ only in the
    // time they say they were generated, so the first publication is the
    // answer and nothing is stored.
    app.clock.advance(chrono::TimeDelta::hours(3));
    let resp = publish().await;
    assert_eq!(resp.status(), 200);
    let again: Value = resp.json().await.unwrap();
    assert_eq!(again, first, "the same version, time and documents");
    let now: Value = app
        .get("/incidents/INC-1/postmortem")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now["published_version"], 1);
    assert_eq!(
        now["version"], pm["version"],
        "the post-mortem is unchanged"
    );

    // Moved back to `in_review` with nothing else changed: still version 1,
    // and `published` again.
    put(&app, json!({"status": "in_review"}), None).await;
    let resp = publish().await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["version"], 1);
    let now: Value = app
        .get("/incidents/INC-1/postmortem")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now["status"], "published");

    // A change to the record (a linked remediation item is in the action
    // items) makes new documents: version 2.
    let resp = app
        .post(
            "/remediations",
            json!({"title": "Canary deploys for checkout", "kind": "prevent",
                   "priority": "p1", "incidents": ["INC-1"]}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let resp = publish().await;
    assert_eq!(resp.status(), 201);
    let second: Value = resp.json().await.unwrap();
    assert_eq!(second["version"], 2);
    assert_eq!(second["slug"], first["slug"]);
    assert_eq!(publish().await.status(), 200);

    // A withdrawn publication comes back as a new version.
    let resp = app
        .post("/incidents/INC-1/postmortem/unpublish", json!({}))
        .await;
    assert_eq!(resp.status(), 200);
    let resp = publish().await;
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.json::<Value>().await.unwrap()["version"], 3);

    // A redaction rule that matches the address moves it: a new version.
    let slug = first["slug"].as_str().unwrap();
    assert!(slug.contains("checkout"), "{slug}");
    app.post("/incidents/INC-1/redactions", json!({"term": "checkout"}))
        .await;
    let resp = publish().await;
    assert_eq!(resp.status(), 201);
    let moved: Value = resp.json().await.unwrap();
    assert_eq!(moved["version"], 4);
    assert_ne!(moved["slug"], first["slug"]);
}

/// Wait until `ready` holds: the render queue changes on other tasks.
async fn until(what: &str, ready: impl Fn() -> bool) {
    for _ in 0..2_000 {
        if ready() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    panic!("the render queue never reached: {what}");
}

#[tokio::test]
async fn identical_requests_share_one_render_and_a_change_renders_anew() {
    let app = spawn_app_with(|s| {
        s.limits.renders = 1;
        s.limits.render_queue = 16;
    })
    .await;
    rich_incident(&app).await;
    let metrics = &app.context.metrics;
    let gauge = |state: &str| metrics.renders.with_label_values(&[state]).get();
    let documents = || {
        let count = |outcome: &str| metrics.documents.with_label_values(&[outcome]).get();
        (count("rendered"), count("shared"))
    };
    let fetch = |name: &'static str| {
        let request = app.api(Method::GET, &format!("/incidents/INC-1/postmortem/{name}"));
        tokio::spawn(async move {
            let resp = request.send().await.unwrap();
            assert_eq!(resp.status(), 200, "{name}");
            resp.bytes().await.unwrap()
        })
    };

    // The only render slot is taken: the first request reads the record,
    // finds no render of its document in flight and waits for a turn; the
    // seven after it read the same record and wait for its bytes.
    let slot = app.context.renders.admit().await.unwrap();
    let requests: Vec<_> = (0..8).map(|_| fetch("internal.pdf")).collect();
    until("one render waiting, seven sharing it", || {
        gauge("waiting") == 1 && gauge("sharing") == 7
    })
    .await;
    drop(slot);
    let mut pdfs = Vec::new();
    for request in requests {
        pdfs.push(request.await.unwrap());
    }
    assert!(pdfs.iter().all(|pdf| *pdf == pdfs[0]), "the same bytes");
    assert_eq!(documents(), (1, 7), "one render for eight requests");
    assert!(squash(&pdf_pages(&pdfs[0]).concat()).contains("Rolled back deploy 4312"));

    // A change between two requests: the second reads another record, so
    // it renders on its own instead of sharing the render the first waits
    // for.
    let slot = app.context.renders.admit().await.unwrap();
    let before = fetch("internal.pdf");
    until("a render waiting", || gauge("waiting") == 1).await;
    let resp = app
        .post(
            "/incidents/INC-1/timeline",
            json!({"kind": "note", "body": "Late note: the pool is back to 40 connections"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let after = fetch("internal.pdf");
    until("two renders waiting", || gauge("waiting") == 2).await;
    drop(slot);
    before.await.unwrap();
    let after = after.await.unwrap();
    assert_eq!(documents(), (3, 7));
    assert!(squash(&pdf_pages(&after).concat()).contains("Late note: the pool is back"));

    // The public document never shares the internal one's render, and a
    // new redaction rule makes another public document.
    let slot = app.context.renders.admit().await.unwrap();
    let internal = fetch("internal.md");
    let public = fetch("public.md");
    until("two renders waiting", || gauge("waiting") == 2).await;
    let resp = app
        .post("/incidents/INC-1/redactions", json!({"term": "Europe"}))
        .await;
    assert_eq!(resp.status(), 201);
    let redacted = fetch("public.md");
    until("three renders waiting", || gauge("waiting") == 3).await;
    drop(slot);
    let internal = String::from_utf8(internal.await.unwrap().to_vec()).unwrap();
    public.await.unwrap();
    let redacted = String::from_utf8(redacted.await.unwrap().to_vec()).unwrap();
    assert_eq!(documents(), (6, 7));
    assert!(
        internal.contains("failed card payments in Europe"),
        "{internal}"
    );
    assert!(!redacted.contains("Europe"), "{redacted}");

    // A request that arrived while a render ran but read the record after
    // it was done shares it too.
    let slot = app.context.renders.admit().await.unwrap();
    let first = fetch("internal.md");
    until("a render waiting", || gauge("waiting") == 1).await;
    let read_turn = app.context.renders.look_up().await;
    let late = fetch("internal.md");
    until("a request reading", || gauge("reading") == 1).await;
    drop(slot);
    let first = first.await.unwrap();
    drop(read_turn);
    assert_eq!(late.await.unwrap(), first);
    assert_eq!(documents(), (7, 8));

    // Nothing is kept once a render is done: the same document asked for
    // again is rendered again.
    assert_eq!(document(&app, "internal.pdf").await.status(), 200);
    assert_eq!(documents(), (8, 8));
}
