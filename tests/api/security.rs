//! Public pages leak nothing: every probe an attacker (or a careless
//! writer) uses to get an internal term past the redaction rules, on the
//! public Markdown, HTML, PDF, index, feed and URL; slugs and withdrawal;
//! rules that cannot break every document; people, not tools; headers.

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app};

/// An incident whose public sections are `summary` and `body`, with a
/// component named like the rule (redacted there: the source of a refusal
/// must still be the body).
async fn incident_with(app: &TestApp, title: &str, summary: &str, body: &str) {
    app.create_incident(json!({
        "title": title,
        "severity": "sev2",
        "affected_components": ["checkout", "mercurial"],
        "started_at": "2026-11-20T09:40:00Z",
        "resolved_at": "2026-11-20T10:59:00Z"
    }))
    .await;
    set_sections(app, summary, body).await;
    let resp = app
        .api(Method::PUT, "/incidents/INC-1/postmortem")
        .json(&json!({"status": "in_review"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

async fn set_sections(app: &TestApp, summary: &str, body: &str) {
    let resp = app
        .api(Method::PUT, "/incidents/INC-1/postmortem")
        .json(&json!({
            "sections": [
                {"key": "public_summary", "title": "Summary", "visibility": "public", "body": summary},
                {"key": "what_happened", "title": "What happened", "visibility": "public", "body": body}
            ]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
}

async fn publish(app: &TestApp) -> Response {
    app.post("/incidents/INC-1/postmortem/publish", json!({}))
        .await
}

async fn public(app: &TestApp, path: &str) -> Response {
    app.client.get(app.url(path)).send().await.unwrap()
}

async fn rule(app: &TestApp, body: Value) {
    let resp = app.post("/redactions", body).await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
}

/// Every way a public document can be obtained refuses with 422 naming
/// `field`, and publishing stores nothing.
async fn refused_everywhere(app: &TestApp, field: &str, probe: &str) {
    let before: Value = app
        .get("/incidents/INC-1/postmortem")
        .await
        .json()
        .await
        .unwrap();
    for name in ["public.md", "public.html", "public.pdf"] {
        let resp = app
            .get(&format!("/incidents/INC-1/postmortem/{name}"))
            .await;
        let problem = assert_problem(resp, 422, Some(field)).await;
        assert!(
            problem["detail"].as_str().unwrap().contains("`mercurial`"),
            "{probe}: {problem}"
        );
    }
    assert_problem(publish(app).await, 422, Some(field)).await;
    let pm: Value = app
        .get("/incidents/INC-1/postmortem")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        pm["published_version"], before["published_version"],
        "{probe}: nothing stored"
    );
}

#[tokio::test]
async fn disguised_terms_are_refused_in_every_format() {
    let probes = [
        ("zero-width space", "Mercu\u{200b}rial"),
        ("zero-width joiner", "Mercu\u{200d}rial"),
        ("word joiner", "Mercu\u{2060}rial"),
        ("soft hyphen", "Mercu\u{ad}rial"),
        ("bidi override", "Mercu\u{202e}rial"),
        ("Cyrillic look-alike", "M\u{435}rcurial"),
        ("fullwidth", "Ｍｅｒｃｕｒｉａｌ"),
        ("entity in text", "Mercu&#114;ial"),
        ("emphasis inside", "Mercu**rial**"),
        (
            "link target entity",
            "[docs](https://mercu&#114;ial.example.com/x)",
        ),
        (
            "link title",
            "[docs](https://example.com/x \"Mercu&#114;ial notes\")",
        ),
        (
            "reference link definition",
            "See [the docs][d].\n\n[d]: https://example.com/mercu&#x72;ial",
        ),
        (
            "percent-encoded path",
            "[docs](https://example.com/mercu%72ial)",
        ),
        (
            "image alt text",
            "![Mercu&#114;ial diagram](https://example.com/a.png)",
        ),
        ("autolink", "<https://mercu%72ial.example.com/>"),
    ];
    for (what, probe) in probes {
        let app = spawn_app().await;
        rule(&app, json!({"term": "mercurial"})).await;
        incident_with(
            &app,
            "Checkout failing",
            "Card payments failed.",
            &format!("We moved {probe} to a new cluster."),
        )
        .await;
        refused_everywhere(&app, "sections.what_happened.body", what).await;
    }
}

#[tokio::test]
async fn the_index_and_feed_show_exactly_what_was_checked() {
    let app = spawn_app().await;
    rule(&app, json!({"term": "mercurial"})).await;
    // Intra-word underscores are not emphasis: the reader sees
    // `Mercu_rial`, and so does the check, the index and the feed.
    incident_with(
        &app,
        "Checkout failing",
        "We moved *Mercu_rial* and `the cache`.",
        "Nothing internal here.",
    )
    .await;
    assert_eq!(publish(&app).await.status(), 201);
    for path in ["/public/postmortems", "/public/postmortems/feed.atom"] {
        let text = public(&app, path).await.text().await.unwrap();
        assert!(
            text.contains("We moved Mercu_rial and the cache."),
            "{text}"
        );
        assert!(!text.to_lowercase().contains("mercurial"), "{path}: {text}");
    }

    // A summary hiding the term behind an invisible character is refused
    // with the summary named.
    set_sections(
        &app,
        "We moved Mercu\u{200b}rial.",
        "Nothing internal here.",
    )
    .await;
    refused_everywhere(&app, "sections.public_summary.body", "summary").await;
}

#[tokio::test]
async fn slugs_come_from_the_public_title_and_move_when_a_rule_matches_them() {
    let app = spawn_app().await;
    incident_with(
        &app,
        "Falcon queue stalled for EU customers",
        "Orders waited.",
        "A queue stalled.",
    )
    .await;
    let first: Value = publish(&app).await.json().await.unwrap();
    let old = first["slug"].as_str().unwrap().to_string();
    assert_eq!(old, "falcon-queue-stalled-for-eu-customers");
    assert!(!old.contains("inc-"), "no internal number in the address");

    // A rule now matches the address: re-publishing moves it.
    let resp = app
        .post("/incidents/INC-1/redactions", json!({"term": "Falcon"}))
        .await;
    assert_eq!(resp.status(), 201);
    let resp = publish(&app).await;
    assert_eq!(resp.status(), 201);
    let second: Value = resp.json().await.unwrap();
    let new = second["slug"].as_str().unwrap().to_string();
    assert_eq!(new, "redacted-queue-stalled-for-eu-customers");
    let gone = public(&app, &format!("/public/postmortems/{old}")).await;
    assert_problem(gone, 410, None).await;
    let page = public(&app, &format!("/public/postmortems/{new}")).await;
    assert_eq!(page.status(), 200);
    for path in ["/public/postmortems", "/public/postmortems/feed.atom"] {
        let text = public(&app, path).await.text().await.unwrap();
        assert!(!text.to_lowercase().contains("falcon"), "{path}: {text}");
        assert!(text.contains(&new), "{path}");
    }

    // A second incident with the same public title gets its own address,
    // and never the one the first left.
    app.create_incident(
        json!({"title": "Falcon queue stalled for EU customers", "severity": "sev3"}),
    )
    .await;
    let resp = app
        .api(Method::PUT, "/incidents/INC-2/postmortem")
        .json(&json!({"status": "in_review", "sections": [
            {"key": "public_summary", "title": "Summary", "visibility": "public", "body": "Again."}
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = app
        .post("/incidents/INC-2/postmortem/publish", json!({}))
        .await;
    let other: Value = resp.json().await.unwrap();
    assert_eq!(other["slug"], "falcon-queue-stalled-for-eu-customers-2");
}

#[tokio::test]
async fn a_withdrawn_publication_is_gone_from_page_index_and_feed() {
    let app = spawn_app().await;
    incident_with(
        &app,
        "Checkout failing",
        "Card payments failed.",
        "A deploy.",
    )
    .await;
    assert_problem(
        app.post("/incidents/INC-1/postmortem/unpublish", json!({}))
            .await,
        409,
        Some("status"),
    )
    .await;
    let slug = publish(&app).await.json::<Value>().await.unwrap()["slug"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = app
        .post("/incidents/INC-1/postmortem/unpublish", json!({}))
        .await;
    assert_eq!(resp.status(), 200);
    let pm: Value = resp.json().await.unwrap();
    assert_eq!(pm["status"], "in_review");
    assert!(pm["withdrawn_at"].is_string());
    assert_problem(
        public(&app, &format!("/public/postmortems/{slug}")).await,
        410,
        None,
    )
    .await;
    for path in ["/public/postmortems", "/public/postmortems/feed.atom"] {
        let text = public(&app, path).await.text().await.unwrap();
        assert!(!text.contains(&slug), "{path} still lists it");
        assert!(!text.contains("Checkout failing"), "{path} still lists it");
    }
    assert_problem(
        app.post("/incidents/INC-1/postmortem/unpublish", json!({}))
            .await,
        409,
        Some("status"),
    )
    .await;
    // Publishing again brings it back at the same address.
    let again: Value = publish(&app).await.json().await.unwrap();
    assert_eq!(again["slug"], slug.as_str());
    assert_eq!(
        public(&app, &format!("/public/postmortems/{slug}"))
            .await
            .status(),
        200
    );
    let read = app.token("read").await;
    let resp = app
        .client
        .post(app.url("/api/v1/incidents/INC-1/postmortem/unpublish"))
        .bearer_auth(read)
        .send()
        .await
        .unwrap();
    assert_problem(resp, 403, None).await;
}

#[tokio::test]
async fn rules_matching_the_templates_own_words_are_refused() {
    let app = spawn_app().await;
    for (body, field, word) in [
        (json!({"term": "ed"}), "term", "ed"),
        (json!({"term": "Timeline"}), "term", "\"Timeline\""),
        (json!({"term": "responder"}), "term", "\"responder\""),
        (json!({"pattern": "."}), "pattern", "matches \""),
        (json!({"pattern": "[a-z]+"}), "pattern", "matches \""),
    ] {
        let problem = assert_problem(
            app.post("/redactions", body.clone()).await,
            422,
            Some(field),
        )
        .await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains("every public document"), "{body}: {detail}");
        assert!(detail.contains(word), "{body}: {detail}");
        let incident_rule = app.simple_incident().await;
        let reference = incident_rule["ref"].as_str().unwrap().to_string();
        let resp = app
            .post(&format!("/incidents/{reference}/redactions"), body)
            .await;
        assert_problem(resp, 422, Some(field)).await;
    }
    let listed: Value = app.get("/redactions").await.json().await.unwrap();
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        0,
        "nothing stored"
    );
    // An ordinary term is fine, and a public document still renders.
    rule(&app, json!({"term": "Project Falcon"})).await;
    assert_eq!(
        app.get("/incidents/INC-1/postmortem/public.md")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn global_rules_need_the_admin_scope() {
    let app = spawn_app().await;
    app.simple_incident().await;
    let write = app.token("write").await;
    let as_writer = |method: Method, path: &str| {
        app.client
            .request(method, app.url(&format!("/api/v1{path}")))
            .bearer_auth(write.clone())
    };
    let resp = as_writer(Method::POST, "/redactions")
        .json(&json!({"term": "Falcon"}))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 403, None).await;
    let global: Value = app
        .post("/redactions", json!({"term": "Falcon"}))
        .await
        .json()
        .await
        .unwrap();
    let resp = as_writer(
        Method::DELETE,
        &format!("/redactions/{}", global["id"].as_str().unwrap()),
    )
    .send()
    .await
    .unwrap();
    assert_problem(resp, 403, None).await;
    let listed: Value = app.get("/redactions").await.json().await.unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "still there");
    // A rule of an incident stays a writer's business.
    let resp = as_writer(Method::POST, "/incidents/INC-1/redactions")
        .json(&json!({"term": "Quicksilver"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let own: Value = resp.json().await.unwrap();
    let resp = as_writer(
        Method::DELETE,
        &format!("/redactions/{}", own["id"].as_str().unwrap()),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 204);
}

#[tokio::test]
async fn names_of_people_are_replaced_and_names_of_tools_are_not() {
    let app = spawn_app().await;
    incident_with(
        &app,
        "Checkout failing",
        "Card payments failed.",
        "A deploy.",
    )
    .await;
    let resp = app
        .post(
            "/incidents/INC-1/timeline",
            json!({"events": [
                {"occurred_at": "2026-11-20T09:52:00Z", "kind": "page", "author": "PagerDuty",
                 "body": "First PagerDuty page to Dana", "visibility": "public", "source": "pagerduty"},
                {"occurred_at": "2026-11-20T09:53:00Z", "kind": "note", "author": "Slackbot",
                 "body": "Slackbot reminder for Dana", "visibility": "public", "source": "chat"},
                {"occurred_at": "2026-11-20T09:54:00Z", "kind": "note", "author": "Dana",
                 "body": "Dana acknowledged; bandana and Danaher untouched", "visibility": "public", "source": "chat"}
            ]}),
        )
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let md = app
        .get("/incidents/INC-1/postmortem/public.md")
        .await
        .text()
        .await
        .unwrap();
    assert!(md.contains("First PagerDuty page to a responder"), "{md}");
    assert!(md.contains("Slackbot reminder for a responder"), "{md}");
    assert!(
        md.contains("A responder acknowledged; bandana and Danaher untouched"),
        "{md}"
    );
    assert!(!md.contains("Dana "), "{md}");
}

#[tokio::test]
async fn pdf_links_with_scripting_targets_are_disarmed() {
    let app = spawn_app().await;
    incident_with(
        &app,
        "Checkout failing",
        "Card payments failed.",
        "[status](https://status.example.com/) [a](javascript:alert(1)) [b](VBScript:x) \
         [c](data:text/html;base64,PHNjcmlwdD4=) [d](java\u{200b}script:alert(2))",
    )
    .await;
    let pdf = app
        .get("/incidents/INC-1/postmortem/public.pdf")
        .await
        .bytes()
        .await
        .unwrap();
    let uris = link_targets(&pdf);
    assert_eq!(
        uris,
        vec!["https://status.example.com/".to_string()],
        "{uris:?}"
    );
}

/// The URI of every link action in a PDF, wherever it sits (an object of
/// its own or inline in a page's annotations).
fn link_targets(pdf: &[u8]) -> Vec<String> {
    fn walk(object: &lopdf::Object, uris: &mut Vec<String>) {
        match object {
            lopdf::Object::Dictionary(dict) => {
                if let Ok(lopdf::Object::String(bytes, _)) = dict.get(b"URI") {
                    uris.push(String::from_utf8_lossy(bytes).into_owned());
                }
                for (_, value) in dict.iter() {
                    walk(value, uris);
                }
            }
            lopdf::Object::Array(items) => items.iter().for_each(|item| walk(item, uris)),
            lopdf::Object::Stream(stream) => {
                walk(&lopdf::Object::Dictionary(stream.dict.clone()), uris)
            }
            _ => {}
        }
    }
    let doc = lopdf::Document::load_mem(pdf).expect("a valid PDF");
    let mut uris = Vec::new();
    for object in doc.objects.values() {
        walk(object, &mut uris);
    }
    uris
}

#[tokio::test]
async fn public_responses_carry_strict_headers_and_no_host_header_links() {
    let app = spawn_app().await;
    incident_with(
        &app,
        "Checkout failing",
        "Card payments failed.",
        "A deploy.",
    )
    .await;
    let slug = publish(&app).await.json::<Value>().await.unwrap()["slug"]
        .as_str()
        .unwrap()
        .to_string();
    for path in [
        "/public/postmortems".to_string(),
        "/public/postmortems/feed.atom".to_string(),
        format!("/public/postmortems/{slug}"),
        "/public/postmortems/no-such-thing".to_string(),
        "/public/postmortems/BAD!".to_string(),
    ] {
        let resp = app
            .client
            .get(app.url(&path))
            .header("Host", "evil.example")
            .send()
            .await
            .unwrap();
        let headers = resp.headers().clone();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("http"), "no remote source in {path}: {csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        let body = resp.text().await.unwrap();
        assert!(!body.contains("evil.example"), "{path}: {body}");
    }
    let api = app.get("/incidents").await;
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
}
