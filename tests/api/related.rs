//! `GET /incidents/{reference}/related`: the closest other incidents, with
//! their reasons and open remediation items; never the incident itself.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app};

async fn related(app: &TestApp, reference: &str) -> Vec<Value> {
    let resp = app.get(&format!("/incidents/{reference}/related")).await;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().unwrap().clone()
}

fn references(items: &[Value]) -> Vec<&str> {
    items
        .iter()
        .map(|i| i["reference"].as_str().unwrap())
        .collect()
}

async fn remediation(app: &TestApp, title: &str, incident: &str) {
    let resp = app
        .post(
            "/remediations",
            json!({"title": title, "kind": "prevent", "priority": "p2", "incidents": [incident]}),
        )
        .await;
    assert_eq!(resp.status(), 201);
}

#[tokio::test]
async fn related_incidents_are_ranked_by_what_they_share() {
    let app = spawn_app().await;
    // INC-1, the one asked about.
    app.create_incident(json!({
        "title": "Checkout database failover", "severity": "sev1",
        "customer_impact": "Card payments failed",
        "affected_components": ["checkout", "Postgres"], "labels": ["db"]
    }))
    .await;
    // INC-2: two components and the label (3 + 3 + 2) and a word.
    app.create_incident(json!({
        "title": "Replica failover stalled", "severity": "sev2",
        "affected_components": ["postgres", "checkout"], "labels": ["db"]
    }))
    .await;
    // INC-3: one word only.
    app.create_incident(json!({"title": "Search failover drill", "severity": "sev4"}))
        .await;
    // INC-4: nothing in common.
    app.create_incident(json!({"title": "Office wifi down", "severity": "sev4"}))
        .await;
    // INC-5: one component.
    app.create_incident(json!({
        "title": "Slow pages", "severity": "sev3", "affected_components": ["checkout"]
    }))
    .await;
    remediation(&app, "Automate replica promotion", "INC-2").await;
    remediation(&app, "Document the promotion runbook", "INC-2").await;
    let resp = app
        .patch("/remediations/REM-2", json!({"status": "done"}))
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());

    let items = related(&app, "INC-1").await;
    assert_eq!(references(&items), ["INC-2", "INC-5", "INC-3"]);
    let first = &items[0];
    assert_eq!(first["title"], "Replica failover stalled");
    assert_eq!(first["score"], 9);
    assert_eq!(first["shared_components"], json!(["checkout", "postgres"]));
    assert_eq!(first["shared_labels"], json!(["db"]));
    assert_eq!(first["shared_words"], json!(["failover"]));
    assert_eq!(
        first["reasons"],
        json!([
            "Shares affected components: checkout, postgres",
            "Shares labels: db",
            "Shares words in title or impact: failover"
        ])
    );
    // Only the open item is listed.
    let open = first["open_remediations"].as_array().unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["reference"], "REM-1");
    assert_eq!(open[0]["status"], "open");
    assert_eq!(
        items[1]["reasons"],
        json!(["Shares affected components: checkout"])
    );
    assert_eq!(items[2]["score"], 1);

    // The relation is symmetric in what is shared; INC-4 relates to none.
    assert_eq!(references(&related(&app, "INC-2").await)[0], "INC-1");
    assert!(related(&app, "INC-4").await.is_empty());
}

#[tokio::test]
async fn at_most_five_and_never_itself() {
    let app = spawn_app().await;
    for i in 0..8 {
        app.create_incident(json!({
            "title": format!("Kafka consumer lag {i}"), "severity": "sev3",
            "affected_components": ["kafka"]
        }))
        .await;
    }
    let items = related(&app, "INC-3").await;
    assert_eq!(items.len(), 5);
    assert!(!references(&items).contains(&"INC-3"));
    // All share the component and three words.
    assert!(items.iter().all(|i| i["score"] == 6), "{items:?}");
    let resp = app.get("/incidents/INC-99/related").await;
    assert_problem(resp, 404, None).await;
}

#[tokio::test]
async fn the_internal_postmortem_lists_similar_past_incidents_and_the_public_one_does_not() {
    let app = spawn_app().await;
    app.create_incident(json!({
        "title": "Ledger replica failover", "severity": "sev2",
        "affected_components": ["ledger"], "labels": ["db"]
    }))
    .await;
    app.create_incident(json!({
        "title": "Ledger writes <stalled> | again", "severity": "sev1",
        "affected_components": ["ledger"]
    }))
    .await;
    remediation(&app, "Promote replicas automatically", "INC-1").await;
    let document = |name: &'static str| {
        let app = &app;
        async move {
            let resp = app
                .get(&format!("/incidents/INC-2/postmortem/{name}"))
                .await;
            assert_eq!(resp.status(), 200, "{name}");
            resp.text().await.unwrap()
        }
    };
    let markdown = document("internal.md").await;
    let section = markdown
        .split("## Similar past incidents")
        .nth(1)
        .expect("the section is there");
    assert!(
        section.contains(
            "| INC-1 | Ledger replica failover | sev2, investigating | 2026-11-20 10:00 UTC | \
             Shares affected components: ledger; Shares words in title or impact: ledger | \
             REM-1 Promote replicas automatically (open, due "
        ),
        "{section}"
    );
    let html = document("internal.html").await;
    assert!(html.contains("Similar past incidents"), "{html}");
    assert!(html.contains("Promote replicas automatically"));
    // Similar incidents are internal: the public documents never name them.
    for name in ["public.md", "public.html"] {
        let public = document(name).await;
        assert!(!public.contains("Similar past incidents"), "{name}");
        assert!(!public.contains("INC-1"), "{name}");
        assert!(!public.contains("Promote replicas"), "{name}");
    }
    // Its own post-mortem lists INC-2 the other way round, the title's
    // table characters kept as text.
    let resp = app.get("/incidents/INC-1/postmortem/internal.md").await;
    let markdown = resp.text().await.unwrap();
    assert!(markdown.contains("| INC-2 | Ledger writes "), "{markdown}");
}

#[tokio::test]
async fn shared_contributing_factors_rank_and_are_given_as_reasons() {
    let app = spawn_app().await;
    for title in ["Queue backlog", "Queue stalled", "Queue slow"] {
        app.create_incident(json!({"title": title, "severity": "sev3"}))
            .await;
    }
    let factors = |reference: &str, factors: Value| {
        app.api(
            reqwest::Method::PUT,
            &format!("/incidents/{reference}/postmortem"),
        )
        .json(&json!({ "contributing_factors": factors }))
        .send()
    };
    let both = json!([{"factor": "capacity"}, {"factor": "change_deploy", "note": "Deploy 4312"}]);
    assert_eq!(factors("INC-1", both.clone()).await.unwrap().status(), 200);
    assert_eq!(factors("INC-3", both).await.unwrap().status(), 200);
    let one = json!([{"factor": "software_bug"}]);
    assert_eq!(factors("INC-2", one).await.unwrap().status(), 200);

    // All three share the word "queue"; INC-3 also shares two factors.
    let items = related(&app, "INC-1").await;
    assert_eq!(references(&items), ["INC-3", "INC-2"]);
    assert_eq!(items[0]["score"], 1 + 2 * 3);
    assert_eq!(
        items[0]["shared_factors"],
        json!(["Capacity", "Change / deploy"])
    );
    assert_eq!(
        items[0]["reasons"],
        json!([
            "Shares contributing factors: Capacity, Change / deploy",
            "Shares words in title or impact: queue"
        ])
    );
    assert_eq!(items[1]["shared_factors"], json!([]));
}
