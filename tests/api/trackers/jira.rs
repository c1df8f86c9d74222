//! Jira sync end to end, against the fake Jira of `fake_jira`: an item's
//! issue is created once with its fields, `done` / `wont_do` / reopening
//! walk the workflow's transitions, and Jira's signed webhooks come back
//! to the item (not pushed back; a replay changes nothing).

use reqwest::Response;
use serde_json::{Value, json};

use super::{get_item, history_of, item, settle};
use crate::{
    fake_jira::{ALICE, BOB, FakeJira, WEBHOOK_SECRET, signed_webhook},
    helpers::{TestApp, assert_problem, spawn_app_with},
};

async fn app_with_jira() -> (TestApp, FakeJira) {
    let fake = FakeJira::start().await;
    let app = spawn_app_with(|s| {
        s.trackers.jira = Some(fake.settings());
        s.mail.link_base_url = Some("https://debrief.example.com".into());
    })
    .await;
    (app, fake)
}

async fn deliver(app: &TestApp, payload: &Value, secret: &str, delivery: &str) -> Response {
    let (headers, body) = signed_webhook(secret, payload, Some(delivery));
    let mut request = app.client.post(app.url("/hooks/jira"));
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request.body(body).send().await.unwrap()
}

#[tokio::test]
async fn an_item_for_jira_gets_one_issue_and_its_status_walks_the_workflow() {
    let (app, fake) = app_with_jira().await;
    let created = item(
        &app,
        json!({"tracker": "jira", "owner": "alice@example.com", "due_date": "2026-12-15"}),
    )
    .await;
    assert_eq!(created["tracker"], "jira");
    settle(&app).await;
    let stored = get_item(&app, "REM-1").await;
    assert_eq!(stored["tracker_key"], "OPS-1", "{stored}");
    assert_eq!(stored["tracker_url"], format!("{}/browse/OPS-1", fake.base));
    assert_eq!(stored["tracker_error"], json!(null));
    let issues = fake.issues();
    assert_eq!(issues.len(), 1);
    let issue = &issues[0];
    assert_eq!(issue.summary, "Add a circuit breaker to the payment client");
    for label in ["debrief", "priority-p1", "kind-prevent", "debrief-REM-1"] {
        assert!(
            issue.labels.iter().any(|l| l == label),
            "{label} in {:?}",
            issue.labels
        );
    }
    assert_eq!(issue.assignee.as_deref(), Some(ALICE));
    assert_eq!(issue.duedate.as_deref(), Some("2026-12-15"));

    let patch =
        |body| async { assert_eq!(app.patch("/remediations/REM-1", body).await.status(), 200) };
    patch(json!({"status": "done"})).await;
    settle(&app).await;
    let done = fake.issue("OPS-1").unwrap();
    assert_eq!(
        (done.status_name(), done.resolution.as_deref()),
        ("Done", Some("Done"))
    );
    patch(json!({"status": "open"})).await;
    settle(&app).await;
    assert_eq!(fake.issue("OPS-1").unwrap().status_name(), "To Do");
    patch(json!({"status": "wont_do", "reason": "Superseded"})).await;
    settle(&app).await;
    let dropped = fake.issue("OPS-1").unwrap();
    assert_eq!(
        (dropped.status_name(), dropped.resolution.as_deref()),
        ("Done", Some("Won't Do"))
    );
    patch(json!({"due_date": "2027-01-31", "title": "Breaker for payments"})).await;
    settle(&app).await;
    let edited = fake.issue("OPS-1").unwrap();
    assert_eq!(
        (edited.summary.as_str(), edited.duedate.as_deref()),
        ("Breaker for payments", Some("2027-01-31"))
    );
    assert_eq!(fake.issues().len(), 1, "one issue across every push");
    assert_eq!(get_item(&app, "REM-1").await["tracker_error"], json!(null));
}

#[tokio::test]
async fn a_jira_webhook_updates_the_item_once_and_is_not_pushed_back() {
    let (app, fake) = app_with_jira().await;
    item(&app, json!({"tracker": "jira"})).await;
    settle(&app).await;
    let payload = fake.transition_as_user("OPS-1", BOB, "Done", Some("Won't Do"));
    let bad = deliver(&app, &payload, "not-the-secret-at-all", "jira-d-0").await;
    assert_problem(bad, 401, None).await;
    assert_eq!(
        get_item(&app, "REM-1").await["status"],
        "open",
        "nothing changed"
    );
    let resp = deliver(&app, &payload, WEBHOOK_SECRET, "jira-d-1").await;
    assert_eq!(resp.status(), 202);
    let item = get_item(&app, "REM-1").await;
    assert_eq!(item["status"], "wont_do");
    assert_eq!(
        history_of(&item, "status"),
        [(format!("jira:{BOB}"), json!("wont_do"))]
    );
    let calls = fake.requests().len();
    settle(&app).await;
    assert_eq!(
        fake.requests().len(),
        calls,
        "a change from Jira is not sent back"
    );
    let replay = deliver(&app, &payload, WEBHOOK_SECRET, "jira-d-1").await;
    assert_eq!(replay.status(), 202);
    assert_eq!(replay.json::<Value>().await.unwrap()["outcome"], "replayed");
    assert_eq!(get_item(&app, "REM-1").await["version"], item["version"]);

    let renamed = fake.edit_as_user("OPS-1", ALICE, |i| i.summary = "Renamed in Jira".into());
    assert_eq!(
        deliver(&app, &renamed, WEBHOOK_SECRET, "jira-d-2")
            .await
            .status(),
        202
    );
    let item = get_item(&app, "REM-1").await;
    assert_eq!(item["title"], "Renamed in Jira");
    assert_eq!(
        history_of(&item, "title"),
        [(format!("jira:{ALICE}"), json!("Renamed in Jira"))]
    );
}
