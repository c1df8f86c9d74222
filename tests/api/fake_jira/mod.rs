//! A fake Jira on loopback (poem, in-process): the subset of the REST API
//! Debrief's Jira back end calls, with state, a workflow and switches for
//! failures; plus signed webhooks built from its issues. Reusable by any
//! test (`FakeJira::start()`, then point `JiraSettings::base_url` at
//! `fake.base`; `fake.settings()` gives matching settings).
//!
//! Use from a sync test:
//!
//! ```ignore
//! let fake = FakeJira::start().await;                  // or start_as(DataCenter)
//! let jira = Jira::new(fake.settings(), clock)?;       // OPS by default, team "security" → SEC
//! // … Debrief pushes; then check `fake.issues()`, `fake.requests()` …
//! fake.fail_next(Failure::RateLimited { retry_after: 30 }, 1);   // one 429, then normal
//! let payload = fake.transition_as_user("OPS-1", BOB, "Done", Some("Won't Do"));
//! let (headers, body) = signed_webhook(WEBHOOK_SECRET, &payload, Some("delivery-1"));
//! // POST `body` with `headers` to /hooks/jira; the same delivery id again is a replay.
//! ```
//!
//! Where each shape comes from (Atlassian's published reference):
//! - Issues: `POST /rest/api/3/issue` (201 `{id, key, self}`), `GET
//!   /rest/api/3/issue/{key}` (`{id, key, self, fields}`; times like
//!   `2026-11-20T10:00:01.000+0000`), `PUT /rest/api/3/issue/{key}` (204):
//!   <https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/>.
//! - Transitions: `GET …/transitions?expand=transitions.fields` (`{transitions:
//!   [{id, name, to: {name, statusCategory: {key}}, fields: {resolution:
//!   {allowedValues}}}]}`) and `POST …/transitions` (204), same page. The
//!   workflow is Jira's default "To Do → In Progress → Done" with the
//!   resolutions of a new site (Done, Won't Do, Duplicate, Cannot Reproduce).
//! - Search: `POST /rest/api/3/search/jql` (`{issues, isLast}`, no total):
//!   <https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/>;
//!   Data Center's `POST /rest/api/2/search` (`{startAt, maxResults, total,
//!   issues}`): <https://docs.atlassian.com/software/jira/docs/api/REST/9.17.0/>.
//! - Errors: `{"errorMessages": [...], "errors": {...}}`:
//!   <https://developer.atlassian.com/cloud/jira/platform/rest/v3/intro/#status-codes>;
//!   rate limits (429, `Retry-After`, `X-RateLimit-Reset`):
//!   <https://developer.atlassian.com/cloud/jira/platform/rate-limiting/>.
//! - Webhooks (`timestamp`, `webhookEvent`, `issue_event_type_name`,
//!   `user`, `issue`, `changelog`; `X-Hub-Signature: sha256=…`,
//!   `X-Atlassian-Webhook-Identifier`):
//!   <https://developer.atlassian.com/cloud/jira/platform/webhooks/>; the
//!   samples in `tests/fixtures/jira/` (see its README).

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use chrono::{DateTime, TimeZone, Utc};
use debrief::trackers::{
    WebhookHeaders,
    jira::{JiraDeployment, JiraSettings, signature},
};
use poem::{
    EndpointExt, Server,
    listener::{Acceptor, Listener, TcpListener},
};
use serde_json::Value;

use self::server::{STATUSES, Shared, State, serve, webhook_payload};

mod server;

/// The e-mail, API token and webhook secret the fake accepts.
pub const EMAIL: &str = "debrief-bot@example.com";
pub const API_TOKEN: &str = "ATATT3xFfGF0-fake-token";
pub const WEBHOOK_SECRET: &str = "jira-webhook-secret-0123456789";

/// The project keys, issue types and account ids the site knows.
pub const PROJECTS: &[&str] = &["OPS", "SEC"];
pub const ISSUE_TYPES: &[&str] = &["Task", "Bug"];
pub const ALICE: &str = "5b10a2844c20165700ede21g";
pub const BOB: &str = "712020:f1ad7cfd-7f82-4dc0-85e4-8bc47bcc08e4";

/// How the fake answers every call while it is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// 503 with no rate-limit header: the site is down.
    Down,
    /// 401: the credentials are wrong.
    Unauthorized,
    /// A 4xx with Jira's error body (`errorMessages` and `errors`).
    Rejected(u16),
    /// 429 with `Retry-After` (seconds) and `X-RateLimit-Reset`.
    RateLimited { retry_after: u64 },
    /// 403 with `X-RateLimit-Remaining: 0` and `Retry-After`.
    RateLimited403 { retry_after: u64 },
    /// No answer for a minute (the client's timeout ends the call).
    Hang,
    /// 302 to the same path on another origin (`http://127.0.0.1:<port>`).
    RedirectTo { port: u16 },
}

/// Which transitions the workflow offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workflow {
    /// Every status can move to every other (Jira's team-managed default).
    AnyToAny,
    /// To Do → In Progress → Done, Done → To Do (reopen), In Progress → To Do.
    Linear,
}

/// One call the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
    pub body: Option<Value>,
}

/// An issue as the fake keeps it.
#[derive(Debug, Clone)]
pub struct FakeIssue {
    pub id: u64,
    pub key: String,
    pub project: String,
    pub issue_type: String,
    pub summary: String,
    /// ADF (v3) or a string (v2), as sent.
    pub description: Value,
    pub labels: Vec<String>,
    pub duedate: Option<String>,
    pub assignee: Option<String>,
    /// Index in `STATUSES`.
    pub status: usize,
    pub resolution: Option<String>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

impl FakeIssue {
    pub fn status_name(&self) -> &'static str {
        STATUSES[self.status].0
    }
}

/// The running fake; stops when dropped.
pub struct FakeJira {
    /// `http://127.0.0.1:<port>`: the `base_url` to configure.
    pub base: String,
    state: Shared,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl FakeJira {
    /// A Jira Cloud site.
    pub async fn start() -> Self {
        Self::start_as(JiraDeployment::Cloud).await
    }

    /// A Cloud or Data Center site (REST v3 + Basic, or v2 + Bearer).
    pub async fn start_as(deployment: JiraDeployment) -> Self {
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .expect("loopback port");
        let addr = acceptor.local_addr()[0]
            .as_socket_addr()
            .copied()
            .expect("a socket address");
        let base = format!("http://{addr}");
        let state: Shared = Arc::new(Mutex::new(State {
            deployment,
            base: base.clone(),
            issues: BTreeMap::new(),
            next_id: 10_000,
            counters: BTreeMap::new(),
            now: Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap(),
            workflow: Workflow::AnyToAny,
            resolution_on_screen: true,
            search_lag: 0,
            failure: None,
            failure_left: None,
            requests: Vec::new(),
        }));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = serve.data(state.clone());
        tokio::spawn(async move {
            Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(app, async { rx.await.ok().unwrap_or(()) }, None)
                .await
        });
        Self {
            base,
            state,
            _shutdown: tx,
        }
    }

    /// Settings that reach this fake, with its credentials.
    pub fn settings(&self) -> JiraSettings {
        let deployment = self.lock().deployment;
        JiraSettings {
            base_url: self.base.clone(),
            deployment,
            email: (deployment == JiraDeployment::Cloud).then(|| EMAIL.to_string()),
            api_token: API_TOKEN.into(),
            project_key: "OPS".into(),
            issue_type: "Task".into(),
            webhook_secret: WEBHOOK_SECRET.into(),
            teams: BTreeMap::from([("security".to_string(), "SEC".to_string())]),
            users: BTreeMap::from([("alice@example.com".to_string(), ALICE.to_string())]),
            timeout_seconds: 5,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("fake Jira state")
    }

    /// Answer every call with `failure` until [`FakeJira::clear_failure`].
    pub fn fail(&self, failure: Failure) {
        let mut state = self.lock();
        state.failure = Some(failure);
        state.failure_left = None;
    }

    /// Answer the next `calls` calls with `failure`, then work again.
    pub fn fail_next(&self, failure: Failure, calls: usize) {
        let mut state = self.lock();
        state.failure = Some(failure);
        state.failure_left = Some(calls);
    }

    pub fn clear_failure(&self) {
        self.lock().failure = None;
    }

    pub fn set_workflow(&self, workflow: Workflow) {
        self.lock().workflow = workflow;
    }

    /// Whether the Done transition's screen has the Resolution field (else
    /// a post-function sets "Done").
    pub fn set_resolution_on_screen(&self, on: bool) {
        self.lock().resolution_on_screen = on;
    }

    /// Jira Cloud's search is eventually consistent: the `issues` most
    /// recently created stay out of search results until this is set back
    /// to 0.
    pub fn set_search_lag(&self, issues: usize) {
        self.lock().search_lag = issues;
    }

    pub fn issue(&self, key: &str) -> Option<FakeIssue> {
        self.lock().issues.get(key).cloned()
    }

    pub fn issues(&self) -> Vec<FakeIssue> {
        self.lock().issues.values().cloned().collect()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// A person changes the issue in Jira's UI: `change` edits it, the
    /// clock moves, and the `jira:issue_updated` payload Jira would send
    /// is returned.
    pub fn edit_as_user(
        &self,
        key: &str,
        account_id: &str,
        change: impl FnOnce(&mut FakeIssue),
    ) -> Value {
        let mut state = self.lock();
        let now = state.tick();
        let issue = state.issues.get_mut(key).expect("issue exists");
        change(issue);
        issue.updated = now;
        let issue = issue.clone();
        webhook_payload(&state, &issue, "jira:issue_updated", account_id)
    }

    /// A person moves the issue to `status` ("To Do", "In Progress",
    /// "Done") with `resolution` (Done only).
    pub fn transition_as_user(
        &self,
        key: &str,
        account_id: &str,
        status: &str,
        resolution: Option<&str>,
    ) -> Value {
        let index = STATUSES
            .iter()
            .position(|s| s.0 == status)
            .expect("a status of the workflow");
        self.edit_as_user(key, account_id, |issue| {
            issue.status = index;
            issue.resolution = (index == 2).then(|| resolution.unwrap_or("Done").to_string());
        })
    }

    /// The payload Jira sends for `event` on the issue as it is now.
    pub fn webhook_payload(&self, key: &str, event: &str, account_id: &str) -> Value {
        let state = self.lock();
        let issue = state.issues.get(key).expect("issue exists").clone();
        webhook_payload(&state, &issue, event, account_id)
    }
}

/// Headers and body of a webhook signed with `secret` as Jira Cloud signs
/// it; `delivery`: the `X-Atlassian-Webhook-Identifier`, if any.
pub fn signed_webhook(
    secret: &str,
    payload: &Value,
    delivery: Option<&str>,
) -> (WebhookHeaders, Vec<u8>) {
    let body = serde_json::to_vec(payload).expect("JSON");
    let mut headers = WebhookHeaders::new();
    headers.insert("content-type".into(), "application/json".into());
    headers.insert("x-hub-signature".into(), signature(secret, &body));
    if let Some(id) = delivery {
        headers.insert("x-atlassian-webhook-identifier".into(), id.into());
    }
    (headers, body)
}
