//! Issue trackers (GitHub, Jira …) as Debrief talks to them: the
//! [`Tracker`] trait every back end implements, the values it trades, and
//! [`Trackers`], the back ends the configuration names with their routing
//! (team → repository or project, owner → tracker user). A layer beside
//! `notify/`: it talks to the outside world and decides nothing about what
//! is synced (that is `services::tracker_sync`, which only ever sees
//! `dyn Tracker`). It imports `domain/`, `config` and the clock only.
//!
//! Adding a tracker (GitLab, Linear): one file implementing [`Tracker`], its
//! `[trackers.<name>]` section, a `TrackerKind` variant and one arm in
//! [`Trackers::from_settings`]; see `docs/trackers.md`.

pub mod github;
pub mod jira;

use std::{collections::BTreeMap, sync::Arc};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use crate::{clock::SharedClock, config::TrackerSettings};

/// Which tracker; stored as its snake_case name ("github", "jira").
pub use crate::domain::TrackerKind;

/// The state Debrief cares about (a domain enum, so it can be stored as the
/// state last seen).
pub use crate::domain::RemoteState;

/// An issue as the tracker holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteIssue {
    /// "acme/ops#12" (GitHub) or "OPS-12" (Jira): what `tracker_key` shows.
    pub key: String,
    /// The browser URL of the issue.
    pub url: String,
    pub title: String,
    pub state: RemoteState,
    pub due_date: Option<NaiveDate>,
    /// The tracker's user: GitHub login, Jira accountId.
    pub assignee: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// What Debrief asks a tracker to create.
#[derive(Debug, Clone)]
pub struct IssueDraft {
    /// Repository ("acme/ops") or project key ("OPS"), from config (team mapping).
    pub target: String,
    pub title: String,
    /// Markdown; the back end converts it if the tracker needs (Jira: ADF).
    /// Contains the item's link back and its incidents.
    pub body: String,
    /// The reference marker, e.g. "debrief:REM-12": put in the issue so
    /// `find_by_marker` finds it again (GitHub: in the body, searched with the
    /// search API; Jira: a label `debrief-REM-12` + JQL).
    pub marker: String,
    /// "debrief", "priority:p1", "kind:prevent" (Jira: labels without ':' → "priority-p1").
    pub labels: Vec<String>,
    pub due_date: Option<NaiveDate>,
    pub assignee: Option<String>,
}

/// A change pushed to an existing issue; `None` = leave as is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueUpdate {
    pub title: Option<String>,
    pub due_date: Option<Option<NaiveDate>>,
    pub assignee: Option<Option<String>>,
    pub state: Option<RemoteState>,
}

impl IssueUpdate {
    /// Nothing to change.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A verified webhook: which issue changed, who changed it, its state after.
#[derive(Debug, Clone)]
pub struct WebhookEvent {
    /// The tracker's delivery id (GitHub `X-GitHub-Delivery`; Jira: the
    /// payload's `timestamp` + issue key + webhookEvent, or a header id), used
    /// to make replays idempotent.
    pub delivery_id: String,
    /// "github:<login>" / "jira:<accountId>".
    pub actor: String,
    pub issue: RemoteIssue,
}

#[derive(Debug, thiserror::Error)]
pub enum TrackerError {
    /// Connection refused, timeout, 5xx: retried with back-off.
    #[error("tracker unavailable: {0}")]
    Unavailable(#[source] anyhow::Error),
    /// 401/403 without rate-limit headers: credentials wrong; not retried quickly.
    #[error("tracker refused the credentials ({status})")]
    Unauthorized { status: u16 },
    /// 4xx such as 422 / 400: the request was refused; the detail is the tracker's message.
    #[error("tracker refused the request ({status}): {detail}")]
    Rejected { status: u16, detail: String },
    /// 429, or 403 with `X-RateLimit-Remaining: 0` / `Retry-After`: retry at.
    #[error("tracker rate limit; retry at {retry_at}")]
    RateLimited { retry_at: DateTime<Utc> },
    #[error("issue not found")]
    NotFound,
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Missing or wrong signature / secret → 401, nothing changed.
    #[error("webhook signature does not match")]
    BadSignature,
    /// Not JSON or not the documented shape → 400 naming the field.
    #[error("webhook payload: {0}")]
    Malformed(String),
}

/// Headers of a webhook request, lower-case names (the api layer fills it).
pub type WebhookHeaders = std::collections::BTreeMap<String, String>;

#[async_trait]
pub trait Tracker: Send + Sync + std::fmt::Debug {
    fn kind(&self) -> TrackerKind;
    /// The issue carrying `marker` in `target`, if one exists (exactly-once create).
    async fn find_by_marker(
        &self,
        target: &str,
        marker: &str,
    ) -> Result<Option<RemoteIssue>, TrackerError>;
    async fn create(&self, draft: &IssueDraft) -> Result<RemoteIssue, TrackerError>;
    async fn update(&self, key: &str, update: &IssueUpdate) -> Result<RemoteIssue, TrackerError>;
    async fn get(&self, key: &str) -> Result<RemoteIssue, TrackerError>;
    /// The key of an issue URL of this tracker ("https://github.com/acme/ops/issues/12" → "acme/ops#12"), or None if the URL is not one.
    fn key_from_url(&self, url: &str) -> Option<String>;
    /// Check the signature/secret and read the event. `Ok(None)`: a verified
    /// event that is not about an issue (ping, comment …): answered 202, ignored.
    /// `query` is the request's query string (Jira Data Center puts a secret there).
    fn verify_webhook(
        &self,
        headers: &WebhookHeaders,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<Option<WebhookEvent>, WebhookError>;
}

/// Where a tracker's issues go and who they are assigned to: read from the
/// tracker's section, used by the sync logic without knowing the tracker.
#[derive(Debug, Clone, Default)]
pub struct Routing {
    /// The target (repository, project key) of items whose team has none.
    pub default_target: String,
    /// Team → target.
    pub teams: BTreeMap<String, String>,
    /// Owner (as Debrief stores it) → the tracker's user.
    pub users: BTreeMap<String, String>,
}

impl Routing {
    /// The target of an item of `team`.
    pub fn target(&self, team: Option<&str>) -> &str {
        team.and_then(|t| self.teams.get(t))
            .map_or(self.default_target.as_str(), String::as_str)
    }

    /// The tracker's user an owner maps to, if any.
    pub fn assignee(&self, owner: Option<&str>) -> Option<String> {
        owner.and_then(|o| self.users.get(o)).cloned()
    }

    /// The owner a tracker's user maps back to: the mapped owner, else the
    /// tracker's user name itself.
    pub fn owner(&self, assignee: &str) -> String {
        self.users
            .iter()
            .find(|(_, user)| user.as_str() == assignee)
            .map_or_else(|| assignee.to_string(), |(owner, _)| owner.clone())
    }
}

/// One configured tracker.
#[derive(Debug, Clone)]
pub struct Configured {
    pub tracker: Arc<dyn Tracker>,
    pub routing: Routing,
}

/// The trackers the configuration names.
#[derive(Debug, Clone, Default)]
pub struct Trackers {
    configured: Vec<Configured>,
    default: Option<TrackerKind>,
    teams: BTreeMap<String, TrackerKind>,
}

impl Trackers {
    /// A back end per configured section. `clock` dates rate-limit answers
    /// (`Retry-After: 60` is 60 s after the clock's now).
    pub fn from_settings(settings: &TrackerSettings, clock: SharedClock) -> anyhow::Result<Self> {
        let mut configured = Vec::new();
        if let Some(github) = &settings.github {
            configured.push(Configured {
                tracker: Arc::new(github::GithubTracker::new(
                    github,
                    settings.timeout_seconds,
                    clock.clone(),
                )?),
                routing: Routing {
                    default_target: github.repository.clone(),
                    teams: github.teams.clone(),
                    users: github.users.clone(),
                },
            });
        }
        if let Some(jira) = &settings.jira {
            configured.push(Configured {
                tracker: Arc::new(jira::Jira::new(jira.clone(), clock.clone())?),
                routing: Routing {
                    default_target: jira.project_key.clone(),
                    teams: jira.teams.clone(),
                    users: jira.users.clone(),
                },
            });
        }
        Ok(Self {
            configured,
            default: settings.default,
            teams: settings.teams.clone(),
        })
    }

    /// Add a back end (a test's, or one configured elsewhere).
    pub fn register(&mut self, tracker: Arc<dyn Tracker>, routing: Routing) {
        let kind = tracker.kind();
        self.configured.retain(|c| c.tracker.kind() != kind);
        self.configured.push(Configured { tracker, routing });
    }

    pub fn get(&self, kind: TrackerKind) -> Option<&Configured> {
        self.configured.iter().find(|c| c.tracker.kind() == kind)
    }

    pub fn all(&self) -> &[Configured] {
        &self.configured
    }

    /// The tracker of a new item of `team` created without a choice: the
    /// team's, else the default.
    pub fn for_team(&self, team: Option<&str>) -> Option<TrackerKind> {
        team.and_then(|t| self.teams.get(t))
            .copied()
            .or(self.default)
            .filter(|kind| self.get(*kind).is_some())
    }
}

/// `User-Agent` of every call to a tracker.
pub const USER_AGENT: &str = concat!("debrief/", env!("CARGO_PKG_VERSION"));

/// The HTTP client of a back end: its timeout, Debrief's user agent, and
/// redirects followed only on the same host (a token never goes elsewhere).
pub fn http_client(timeout_seconds: u64) -> anyhow::Result<reqwest::Client> {
    let same_host = reqwest::redirect::Policy::custom(|attempt| {
        let first_host = attempt
            .previous()
            .first()
            .and_then(|u| u.host_str())
            .map(str::to_owned);
        if attempt.previous().len() > 5 || attempt.url().host_str() != first_host.as_deref() {
            attempt.stop()
        } else {
            attempt.follow()
        }
    });
    Ok(reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(timeout_seconds))
        .user_agent(USER_AGENT)
        .redirect(same_host)
        .build()?)
}

/// The error of a tracker's answer that is not a success: rate limit
/// (429, or 403 with `Retry-After` or `X-RateLimit-Remaining: 0`, retried
/// at `Retry-After` seconds from `now` or at `X-RateLimit-Reset`, else a
/// minute from now), credentials (401, other 403), not found (404), a 5xx
/// (unavailable), or a refused request with the tracker's message.
pub fn error_of(
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
    message: String,
    now: DateTime<Utc>,
) -> TrackerError {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let retry_after = header("retry-after").and_then(|v| {
        v.trim()
            .parse::<i64>()
            .ok()
            .map(|s| now + chrono::Duration::seconds(s.clamp(0, 86_400)))
            .or_else(|| {
                DateTime::parse_from_rfc2822(v)
                    .ok()
                    .map(|d| d.with_timezone(&Utc))
            })
    });
    let exhausted = header("x-ratelimit-remaining").is_some_and(|v| v.trim() == "0");
    let reset = header("x-ratelimit-reset")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .and_then(|s| DateTime::from_timestamp(s, 0));
    let code = status.as_u16();
    if code == 429 || (code == 403 && (retry_after.is_some() || exhausted)) {
        let retry_at = retry_after
            .or(reset)
            .unwrap_or(now + chrono::Duration::seconds(60));
        return TrackerError::RateLimited { retry_at };
    }
    match code {
        401 | 403 => TrackerError::Unauthorized { status: code },
        404 | 410 => TrackerError::NotFound,
        500..=599 => TrackerError::Unavailable(anyhow::anyhow!("HTTP {code}: {message}")),
        _ => TrackerError::Rejected {
            status: code,
            detail: message,
        },
    }
}
