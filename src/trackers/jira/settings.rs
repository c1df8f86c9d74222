//! `[trackers.jira]`: where the Jira site is, how to sign in, which project
//! and issue type new issues go to, the team and user mappings. Secrets
//! (`api_token`, `webhook_secret`) never appear in `Debug`.

use std::{collections::BTreeMap, fmt, time::Duration};

use reqwest::Url;
use serde::{Deserialize, Serialize};

/// Which Jira product `base_url` points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JiraDeployment {
    /// Jira Cloud (`*.atlassian.net`): REST v3, Basic auth with e-mail and
    /// API token, descriptions in Atlassian Document Format, webhooks signed
    /// in `X-Hub-Signature`.
    #[default]
    Cloud,
    /// Jira Data Center / Server: REST v2, a personal access token as
    /// Bearer, descriptions as plain text, webhooks signed (Jira 10 and
    /// later) or carrying `?secret=` in their URL.
    DataCenter,
}

/// The `[trackers.jira]` section. `Serialize` because the configuration's
/// defaults reach figment serialized (`Serialized::defaults`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JiraSettings {
    /// The site: `https://acme.atlassian.net` (Data Center: with its context
    /// path if it has one, `https://jira.acme.com/jira`).
    pub base_url: String,
    #[serde(default)]
    pub deployment: JiraDeployment,
    /// The Atlassian account the API token belongs to (Cloud only).
    #[serde(default)]
    pub email: Option<String>,
    /// Cloud: an API token of `email`; Data Center: a personal access token.
    pub api_token: String,
    /// The project new issues go to when the item's team has no mapping.
    pub project_key: String,
    /// The issue type of new issues ("Task").
    #[serde(default = "default_issue_type")]
    pub issue_type: String,
    /// The secret registered with the Jira webhook.
    pub webhook_secret: String,
    /// Team (Debrief) → project key.
    #[serde(default)]
    pub teams: BTreeMap<String, String>,
    /// Owner (Debrief) → Jira user: accountId (Cloud) or user name (Data Center).
    #[serde(default)]
    pub users: BTreeMap<String, String>,
    /// Time limit of one call to Jira, connection included.
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
}

fn default_issue_type() -> String {
    "Task".into()
}

fn default_timeout_seconds() -> u64 {
    10
}

impl fmt::Debug for JiraSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JiraSettings")
            .field("base_url", &self.base_url)
            .field("deployment", &self.deployment)
            .field("email", &self.email)
            .field("api_token", &"***")
            .field("project_key", &self.project_key)
            .field("issue_type", &self.issue_type)
            .field("webhook_secret", &"***")
            .field("teams", &self.teams)
            .field("users", &self.users)
            .field("timeout_seconds", &self.timeout_seconds)
            .finish()
    }
}

/// A project key as Jira allows it: an upper-case letter, then upper-case
/// letters, digits or `_`.
pub fn is_project_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && key.len() <= 255
}

impl JiraSettings {
    /// Every rule of the section, each message naming its key.
    pub fn validate(&self) -> Result<(), String> {
        self.site()?;
        if self.api_token.trim().is_empty() {
            return Err("trackers.jira.api_token must not be empty".into());
        }
        if self.deployment == JiraDeployment::Cloud
            && self.email.as_deref().is_none_or(|e| !e.contains('@'))
        {
            return Err(
                "trackers.jira.email must be the e-mail address of the API token's account \
                 (Jira Cloud signs in with e-mail and API token)"
                    .into(),
            );
        }
        if !is_project_key(&self.project_key) {
            return Err(format!(
                "trackers.jira.project_key {:?} is not a Jira project key (upper-case letters, \
                 digits and _, starting with a letter)",
                self.project_key
            ));
        }
        if let Some((team, key)) = self.teams.iter().find(|(_, key)| !is_project_key(key)) {
            return Err(format!(
                "trackers.jira.teams.{team:?}: {key:?} is not a Jira project key"
            ));
        }
        if self.issue_type.trim().is_empty() {
            return Err("trackers.jira.issue_type must not be empty".into());
        }
        if self.webhook_secret.len() < 16 {
            return Err("trackers.jira.webhook_secret must be at least 16 characters".into());
        }
        if self.timeout_seconds == 0 || self.timeout_seconds > 300 {
            return Err("trackers.jira.timeout_seconds must be between 1 and 300".into());
        }
        Ok(())
    }

    /// `base_url` parsed: http(s), a host, no query, no trailing `/`.
    pub fn site(&self) -> Result<Url, String> {
        let url = Url::parse(self.base_url.trim_end_matches('/')).map_err(|e| {
            format!(
                "trackers.jira.base_url {:?} is not a URL: {e}",
                self.base_url
            )
        })?;
        if !matches!(url.scheme(), "http" | "https")
            || url.host_str().is_none()
            || url.query().is_some()
            || !url.username().is_empty()
        {
            return Err(format!(
                "trackers.jira.base_url {:?} must be an http(s) URL with a host and no query \
                 or user name",
                self.base_url
            ));
        }
        Ok(url)
    }

    /// The project an item of `team` goes to.
    pub fn project_for_team(&self, team: Option<&str>) -> &str {
        team.and_then(|t| self.teams.get(t))
            .unwrap_or(&self.project_key)
    }

    /// The Jira user of a Debrief owner, if the mapping has one.
    pub fn user_for_owner(&self, owner: &str) -> Option<&str> {
        self.users.get(owner).map(String::as_str)
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_seconds)
    }
}

#[cfg(test)]
mod tests {
    use figment::{
        Figment,
        providers::{Format, Toml},
    };

    use super::*;

    const SECTION: &str = r#"
        base_url = "https://acme.atlassian.net/"
        email = "debrief-bot@acme.com"
        api_token = "ATATT3x-token"
        project_key = "OPS"
        webhook_secret = "0123456789abcdef"
        [teams]
        security = "SEC"
        [users]
        "alice@example.com" = "5b10a2844c20165700ede21g"
    "#;

    #[test]
    fn the_section_reads_with_its_defaults() {
        let settings: JiraSettings = Figment::from(Toml::string(SECTION)).extract().unwrap();
        assert_eq!(settings.deployment, JiraDeployment::Cloud);
        assert_eq!(settings.issue_type, "Task");
        assert_eq!(settings.timeout(), Duration::from_secs(10));
        assert_eq!(settings.validate(), Ok(()));
        assert_eq!(
            settings.site().unwrap().as_str(),
            "https://acme.atlassian.net/"
        );
        assert_eq!(settings.project_for_team(Some("security")), "SEC");
        assert_eq!(settings.project_for_team(None), "OPS");
        let shown = format!("{settings:?}");
        assert!(!shown.contains("ATATT3x-token") && !shown.contains("0123456789abcdef"));
    }

    #[test]
    fn unknown_keys_and_data_center_rules() {
        let typo = format!("projet_key = \"OPS\"\n{SECTION}");
        let error = Figment::from(Toml::string(&typo))
            .extract::<JiraSettings>()
            .unwrap_err();
        assert!(error.to_string().contains("projet_key"), "{error}");
        let dc = SECTION.replace(
            "email = \"debrief-bot@acme.com\"",
            "deployment = \"data_center\"",
        );
        let settings: JiraSettings = Figment::from(Toml::string(&dc)).extract().unwrap();
        assert_eq!(settings.deployment, JiraDeployment::DataCenter);
        assert_eq!(settings.validate(), Ok(()), "no e-mail needed with a PAT");
    }
}
