//! GitHub sync when things go wrong: two replicas pushing at once, a worker
//! whose create answer was lost, GitHub down, bad credentials, a refused
//! request, rate limits; and the reconciliation that catches up missed
//! webhooks.

use chrono::Duration;
use debrief::{
    clock::Clock,
    jobs::{JobName, JobOutcome, Jobs},
};
use serde_json::json;

use super::{
    app_with_github,
    fake_github::{FakeGithub, Mode},
    get_item, github_settings, history_of, item, settle,
};
use crate::helpers::spawn_app_with;

#[tokio::test]
async fn two_replicas_pushing_the_same_item_create_one_issue() {
    let (app, fake) = app_with_github().await;
    // PostgreSQL: a second replica on the same database; SQLite (one
    // process per file): a second worker of the same process.
    let replica = if app.backend == "postgres" {
        let url = app.database_url.clone();
        Some(
            spawn_app_with(|s| {
                github_settings(&fake, s);
                s.database_url = Some(debrief::config::Secret::new(url));
            })
            .await,
        )
    } else {
        None
    };
    let other = match &replica {
        Some(replica) => replica.jobs.clone(),
        None => Jobs::new(app.context.clone(), app.jobs.mailer().clone()).unwrap(),
    };
    for _ in 0..3 {
        item(&app, json!({"tracker": "github"})).await;
    }
    let (a, b) = tokio::join!(app.jobs.run_once(), other.run_once());
    let pushed = a.unwrap().tracker_pushes.pushed + b.unwrap().tracker_pushes.pushed;
    assert_eq!(pushed, 3, "each item pushed by one of them");
    let (a, b) = tokio::join!(app.jobs.run_once(), other.run_once());
    assert_eq!(
        a.unwrap().tracker_pushes.pushed + b.unwrap().tracker_pushes.pushed,
        0
    );
    assert_eq!(fake.creates(), 3, "{:?}", fake.requests());
    assert_eq!(fake.issues("acme/ops").len(), 3);
    let mut keys = Vec::new();
    for n in 1..=3 {
        keys.push(get_item(&app, &format!("REM-{n}")).await["tracker_key"].clone());
    }
    keys.sort_by_key(ToString::to_string);
    assert_eq!(
        keys,
        [
            json!("acme/ops#1"),
            json!("acme/ops#2"),
            json!("acme/ops#3")
        ]
    );
}

#[tokio::test]
async fn an_issue_created_by_a_worker_that_lost_the_answer_is_found_by_its_marker() {
    let (app, fake) = app_with_github().await;
    fake.set_mode(Mode::LoseCreateAnswer);
    item(&app, json!({"tracker": "github"})).await;
    let report = app.jobs.run_once().await.unwrap();
    assert_eq!(report.tracker_pushes.retrying, 1);
    let failed = get_item(&app, "REM-1").await;
    assert_eq!(failed["tracker_key"], json!(null));
    assert!(
        failed["tracker_error"]
            .as_str()
            .unwrap()
            .contains("unavailable"),
        "{failed}"
    );
    assert_eq!(fake.issues("acme/ops").len(), 1, "GitHub has it anyway");
    fake.set_mode(Mode::Normal);
    app.clock.advance(Duration::minutes(10));
    settle(&app).await;
    assert_eq!(fake.creates(), 1, "found by its marker, not created again");
    let item = get_item(&app, "REM-1").await;
    assert_eq!(item["tracker_key"], "acme/ops#1");
    assert_eq!(item["tracker_error"], json!(null));
}

#[tokio::test]
async fn an_issue_left_by_a_crash_before_the_key_was_stored_is_adopted() {
    let (app, fake) = app_with_github().await;
    // Another repository holds REM-10's marker: it must not match REM-1.
    fake.seed(
        "acme/ops",
        "Someone else's",
        "Debrief reference: debrief:REM-10",
    );
    let number = fake.seed(
        "acme/ops",
        "Add a circuit breaker",
        "Debrief reference: debrief:REM-1",
    );
    item(&app, json!({"tracker": "github"})).await;
    settle(&app).await;
    assert_eq!(fake.creates(), 0);
    let item = get_item(&app, "REM-1").await;
    assert_eq!(item["tracker_key"], format!("acme/ops#{number}"));
    assert_eq!(
        fake.issue("acme/ops", number).title,
        "Add a circuit breaker to the payment client",
        "brought in step with the item"
    );
}

#[tokio::test]
async fn github_down_or_refusing_is_shown_on_the_item_and_retried() {
    let (app, fake) = app_with_github().await;
    fake.set_mode(Mode::Down);
    item(&app, json!({"tracker": "github"})).await;
    assert_eq!(
        app.jobs.run_once().await.unwrap().tracker_pushes.retrying,
        1
    );
    let down = get_item(&app, "REM-1").await;
    assert!(
        down["tracker_error"]
            .as_str()
            .unwrap()
            .starts_with("tracker unavailable"),
        "{down}"
    );
    fake.set_mode(Mode::BadCredentials);
    app.clock.advance(Duration::minutes(10));
    assert_eq!(
        app.jobs.run_once().await.unwrap().tracker_pushes.retrying,
        1
    );
    let refused = get_item(&app, "REM-1").await;
    assert_eq!(
        refused["tracker_error"],
        "tracker refused the credentials (401)"
    );
    fake.set_mode(Mode::Reject);
    app.clock.advance(Duration::minutes(30));
    assert_eq!(app.jobs.run_once().await.unwrap().tracker_pushes.failed, 1);
    let rejected = get_item(&app, "REM-1").await;
    assert_eq!(
        rejected["tracker_error"],
        "tracker refused the request (422): Validation Failed (labels: label name is too long)"
    );
    app.clock.advance(Duration::hours(2));
    let calls = fake.requests().len();
    settle(&app).await;
    assert_eq!(
        fake.requests().len(),
        calls,
        "a refused push waits for the next change"
    );
    fake.set_mode(Mode::Normal);
    assert_eq!(
        app.patch("/remediations/REM-1", json!({"priority": "p0"}))
            .await
            .status(),
        200
    );
    settle(&app).await;
    let item = get_item(&app, "REM-1").await;
    assert_eq!(
        (item["tracker_key"].as_str(), &item["tracker_error"]),
        (Some("acme/ops#1"), &json!(null))
    );
    assert_eq!(fake.creates(), 2, "the refused one and the stored one");
    assert_eq!(fake.issues("acme/ops").len(), 1);
}

#[tokio::test]
async fn a_rate_limit_pauses_pushes_until_retry_after() {
    let (app, fake) = app_with_github().await;
    fake.set_mode(Mode::RetryAfter(120));
    item(&app, json!({"tracker": "github"})).await;
    item(&app, json!({"tracker": "github"})).await;
    app.jobs.run_once().await.unwrap();
    assert_eq!(
        fake.requests().len(),
        1,
        "the pass stops at the first rate limit"
    );
    let item1 = get_item(&app, "REM-1").await;
    assert!(
        item1["tracker_error"]
            .as_str()
            .unwrap()
            .contains("rate limit"),
        "{item1}"
    );
    fake.set_mode(Mode::Normal);
    app.clock.advance(Duration::seconds(60));
    settle(&app).await;
    assert_eq!(fake.requests().len(), 1, "paused until its retry time");
    app.clock.advance(Duration::seconds(61));
    settle(&app).await;
    assert_eq!(fake.issues("acme/ops").len(), 2);
}

#[tokio::test]
async fn reconciliation_catches_up_missed_webhooks_and_honours_rate_limits() {
    let (app, fake) = app_with_github().await;
    item(&app, json!({"tracker": "github"})).await;
    item(&app, json!({"tracker": "github"})).await;
    settle(&app).await;
    // Changes on GitHub whose webhooks never arrived.
    fake.edit("acme/ops", 1, "closed", "octocat", |i| {
        i.state = "closed".into();
        i.state_reason = Some("not_planned".into());
    });
    fake.edit("acme/ops", 2, "assigned", "octocat", |i| {
        i.assignees = vec!["bob".into()]
    });
    let report = app.jobs.run_now(JobName::TrackerSync).await.unwrap();
    let JobOutcome::TrackerSync { reconciled, .. } = report.outcome else {
        panic!("{report:?}")
    };
    assert_eq!((reconciled.checked, reconciled.changed), (2, 2));
    let first = get_item(&app, "REM-1").await;
    assert_eq!(first["status"], "wont_do");
    assert_eq!(first["reason"], "closed as not planned in acme/ops#1");
    assert_eq!(
        history_of(&first, "status"),
        [("github".to_string(), json!("wont_do"))]
    );
    assert_eq!(
        get_item(&app, "REM-2").await["owner"],
        "bob",
        "an unmapped login is kept as is"
    );
    let calls = fake.requests().len();
    settle(&app).await;
    assert_eq!(fake.requests().len(), calls, "nothing is pushed back");

    let reset = (app.clock.now() + Duration::minutes(15)).timestamp();
    fake.set_mode(Mode::RateLimitedUntil(reset));
    let report = app.jobs.run_now(JobName::TrackerSync).await.unwrap();
    let JobOutcome::TrackerSync { reconciled, .. } = report.outcome else {
        panic!("{report:?}")
    };
    assert_eq!(reconciled.checked, 0);
    assert_eq!(reconciled.paused.len(), 1);
    assert_eq!(reconciled.paused[0].1.timestamp(), reset);
    let calls = fake.requests().len();
    fake.set_mode(Mode::Normal);
    app.jobs.run_now(JobName::TrackerSync).await.unwrap();
    assert_eq!(
        fake.requests().len(),
        calls,
        "paused until X-RateLimit-Reset"
    );
    app.clock.advance(Duration::minutes(16));
    app.jobs.run_now(JobName::TrackerSync).await.unwrap();
    assert!(fake.requests().len() > calls, "resumed after the reset");
}

#[tokio::test]
async fn the_reconciliation_runs_on_its_schedule_claimed_once() {
    let fake = FakeGithub::start().await;
    let app = spawn_app_with(|s| {
        github_settings(&fake, s);
        s.trackers.reconcile_schedule = "0 0 * * * *".into();
    })
    .await;
    item(&app, json!({"tracker": "github"})).await;
    settle(&app).await;
    fake.edit("acme/ops", 1, "edited", "octocat", |i| {
        i.title = "Renamed on GitHub".into()
    });
    app.clock.advance(Duration::hours(1));
    let report = app.jobs.run_once().await.unwrap();
    assert!(
        report.runs.iter().any(|r| r.starts_with("tracker_sync@")),
        "{report:?}"
    );
    assert_eq!(get_item(&app, "REM-1").await["title"], "Renamed on GitHub");
    let again = app.jobs.run_once().await.unwrap();
    assert!(again.runs.is_empty(), "claimed once: {again:?}");
}
