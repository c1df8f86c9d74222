//! A fake GitHub on loopback: the subset of the REST API Debrief uses, with
//! the payload shapes of GitHub's documentation, and switches for the
//! failures a real GitHub gives. Each shape names the page it comes from:
//! - issue object, create (201), update (200), get (200):
//!   <https://docs.github.com/en/rest/issues/issues#create-an-issue>,
//!   <https://docs.github.com/en/rest/issues/issues#update-an-issue>,
//!   <https://docs.github.com/en/rest/issues/issues#get-an-issue>
//! - search (`total_count`, `incomplete_results`, `items`):
//!   <https://docs.github.com/en/rest/search/search#search-issues-and-pull-requests>
//! - errors (`message`, `errors[]`, `documentation_url`), 401 "Bad
//!   credentials", 422 "Validation Failed":
//!   <https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api>
//! - rate limits (403 with `x-ratelimit-remaining: 0` and
//!   `x-ratelimit-reset`, 429 with `retry-after`):
//!   <https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api>
//! - the `issues` webhook (`action`, `issue`, `repository`, `sender`;
//!   headers `X-GitHub-Event`, `X-GitHub-Delivery`, `X-Hub-Signature-256`):
//!   <https://docs.github.com/en/webhooks/webhook-events-and-payloads#issues>,
//!   <https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries>

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use chrono::{DateTime, Duration, TimeZone, Utc};
use hmac::{Hmac, Mac};
use poem::{
    EndpointExt, Request, Response, Route, Server, get, handler,
    http::StatusCode,
    listener::{Acceptor, Listener, TcpListener},
    post,
    web::{Data, Json, Path, Query},
};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

/// The token the fake accepts.
pub const TOKEN: &str = "ghp_fake_token_for_tests";
/// The webhook secret tests sign with.
pub const WEBHOOK_SECRET: &str = "It's a Secret to Everybody";

/// How the fake answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Every call: 503.
    Down,
    /// Every call: 401 "Bad credentials".
    BadCredentials,
    /// Creates and updates: 422 "Validation Failed".
    Reject,
    /// Every call: 403 with `x-ratelimit-remaining: 0` and this reset (epoch seconds).
    RateLimitedUntil(i64),
    /// Every call: 429 with `retry-after` seconds.
    RetryAfter(i64),
    /// A create stores the issue, then answers 502 (the answer is lost).
    LoseCreateAnswer,
}

#[derive(Debug, Clone)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub state: String,
    pub state_reason: Option<String>,
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug)]
pub struct State {
    pub mode: Mode,
    /// `owner/repo` → its issues by number.
    pub issues: BTreeMap<String, BTreeMap<u64, Issue>>,
    /// Every request, as `METHOD /path`.
    pub requests: Vec<String>,
    /// The fake's clock: each change moves it one second on.
    pub now: DateTime<Utc>,
}

#[derive(Clone)]
pub struct FakeGithub {
    pub base: String,
    pub state: Arc<Mutex<State>>,
}

impl FakeGithub {
    pub async fn start() -> Self {
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap();
        let port = acceptor.local_addr()[0].as_socket_addr().unwrap().port();
        let base = format!("http://127.0.0.1:{port}");
        let state = Arc::new(Mutex::new(State {
            mode: Mode::Normal,
            issues: BTreeMap::new(),
            requests: Vec::new(),
            now: Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap(),
        }));
        let app = Route::new()
            .at("/repos/:owner/:repo/issues", post(create))
            .at(
                "/repos/:owner/:repo/issues/:number",
                get(get_issue).patch(update),
            )
            .at("/search/issues", get(search))
            .data(Shared {
                base: base.clone(),
                state: state.clone(),
            });
        tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
        Self { base, state }
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    /// Every issue of `repo`.
    pub fn issues(&self, repo: &str) -> Vec<Issue> {
        let state = self.state.lock().unwrap();
        state
            .issues
            .get(repo)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    pub fn issue(&self, repo: &str, number: u64) -> Issue {
        self.issues(repo)
            .into_iter()
            .find(|i| i.number == number)
            .expect("the issue exists")
    }

    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    /// How many creates reached the fake.
    pub fn creates(&self) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.starts_with("POST "))
            .count()
    }

    /// A person edits the issue on GitHub: `change` is applied to it, and the
    /// `issues` webhook payload GitHub would send is returned.
    pub fn edit(
        &self,
        repo: &str,
        number: u64,
        action: &str,
        sender: &str,
        change: impl FnOnce(&mut Issue),
    ) -> Value {
        let mut state = self.state.lock().unwrap();
        state.now += Duration::seconds(1);
        let now = state.now;
        let issue = state
            .issues
            .get_mut(repo)
            .and_then(|m| m.get_mut(&number))
            .expect("the issue exists");
        change(issue);
        issue.updated_at = now;
        let issue = issue.clone();
        drop(state);
        webhook_payload(&self.base, repo, &issue, action, sender)
    }

    /// Put an issue there as a worker that died after creating it left it.
    pub fn seed(&self, repo: &str, title: &str, body: &str) -> u64 {
        let mut state = self.state.lock().unwrap();
        state.now += Duration::seconds(1);
        let now = state.now;
        let issues = state.issues.entry(repo.to_string()).or_default();
        let number = issues.keys().last().copied().unwrap_or(0) + 1;
        issues.insert(
            number,
            Issue {
                number,
                title: title.into(),
                body: body.into(),
                state: "open".into(),
                state_reason: None,
                labels: vec!["debrief".into()],
                assignees: Vec::new(),
                created_at: now,
                updated_at: now,
            },
        );
        number
    }
}

/// The `issues` webhook payload (abridged to the documented fields Debrief
/// reads and a few around them).
pub fn webhook_payload(base: &str, repo: &str, issue: &Issue, action: &str, sender: &str) -> Value {
    let (owner, name) = repo.split_once('/').unwrap();
    json!({
        "action": action,
        "issue": issue_json(base, repo, issue),
        "repository": {
            "id": 1296269,
            "name": name,
            "full_name": repo,
            "private": true,
            "owner": {"login": owner, "type": "Organization"},
            "html_url": format!("{base}/{repo}"),
        },
        "sender": {"login": sender, "id": 583231, "type": "User"},
    })
}

/// The headers GitHub sends with a delivery, signed with `secret`.
pub fn signed_headers(body: &[u8], secret: &str, delivery: &str) -> Vec<(String, String)> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let signature = hex::encode(mac.finalize().into_bytes());
    vec![
        ("X-GitHub-Event".into(), "issues".into()),
        ("X-GitHub-Delivery".into(), delivery.into()),
        ("X-Hub-Signature-256".into(), format!("sha256={signature}")),
        ("User-Agent".into(), "GitHub-Hookshot/044aadd".into()),
        ("Content-Type".into(), "application/json".into()),
    ]
}

#[derive(Clone)]
struct Shared {
    base: String,
    state: Arc<Mutex<State>>,
}

fn user(login: &str) -> Value {
    json!({"login": login, "id": 1, "type": "User", "site_admin": false})
}

fn issue_json(base: &str, repo: &str, i: &Issue) -> Value {
    json!({
        "id": 1_000_000 + i.number,
        "node_id": format!("I_kwDO{}", i.number),
        "url": format!("{base}/repos/{repo}/issues/{}", i.number),
        "repository_url": format!("{base}/repos/{repo}"),
        "html_url": format!("{base}/{repo}/issues/{}", i.number),
        "number": i.number,
        "state": i.state,
        "state_reason": i.state_reason,
        "title": i.title,
        "body": i.body,
        "user": user("debrief-bot"),
        "labels": i.labels.iter().map(|l| json!({"name": l, "color": "ededed"})).collect::<Vec<_>>(),
        "assignee": i.assignees.first().map(|a| user(a)),
        "assignees": i.assignees.iter().map(|a| user(a)).collect::<Vec<_>>(),
        "locked": false,
        "comments": 0,
        "closed_at": (i.state == "closed").then(|| i.updated_at.to_rfc3339()),
        "created_at": i.created_at.to_rfc3339(),
        "updated_at": i.updated_at.to_rfc3339(),
        "author_association": "COLLABORATOR",
    })
}

fn answer(status: StatusCode, body: Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json; charset=utf-8")
        .body(body.to_string())
}

/// The failure the mode gives this request, if any (after the token check).
fn failure(shared: &Shared, req: &Request, writes: bool) -> Option<Response> {
    let mut state = shared.state.lock().unwrap();
    state
        .requests
        .push(format!("{} {}", req.method(), req.uri().path()));
    let authorised = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {TOKEN}"));
    let docs = "https://docs.github.com/rest";
    if !authorised || state.mode == Mode::BadCredentials {
        return Some(answer(
            StatusCode::UNAUTHORIZED,
            json!({"message": "Bad credentials", "documentation_url": docs, "status": "401"}),
        ));
    }
    match state.mode {
        Mode::Down => Some(answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"message": "Service Unavailable"}),
        )),
        Mode::Reject if writes => Some(answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({
                "message": "Validation Failed",
                "errors": [{"resource": "Issue", "code": "invalid", "field": "labels", "message": "label name is too long"}],
                "documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue",
                "status": "422"
            }),
        )),
        Mode::RateLimitedUntil(reset) => Some(
            Response::builder()
                .status(StatusCode::FORBIDDEN)
                .header("x-ratelimit-limit", "5000")
                .header("x-ratelimit-remaining", "0")
                .header("x-ratelimit-used", "5000")
                .header("x-ratelimit-reset", reset.to_string())
                .content_type("application/json; charset=utf-8")
                .body(
                    json!({
                        "message": "API rate limit exceeded for user ID 1.",
                        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
                    })
                    .to_string(),
                ),
        ),
        Mode::RetryAfter(seconds) => Some(
            Response::builder()
                .status(StatusCode::TOO_MANY_REQUESTS)
                .header("retry-after", seconds.to_string())
                .content_type("application/json; charset=utf-8")
                .body(json!({"message": "You have exceeded a secondary rate limit."}).to_string()),
        ),
        _ => None,
    }
}

#[derive(Deserialize)]
struct CreateBody {
    title: Option<String>,
    body: Option<String>,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    assignees: Vec<String>,
}

#[handler]
fn create(
    req: &Request,
    Path((owner, repo)): Path<(String, String)>,
    Data(shared): Data<&Shared>,
    Json(body): Json<CreateBody>,
) -> Response {
    if let Some(failed) = failure(shared, req, true) {
        return failed;
    }
    let Some(title) = body.title.filter(|t| !t.is_empty()) else {
        return answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"message": "Validation Failed", "errors": [{"resource": "Issue", "code": "missing_field", "field": "title"}]}),
        );
    };
    let repo = format!("{owner}/{repo}");
    let mut state = shared.state.lock().unwrap();
    state.now += Duration::seconds(1);
    let now = state.now;
    let lose = state.mode == Mode::LoseCreateAnswer;
    let issues = state.issues.entry(repo.clone()).or_default();
    let number = issues.keys().last().copied().unwrap_or(0) + 1;
    let issue = Issue {
        number,
        title,
        body: body.body.unwrap_or_default(),
        state: "open".into(),
        state_reason: None,
        labels: body.labels,
        assignees: body.assignees,
        created_at: now,
        updated_at: now,
    };
    issues.insert(number, issue.clone());
    if lose {
        return answer(StatusCode::BAD_GATEWAY, json!({"message": "Bad Gateway"}));
    }
    answer(StatusCode::CREATED, issue_json(&shared.base, &repo, &issue))
}

#[handler]
fn get_issue(
    req: &Request,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    Data(shared): Data<&Shared>,
) -> Response {
    if let Some(failed) = failure(shared, req, false) {
        return failed;
    }
    let repo = format!("{owner}/{repo}");
    let state = shared.state.lock().unwrap();
    match state.issues.get(&repo).and_then(|m| m.get(&number)) {
        Some(issue) => answer(StatusCode::OK, issue_json(&shared.base, &repo, issue)),
        None => answer(StatusCode::NOT_FOUND, json!({"message": "Not Found"})),
    }
}

#[handler]
fn update(
    req: &Request,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    Data(shared): Data<&Shared>,
    Json(body): Json<Value>,
) -> Response {
    if let Some(failed) = failure(shared, req, true) {
        return failed;
    }
    let repo = format!("{owner}/{repo}");
    let mut state = shared.state.lock().unwrap();
    state.now += Duration::seconds(1);
    let now = state.now;
    let Some(issue) = state.issues.get_mut(&repo).and_then(|m| m.get_mut(&number)) else {
        return answer(StatusCode::NOT_FOUND, json!({"message": "Not Found"}));
    };
    if let Some(title) = body["title"].as_str() {
        issue.title = title.into();
    }
    if let Some(text) = body["body"].as_str() {
        issue.body = text.into();
    }
    if let Some(assignees) = body["assignees"].as_array() {
        issue.assignees = assignees
            .iter()
            .filter_map(|a| a.as_str().map(String::from))
            .collect();
    }
    if let Some(state) = body["state"].as_str() {
        issue.state = state.into();
        issue.state_reason = body["state_reason"].as_str().map(String::from);
    }
    issue.updated_at = now;
    let issue = issue.clone();
    answer(StatusCode::OK, issue_json(&shared.base, &repo, &issue))
}

#[derive(Deserialize)]
struct SearchQuery {
    q: String,
}

/// `q` as Debrief sends it: `"PHRASE" repo:OWNER/NAME is:issue in:body`.
#[handler]
fn search(
    req: &Request,
    Query(query): Query<SearchQuery>,
    Data(shared): Data<&Shared>,
) -> Response {
    if let Some(failed) = failure(shared, req, false) {
        return failed;
    }
    let phrase = query.q.split('"').nth(1).unwrap_or_default().to_string();
    let repo = query
        .q
        .split_whitespace()
        .find_map(|w| w.strip_prefix("repo:"))
        .unwrap_or_default()
        .to_string();
    let state = shared.state.lock().unwrap();
    let items: Vec<Value> = state
        .issues
        .get(&repo)
        .into_iter()
        .flat_map(|m| m.values())
        .filter(|i| !phrase.is_empty() && i.body.contains(&phrase))
        .map(|i| {
            let mut v = issue_json(&shared.base, &repo, i);
            v["score"] = json!(1.0);
            v
        })
        .collect();
    answer(
        StatusCode::OK,
        json!({"total_count": items.len(), "incomplete_results": false, "items": items}),
    )
}
