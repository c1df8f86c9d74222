//! Two-way sync of remediation items with issue trackers, against fake
//! trackers on loopback: `fake_github` (GitHub's REST API and webhooks).

mod fake_github;
mod github;
mod github_failures;
mod jira;

use debrief::config::{GithubSettings, Secret, Settings};
use reqwest::Response;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with};
use fake_github::{FakeGithub, TOKEN, WEBHOOK_SECRET, signed_headers};

/// `[trackers.github]` pointing at the fake: repository `acme/ops`, team
/// `payments` → `acme/payments`, owner `alice@example.com` → `alice`.
pub fn github_settings(fake: &FakeGithub, settings: &mut Settings) {
    settings.trackers.github = Some(GithubSettings {
        api_url: fake.base.clone(),
        token: Secret::new(TOKEN),
        repository: "acme/ops".into(),
        webhook_secret: Secret::new(WEBHOOK_SECRET),
        teams: [("payments".to_string(), "acme/payments".to_string())].into(),
        users: [("alice@example.com".to_string(), "alice".to_string())].into(),
        ..GithubSettings::default()
    });
    settings.mail.link_base_url = Some("https://debrief.example.com".into());
}

/// An app synced with a fresh fake GitHub.
pub async fn app_with_github() -> (TestApp, FakeGithub) {
    let fake = FakeGithub::start().await;
    let app = spawn_app_with(|s| github_settings(&fake, s)).await;
    (app, fake)
}

/// A remediation item of a new incident, created with `extra` fields.
pub async fn item(app: &TestApp, extra: Value) -> Value {
    let incident = app.simple_incident().await;
    let mut body = json!({
        "title": "Add a circuit breaker to the payment client",
        "kind": "prevent",
        "priority": "p1",
        "incidents": [incident["ref"]],
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let resp = app.post("/remediations", body).await;
    assert_eq!(resp.status(), 201, "create remediation");
    resp.json().await.unwrap()
}

pub async fn get_item(app: &TestApp, reference: &str) -> Value {
    let resp = app.get(&format!("/remediations/{reference}")).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// Run the scheduler's pass (the push queue with it) until it has nothing
/// left to do now.
pub async fn settle(app: &TestApp) {
    for _ in 0..5 {
        if !app.jobs.run_once().await.unwrap().did_work() {
            return;
        }
    }
}

/// POST a webhook delivery as GitHub would, signed with `secret`.
pub async fn deliver(app: &TestApp, payload: &Value, secret: &str, delivery: &str) -> Response {
    let body = serde_json::to_vec(payload).unwrap();
    let mut request = app.client.post(app.url("/hooks/github"));
    for (name, value) in signed_headers(&body, secret, delivery) {
        request = request.header(name, value);
    }
    request.body(body).send().await.unwrap()
}

/// The history entries of an item for `field`, as (actor, new value).
pub fn history_of(item: &Value, field: &str) -> Vec<(String, Value)> {
    item["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["field"] == field)
        .map(|h| {
            (
                h["actor"].as_str().unwrap().to_string(),
                h["new_value"].clone(),
            )
        })
        .collect()
}
