//! The GitHub (and GitHub Enterprise Server) back end: issues through the
//! REST API, found again by the marker line in their body with the search
//! API, and `issues` webhooks signed with `X-Hub-Signature-256`.
//!
//! GitHub issues have no due date: the back end keeps it as a
//! `Due date: YYYY-MM-DD` line of the body, and reads it back from there.
//!
//! Shapes used, from GitHub's REST documentation:
//! - create: <https://docs.github.com/en/rest/issues/issues#create-an-issue>
//! - update: <https://docs.github.com/en/rest/issues/issues#update-an-issue>
//! - get: <https://docs.github.com/en/rest/issues/issues#get-an-issue>
//! - search: <https://docs.github.com/en/rest/search/search#search-issues-and-pull-requests>
//! - rate limits: <https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api>
//! - webhooks: <https://docs.github.com/en/webhooks/webhook-events-and-payloads#issues>
//!   and <https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries>

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

use super::{
    IssueDraft, IssueUpdate, RemoteIssue, RemoteState, Tracker, TrackerError, TrackerKind,
    WebhookError, WebhookEvent, WebhookHeaders, error_of, http_client,
};
use crate::{clock::SharedClock, config::GithubSettings};

/// The line of the body that holds the due date.
const DUE_PREFIX: &str = "Due date: ";
/// The line of the body that holds the marker.
const MARKER_PREFIX: &str = "Debrief reference: ";

/// One GitHub installation.
pub struct GithubTracker {
    http: reqwest::Client,
    api_url: String,
    web_url: String,
    token: crate::config::Secret,
    webhook_secret: crate::config::Secret,
    clock: SharedClock,
}

impl std::fmt::Debug for GithubTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubTracker")
            .field("api_url", &self.api_url)
            .field("web_url", &self.web_url)
            .field("token", &self.token)
            .field("webhook_secret", &self.webhook_secret)
            .finish_non_exhaustive()
    }
}

/// An issue as GitHub's REST API and webhooks give it (the fields used).
#[derive(Debug, Deserialize)]
struct GithubIssue {
    number: u64,
    title: String,
    #[serde(default)]
    body: Option<String>,
    state: String,
    #[serde(default)]
    state_reason: Option<String>,
    html_url: String,
    /// `https://api.github.com/repos/OWNER/REPO`.
    repository_url: String,
    #[serde(default)]
    assignee: Option<GithubUser>,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
struct GithubUser {
    login: String,
}

#[derive(Debug, Deserialize)]
struct SearchResult {
    items: Vec<GithubIssue>,
}

/// The `issues` webhook payload (the fields used).
#[derive(Debug, Deserialize)]
struct IssuesEvent {
    issue: GithubIssue,
    repository: Repository,
    sender: GithubUser,
}

#[derive(Debug, Deserialize)]
struct Repository {
    full_name: String,
}

/// The web address of an API address: `https://api.github.com` →
/// `https://github.com`, `https://HOST/api/v3` → `https://HOST`.
fn web_of(api_url: &str) -> String {
    let api = api_url.trim_end_matches('/');
    if api == "https://api.github.com" {
        return "https://github.com".into();
    }
    api.strip_suffix("/api/v3").unwrap_or(api).to_string()
}

/// `acme/ops#12` → (`acme/ops`, 12).
fn split_key(key: &str) -> Result<(&str, u64), TrackerError> {
    key.rsplit_once('#')
        .filter(|(repo, _)| crate::config::is_repository(repo))
        .and_then(|(repo, n)| n.parse().ok().map(|n| (repo, n)))
        .ok_or(TrackerError::NotFound)
}

/// The due date a body holds.
fn due_in(body: &str) -> Option<NaiveDate> {
    body.lines()
        .find_map(|l| l.trim().strip_prefix(DUE_PREFIX))
        .and_then(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok())
}

/// The body with its due line set to `due` (removed for none).
fn with_due(body: &str, due: Option<NaiveDate>) -> String {
    let line = due.map(|d| format!("{DUE_PREFIX}{d}"));
    let mut lines: Vec<String> = Vec::new();
    let mut replaced = false;
    for l in body.lines() {
        if l.trim().starts_with(DUE_PREFIX) {
            if let Some(line) = line.as_ref().filter(|_| !replaced) {
                lines.push(line.clone());
            }
            replaced = true;
        } else {
            lines.push(l.to_string());
        }
    }
    if !replaced && let Some(line) = line {
        lines.push(String::new());
        lines.push(line);
    }
    lines.join("\n")
}

/// Whether `body` carries exactly `marker` (not `debrief:REM-12` for
/// `debrief:REM-1`).
fn carries(body: &str, marker: &str) -> bool {
    body.lines()
        .any(|l| l.trim().strip_prefix(MARKER_PREFIX).map(str::trim) == Some(marker))
}

impl GithubIssue {
    fn remote(self, repository: Option<&str>) -> RemoteIssue {
        let repository = repository.map_or_else(
            || {
                let mut parts = self.repository_url.rsplit('/');
                let name = parts.next().unwrap_or_default();
                let owner = parts.next().unwrap_or_default();
                format!("{owner}/{name}")
            },
            str::to_owned,
        );
        let state = match (self.state.as_str(), self.state_reason.as_deref()) {
            ("open", _) => RemoteState::Open,
            (_, Some("not_planned")) => RemoteState::NotPlanned,
            _ => RemoteState::Done,
        };
        RemoteIssue {
            key: format!("{repository}#{}", self.number),
            url: self.html_url,
            title: self.title,
            state,
            due_date: self.body.as_deref().and_then(due_in),
            assignee: self.assignee.map(|a| a.login),
            updated_at: self.updated_at,
        }
    }
}

impl GithubTracker {
    pub fn new(
        settings: &GithubSettings,
        timeout_seconds: u64,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        let api_url = settings.api_url.trim_end_matches('/').to_string();
        Ok(Self {
            http: http_client(timeout_seconds)?,
            web_url: settings
                .web_url
                .as_deref()
                .map_or_else(|| web_of(&api_url), |w| w.trim_end_matches('/').to_string()),
            api_url,
            token: settings.token.clone(),
            webhook_secret: settings.webhook_secret.clone(),
            clock,
        })
    }

    /// One call to the API: the JSON of a success, else the error it is.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value, TrackerError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.api_url))
            .query(query)
            .bearer_auth(self.token.expose())
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| TrackerError::Unavailable(e.into()))?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .map_err(|e| TrackerError::Unavailable(e.into()))?;
        if status.is_success() {
            return serde_json::from_str(&text).map_err(|e| {
                TrackerError::Unavailable(
                    anyhow::Error::new(e).context("GitHub answered with a body that is not JSON"),
                )
            });
        }
        Err(error_of(
            status,
            &headers,
            message_of(&text),
            self.clock.now(),
        ))
    }

    async fn issue(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        repository: &str,
    ) -> Result<RemoteIssue, TrackerError> {
        let value = self.call(method, path, &[], body).await?;
        let issue: GithubIssue = serde_json::from_value(value).map_err(|e| {
            TrackerError::Unavailable(anyhow::Error::new(e).context("GitHub's issue is not one"))
        })?;
        Ok(issue.remote(Some(repository)))
    }
}

/// GitHub's error message (`{"message": …, "errors": [{"message"|"code"}]}`),
/// short.
fn message_of(text: &str) -> String {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return text.chars().take(300).collect();
    };
    let mut message = value["message"].as_str().unwrap_or("").to_string();
    if let Some(errors) = value["errors"].as_array() {
        let details: Vec<String> = errors
            .iter()
            .filter_map(|e| {
                e["message"]
                    .as_str()
                    .or_else(|| e["code"].as_str())
                    .map(|m| match e["field"].as_str() {
                        Some(field) => format!("{field}: {m}"),
                        None => m.to_string(),
                    })
            })
            .collect();
        if !details.is_empty() {
            message = format!("{message} ({})", details.join("; "));
        }
    }
    message.chars().take(300).collect()
}

#[async_trait]
impl Tracker for GithubTracker {
    fn kind(&self) -> TrackerKind {
        TrackerKind::Github
    }

    async fn find_by_marker(
        &self,
        target: &str,
        marker: &str,
    ) -> Result<Option<RemoteIssue>, TrackerError> {
        let q = format!("\"{marker}\" repo:{target} is:issue in:body");
        let value = self
            .call(
                reqwest::Method::GET,
                "/search/issues",
                &[("q", q.as_str()), ("per_page", "20")],
                None,
            )
            .await?;
        let found: SearchResult = serde_json::from_value(value).map_err(|e| {
            TrackerError::Unavailable(anyhow::Error::new(e).context("GitHub's search result"))
        })?;
        Ok(found
            .items
            .into_iter()
            .filter(|i| i.body.as_deref().is_some_and(|b| carries(b, marker)))
            .min_by_key(|i| i.number)
            .map(|i| i.remote(Some(target))))
    }

    async fn create(&self, draft: &IssueDraft) -> Result<RemoteIssue, TrackerError> {
        let mut body = with_due(&draft.body, draft.due_date);
        body.push_str(&format!("\n\n{MARKER_PREFIX}{}", draft.marker));
        let payload = json!({
            "title": draft.title,
            "body": body,
            "labels": draft.labels,
            "assignees": draft.assignee.iter().collect::<Vec<_>>(),
        });
        let path = format!("/repos/{}/issues", draft.target);
        self.issue(reqwest::Method::POST, &path, Some(&payload), &draft.target)
            .await
    }

    async fn update(&self, key: &str, update: &IssueUpdate) -> Result<RemoteIssue, TrackerError> {
        let (repository, number) = split_key(key)?;
        let path = format!("/repos/{repository}/issues/{number}");
        let mut payload = serde_json::Map::new();
        if let Some(title) = &update.title {
            payload.insert("title".into(), json!(title));
        }
        if let Some(due) = update.due_date {
            // The due date lives in the body: read it, change that line.
            let current = self.call(reqwest::Method::GET, &path, &[], None).await?;
            let body = current["body"].as_str().unwrap_or("");
            payload.insert("body".into(), json!(with_due(body, due)));
        }
        if let Some(assignee) = &update.assignee {
            payload.insert(
                "assignees".into(),
                json!(assignee.iter().collect::<Vec<_>>()),
            );
        }
        if let Some(state) = update.state {
            let (state, reason) = match state {
                RemoteState::Open => ("open", "reopened"),
                RemoteState::Done => ("closed", "completed"),
                RemoteState::NotPlanned => ("closed", "not_planned"),
            };
            payload.insert("state".into(), json!(state));
            payload.insert("state_reason".into(), json!(reason));
        }
        let payload = Value::Object(payload);
        self.issue(reqwest::Method::PATCH, &path, Some(&payload), repository)
            .await
    }

    async fn get(&self, key: &str) -> Result<RemoteIssue, TrackerError> {
        let (repository, number) = split_key(key)?;
        let path = format!("/repos/{repository}/issues/{number}");
        self.issue(reqwest::Method::GET, &path, None, repository)
            .await
    }

    fn key_from_url(&self, url: &str) -> Option<String> {
        let rest = url.strip_prefix(&self.web_url)?.strip_prefix('/')?;
        let rest = rest.split(['#', '?']).next()?.trim_end_matches('/');
        let mut parts = rest.split('/');
        let (owner, name, issues, number) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let repository = format!("{owner}/{name}");
        let number: u64 = number.parse().ok().filter(|n| *n > 0)?;
        (parts.next().is_none() && issues == "issues" && crate::config::is_repository(&repository))
            .then(|| format!("{repository}#{number}"))
    }

    fn verify_webhook(
        &self,
        headers: &WebhookHeaders,
        _query: Option<&str>,
        body: &[u8],
    ) -> Result<Option<WebhookEvent>, WebhookError> {
        let signature = headers
            .get("x-hub-signature-256")
            .and_then(|s| s.trim().strip_prefix("sha256="))
            .and_then(|hex_text| hex::decode(hex_text).ok())
            .ok_or(WebhookError::BadSignature)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(self.webhook_secret.expose().as_bytes())
            .map_err(|_| WebhookError::BadSignature)?;
        mac.update(body);
        // Constant time: `verify_slice` compares without an early exit.
        mac.verify_slice(&signature)
            .map_err(|_| WebhookError::BadSignature)?;
        let delivery_id = headers
            .get("x-github-delivery")
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty() && d.len() <= 200)
            .ok_or_else(|| {
                WebhookError::Malformed("X-GitHub-Delivery: missing or longer than 200".into())
            })?;
        if headers.get("x-github-event").map(String::as_str) != Some("issues") {
            return Ok(None); // ping, issue_comment …: verified, not about an issue
        }
        let event: IssuesEvent =
            serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(body))
                .map_err(|e| WebhookError::Malformed(format!("{}: {}", e.path(), e.inner())))?;
        Ok(Some(WebhookEvent {
            delivery_id,
            actor: format!("github:{}", event.sender.login),
            issue: event.issue.remote(Some(&event.repository.full_name)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_due_line_is_set_replaced_and_removed() {
        let body = "Fix it\n\nDue date: 2026-12-01\n\nDebrief reference: debrief:REM-1";
        assert_eq!(due_in(body), NaiveDate::from_ymd_opt(2026, 12, 1));
        let later = with_due(body, NaiveDate::from_ymd_opt(2027, 1, 2));
        assert_eq!(due_in(&later), NaiveDate::from_ymd_opt(2027, 1, 2));
        assert!(later.ends_with("Debrief reference: debrief:REM-1"));
        assert_eq!(due_in(&with_due(body, None)), None);
        assert_eq!(
            due_in(&with_due("Fix it", NaiveDate::from_ymd_opt(2026, 1, 1))),
            NaiveDate::from_ymd_opt(2026, 1, 1)
        );
    }

    #[test]
    fn a_marker_matches_only_itself() {
        let body = "x\n\nDebrief reference: debrief:REM-12";
        assert!(carries(body, "debrief:REM-12"));
        assert!(!carries(body, "debrief:REM-1"));
    }

    #[test]
    fn web_addresses_follow_the_api_address() {
        assert_eq!(web_of("https://api.github.com"), "https://github.com");
        assert_eq!(
            web_of("https://ghe.example.com/api/v3/"),
            "https://ghe.example.com"
        );
        assert_eq!(web_of("http://127.0.0.1:9000"), "http://127.0.0.1:9000");
    }
}
