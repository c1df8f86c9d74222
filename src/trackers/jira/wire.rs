//! The JSON Jira sends and takes, as far as Debrief reads it. Shapes from
//! the Jira Cloud REST v3 reference
//! (<https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/>,
//! `…/api-group-issue-search/`) and the webhook page
//! (<https://developer.atlassian.com/cloud/jira/platform/webhooks/>); Data
//! Center's v2 has the same issue shape, with `name` for users.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use crate::trackers::{RemoteIssue, RemoteState};

/// The fields asked for on every read.
pub const ISSUE_FIELDS: &[&str] = &[
    "summary",
    "status",
    "resolution",
    "duedate",
    "assignee",
    "updated",
];

/// Resolutions that mean "closed as not planned" (compared without case,
/// with ’ read as ').
const NOT_PLANNED_RESOLUTIONS: &[&str] = &["won't do", "won't fix", "declined"];

/// Is `name` a resolution meaning "not planned"?
pub fn is_not_planned(name: &str) -> bool {
    let name = name.trim().to_lowercase().replace('’', "'");
    NOT_PLANNED_RESOLUTIONS.contains(&name.as_str())
}

#[derive(Debug, Deserialize)]
pub struct Issue {
    pub key: String,
    pub fields: IssueFields,
}

#[derive(Debug, Deserialize)]
pub struct IssueFields {
    pub summary: String,
    pub status: Status,
    #[serde(default)]
    pub resolution: Option<Named>,
    #[serde(default)]
    pub duedate: Option<NaiveDate>,
    #[serde(default)]
    pub assignee: Option<User>,
    #[serde(deserialize_with = "jira_time")]
    pub updated: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
pub struct Status {
    pub name: String,
    #[serde(rename = "statusCategory")]
    pub category: StatusCategory,
}

/// `new` (To Do), `indeterminate` (In Progress) or `done`.
#[derive(Debug, Deserialize)]
pub struct StatusCategory {
    pub key: String,
}

#[derive(Debug, Deserialize)]
pub struct Named {
    pub name: String,
}

/// A user: `accountId` on Cloud, `name` on Data Center.
#[derive(Debug, Deserialize)]
pub struct User {
    #[serde(rename = "accountId", default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

impl User {
    pub fn id(&self) -> Option<&str> {
        self.account_id
            .as_deref()
            .or(self.name.as_deref())
            .filter(|id| !id.is_empty())
    }
}

impl Issue {
    /// The issue as the trait shows it; `browse` is `{base_url}/browse/`.
    pub fn into_remote(self, browse: &str) -> RemoteIssue {
        let state = match self.fields.status.category.key.as_str() {
            "done" => match &self.fields.resolution {
                Some(r) if is_not_planned(&r.name) => RemoteState::NotPlanned,
                _ => RemoteState::Done,
            },
            _ => RemoteState::Open,
        };
        RemoteIssue {
            url: format!("{browse}{}", self.key),
            key: self.key,
            title: self.fields.summary,
            state,
            due_date: self.fields.duedate,
            assignee: self
                .fields
                .assignee
                .as_ref()
                .and_then(User::id)
                .map(str::to_string),
            updated_at: self.fields.updated,
        }
    }
}

/// Jira's times: `2024-12-29T08:41:23.303+0530` (no colon in the offset),
/// RFC 3339 also read.
pub fn parse_jira_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(text))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn jira_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let text = String::deserialize(d)?;
    parse_jira_time(&text)
        .ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a Jira time")))
}

/// `POST /rest/api/3/issue` → 201.
#[derive(Debug, Deserialize)]
pub struct Created {
    pub key: String,
}

/// `POST /rest/api/3/search/jql` (Cloud) and `POST /rest/api/2/search`
/// (Data Center) both answer `{"issues": [...]}` (plus paging fields).
#[derive(Debug, Deserialize)]
pub struct SearchResults {
    pub issues: Vec<Issue>,
}

/// `GET /rest/api/3/issue/{key}/transitions?expand=transitions.fields`.
#[derive(Debug, Deserialize)]
pub struct Transitions {
    pub transitions: Vec<Transition>,
}

#[derive(Debug, Deserialize)]
pub struct Transition {
    pub id: String,
    pub name: String,
    pub to: Status,
    /// The transition screen's fields (with `expand=transitions.fields`).
    #[serde(default)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Transition {
    /// The resolutions the transition screen offers, if it has the field.
    pub fn resolutions(&self) -> Vec<String> {
        self.fields
            .get("resolution")
            .and_then(|f| f.get("allowedValues"))
            .and_then(|v| v.as_array())
            .map(|values| {
                values
                    .iter()
                    .filter_map(|v| v.get("name").and_then(|n| n.as_str()))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Jira's error body: `{"errorMessages": [...], "errors": {"field": "message"}}`.
#[derive(Debug, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(rename = "errorMessages", default)]
    pub error_messages: Vec<String>,
    #[serde(default)]
    pub errors: serde_json::Map<String, serde_json::Value>,
}

impl ErrorBody {
    /// One line: the messages, then `field: message` for each field.
    pub fn detail(&self) -> Option<String> {
        let mut parts: Vec<String> = self.error_messages.clone();
        for (field, message) in &self.errors {
            let message = message
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| message.to_string());
            parts.push(format!("{field}: {message}"));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jira_times_read_with_and_without_colon() {
        let a = parse_jira_time("2024-12-29T08:41:23.303+0530").unwrap();
        let b = parse_jira_time("2024-12-29T03:11:23.303Z").unwrap();
        assert_eq!(a, b);
        assert!(parse_jira_time("yesterday").is_none());
    }

    #[test]
    fn not_planned_resolutions() {
        for name in ["Won't Do", "won’t fix", "Declined"] {
            assert!(is_not_planned(name), "{name}");
        }
        for name in ["Done", "Fixed", "Duplicate"] {
            assert!(!is_not_planned(name), "{name}");
        }
    }
}
