//! `[trackers]`: the issue trackers remediation items are synced with
//! (`[trackers.github]` …), which items go to which, and the
//! reconciliation schedule. Tokens and webhook secrets are [`Secret`]s:
//! never in `Debug` output or logs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret, check_http_url};
use crate::{domain::TrackerKind, trackers::jira::JiraSettings};

/// The trackers, and how items are sent to them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TrackerSettings {
    /// GitHub or GitHub Enterprise; unset: not used.
    pub github: Option<GithubSettings>,
    /// Jira Cloud or Data Center; unset: not used. Its section is defined
    /// with its back end (`trackers::jira::JiraSettings`).
    pub jira: Option<JiraSettings>,
    /// The tracker of items whose team has no choice in `teams` and that
    /// were created without `tracker`; unset: such items are not synced.
    pub default: Option<TrackerKind>,
    /// Team → tracker.
    pub teams: BTreeMap<String, TrackerKind>,
    /// When every linked open issue is fetched again, to catch up missed
    /// webhooks (cron, seconds first; in `digest.time_zone`).
    pub reconcile_schedule: String,
    /// Timeout of one call to a tracker, in seconds.
    pub timeout_seconds: u64,
    /// Largest webhook body accepted at `/hooks/…`, in bytes.
    pub webhook_body_limit_bytes: usize,
}

impl Default for TrackerSettings {
    fn default() -> Self {
        Self {
            github: None,
            jira: None,
            default: None,
            teams: BTreeMap::new(),
            reconcile_schedule: "0 */30 * * * *".into(),
            timeout_seconds: 10,
            webhook_body_limit_bytes: 1024 * 1024,
        }
    }
}

/// `[trackers.github]`: one GitHub (or GitHub Enterprise) installation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct GithubSettings {
    /// The REST API: `https://api.github.com`, or
    /// `https://HOST/api/v3` for GitHub Enterprise Server.
    pub api_url: String,
    /// Where people open issues; unset: from `api_url`
    /// (`https://github.com`, or the Enterprise host).
    pub web_url: Option<String>,
    /// A fine-grained token with "Issues: read and write" on the repositories.
    pub token: Secret,
    /// The repository (`owner/name`) of items whose team has none in `teams`.
    pub repository: String,
    /// The secret of the repository's webhook (`X-Hub-Signature-256`).
    pub webhook_secret: Secret,
    /// Team → repository.
    pub teams: BTreeMap<String, String>,
    /// Owner (as Debrief stores it) → GitHub login, for assignees.
    pub users: BTreeMap<String, String>,
}

impl Default for GithubSettings {
    fn default() -> Self {
        Self {
            api_url: "https://api.github.com".into(),
            web_url: None,
            token: Secret::new(""),
            repository: String::new(),
            webhook_secret: Secret::new(""),
            teams: BTreeMap::new(),
            users: BTreeMap::new(),
        }
    }
}

/// `owner/name`, as GitHub spells a repository.
pub fn is_repository(text: &str) -> bool {
    let valid = |part: &str| {
        !part.is_empty()
            && part.len() <= 100
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    matches!(text.split_once('/'), Some((owner, name)) if valid(owner) && valid(name))
}

impl GithubSettings {
    fn check(&self) -> Result<(), ConfigError> {
        check_http_url("trackers.github.api_url", Some(&self.api_url))?;
        check_http_url("trackers.github.web_url", self.web_url.as_deref())?;
        for (key, secret) in [
            ("trackers.github.token", &self.token),
            ("trackers.github.webhook_secret", &self.webhook_secret),
        ] {
            if secret.expose().trim().is_empty() {
                return Err(ConfigError(format!(
                    "{key} must be set when [trackers.github] is"
                )));
            }
        }
        if !is_repository(&self.repository) {
            return Err(ConfigError(format!(
                "trackers.github.repository: {:?} is not a repository as `owner/name`",
                self.repository
            )));
        }
        for (team, repository) in &self.teams {
            if !is_repository(repository) {
                return Err(ConfigError(format!(
                    "trackers.github.teams.{team}: {repository:?} is not a repository as `owner/name`"
                )));
            }
        }
        for (owner, login) in &self.users {
            if login.trim().is_empty() || login.len() > 39 {
                return Err(ConfigError(format!(
                    "trackers.github.users.{owner}: {login:?} is not a GitHub login"
                )));
            }
        }
        Ok(())
    }
}

impl TrackerSettings {
    /// Whether `kind` has its section.
    pub fn configured(&self, kind: TrackerKind) -> bool {
        match kind {
            TrackerKind::Github => self.github.is_some(),
            TrackerKind::Jira => self.jira.is_some(),
        }
    }

    pub(super) fn check(&self) -> Result<(), ConfigError> {
        if let Some(github) = &self.github {
            github.check()?;
        }
        if let Some(jira) = &self.jira {
            jira.validate().map_err(ConfigError)?;
        }
        crate::domain::CronSpec::parse(&self.reconcile_schedule).map_err(|err| {
            ConfigError(format!(
                "trackers.reconcile_schedule: {:#}",
                anyhow::Error::new(err)
            ))
        })?;
        if self.timeout_seconds == 0 || self.timeout_seconds > 300 {
            return Err(ConfigError(
                "trackers.timeout_seconds must be between 1 and 300".into(),
            ));
        }
        if self.webhook_body_limit_bytes == 0 {
            return Err(ConfigError(
                "trackers.webhook_body_limit_bytes must be greater than 0".into(),
            ));
        }
        let choices = self
            .default
            .iter()
            .map(|kind| ("trackers.default".to_string(), *kind))
            .chain(
                self.teams
                    .iter()
                    .map(|(team, kind)| (format!("trackers.teams.{team}"), *kind)),
            );
        for (key, kind) in choices {
            if !self.configured(kind) {
                return Err(ConfigError(format!(
                    "{key}: \"{kind}\" is not configured (add a [trackers.{kind}] section)"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[expect(
    clippy::result_large_err,
    reason = "figment::Jail closures must return figment::Error"
)]
mod tests {
    use crate::config::Settings;

    #[test]
    fn github_comes_from_the_environment_and_its_secrets_stay_hidden() {
        figment::Jail::expect_with(|jail| {
            jail.set_env(
                "DEBRIEF_TRACKERS__GITHUB__API_URL",
                "https://ghe.example.com/api/v3",
            );
            jail.set_env("DEBRIEF_TRACKERS__GITHUB__TOKEN", "ghp_sup3rs3cret");
            jail.set_env("DEBRIEF_TRACKERS__GITHUB__REPOSITORY", "acme/ops");
            jail.set_env("DEBRIEF_TRACKERS__GITHUB__WEBHOOK_SECRET", "hook-s3cret");
            jail.set_env("DEBRIEF_TRACKERS__DEFAULT", "github");
            let settings = Settings::load(None).expect("loads");
            let github = settings.trackers.github.as_ref().expect("configured");
            assert_eq!(github.api_url, "https://ghe.example.com/api/v3");
            assert_eq!(github.token.expose(), "ghp_sup3rs3cret");
            let shown = format!("{settings:?}");
            assert!(
                !shown.contains("sup3rs3cret") && !shown.contains("hook-s3cret"),
                "{shown}"
            );
            Ok(())
        });
    }

    #[test]
    fn a_bad_tracker_setting_is_named_at_start() {
        for (vars, key) in [
            (
                vec![("DEBRIEF_TRACKERS__GITHUB__REPOSITORY", "acme/ops")],
                "trackers.github.token",
            ),
            (
                vec![
                    ("DEBRIEF_TRACKERS__GITHUB__TOKEN", "t"),
                    ("DEBRIEF_TRACKERS__GITHUB__WEBHOOK_SECRET", "s"),
                    ("DEBRIEF_TRACKERS__GITHUB__REPOSITORY", "acme"),
                ],
                "trackers.github.repository",
            ),
            (
                vec![("DEBRIEF_TRACKERS__DEFAULT", "jira")],
                "trackers.default",
            ),
            (
                vec![("DEBRIEF_TRACKERS__RECONCILE_SCHEDULE", "every hour")],
                "trackers.reconcile_schedule",
            ),
        ] {
            figment::Jail::expect_with(|jail| {
                for (name, value) in &vars {
                    jail.set_env(name, value);
                }
                let err = Settings::load(None).expect_err("refused").to_string();
                assert!(err.starts_with(key), "{key}: {err}");
                Ok(())
            });
        }
    }
}
