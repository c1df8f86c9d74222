//! The Jira back end: Jira Cloud (REST v3, Basic auth with e-mail and API
//! token, descriptions in Atlassian Document Format) and Jira Data Center
//! (REST v2, Bearer personal access token, plain-text descriptions).
//!
//! Calls (<https://developer.atlassian.com/cloud/jira/platform/rest/v3/>):
//! `POST issue` (create), `GET issue/{key}` (read), `PUT issue/{key}`
//! (fields), `GET`/`POST issue/{key}/transitions` (status), and the JQL
//! search: `POST search/jql` on Cloud (the old `search` was removed there
//! in 2025), `POST search` on Data Center. An issue carries its item's
//! marker as the label `debrief-REM-12`.

mod adf;
mod http;
mod settings;
mod transition;
mod webhook;
mod wire;

use async_trait::async_trait;
use reqwest::{Method, Url};
use serde_json::{Map, Value, json};

pub use adf::markdown_to_adf;
pub use http::USER_AGENT;
pub use settings::{JiraDeployment, JiraSettings, is_project_key};
pub use webhook::{DELIVERY_HEADER, SIGNATURE_HEADER, signature};

use self::{http::Http, wire::ISSUE_FIELDS};
use super::{
    IssueDraft, IssueUpdate, RemoteIssue, RemoteState, Tracker, TrackerError, TrackerKind,
    WebhookError, WebhookEvent, WebhookHeaders,
};
use crate::clock::SharedClock;

/// Jira's limit on a summary.
const MAX_SUMMARY_CHARS: usize = 255;

/// Jira's limit on a text field (the description), less room for ADF's
/// structure.
const MAX_DESCRIPTION_CHARS: usize = 30_000;

/// Jira's limit on a label.
const MAX_LABEL_CHARS: usize = 255;

/// The most transitions one state change takes (To Do → In Progress → Done).
const MAX_TRANSITION_STEPS: usize = 3;

/// A Jira site, as a [`Tracker`].
#[derive(Debug)]
pub struct Jira {
    settings: JiraSettings,
    site: Url,
    /// `{base_url}/browse/`: an issue's browser URL is this and its key.
    browse: String,
    http: Http,
}

impl Jira {
    /// Check the settings and build the client.
    pub fn new(settings: JiraSettings, clock: SharedClock) -> anyhow::Result<Self> {
        settings.validate().map_err(anyhow::Error::msg)?;
        let site = settings.site().map_err(anyhow::Error::msg)?;
        let http = Http::new(&settings, &site, clock)?;
        let browse = format!("{}/browse/", site.as_str().trim_end_matches('/'));
        Ok(Self {
            settings,
            site,
            browse,
            http,
        })
    }

    pub fn settings(&self) -> &JiraSettings {
        &self.settings
    }

    fn cloud(&self) -> bool {
        self.settings.deployment == JiraDeployment::Cloud
    }

    fn user(&self, id: Option<&str>) -> Value {
        match id {
            Some(id) if self.cloud() => json!({ "accountId": id }),
            Some(name) => json!({ "name": name }),
            None => Value::Null,
        }
    }

    fn description(&self, markdown: &str) -> Value {
        let markdown = truncate(markdown, MAX_DESCRIPTION_CHARS);
        if self.cloud() {
            markdown_to_adf(&markdown)
        } else {
            // Data Center's v2 takes wiki markup; Markdown reads well
            // enough as plain text there.
            Value::String(markdown)
        }
    }

    async fn transitions(&self, key: &str) -> Result<Vec<wire::Transition>, TrackerError> {
        let path = format!("issue/{key}/transitions");
        let list: wire::Transitions = self
            .http
            .json(
                Method::GET,
                &path,
                &[("expand", "transitions.fields")],
                None,
            )
            .await?;
        Ok(list.transitions)
    }

    /// Walk the workflow to `want` (at most [`MAX_TRANSITION_STEPS`]).
    async fn move_to(&self, key: &str, want: RemoteState) -> Result<(), TrackerError> {
        let mut visited: Vec<String> = Vec::new();
        for _ in 0..MAX_TRANSITION_STEPS {
            let transitions = self.transitions(key).await?;
            let Some(step) = transition::choose(&transitions, want, &visited) else {
                break;
            };
            let mut body = json!({ "transition": { "id": step.id } });
            if let Some(resolution) = &step.resolution {
                body["fields"] = json!({ "resolution": { "name": resolution } });
            }
            if want == RemoteState::NotPlanned && step.resolution.is_none() {
                tracing::warn!(
                    issue.key = %key,
                    "Jira issue {key}: the workflow's done transition {:?} offers no \
                     \"Won't Do\" resolution; the issue is closed with the workflow's own",
                    step.name
                );
            }
            self.http
                .call(
                    Method::POST,
                    &format!("issue/{key}/transitions"),
                    &[],
                    Some(&body),
                )
                .await?;
            if step.arrives {
                return Ok(());
            }
            if let Some(t) = transitions.iter().find(|t| t.id == step.id) {
                visited.push(t.to.name.clone());
            }
        }
        Err(TrackerError::Rejected {
            status: 409,
            detail: format!(
                "the workflow of {key} offers no transition to a {} status",
                match want {
                    RemoteState::Open => "to-do or in-progress",
                    RemoteState::Done | RemoteState::NotPlanned => "done",
                }
            ),
        })
    }
}

/// A Jira label: no spaces, and `:` (Debrief's separator) becomes `-`.
pub fn label(text: &str) -> String {
    let label: String = text
        .trim()
        .chars()
        .map(|c| {
            if c == ':' || c.is_whitespace() {
                '-'
            } else {
                c
            }
        })
        .collect();
    truncate(&label, MAX_LABEL_CHARS)
}

/// A summary Jira takes: one line (it refuses line breaks), 255 characters.
fn summary(title: &str) -> String {
    let line: String = title
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    truncate(&line, MAX_SUMMARY_CHARS)
}

/// A quoted JQL string.
fn jql_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(max - 1).collect();
        cut.push('…');
        cut
    }
}

/// `OPS-12`: a project key, `-`, a number.
fn is_issue_key(key: &str) -> bool {
    key.rsplit_once('-').is_some_and(|(project, number)| {
        is_project_key(project)
            && !number.is_empty()
            && number.len() <= 18
            && number.bytes().all(|b| b.is_ascii_digit())
            && !number.starts_with('0')
    })
}

fn checked_key(key: &str) -> Result<&str, TrackerError> {
    if is_issue_key(key) {
        Ok(key)
    } else {
        Err(TrackerError::Rejected {
            status: 400,
            detail: format!("{key:?} is not a Jira issue key (such as OPS-12)"),
        })
    }
}

#[async_trait]
impl Tracker for Jira {
    fn kind(&self) -> TrackerKind {
        TrackerKind::Jira
    }

    async fn find_by_marker(
        &self,
        target: &str,
        marker: &str,
    ) -> Result<Option<RemoteIssue>, TrackerError> {
        let jql = format!(
            "project = {} AND labels = {} ORDER BY created ASC",
            jql_string(target),
            jql_string(&label(marker))
        );
        let body = json!({ "jql": jql, "fields": ISSUE_FIELDS, "maxResults": 10 });
        let path = if self.cloud() { "search/jql" } else { "search" };
        let results: wire::SearchResults =
            self.http.json(Method::POST, path, &[], Some(&body)).await?;
        Ok(results
            .issues
            .into_iter()
            .next()
            .map(|issue| issue.into_remote(&self.browse)))
    }

    async fn create(&self, draft: &IssueDraft) -> Result<RemoteIssue, TrackerError> {
        if !is_project_key(&draft.target) {
            return Err(TrackerError::Rejected {
                status: 400,
                detail: format!("{:?} is not a Jira project key", draft.target),
            });
        }
        let mut labels: Vec<String> = Vec::new();
        for text in draft.labels.iter().chain(std::iter::once(&draft.marker)) {
            let label = label(text);
            if !label.is_empty() && !labels.contains(&label) {
                labels.push(label);
            }
        }
        let mut fields = Map::new();
        fields.insert("project".into(), json!({ "key": draft.target }));
        fields.insert(
            "issuetype".into(),
            json!({ "name": self.settings.issue_type }),
        );
        fields.insert("summary".into(), summary(&draft.title).into());
        fields.insert("description".into(), self.description(&draft.body));
        fields.insert("labels".into(), json!(labels));
        if let Some(due) = draft.due_date {
            fields.insert("duedate".into(), due.format("%Y-%m-%d").to_string().into());
        }
        if let Some(assignee) = &draft.assignee {
            fields.insert("assignee".into(), self.user(Some(assignee)));
        }
        let created: wire::Created = self
            .http
            .json(
                Method::POST,
                "issue",
                &[],
                Some(&json!({ "fields": fields })),
            )
            .await?;
        self.get(&created.key).await
    }

    async fn update(&self, key: &str, update: &IssueUpdate) -> Result<RemoteIssue, TrackerError> {
        let key = checked_key(key)?;
        let mut fields = Map::new();
        if let Some(title) = &update.title {
            fields.insert("summary".into(), summary(title).into());
        }
        if let Some(due) = &update.due_date {
            fields.insert(
                "duedate".into(),
                due.map(|d| d.format("%Y-%m-%d").to_string()).into(),
            );
        }
        if let Some(assignee) = &update.assignee {
            fields.insert("assignee".into(), self.user(assignee.as_deref()));
        }
        if !fields.is_empty() {
            self.http
                .call(
                    Method::PUT,
                    &format!("issue/{key}"),
                    &[],
                    Some(&json!({ "fields": fields })),
                )
                .await?;
        }
        let current = self.get(key).await?;
        match update.state {
            Some(want) if want != current.state => {
                self.move_to(key, want).await?;
                self.get(key).await
            }
            _ => Ok(current),
        }
    }

    async fn get(&self, key: &str) -> Result<RemoteIssue, TrackerError> {
        let key = checked_key(key)?;
        let fields = ISSUE_FIELDS.join(",");
        let issue: wire::Issue = self
            .http
            .json(
                Method::GET,
                &format!("issue/{key}"),
                &[("fields", fields.as_str())],
                None,
            )
            .await?;
        Ok(issue.into_remote(&self.browse))
    }

    fn key_from_url(&self, url: &str) -> Option<String> {
        let url = Url::parse(url.trim()).ok()?;
        if url.origin() != self.site.origin() {
            return None;
        }
        let prefix = self.site.path().trim_end_matches('/');
        let rest = url.path().strip_prefix(prefix)?.strip_prefix("/browse/")?;
        let key = rest.trim_end_matches('/').to_ascii_uppercase();
        is_issue_key(&key).then_some(key)
    }

    fn verify_webhook(
        &self,
        headers: &WebhookHeaders,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<Option<WebhookEvent>, WebhookError> {
        webhook::authenticate(
            &self.settings.webhook_secret,
            self.settings.deployment,
            headers,
            query,
            body,
        )?;
        webhook::read_event(headers, body, &self.browse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_have_no_colons_or_spaces() {
        assert_eq!(label("priority:p1"), "priority-p1");
        assert_eq!(label("debrief:REM-12"), "debrief-REM-12");
        assert_eq!(label(" kind: prevent "), "kind--prevent");
    }

    #[test]
    fn issue_keys() {
        for key in ["OPS-12", "A1_B-1"] {
            assert!(is_issue_key(key), "{key}");
        }
        for key in ["ops-12", "OPS-", "OPS-012", "-12", "OPS-1/../x", "OPS-1 "] {
            assert!(!is_issue_key(key), "{key}");
        }
    }

    #[test]
    fn summaries_are_one_line_of_at_most_255_characters() {
        assert_eq!(summary("Fix\r\n the  pager \n"), "Fix the  pager");
        let long = summary(&"é".repeat(300));
        assert_eq!(long.chars().count(), 255);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn jql_strings_are_quoted() {
        assert_eq!(jql_string(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
