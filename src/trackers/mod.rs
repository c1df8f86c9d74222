//! Issue trackers (GitHub Issues, Jira): the `Tracker` trait every back end
//! implements and the values it exchanges. A layer beside `notify/`: it talks
//! to the outside world and decides nothing about what is synced; it imports
//! `domain/` and `config` only, never `services/`.

pub mod jira;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

/// Which tracker; stored as its snake_case name ("github", "jira").
/// A domain enum in `src/domain/enums.rs` (derives like the others there).
pub use crate::domain::TrackerKind;

/// The state Debrief cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteState {
    Open,
    /// Closed as completed (GitHub state_reason "completed"; Jira status category "done" with a resolution other than "Won't Do").
    Done,
    /// Closed as not planned (GitHub state_reason "not_planned"; Jira resolution "Won't Do"/"Won't Fix"/"Declined").
    NotPlanned,
}

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
#[derive(Debug, Clone, Default)]
pub struct IssueUpdate {
    pub title: Option<String>,
    pub due_date: Option<Option<NaiveDate>>,
    pub assignee: Option<Option<String>>,
    pub state: Option<RemoteState>,
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
