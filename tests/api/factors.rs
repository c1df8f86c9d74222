//! Contributing factors: the taxonomy, attaching them to a post-mortem
//! (checked, replaced whole, under `If-Match`), factors that leave the
//! taxonomy, bundles, documents and the figures of a period.

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app, spawn_app_with};

async fn put(app: &TestApp, reference: &str, body: Value, if_match: Option<&str>) -> Response {
    let mut req = app
        .api(Method::PUT, &format!("/incidents/{reference}/postmortem"))
        .json(&body);
    if let Some(tag) = if_match {
        req = req.header("If-Match", tag);
    }
    req.send().await.expect("request")
}

async fn postmortem(app: &TestApp, reference: &str) -> Value {
    let resp = app.get(&format!("/incidents/{reference}/postmortem")).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// `(factor, label, note, retired)` of each factor, in order.
fn factors(pm: &Value) -> Vec<(String, String, String, bool)> {
    pm["contributing_factors"]
        .as_array()
        .expect("contributing_factors is a list")
        .iter()
        .map(|f| {
            (
                f["factor"].as_str().unwrap().to_string(),
                f["label"].as_str().unwrap().to_string(),
                f["note"].as_str().unwrap().to_string(),
                f["retired"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn row(factor: &str, label: &str, note: &str, retired: bool) -> (String, String, String, bool) {
    (factor.into(), label.into(), note.into(), retired)
}

#[tokio::test]
async fn the_default_taxonomy_is_listed_in_order() {
    let app = spawn_app().await;
    let resp = app.get("/contributing-factors").await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let ids: Vec<&str> = body["factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "change_deploy",
            "configuration",
            "capacity",
            "dependency_failure",
            "software_bug",
            "monitoring_gap",
            "process_human",
            "hardware_network",
            "security",
            "unknown"
        ]
    );
    assert_eq!(body["factors"][6]["label"], "Process / human factors");
    // Read scope is enough; no token is not.
    let read = app.token("read").await;
    let resp = app
        .client
        .get(app.url("/api/v1/contributing-factors"))
        .bearer_auth(read)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = app
        .client
        .get(app.url("/api/v1/contributing-factors"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn factors_are_attached_replaced_whole_and_versioned() {
    let app = spawn_app().await;
    app.simple_incident().await;
    let pm = postmortem(&app, "INC-1").await;
    assert_eq!(pm["contributing_factors"], json!([]));
    let version = pm["version"].as_i64().unwrap();

    let two = json!({"contributing_factors": [
        {"factor": "change_deploy", "note": "Deploy 4312 shipped the **bad** query"},
        {"factor": "monitoring_gap"}
    ]});
    let resp = put(&app, "INC-1", two.clone(), Some(&format!("\"{version}\""))).await;
    assert_eq!(resp.status(), 200);
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    let pm: Value = resp.json().await.unwrap();
    assert_eq!(pm["version"], version + 1);
    assert_eq!(etag, format!("\"{}\"", version + 1));
    let expected = vec![
        row(
            "change_deploy",
            "Change / deploy",
            "Deploy 4312 shipped the **bad** query",
            false,
        ),
        row("monitoring_gap", "Monitoring gap", "", false),
    ];
    assert_eq!(factors(&pm), expected);
    assert_eq!(factors(&postmortem(&app, "INC-1").await), expected);

    // The same list again changes nothing, not even the version.
    let pm: Value = put(&app, "INC-1", two, None).await.json().await.unwrap();
    assert_eq!(pm["version"], version + 1);

    // A stale If-Match changes nothing.
    let resp = put(
        &app,
        "INC-1",
        json!({"contributing_factors": []}),
        Some(&format!("\"{version}\"")),
    )
    .await;
    assert_problem(resp, 412, Some("If-Match")).await;
    assert_eq!(factors(&postmortem(&app, "INC-1").await), expected);

    // Other fields leave the factors alone; a new order is a change.
    let pm: Value = put(&app, "INC-1", json!({"owner": "ana"}), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(factors(&pm), expected);
    let reordered = json!({"contributing_factors": [
        {"factor": "monitoring_gap", "note": "No alert on the error rate"},
        {"factor": "change_deploy", "note": "Deploy 4312 shipped the **bad** query"}
    ]});
    let pm: Value = put(&app, "INC-1", reordered, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pm["version"], version + 3);
    assert_eq!(
        factors(&pm)[0],
        row(
            "monitoring_gap",
            "Monitoring gap",
            "No alert on the error rate",
            false
        )
    );

    // `[]` removes them all.
    let pm: Value = put(&app, "INC-1", json!({"contributing_factors": []}), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pm["contributing_factors"], json!([]));
    assert_eq!(pm["version"], version + 4);
}

#[tokio::test]
async fn bad_factor_lists_are_refused_naming_the_field() {
    let app = spawn_app().await;
    app.simple_incident().await;
    let kept = json!({"contributing_factors": [{"factor": "capacity", "note": "kept"}]});
    assert_eq!(put(&app, "INC-1", kept, None).await.status(), 200);
    let before = postmortem(&app, "INC-1").await;
    let many: Vec<Value> = (0..51).map(|_| json!({"factor": "unknown"})).collect();
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!([{"factor": "cosmic_rays"}]),
            "contributing_factors[0].factor",
            "not in the taxonomy: the allowed ids are listed",
        ),
        (
            json!([{"factor": "capacity"}, {"factor": "Bad Slug"}]),
            "contributing_factors[1].factor",
            "not an id at all: listed too",
        ),
        (
            json!([{"factor": "security"}, {"factor": "security"}]),
            "contributing_factors[1].factor",
            "a factor named twice",
        ),
        (
            json!([{"factor": "security", "note": "x".repeat(2001)}]),
            "contributing_factors[0].note",
            "a note over 2,000 characters",
        ),
        (
            json!([{"factor": "security", "note": "a\u{0}b"}]),
            "contributing_factors[0].note",
            "a NUL in a note",
        ),
        (json!(many), "contributing_factors", "more than 50 factors"),
        (
            json!([{"note": "no factor"}]),
            "contributing_factors[0].factor",
            "the factor missing",
        ),
        (
            json!([{"factor": "security", "weight": 3}]),
            "contributing_factors[0].weight",
            "an unknown property",
        ),
        (
            json!([{"factor": "x".repeat(65)}]),
            "contributing_factors[0].factor",
            "an id over 64 characters",
        ),
        (json!("security"), "contributing_factors", "not a list"),
    ];
    for (list, field, why) in cases {
        let resp = put(&app, "INC-1", json!({"contributing_factors": list}), None).await;
        let body = assert_problem(resp, 422, Some(field)).await;
        if why.contains("listed") {
            let detail = body["detail"].as_str().unwrap();
            assert!(
                detail.contains("change_deploy") && detail.contains("unknown"),
                "{why}: the allowed ids are named: {detail}"
            );
        }
    }
    assert_eq!(postmortem(&app, "INC-1").await, before, "nothing changed");
}

/// A bundle made where the taxonomy differed: its factors are kept,
/// shown as retired, may be sent back, and are not newly attachable.
#[tokio::test]
async fn a_factor_outside_the_taxonomy_stays_readable() {
    let app = spawn_app_with(|s| {
        s.factors.taxonomy.retain(|f| f.id != "security");
        s.factors.taxonomy[0].label = "Change".into();
    })
    .await;
    app.simple_incident().await;
    let body = json!({"contributing_factors": [
        {"factor": "change_deploy", "note": "the deploy"},
        {"factor": "capacity"}
    ]});
    assert_eq!(put(&app, "INC-1", body, None).await.status(), 200);
    let mut bundle: Value = app
        .get("/incidents/INC-1/bundle")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        bundle["postmortem"]["contributing_factors"],
        json!([{"factor": "change_deploy", "note": "the deploy"}, {"factor": "capacity", "note": ""}])
    );
    bundle["postmortem"]["contributing_factors"] =
        json!([{"factor": "security", "note": "leaked key"}, {"factor": "capacity", "note": ""}]);
    let resp = app
        .api(Method::POST, "/imports/bundle")
        .json(&bundle)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
    let pm = postmortem(&app, "INC-1").await;
    assert_eq!(
        factors(&pm),
        vec![
            row("security", "security", "leaked key", true),
            row("capacity", "Capacity", "", false)
        ]
    );
    // Sent back as read: accepted. A retired factor cannot be added anew.
    let back = json!({"contributing_factors": [
        {"factor": "security", "note": "leaked key, rotated"},
        {"factor": "change_deploy"}
    ]});
    let pm: Value = put(&app, "INC-1", back, None).await.json().await.unwrap();
    assert_eq!(
        factors(&pm)[0],
        row("security", "security", "leaked key, rotated", true)
    );
    assert_eq!(factors(&pm)[1], row("change_deploy", "Change", "", false));
    app.simple_incident().await;
    let resp = put(
        &app,
        "INC-2",
        json!({"contributing_factors": [{"factor": "security"}]}),
        None,
    )
    .await;
    assert_problem(resp, 422, Some("contributing_factors[0].factor")).await;

    // A bundle with a malformed id or a duplicate is refused whole.
    for (list, field) in [
        (
            json!([{"factor": "Security"}]),
            "postmortem.contributing_factors[0].factor",
        ),
        (
            json!([{"factor": "capacity"}, {"factor": "capacity"}]),
            "postmortem.contributing_factors[1].factor",
        ),
    ] {
        bundle["postmortem"]["contributing_factors"] = list;
        let resp = app
            .api(Method::POST, "/imports/bundle")
            .json(&bundle)
            .send()
            .await
            .unwrap();
        assert_problem(resp, 422, Some(field)).await;
    }
    // Without the key, an import leaves the factors as they are.
    bundle["postmortem"]
        .as_object_mut()
        .unwrap()
        .remove("contributing_factors");
    let resp = app
        .api(Method::POST, "/imports/bundle")
        .json(&bundle)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    assert_eq!(factors(&postmortem(&app, "INC-1").await).len(), 2);
}

#[tokio::test]
async fn the_internal_document_lists_the_factors_and_the_public_one_does_not() {
    let app = spawn_app().await;
    app.simple_incident().await;
    let body = json!({"contributing_factors": [
        {"factor": "configuration", "note": "Pool size | set to 5 on db-7"},
        {"factor": "unknown"}
    ]});
    assert_eq!(put(&app, "INC-1", body, None).await.status(), 200);
    let internal = app
        .get("/incidents/INC-1/postmortem/internal.md")
        .await
        .text()
        .await
        .unwrap();
    let at = internal
        .find("## Contributing factors")
        .expect("the section");
    let section = &internal[at..];
    assert!(section.contains("| Factor | Note |"), "{section}");
    assert!(
        section.contains("| Configuration | Pool size \\| set to 5 on db-7 |"),
        "{section}"
    );
    assert!(section.contains("| Unknown | — |"), "{section}");
    let public = app
        .get("/incidents/INC-1/postmortem/public.md")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !public.contains("db-7") && !public.contains("Configuration"),
        "{public}"
    );

    // Without the section of that key, the factors still get theirs.
    let pm = postmortem(&app, "INC-1").await;
    let sections: Vec<Value> = pm["sections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["key"] != "contributing_factors" && s["generated"] == false)
        .map(|s| json!({"key": s["key"], "title": s["title"], "body": s["body"]}))
        .collect();
    assert_eq!(
        put(&app, "INC-1", json!({"sections": sections}), None)
            .await
            .status(),
        200
    );
    let internal = app
        .get("/incidents/INC-1/postmortem/internal.html")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        internal.matches("Contributing factors").count(),
        1,
        "{internal}"
    );
    assert!(internal.contains("set to 5 on db-7"));
    let pdf = app.get("/incidents/INC-1/postmortem/internal.pdf").await;
    assert_eq!(pdf.status(), 200);
}

#[tokio::test]
async fn the_figures_count_incidents_per_factor_and_severity() {
    let app = spawn_app().await;
    let opened = |severity: &str, day: &str| json!({"title": "Errors", "severity": severity, "started_at": format!("2026-11-{day}T10:00:00Z")});
    for (severity, day, factor_list) in [
        ("sev1", "16", json!(["change_deploy", "capacity"])),
        ("sev2", "17", json!(["change_deploy"])),
        ("sev1", "18", json!([])),
        ("sev3", "09", json!(["change_deploy"])), // the week before
    ] {
        let incident = app.create_incident(opened(severity, day)).await;
        let reference = incident["ref"].as_str().unwrap();
        let list: Vec<Value> = factor_list
            .as_array()
            .unwrap()
            .iter()
            .map(|f| json!({"factor": f}))
            .collect();
        let resp = put(&app, reference, json!({"contributing_factors": list}), None).await;
        assert_eq!(resp.status(), 200);
    }
    let stats: Value = app
        .get("/stats?from=2026-11-16&to=2026-11-22")
        .await
        .json()
        .await
        .unwrap();
    let counts = stats["contributing_factors"].as_array().unwrap();
    assert_eq!(counts.len(), 10, "every factor of the taxonomy: {counts:?}");
    assert_eq!(counts[0]["factor"], "change_deploy");
    assert_eq!(counts[0]["label"], "Change / deploy");
    assert_eq!(counts[0]["retired"], false);
    assert_eq!(
        counts[0]["incidents"],
        json!({"sev1": 1, "sev2": 1, "sev3": 0, "sev4": 0, "total": 2})
    );
    assert_eq!(counts[2]["factor"], "capacity");
    assert_eq!(counts[2]["incidents"]["total"], 1);
    assert_eq!(counts[9]["factor"], "unknown");
    assert_eq!(counts[9]["incidents"]["total"], 0);
    // The week before has its own.
    let before: Value = app
        .get("/stats?from=2026-11-09&to=2026-11-15")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        before["contributing_factors"][0]["incidents"],
        json!({"sev1": 0, "sev2": 0, "sev3": 1, "sev4": 0, "total": 1})
    );
}

#[tokio::test]
async fn retired_factors_are_counted_after_the_taxonomy() {
    let app = spawn_app_with(|s| s.factors.taxonomy.truncate(2)).await;
    app.create_incident(
        json!({"title": "Errors", "severity": "sev2", "started_at": "2026-11-17T10:00:00Z"}),
    )
    .await;
    let mut bundle: Value = app
        .get("/incidents/INC-1/bundle")
        .await
        .json()
        .await
        .unwrap();
    bundle["postmortem"]["contributing_factors"] =
        json!([{"factor": "vendor_outage"}, {"factor": "configuration"}]);
    let resp = app
        .api(Method::POST, "/imports/bundle")
        .json(&bundle)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let stats: Value = app
        .get("/stats?from=2026-11-16&to=2026-11-22")
        .await
        .json()
        .await
        .unwrap();
    let listed: Vec<(&str, bool, u64)> = stats["contributing_factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["factor"].as_str().unwrap(),
                f["retired"].as_bool().unwrap(),
                f["incidents"]["total"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("change_deploy", false, 0),
            ("configuration", false, 1),
            ("vendor_outage", true, 1)
        ]
    );
}
