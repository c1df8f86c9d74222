//! GitHub sync end to end: an item's issue is created once with its fields,
//! Debrief's changes are pushed, GitHub's come back through signed webhooks
//! (not pushed back), items link to and unlink from existing issues.

use serde_json::json;

use super::{
    app_with_github, deliver, fake_github::WEBHOOK_SECRET, get_item, github_settings, history_of,
    item, settle,
};
use crate::helpers::{assert_problem, spawn_app_with};

#[tokio::test]
async fn an_item_for_github_gets_one_issue_with_its_fields() {
    let (app, fake) = app_with_github().await;
    let created = item(
        &app,
        json!({"tracker": "github", "owner": "alice@example.com", "due_date": "2026-12-15",
               "description": "Trip after 5 failures in 10 s."}),
    )
    .await;
    assert_eq!(created["tracker"], "github");
    assert_eq!(
        created["tracker_key"],
        json!(null),
        "created in the background"
    );
    settle(&app).await;
    settle(&app).await;
    let stored = get_item(&app, "REM-1").await;
    assert_eq!(stored["tracker_key"], "acme/ops#1");
    assert_eq!(
        stored["tracker_url"],
        format!("{}/acme/ops/issues/1", fake.base)
    );
    assert!(stored["tracker_synced_at"].is_string());
    assert_eq!(stored["tracker_error"], json!(null));
    assert_eq!(
        stored["version"], created["version"],
        "sync bookkeeping is no edit"
    );
    assert_eq!(
        history_of(&stored, "tracker_key"),
        [("github".to_string(), json!("acme/ops#1"))]
    );
    assert_eq!(fake.creates(), 1, "{:?}", fake.requests());
    let issue = fake.issue("acme/ops", 1);
    assert_eq!(issue.title, "Add a circuit breaker to the payment client");
    assert_eq!(issue.labels, ["debrief", "priority:p1", "kind:prevent"]);
    assert_eq!(issue.assignees, ["alice"]);
    for expected in [
        "Trip after 5 failures in 10 s.",
        "[REM-1](https://debrief.example.com/api/v1/remediations/REM-1)",
        "[INC-1](https://debrief.example.com/api/v1/incidents/INC-1): Checkout errors",
        "Due date: 2026-12-15",
        "Debrief reference: debrief:REM-1",
    ] {
        assert!(
            issue.body.contains(expected),
            "{expected:?} in {}",
            issue.body
        );
    }
}

#[tokio::test]
async fn teams_choose_the_tracker_and_the_repository() {
    let fake = super::fake_github::FakeGithub::start().await;
    let app = spawn_app_with(|s| {
        github_settings(&fake, s);
        s.trackers.teams = [("payments".to_string(), debrief::domain::TrackerKind::Github)].into();
    })
    .await;
    let synced = item(&app, json!({"team": "payments"})).await;
    assert_eq!(synced["tracker"], "github");
    let unsynced = item(&app, json!({"team": "search"})).await;
    assert_eq!(
        unsynced["tracker"],
        json!(null),
        "no team choice and no default"
    );
    settle(&app).await;
    assert_eq!(fake.issues("acme/payments").len(), 1);
    assert!(fake.issues("acme/ops").is_empty());
    let resp = app
        .post(
            "/remediations",
            json!({"title": "x", "kind": "other", "priority": "p3", "tracker": "jira",
                   "incidents": ["INC-1"]}),
        )
        .await;
    let body = assert_problem(resp, 422, Some("tracker")).await;
    assert!(
        body["detail"].as_str().unwrap().contains("not configured"),
        "{body}"
    );
}

#[tokio::test]
async fn changes_made_in_debrief_are_pushed() {
    let (app, fake) = app_with_github().await;
    item(&app, json!({"tracker": "github"})).await;
    settle(&app).await;
    let patch =
        |body| async { assert_eq!(app.patch("/remediations/REM-1", body).await.status(), 200) };
    patch(
        json!({"title": "Circuit breaker on every payment call", "due_date": "2027-01-10",
                 "owner": "alice@example.com"}),
    )
    .await;
    settle(&app).await;
    let issue = fake.issue("acme/ops", 1);
    assert_eq!(issue.title, "Circuit breaker on every payment call");
    assert!(
        issue.body.contains("Due date: 2027-01-10"),
        "{}",
        issue.body
    );
    assert_eq!(issue.assignees, ["alice"]);
    patch(json!({"status": "done"})).await;
    settle(&app).await;
    let issue = fake.issue("acme/ops", 1);
    assert_eq!(
        (issue.state.as_str(), issue.state_reason.as_deref()),
        ("closed", Some("completed"))
    );
    patch(json!({"status": "open"})).await;
    settle(&app).await;
    assert_eq!(fake.issue("acme/ops", 1).state, "open");
    patch(json!({"status": "wont_do", "reason": "Replaced by the new gateway"})).await;
    settle(&app).await;
    let issue = fake.issue("acme/ops", 1);
    assert_eq!(
        (issue.state.as_str(), issue.state_reason.as_deref()),
        ("closed", Some("not_planned"))
    );
    let before = fake.requests().len();
    patch(json!({"description": "Only the description changes"})).await;
    settle(&app).await;
    assert_eq!(
        fake.requests().len(),
        before,
        "nothing GitHub shows changed: no call"
    );
    assert_eq!(fake.creates(), 1);
}

#[tokio::test]
async fn a_webhook_updates_the_item_and_is_not_pushed_back() {
    let (app, fake) = app_with_github().await;
    item(&app, json!({"tracker": "github"})).await;
    settle(&app).await;
    let before = get_item(&app, "REM-1").await;
    let payload = fake.edit("acme/ops", 1, "edited", "octocat", |i| {
        i.title = "Breaker for the payment client".into();
        i.assignees = vec!["alice".into()];
    });
    let resp = deliver(&app, &payload, WEBHOOK_SECRET, "d-1").await;
    assert_eq!(resp.status(), 202);
    let after = get_item(&app, "REM-1").await;
    assert_eq!(after["title"], "Breaker for the payment client");
    assert_eq!(
        after["owner"], "alice@example.com",
        "the login maps back to the owner"
    );
    assert_eq!(after["version"], before["version"].as_i64().unwrap() + 1);
    assert_eq!(
        history_of(&after, "title"),
        [(
            "github:octocat".to_string(),
            json!("Breaker for the payment client")
        )]
    );
    let calls = fake.requests().len();
    settle(&app).await;
    assert_eq!(
        fake.requests().len(),
        calls,
        "a change from GitHub is not sent back"
    );

    let replay = deliver(&app, &payload, WEBHOOK_SECRET, "d-1").await;
    assert_eq!(replay.status(), 202);
    assert_eq!(
        replay.json::<serde_json::Value>().await.unwrap()["outcome"],
        "replayed"
    );
    assert_eq!(get_item(&app, "REM-1").await["version"], after["version"]);

    let closed = fake.edit("acme/ops", 1, "closed", "octocat", |i| {
        i.state = "closed".into();
        i.state_reason = Some("completed".into());
    });
    assert_eq!(
        deliver(&app, &closed, WEBHOOK_SECRET, "d-2").await.status(),
        202
    );
    assert_eq!(get_item(&app, "REM-1").await["status"], "done");
    let reopened = fake.edit("acme/ops", 1, "reopened", "hubot", |i| {
        i.state = "open".into();
        i.state_reason = Some("reopened".into());
    });
    assert_eq!(
        deliver(&app, &reopened, WEBHOOK_SECRET, "d-3")
            .await
            .status(),
        202
    );
    let item = get_item(&app, "REM-1").await;
    assert_eq!(item["status"], "open");
    assert_eq!(
        history_of(&item, "status"),
        [
            ("github:octocat".to_string(), json!("done")),
            ("github:hubot".to_string(), json!("open"))
        ]
    );
    // An older delivery arriving late does not undo newer news.
    assert_eq!(
        deliver(&app, &closed, WEBHOOK_SECRET, "d-2-redelivered")
            .await
            .status(),
        202
    );
    assert_eq!(get_item(&app, "REM-1").await["status"], "open");
}

#[tokio::test]
async fn a_webhook_with_a_bad_signature_changes_nothing() {
    let (app, fake) = app_with_github().await;
    item(&app, json!({"tracker": "github"})).await;
    settle(&app).await;
    let payload = fake.edit("acme/ops", 1, "edited", "mallory", |i| {
        i.title = "pwned".into()
    });
    let resp = deliver(&app, &payload, "not the secret", "d-bad").await;
    assert_problem(resp, 401, None).await;
    let unsigned = app
        .client
        .post(app.url("/hooks/github"))
        .header("X-GitHub-Event", "issues")
        .header("X-GitHub-Delivery", "d-unsigned")
        .json(&payload)
        .send()
        .await
        .unwrap();
    assert_problem(unsigned, 401, None).await;
    let item = get_item(&app, "REM-1").await;
    assert_eq!(item["title"], "Add a circuit breaker to the payment client");
    assert_eq!(item["version"], 1);
    // The same delivery id, now signed, is applied: the refused one left no trace.
    assert_eq!(
        deliver(&app, &payload, WEBHOOK_SECRET, "d-bad")
            .await
            .status(),
        202
    );
    assert_eq!(get_item(&app, "REM-1").await["title"], "pwned");
    let huge = vec![b'x'; 2 * 1024 * 1024];
    let resp = app
        .client
        .post(app.url("/hooks/github"))
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_problem(resp, 413, Some("body")).await;
    let ping = app
        .client
        .post(app.url("/hooks/gitlab"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(ping, 404, None).await;
}

#[tokio::test]
async fn conflicting_edits_last_writer_wins_and_both_are_in_the_history() {
    let (app, fake) = app_with_github().await;
    item(&app, json!({"tracker": "github"})).await;
    settle(&app).await;
    // Debrief first, GitHub second (its webhook arrives before the push).
    let resp = app
        .patch("/remediations/REM-1", json!({"title": "Debrief's title"}))
        .await;
    assert_eq!(resp.status(), 200);
    let payload = fake.edit("acme/ops", 1, "edited", "octocat", |i| {
        i.title = "GitHub's title".into()
    });
    assert_eq!(
        deliver(&app, &payload, WEBHOOK_SECRET, "d-9")
            .await
            .status(),
        202
    );
    settle(&app).await;
    let item = get_item(&app, "REM-1").await;
    assert_eq!(item["title"], "GitHub's title");
    assert_eq!(fake.issue("acme/ops", 1).title, "GitHub's title");
    assert_eq!(
        history_of(&item, "title"),
        [
            ("test-admin".to_string(), json!("Debrief's title")),
            ("github:octocat".to_string(), json!("GitHub's title"))
        ]
    );
    // Then Debrief again: it is the last writer now.
    let resp = app
        .patch("/remediations/REM-1", json!({"title": "Final title"}))
        .await;
    assert_eq!(resp.status(), 200);
    settle(&app).await;
    assert_eq!(fake.issue("acme/ops", 1).title, "Final title");
}

#[tokio::test]
async fn an_existing_issue_is_linked_and_unlinked() {
    let (app, fake) = app_with_github().await;
    let number = fake.seed("acme/ops", "Rotate the certificates", "Filed by hand");
    item(&app, json!({})).await;
    let url = format!("{}/acme/ops/issues/{number}", fake.base);
    for (bad, why) in [
        ("https://gitlab.com/acme/ops/-/issues/1", "another host"),
        ("https://example.com/acme/ops/issues/1", "not the tracker"),
        (&*format!("{}/acme/ops/pull/1", fake.base), "a pull request"),
        (&*format!("{}/acme/ops/issues/zero", fake.base), "no number"),
        ("not a url", "not a URL"),
    ] {
        let resp = app
            .post("/remediations/REM-1/tracker", json!({"url": bad}))
            .await;
        assert_eq!(resp.status(), 422, "{why}");
        assert_problem(resp, 422, Some("url")).await;
    }
    let resp = app
        .post("/remediations/REM-1/tracker", json!({"url": url}))
        .await;
    assert_eq!(resp.status(), 200);
    let linked: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        (linked["tracker"].as_str(), linked["tracker_key"].as_str()),
        (Some("github"), Some("acme/ops#1"))
    );
    settle(&app).await;
    assert_eq!(fake.creates(), 0);
    assert_eq!(
        fake.issue("acme/ops", 1).title,
        "Add a circuit breaker to the payment client",
        "the issue is brought in step with the item, as a created one is"
    );
    assert!(get_item(&app, "REM-1").await["tracker_synced_at"].is_string());
    item(&app, json!({})).await;
    let taken = app
        .post("/remediations/REM-2/tracker", json!({"url": url}))
        .await;
    assert_problem(taken, 409, Some("url")).await;
    let patched = app
        .patch(
            "/remediations/REM-1",
            json!({"tracker_url": "https://example.com/x"}),
        )
        .await;
    assert_problem(patched, 422, Some("tracker_url")).await;
    let resp = app
        .api(reqwest::Method::DELETE, "/remediations/REM-1/tracker")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let unlinked: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(unlinked["tracker"], json!(null));
    assert_eq!(unlinked["tracker_url"], json!(null));
    let again = app
        .api(reqwest::Method::DELETE, "/remediations/REM-1/tracker")
        .send()
        .await
        .unwrap();
    assert_problem(again, 404, None).await;
    let calls = fake.requests().len();
    assert_eq!(
        app.patch("/remediations/REM-1", json!({"title": "Unlinked"}))
            .await
            .status(),
        200
    );
    settle(&app).await;
    assert_eq!(
        fake.requests().len(),
        calls,
        "an unlinked item is not pushed"
    );
}
