//! How the documents word what they show: facts as a list (no "Field |
//! Value" header row), empty sections marked in the draft and left out of
//! the public document, Debrief's own notes only where they describe the
//! incident, and one way to write figures in the post-mortem and the
//! digest (durations, names in words, days overdue, what each time figure
//! counts from).

use serde_json::{Value, json};

use crate::{
    digest_support::w48_monday_nine,
    helpers::{TestApp, spawn_app},
};

/// The labels the post-mortem and the digest both give the time figures.
const TIME_FIGURES: [&str; 4] = [
    "ime to detect (from start)",
    "ime to acknowledge (from detection)",
    "ime to mitigate (from start)",
    "ime to resolve (from start)",
];

async fn text(app: &TestApp, path: &str) -> String {
    let resp = app.get(path).await;
    assert_eq!(resp.status(), 200, "GET {path}");
    resp.text().await.unwrap()
}

async fn created(app: &TestApp, path: &str, body: Value) {
    let resp = app.post(path, body).await;
    assert_eq!(resp.status(), 201, "POST {path}");
}

fn pdf_text(bytes: &[u8]) -> String {
    let doc = lopdf::Document::load_mem(bytes).expect("a valid PDF");
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    let text = doc.extract_text(&pages).expect("text extracts");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Week 2026-W47 (16 to 22 November): INC-1, back-filled on Friday 20th
/// (sev1, 08:00 to 14:12 on Monday 16th, no public update: 372 minutes),
/// its post-mortem in review, a silenced alert to undo and two remediation
/// items, due on Sunday 22nd and Monday 23rd; INC-2, opened live on
/// Friday, started the day before and resolved 24 h 14 min after its start.
async fn week_of_two_incidents(app: &TestApp) {
    app.create_incident(json!({
        "title": "Search index stale",
        "severity": "sev1",
        "started_at": "2026-11-16T08:00:00Z",
        "detected_at": "2026-11-16T08:05:00Z",
        "acknowledged_at": "2026-11-16T08:09:00Z",
        "mitigated_at": "2026-11-16T12:00:00Z",
        "resolved_at": "2026-11-16T14:12:00Z"
    }))
    .await;
    let resp = app
        .api(reqwest::Method::PUT, "/incidents/INC-1/postmortem")
        .json(&json!({"status": "in_review", "owner": "Ana Lima"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    created(
        app,
        "/incidents/INC-1/cleanup-items",
        json!({"kind": "silenced_alert", "description": "Silenced the indexer lag alert", "owner": "Ben Okafor"}),
    )
    .await;
    for (title, due) in [
        ("Alert on index age", "2026-11-22"),
        ("Rebuild the index hourly", "2026-11-23"),
    ] {
        created(
            app,
            "/remediations",
            json!({"title": title, "kind": "detect", "priority": "p1", "owner": "Ana Lima",
                   "due_date": due, "incidents": ["INC-1"]}),
        )
        .await;
    }
    app.create_incident(json!({
        "title": "Checkout errors",
        "severity": "sev2",
        "started_at": "2026-11-19T09:47:00Z"
    }))
    .await;
    app.clock.advance(chrono::Duration::minutes(1));
    let resp = app
        .patch("/incidents/INC-2", json!({"status": "resolved"}))
        .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn the_internal_draft_lists_facts_and_marks_what_is_left_to_write() {
    let app = spawn_app().await;
    week_of_two_incidents(&app).await;
    let markdown = text(&app, "/incidents/INC-2/postmortem/internal.md").await;
    for table_header in ["| Field | Value |", "| Measure | Value |"] {
        assert!(!markdown.contains(table_header), "{markdown}");
    }
    for fact in [
        "\n- **Severity:** sev2\n",
        "\n- **Post-mortem:** dedicated, draft\n",
        "\n- **Started:** 2026-11-19 09:47 UTC\n",
        "\n- **Resolved:** 2026-11-20 10:01 UTC\n",
        "\n- **Time to detect (from start):** not recorded\n",
        "\n- **Time to resolve (from start):** 1 d 0 h 14 min\n",
    ] {
        assert!(markdown.contains(fact), "{fact:?} in {markdown}");
    }
    // Nothing is written yet: every written section says so, the
    // generated ones (timeline, action items) show what the record holds.
    assert!(
        markdown.contains("\n## Impact\n\n*To write.*\n"),
        "{markdown}"
    );
    assert!(markdown.contains("\n## What we are doing about it (public)\n\n*To write.*\n"));
    assert!(!markdown.contains("Not written yet"));
    assert!(!markdown.contains("## Timeline\n\n*To write.*"));

    // The same list reads as one in HTML and in the PDF.
    let html = text(&app, "/incidents/INC-2/postmortem/internal.html").await;
    assert!(
        html.contains("<li><strong>Severity:</strong> sev2</li>"),
        "{html}"
    );
    assert!(!html.contains("<th>Field</th>"));
    assert!(html.contains("<p><em>To write.</em></p>"));
    let pdf = app
        .get("/incidents/INC-2/postmortem/internal.pdf")
        .await
        .bytes()
        .await
        .unwrap();
    let pdf = pdf_text(&pdf);
    assert!(
        pdf.contains("Severity:") && pdf.contains("To write."),
        "{pdf}"
    );
    assert!(!pdf.contains("Field Value"), "{pdf}");
}

#[tokio::test]
async fn the_public_document_leaves_out_sections_not_written() {
    let app = spawn_app().await;
    week_of_two_incidents(&app).await;
    let markdown = text(&app, "/incidents/INC-2/postmortem/public.md").await;
    assert!(
        !markdown.contains("\n## "),
        "no section is written: {markdown}"
    );
    assert!(!markdown.contains("Not written yet") && !markdown.contains("To write"));
    assert!(
        markdown.contains(
            "Started: 2026-11-19 09:47 UTC · Resolved: 2026-11-20 10:01 UTC · \
             Time to resolve (from start): 1 d 0 h 14 min"
        ),
        "{markdown}"
    );

    let sections: Value = app
        .get("/incidents/INC-2/postmortem")
        .await
        .json()
        .await
        .unwrap();
    let sections: Vec<Value> = sections["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let body = if s["key"] == "what_happened" {
                json!("The checkout service returned errors.")
            } else {
                s["body"].clone()
            };
            json!({"key": s["key"], "title": s["title"], "body": body, "visibility": s["visibility"]})
        })
        .collect();
    let resp = app
        .api(reqwest::Method::PUT, "/incidents/INC-2/postmortem")
        .json(&json!({ "sections": sections }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let markdown = text(&app, "/incidents/INC-2/postmortem/public.md").await;
    assert!(
        markdown.contains("\n## What happened\n\nThe checkout service returned errors.\n"),
        "{markdown}"
    );
    assert_eq!(markdown.matches("\n## ").count(), 1, "{markdown}");
}

#[tokio::test]
async fn debrief_notes_of_a_back_filled_incident_stay_out_of_its_document() {
    let app = spawn_app().await;
    week_of_two_incidents(&app).await;
    // A role whose time is given: its note is at the time it describes.
    created(
        &app,
        "/incidents/INC-1/roles",
        json!({"role": "incident_commander", "person": "Ana Lima", "assigned_at": "2026-11-16T08:10:00Z"}),
    )
    .await;
    // The timeline keeps the record of when INC-1 was entered ...
    let timeline: Value = app
        .get("/incidents/INC-1/timeline")
        .await
        .json()
        .await
        .unwrap();
    let bodies: Vec<&str> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["body"].as_str().unwrap())
        .collect();
    assert!(
        bodies
            .iter()
            .any(|b| b.starts_with("Incident INC-1 opened")),
        "{bodies:?}"
    );
    // ... the document, which tells the incident, does not.
    let markdown = text(&app, "/incidents/INC-1/postmortem/internal.md").await;
    assert!(!markdown.contains("Incident INC-1 opened"), "{markdown}");
    assert!(
        markdown.contains(
            "| 2026-11-16 08:10 UTC | note | Debrief | Ana Lima assigned as Incident Commander. |"
        ),
        "{markdown}"
    );
    // An incident opened live keeps its opening note: it is when the
    // response was declared.
    let live = text(&app, "/incidents/INC-2/postmortem/internal.md").await;
    assert!(
        live.contains("| 2026-11-20 10:00 UTC | status change | Debrief | Incident INC-2 opened as sev2, status investigating. |"),
        "{live}"
    );
}

#[tokio::test]
async fn the_post_mortem_and_the_digest_write_figures_one_way() {
    let app = spawn_app().await;
    week_of_two_incidents(&app).await;
    let internal = text(&app, "/incidents/INC-1/postmortem/internal.md").await;
    app.clock.set(w48_monday_nine());
    let digest = text(&app, "/digests/2026-W47.md").await;

    // Each time figure has one name, which says what it counts from.
    for label in TIME_FIGURES {
        assert!(internal.contains(&format!("- **T{label}:** ")), "{label}");
        assert!(digest.contains(&format!("| Median t{label} |")), "{label}");
        assert!(digest.contains(&format!("| T{label} |")), "{label}");
    }
    assert!(internal.contains("- **Time to resolve (from start):** 6 h 12 min\n"));
    assert!(internal.contains("- **Time to mitigate (from start):** 4 h 0 min\n"));
    // Durations: no bare minute counts, no "s", days with hours and minutes.
    assert!(
        digest.contains("| INC-1 | Search index stale | sev1 | 6 h 12 min | in review |"),
        "{digest}"
    );
    assert!(
        digest.contains("| INC-2 | Checkout errors | sev2 | 1 d 0 h 14 min | draft |"),
        "{digest}"
    );
    assert!(
        digest.contains("| INC-1 | Search index stale | sev1 | 30 min | 6 h 12 min |"),
        "the late customer updates: {digest}"
    );
    assert!(!digest.contains("372 min") && !internal.contains("372 min"));
    // Kinds and statuses in words, the same in both.
    assert!(internal.contains("| silenced alert | Silenced the indexer lag alert |"));
    assert!(digest.contains("| INC-1 | silenced alert | Silenced the indexer lag alert |"));
    assert!(!digest.contains("silenced_alert") && !digest.contains("in_review"));
    // Overdue counts start at 1: the item due on Sunday is 1 day overdue
    // when the week ends, the one due on Monday is not overdue.
    assert!(
        digest.contains("| Alert on index age | p1 | Ana Lima | — | 2026-11-22 | 1 |"),
        "{digest}"
    );
    assert!(!digest.contains("Rebuild the index hourly"));
    assert!(
        digest.contains(
            "| INC-1 | Search index stale | sev1 | Ana Lima | in review | 2026-11-19 | 4 |"
        ),
        "{digest}"
    );
    assert!(digest.contains("(0 of 1 item due this week done on time)"));
}
