//! The Jira back end against the fake Jira of `fake_jira/`: create and
//! find by marker, read, edit, workflow transitions, every failure mode,
//! the Markdown → ADF conversion, issue URLs and settings; webhooks in
//! `webhooks.rs`. No database: these run in the api suite so CI runs them.

use std::sync::Arc;

use chrono::{NaiveDate, TimeDelta};
use debrief::{
    clock::{Clock, ManualClock},
    trackers::{
        IssueDraft, IssueUpdate, RemoteState, Tracker, TrackerError, TrackerKind,
        jira::{Jira, JiraDeployment, JiraSettings, markdown_to_adf},
    },
};
use serde_json::{Value, json};

use crate::{
    fake_jira::{ALICE, BOB, Failure, FakeJira, Workflow},
    helpers::t0,
};

mod webhooks;

fn jira_for(settings: JiraSettings) -> (Jira, ManualClock) {
    let clock = ManualClock::new(t0());
    let jira = Jira::new(settings, Arc::new(clock.clone())).expect("valid settings");
    (jira, clock)
}

fn draft(marker: &str) -> IssueDraft {
    IssueDraft {
        target: "OPS".into(),
        title: "Add a circuit breaker to the payment client".into(),
        body: "Follow-up of [INC-7](https://debrief.example.com/incidents/INC-7).\n\n\
               - retry budget\n- alert on open breaker\n"
            .into(),
        marker: marker.into(),
        labels: vec![
            "debrief".into(),
            "priority:p1".into(),
            "kind:prevent".into(),
        ],
        due_date: NaiveDate::from_ymd_opt(2026, 12, 15),
        assignee: Some(ALICE.into()),
    }
}

#[tokio::test]
async fn create_then_find_by_marker_finds_exactly_that_issue() {
    let fake = FakeJira::start().await;
    let (jira, _) = jira_for(fake.settings());
    assert_eq!(jira.kind(), TrackerKind::Jira);
    assert!(
        jira.find_by_marker("OPS", "debrief:REM-12")
            .await
            .unwrap()
            .is_none(),
        "nothing carries the marker yet"
    );
    let created = jira.create(&draft("debrief:REM-12")).await.unwrap();
    assert_eq!(created.key, "OPS-1");
    assert_eq!(created.url, format!("{}/browse/OPS-1", fake.base));
    assert_eq!(created.title, "Add a circuit breaker to the payment client");
    assert_eq!(created.state, RemoteState::Open);
    assert_eq!(created.due_date, NaiveDate::from_ymd_opt(2026, 12, 15));
    assert_eq!(created.assignee.as_deref(), Some(ALICE));

    let stored = fake.issue("OPS-1").unwrap();
    assert_eq!(
        stored.labels,
        ["debrief", "priority-p1", "kind-prevent", "debrief-REM-12"]
    );
    assert_eq!(stored.issue_type, "Task");
    assert_eq!(stored.description["type"], "doc");
    assert_eq!(stored.description["content"][1]["type"], "bulletList");
    let create_call = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path == "/rest/api/3/issue")
        .unwrap();
    assert!(create_call.authorization.unwrap().starts_with("Basic "));

    // Another item's issue in the same project, and the same marker in
    // another project, are not found.
    jira.create(&draft("debrief:REM-13")).await.unwrap();
    let found = jira.find_by_marker("OPS", "debrief:REM-12").await.unwrap();
    assert_eq!(found, Some(created.clone()));
    let mut elsewhere = draft("debrief:REM-12");
    elsewhere.target = "SEC".into();
    let sec = jira.create(&elsewhere).await.unwrap();
    assert_eq!(sec.key, "SEC-1");
    assert_eq!(
        jira.find_by_marker("OPS", "debrief:REM-12")
            .await
            .unwrap()
            .unwrap()
            .key,
        "OPS-1"
    );
    let search = fake
        .requests()
        .into_iter()
        .rfind(|r| r.path == "/rest/api/3/search/jql")
        .unwrap();
    assert_eq!(
        search.body.unwrap()["jql"],
        r#"project = "OPS" AND labels = "debrief-REM-12" ORDER BY created ASC"#
    );
}

#[tokio::test]
async fn get_reads_status_category_and_resolution() {
    let fake = FakeJira::start().await;
    let (jira, _) = jira_for(fake.settings());
    let issue = jira.create(&draft("debrief:REM-1")).await.unwrap();
    let cases = [
        ("Done", Some("Done"), RemoteState::Done),
        ("Done", Some("Won't Do"), RemoteState::NotPlanned),
        ("Done", Some("Duplicate"), RemoteState::Done),
        ("In Progress", None, RemoteState::Open),
        ("To Do", None, RemoteState::Open),
    ];
    for (status, resolution, want) in cases {
        fake.transition_as_user(&issue.key, BOB, status, resolution);
        let read = jira.get(&issue.key).await.unwrap();
        assert_eq!(read.state, want, "{status} / {resolution:?}");
        assert_eq!(read.updated_at, fake.issue(&issue.key).unwrap().updated);
    }
    assert!(matches!(
        jira.get("OPS-99").await,
        Err(TrackerError::NotFound)
    ));
    assert!(
        matches!(
            jira.get("../admin").await,
            Err(TrackerError::Rejected { status: 400, .. })
        ),
        "a key that is not one never reaches the URL"
    );
}

#[tokio::test]
async fn update_sets_and_clears_fields() {
    let fake = FakeJira::start().await;
    let (jira, _) = jira_for(fake.settings());
    let issue = jira.create(&draft("debrief:REM-2")).await.unwrap();
    let update = IssueUpdate {
        title: Some("Circuit breaker on the payment client".into()),
        due_date: Some(NaiveDate::from_ymd_opt(2027, 1, 10)),
        assignee: Some(Some(BOB.into())),
        state: None,
    };
    let read = jira.update(&issue.key, &update).await.unwrap();
    assert_eq!(read.title, "Circuit breaker on the payment client");
    assert_eq!(read.due_date, NaiveDate::from_ymd_opt(2027, 1, 10));
    assert_eq!(read.assignee.as_deref(), Some(BOB));
    assert!(read.updated_at > issue.updated_at);

    let clear = IssueUpdate {
        due_date: Some(None),
        assignee: Some(None),
        ..IssueUpdate::default()
    };
    let read = jira.update(&issue.key, &clear).await.unwrap();
    assert_eq!((read.due_date, read.assignee), (None, None));
    let stored = fake.issue(&issue.key).unwrap();
    assert_eq!((stored.duedate, stored.assignee), (None, None));
    let edit = fake
        .requests()
        .into_iter()
        .rfind(|r| r.method == "PUT")
        .unwrap();
    assert_eq!(
        edit.body.unwrap(),
        json!({ "fields": { "duedate": null, "assignee": null } })
    );

    // Nothing to change: no edit call at all.
    let edits = fake.requests().iter().filter(|r| r.method == "PUT").count();
    jira.update(&issue.key, &IssueUpdate::default())
        .await
        .unwrap();
    assert_eq!(
        fake.requests().iter().filter(|r| r.method == "PUT").count(),
        edits
    );
}

fn transition_calls(fake: &FakeJira) -> Vec<Value> {
    fake.requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/transitions"))
        .filter_map(|r| r.body)
        .collect()
}

#[tokio::test]
async fn done_not_planned_and_reopen_go_through_transitions() {
    let fake = FakeJira::start().await;
    let (jira, _) = jira_for(fake.settings());
    let issue = jira.create(&draft("debrief:REM-3")).await.unwrap();
    let to = |state| IssueUpdate {
        state: Some(state),
        ..IssueUpdate::default()
    };

    let done = jira
        .update(&issue.key, &to(RemoteState::Done))
        .await
        .unwrap();
    assert_eq!(done.state, RemoteState::Done);
    let stored = fake.issue(&issue.key).unwrap();
    assert_eq!(
        (stored.status_name(), stored.resolution.as_deref()),
        ("Done", Some("Done"))
    );

    let reopened = jira
        .update(&issue.key, &to(RemoteState::Open))
        .await
        .unwrap();
    assert_eq!(reopened.state, RemoteState::Open);
    let stored = fake.issue(&issue.key).unwrap();
    assert_eq!((stored.status_name(), stored.resolution), ("To Do", None));

    let dropped = jira
        .update(&issue.key, &to(RemoteState::NotPlanned))
        .await
        .unwrap();
    assert_eq!(dropped.state, RemoteState::NotPlanned);
    assert_eq!(
        fake.issue(&issue.key).unwrap().resolution.as_deref(),
        Some("Won't Do")
    );
    assert_eq!(
        transition_calls(&fake),
        [
            json!({ "transition": { "id": "31" }, "fields": { "resolution": { "name": "Done" } } }),
            json!({ "transition": { "id": "11" } }),
            json!({ "transition": { "id": "31" }, "fields": { "resolution": { "name": "Won't Do" } } }),
        ]
    );

    let listing = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "GET" && r.path.ends_with("/transitions"))
        .unwrap();
    assert_eq!(listing.query, "expand=transitions.fields");

    // Already in the wanted state: no transition.
    jira.update(&issue.key, &to(RemoteState::NotPlanned))
        .await
        .unwrap();
    assert_eq!(transition_calls(&fake).len(), 3);
}

#[tokio::test]
async fn a_linear_workflow_is_walked_through_in_progress() {
    let fake = FakeJira::start().await;
    fake.set_workflow(Workflow::Linear);
    let (jira, _) = jira_for(fake.settings());
    let issue = jira.create(&draft("debrief:REM-4")).await.unwrap();
    let update = IssueUpdate {
        state: Some(RemoteState::Done),
        ..IssueUpdate::default()
    };
    let done = jira.update(&issue.key, &update).await.unwrap();
    assert_eq!(done.state, RemoteState::Done);
    let ids: Vec<Value> = transition_calls(&fake)
        .into_iter()
        .map(|b| b["transition"]["id"].clone())
        .collect();
    assert_eq!(ids, [json!("21"), json!("31")]);
}

#[tokio::test]
async fn not_planned_without_a_resolution_screen_closes_as_the_workflow_does() {
    let fake = FakeJira::start().await;
    fake.set_resolution_on_screen(false);
    let (jira, _) = jira_for(fake.settings());
    let issue = jira.create(&draft("debrief:REM-5")).await.unwrap();
    let update = IssueUpdate {
        state: Some(RemoteState::NotPlanned),
        ..IssueUpdate::default()
    };
    // Documented in docs/trackers.md: the issue is closed, with the
    // resolution the workflow sets ("Done").
    let closed = jira.update(&issue.key, &update).await.unwrap();
    assert_eq!(closed.state, RemoteState::Done);
    assert_eq!(
        transition_calls(&fake),
        [json!({ "transition": { "id": "31" } })]
    );
}

#[tokio::test]
async fn failures_map_to_tracker_errors() {
    let fake = FakeJira::start().await;
    let (jira, clock) = jira_for(fake.settings());
    let issue = jira.create(&draft("debrief:REM-6")).await.unwrap();

    fake.fail(Failure::Down);
    assert!(matches!(
        jira.get(&issue.key).await,
        Err(TrackerError::Unavailable(_))
    ));
    fake.fail(Failure::Unauthorized);
    assert!(matches!(
        jira.get(&issue.key).await,
        Err(TrackerError::Unauthorized { status: 401 })
    ));
    for status in [400, 422] {
        fake.fail(Failure::Rejected(status));
        match jira.get(&issue.key).await {
            Err(TrackerError::Rejected { status: s, detail }) => {
                assert_eq!(s, status);
                assert_eq!(
                    detail,
                    "The request was refused by the fake.; summary: You must specify a summary of the issue."
                );
            }
            other => panic!("{status}: {other:?}"),
        }
    }
    fake.fail(Failure::RateLimited { retry_after: 30 });
    match jira.get(&issue.key).await {
        Err(TrackerError::RateLimited { retry_at }) => {
            assert_eq!(retry_at, clock.now() + TimeDelta::seconds(30))
        }
        other => panic!("{other:?}"),
    }
    fake.fail(Failure::RateLimited403 { retry_after: 5 });
    match jira.get(&issue.key).await {
        Err(TrackerError::RateLimited { retry_at }) => {
            assert_eq!(retry_at, clock.now() + TimeDelta::seconds(5))
        }
        other => panic!("{other:?}"),
    }

    fake.clear_failure();
    assert_eq!(jira.get(&issue.key).await.unwrap().key, issue.key);

    // A failure for the next call only: the call after works.
    fake.fail_next(Failure::Down, 1);
    assert!(jira.get(&issue.key).await.is_err());
    assert_eq!(jira.get(&issue.key).await.unwrap().key, issue.key);
}

#[tokio::test]
async fn jira_refusals_carry_its_messages() {
    let fake = FakeJira::start().await;
    let (jira, _) = jira_for(fake.settings());
    let mut unknown = draft("debrief:REM-7");
    unknown.target = "NOPE".into();
    unknown.assignee = Some("nobody".into());
    match jira.create(&unknown).await {
        Err(TrackerError::Rejected {
            status: 400,
            detail,
        }) => {
            assert!(
                detail.contains("project: valid project is required"),
                "{detail}"
            );
            assert!(
                detail.contains("assignee: The user does not exist or cannot be assigned."),
                "{detail}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(fake.issues().is_empty(), "nothing was created");
    let mut bad = draft("debrief:REM-7");
    bad.target = "not a key".into();
    assert!(matches!(
        jira.create(&bad).await,
        Err(TrackerError::Rejected { status: 400, .. })
    ));
}

#[tokio::test]
async fn titles_jira_would_refuse_are_made_to_fit() {
    let fake = FakeJira::start().await;
    let (jira, _) = jira_for(fake.settings());
    let mut long = draft("debrief:REM-14");
    long.title = format!("Rotate the keys\n{}", "x".repeat(400));
    let created = jira.create(&long).await.unwrap();
    assert!(created.title.starts_with("Rotate the keys xxx"));
    assert_eq!(created.title.chars().count(), 255);
}

#[tokio::test]
async fn wrong_credentials_are_unauthorized() {
    let fake = FakeJira::start().await;
    let mut settings = fake.settings();
    settings.api_token = "not-the-token".into();
    let (jira, _) = jira_for(settings);
    assert!(matches!(
        jira.get("OPS-1").await,
        Err(TrackerError::Unauthorized { status: 401 })
    ));
}

#[tokio::test]
async fn credentials_never_follow_a_redirect_to_another_site() {
    let fake = FakeJira::start().await;
    let elsewhere = FakeJira::start().await;
    let port: u16 = elsewhere.base.rsplit(':').next().unwrap().parse().unwrap();
    let (jira, _) = jira_for(fake.settings());
    fake.fail(Failure::RedirectTo { port });
    match jira.get("OPS-1").await {
        Err(TrackerError::Rejected {
            status: 302,
            detail,
        }) => {
            assert!(detail.contains("trackers.jira.base_url"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
    assert!(
        elsewhere.requests().is_empty(),
        "nothing reached the other site"
    );
}

#[tokio::test]
async fn a_search_that_lags_does_not_find_a_fresh_issue() {
    // Jira Cloud's JQL search is eventually consistent (docs/trackers.md):
    // the issue key stored with the claim is what prevents a duplicate.
    let fake = FakeJira::start().await;
    let (jira, _) = jira_for(fake.settings());
    fake.set_search_lag(1);
    jira.create(&draft("debrief:REM-11")).await.unwrap();
    assert!(
        jira.find_by_marker("OPS", "debrief:REM-11")
            .await
            .unwrap()
            .is_none()
    );
    fake.set_search_lag(0);
    let found = jira.find_by_marker("OPS", "debrief:REM-11").await.unwrap();
    assert_eq!(found.unwrap().key, "OPS-1");
}

#[tokio::test]
async fn no_answer_is_unavailable() {
    // Nothing listens on a port just released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let fake = FakeJira::start().await;
    let mut settings = fake.settings();
    settings.base_url = format!("http://127.0.0.1:{port}");
    let (refused, _) = jira_for(settings);
    assert!(matches!(
        refused.get("OPS-1").await,
        Err(TrackerError::Unavailable(_))
    ));

    // An answer slower than the timeout.
    let mut settings = fake.settings();
    settings.timeout_seconds = 1;
    let (slow, _) = jira_for(settings);
    fake.fail(Failure::Hang);
    match slow.get("OPS-1").await {
        Err(TrackerError::Unavailable(e)) => {
            let text = format!("{e:#}");
            assert!(text.contains("no answer from Jira"), "{text}");
            assert!(!text.contains(&fake.base), "no URL in the error: {text}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn data_center_uses_v2_bearer_and_plain_text() {
    let fake = FakeJira::start_as(JiraDeployment::DataCenter).await;
    let (jira, _) = jira_for(fake.settings());
    let mut dc_draft = draft("debrief:REM-8");
    dc_draft.assignee = Some(BOB.into());
    let created = jira.create(&dc_draft).await.unwrap();
    assert_eq!(created.assignee.as_deref(), Some(BOB));
    let stored = fake.issue(&created.key).unwrap();
    assert_eq!(stored.description, json!(dc_draft.body));
    let found = jira.find_by_marker("OPS", "debrief:REM-8").await.unwrap();
    assert_eq!(found.unwrap().key, created.key);
    let requests = fake.requests();
    assert!(requests.iter().all(|r| r.path.starts_with("/rest/api/2/")));
    assert!(requests.iter().any(|r| r.path == "/rest/api/2/search"));
    assert_eq!(
        requests[0].authorization.as_deref(),
        Some("Bearer ATATT3xFfGF0-fake-token")
    );
    let closed = jira
        .update(
            &created.key,
            &IssueUpdate {
                state: Some(RemoteState::NotPlanned),
                ..IssueUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(closed.state, RemoteState::NotPlanned);
}

#[test]
fn markdown_becomes_adf() {
    let markdown = "# Follow-up\n\nSee **[INC-7](https://d.example/INC-7)** and `cfg.toml`.\n\
                    Second line.\n\n- one\n- two\n  1. nested\n\n```rust\nfn main() {}\n```\n\n\
                    > quoted\n\n---\n\n[bad](javascript:alert(1))";
    let want = json!({
        "type": "doc", "version": 1,
        "content": [
            { "type": "heading", "attrs": { "level": 1 },
              "content": [{ "type": "text", "text": "Follow-up" }] },
            { "type": "paragraph", "content": [
                { "type": "text", "text": "See " },
                { "type": "text", "text": "INC-7", "marks": [
                    { "type": "link", "attrs": { "href": "https://d.example/INC-7" } },
                    { "type": "strong" }] },
                { "type": "text", "text": " and " },
                { "type": "text", "text": "cfg.toml", "marks": [{ "type": "code" }] },
                { "type": "text", "text": ". Second line." }] },
            { "type": "bulletList", "content": [
                { "type": "listItem", "content": [
                    { "type": "paragraph", "content": [{ "type": "text", "text": "one" }] }] },
                { "type": "listItem", "content": [
                    { "type": "paragraph", "content": [{ "type": "text", "text": "two" }] },
                    { "type": "orderedList", "attrs": { "order": 1 }, "content": [
                        { "type": "listItem", "content": [
                            { "type": "paragraph", "content": [{ "type": "text", "text": "nested" }] }] }] }] }] },
            { "type": "codeBlock", "attrs": { "language": "rust" },
              "content": [{ "type": "text", "text": "fn main() {}" }] },
            { "type": "blockquote", "content": [
                { "type": "paragraph", "content": [{ "type": "text", "text": "quoted" }] }] },
            { "type": "rule" },
            { "type": "paragraph", "content": [{ "type": "text", "text": "bad" }] },
        ]
    });
    assert_eq!(markdown_to_adf(markdown), want);
    assert_eq!(
        markdown_to_adf(""),
        json!({ "type": "doc", "version": 1, "content": [] })
    );
}

#[test]
fn adf_never_holds_empty_text_or_marks_beside_code() {
    let adf = markdown_to_adf("**`bold code`** and *__\u{20}__*\n\n- ## heading in a list\n");
    let text = adf.to_string();
    assert!(!text.contains(r#""text":"""#), "{text}");
    let code = &adf["content"][0]["content"][0];
    assert_eq!(code["marks"], json!([{ "type": "code" }]), "{code}");
    // A heading inside a list item becomes a bold paragraph.
    let item = &adf["content"][1]["content"][0]["content"][0];
    assert_eq!(item["type"], "paragraph");
    assert_eq!(item["content"][0]["marks"], json!([{ "type": "strong" }]));
}

#[tokio::test]
async fn issue_urls_of_the_site_give_their_key() {
    let fake = FakeJira::start().await;
    let (jira, _) = jira_for(fake.settings());
    let base = &fake.base;
    assert_eq!(
        jira.key_from_url(&format!("{base}/browse/OPS-12"))
            .as_deref(),
        Some("OPS-12")
    );
    assert_eq!(
        jira.key_from_url(&format!("{base}/browse/ops-12/"))
            .as_deref(),
        Some("OPS-12")
    );
    assert_eq!(
        jira.key_from_url(&format!("{base}/browse/OPS-12?focusedCommentId=1"))
            .as_deref(),
        Some("OPS-12")
    );
    for other in [
        "https://acme.atlassian.net/browse/OPS-12".to_string(),
        format!("{base}/projects/OPS/issues/OPS-12x"),
        format!("{base}/browse/OPS"),
        "not a url".into(),
    ] {
        assert_eq!(jira.key_from_url(&other), None, "{other}");
    }
    let mut settings = fake.settings();
    settings.base_url = format!("{base}/jira/");
    let (with_path, _) = jira_for(settings);
    assert_eq!(
        with_path
            .key_from_url(&format!("{base}/jira/browse/OPS-3"))
            .as_deref(),
        Some("OPS-3")
    );
    assert_eq!(
        with_path.key_from_url(&format!("{base}/browse/OPS-3")),
        None
    );
}

#[tokio::test]
async fn settings_are_checked_and_secrets_masked() {
    let fake = FakeJira::start().await;
    let good = fake.settings();
    let shown = format!("{good:?}");
    let (jira, _) = jira_for(good.clone());
    let shown_client = format!("{jira:?}");
    for secret in [&good.api_token, &good.webhook_secret] {
        assert!(!shown.contains(secret.as_str()), "{shown}");
        assert!(!shown_client.contains(secret.as_str()), "{shown_client}");
    }
    type Breaks = fn(&mut JiraSettings);
    let cases: [(&str, Breaks); 6] = [
        ("base_url", |s| s.base_url = "ftp://jira.example.com".into()),
        ("email", |s| s.email = None),
        ("project_key", |s| s.project_key = "ops".into()),
        ("teams", |s| {
            s.teams.insert("sre".into(), "not a key".into());
        }),
        ("webhook_secret", |s| s.webhook_secret = "short".into()),
        ("timeout_seconds", |s| s.timeout_seconds = 0),
    ];
    for (field, break_it) in cases {
        let mut settings = good.clone();
        break_it(&mut settings);
        let error = settings.validate().unwrap_err();
        assert!(
            error.contains(&format!("trackers.jira.{field}")),
            "{field}: {error}"
        );
        assert!(Jira::new(settings, Arc::new(ManualClock::new(t0()))).is_err());
    }
    assert_eq!(good.project_for_team(Some("security")), "SEC");
    assert_eq!(good.project_for_team(Some("sre")), "OPS");
    assert_eq!(good.user_for_owner("alice@example.com"), Some(ALICE));
}
