//! Jira webhooks through the back end: a good signature, a wrong or
//! missing one, Data Center's query secret, ignored events, malformed
//! bodies and the published samples of `tests/fixtures/jira/`.

use chrono::NaiveDate;
use debrief::trackers::{
    RemoteState, Tracker, WebhookError, WebhookHeaders,
    jira::{JiraDeployment, signature},
};
use serde_json::{Value, json};

use super::{draft, jira_for};
use crate::fake_jira::{BOB, FakeJira, WEBHOOK_SECRET, signed_webhook};

#[tokio::test]
async fn webhooks_with_a_good_signature_are_read() {
    let fake = FakeJira::start().await;
    let (jira, _) = jira_for(fake.settings());
    let issue = jira.create(&draft("debrief:REM-9")).await.unwrap();
    let payload = fake.transition_as_user(&issue.key, BOB, "Done", Some("Won't Do"));
    let (headers, body) = signed_webhook(WEBHOOK_SECRET, &payload, Some("a1b2c3-delivery"));
    let event = jira.verify_webhook(&headers, None, &body).unwrap().unwrap();
    assert_eq!(event.delivery_id, "a1b2c3-delivery");
    assert_eq!(event.actor, format!("jira:{BOB}"));
    assert_eq!(event.issue.key, issue.key);
    assert_eq!(event.issue.state, RemoteState::NotPlanned);
    assert_eq!(event.issue, jira.get(&issue.key).await.unwrap());

    // Without Jira's delivery header: timestamp, key and event.
    let (headers, body) = signed_webhook(WEBHOOK_SECRET, &payload, None);
    let event = jira.verify_webhook(&headers, None, &body).unwrap().unwrap();
    assert_eq!(
        event.delivery_id,
        format!("{}:{}:jira:issue_updated", payload["timestamp"], issue.key)
    );
}

#[tokio::test]
async fn webhooks_without_the_right_secret_are_refused() {
    let fake = FakeJira::start().await;
    let (jira, _) = jira_for(fake.settings());
    let payload = json!({ "timestamp": 1, "webhookEvent": "jira:issue_updated" });
    let (good_headers, body) = signed_webhook(WEBHOOK_SECRET, &payload, None);
    let mut cases: Vec<(&str, WebhookHeaders, Option<&str>, Vec<u8>)> = Vec::new();
    let (wrong, _) = signed_webhook("another-secret-0123456789", &payload, None);
    cases.push(("signed with another secret", wrong, None, body.clone()));
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    cases.push((
        "body changed after signing",
        good_headers.clone(),
        None,
        tampered,
    ));
    cases.push(("no signature", WebhookHeaders::new(), None, body.clone()));
    let mut bare = good_headers.clone();
    let sig = bare["x-hub-signature"]
        .trim_start_matches("sha256=")
        .to_string();
    bare.insert("x-hub-signature".into(), sig);
    cases.push(("no sha256= prefix", bare, None, body.clone()));
    let query = format!("secret={WEBHOOK_SECRET}");
    cases.push((
        "query secret on Cloud",
        WebhookHeaders::new(),
        Some(&query),
        body.clone(),
    ));
    for (why, headers, query, body) in cases {
        assert!(
            matches!(
                jira.verify_webhook(&headers, query, &body),
                Err(WebhookError::BadSignature)
            ),
            "{why}"
        );
    }
}

#[tokio::test]
async fn data_center_webhooks_may_carry_the_secret_in_the_query() {
    let fake = FakeJira::start_as(JiraDeployment::DataCenter).await;
    let (jira, _) = jira_for(fake.settings());
    let issue = jira.create(&draft("debrief:REM-10")).await.unwrap();
    let payload = fake.webhook_payload(&issue.key, "jira:issue_updated", "jdoe");
    let body = serde_json::to_vec(&payload).unwrap();
    let none = WebhookHeaders::new();
    let query = format!("user_id=jdoe&secret={}", WEBHOOK_SECRET);
    let event = jira
        .verify_webhook(&none, Some(&query), &body)
        .unwrap()
        .unwrap();
    assert_eq!(event.actor, "jira:jdoe");
    assert_eq!(event.issue.key, issue.key);
    for bad in ["secret=wrong", "secret=", "other=1", ""] {
        assert!(
            matches!(
                jira.verify_webhook(&none, Some(bad), &body),
                Err(WebhookError::BadSignature)
            ),
            "{bad}"
        );
    }
    // Data Center 10 signs too; a signature, when sent, decides.
    let (signed, body) = signed_webhook(WEBHOOK_SECRET, &payload, None);
    assert!(jira.verify_webhook(&signed, None, &body).unwrap().is_some());
    let (wrong, body) = signed_webhook("another-secret-0123456789", &payload, None);
    let query = format!("secret={WEBHOOK_SECRET}");
    assert!(matches!(
        jira.verify_webhook(&wrong, Some(&query), &body),
        Err(WebhookError::BadSignature)
    ));
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/jira/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test]
async fn published_webhook_samples_are_read() {
    let fake = FakeJira::start().await;
    let (jira, _) = jira_for(fake.settings());
    let read = |name: &str| {
        let (headers, body) = signed_webhook(WEBHOOK_SECRET, &fixture(name), None);
        jira.verify_webhook(&headers, None, &body)
    };
    let created = read("issue_created_cloud.json").unwrap().unwrap();
    assert_eq!(
        created.actor,
        "jira:712020:f1ad7cfd-7f82-4dc0-85e4-8bc47bcc08e4"
    );
    assert_eq!(
        created.delivery_id,
        "1735441883659:KAN-22:jira:issue_created"
    );
    assert_eq!(created.issue.title, "Add back button to pages");
    assert_eq!(created.issue.state, RemoteState::Open);
    assert_eq!(created.issue.url, format!("{}/browse/KAN-22", fake.base));
    assert_eq!(
        created.issue.updated_at.to_rfc3339(),
        "2024-12-29T03:11:23.303+00:00"
    );
    let wont_do = read("issue_updated_cloud_wont_do.json").unwrap().unwrap();
    assert_eq!(wont_do.issue.state, RemoteState::NotPlanned);
    assert_eq!(wont_do.issue.due_date, NaiveDate::from_ymd_opt(2025, 1, 15));
    assert_eq!(wont_do.issue.assignee, None);
    assert_eq!(wont_do.actor, "jira:5b10a2844c20165700ede21g");
    let dc = read("issue_updated_datacenter.json").unwrap().unwrap();
    assert_eq!(dc.actor, "jira:crystal.johnston");
    assert_eq!(dc.issue.assignee.as_deref(), Some("crystal.johnston"));
    assert!(
        read("comment_created_cloud.json").unwrap().is_none(),
        "ignored"
    );
}

#[tokio::test]
async fn malformed_webhooks_name_the_field() {
    let fake = FakeJira::start().await;
    let (jira, _) = jira_for(fake.settings());
    let sign = |body: &[u8]| {
        let mut headers = WebhookHeaders::new();
        headers.insert("x-hub-signature".into(), signature(WEBHOOK_SECRET, body));
        headers
    };
    let mut missing_status = fixture("issue_created_cloud.json");
    missing_status["issue"]["fields"]
        .as_object_mut()
        .unwrap()
        .remove("status");
    let mut no_timestamp = fixture("issue_created_cloud.json");
    no_timestamp.as_object_mut().unwrap().remove("timestamp");
    let cases = [
        (b"not json".to_vec(), "the body is not JSON"),
        (b"{}".to_vec(), "missing field `webhookEvent`"),
        (serde_json::to_vec(&missing_status).unwrap(), "issue.fields"),
        (
            serde_json::to_vec(&no_timestamp).unwrap(),
            "timestamp: missing",
        ),
    ];
    for (body, want) in cases {
        match jira.verify_webhook(&sign(&body), None, &body) {
            Err(WebhookError::Malformed(detail)) => assert!(detail.contains(want), "{detail}"),
            other => panic!("{want}: {other:?}"),
        }
    }
}
