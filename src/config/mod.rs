//! Settings: built-in defaults, then an optional TOML file, then `DEBRIEF_*`
//! environment variables (nested keys use `__`, e.g.
//! `DEBRIEF_CUSTOMER_UPDATE_MINUTES__SEV1=15`).

use std::{fmt, net::SocketAddr, path::PathBuf};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

mod factors;
mod sections;
mod trackers;

pub use factors::{DEFAULT_FACTORS, Factor, FactorSettings, MAX_FACTORS};
pub use sections::*;
pub use trackers::{GithubSettings, TrackerSettings, is_repository};

/// A configuration that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

/// A value that must never appear in logs or debug output.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself: call only where it is used, never to print it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Address to listen on.
    pub listen: String,
    /// Directory for the SQLite file, the bootstrap token and generated files.
    pub data_dir: PathBuf,
    /// `postgres://…` switches to PostgreSQL; `sqlite://…` names another SQLite
    /// file. Unset: `<data_dir>/debrief.db`.
    pub database_url: Option<Secret>,
    /// Largest connection pool to the database.
    pub database_max_connections: u32,
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: usize,
    /// Largest accepted import file (`POST /api/v1/imports/…`), in bytes.
    /// Imports are streamed, so this bounds the upload, not memory.
    pub import_limit_bytes: u64,
    /// Log line format.
    pub log_format: LogFormat,
    /// Who may read `/metrics`.
    pub metrics: MetricsAccess,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    pub shutdown_grace_seconds: u64,
    /// Public status update interval per severity.
    pub customer_update_minutes: CustomerUpdateMinutes,
    /// Default due period of remediation items per priority.
    pub remediation_due_days: RemediationDueDays,
    /// Create and print an admin token on the first start.
    pub bootstrap_token: bool,
    /// On PostgreSQL, how long (ms) a token found live is trusted before it
    /// is read again: a revocation made on another replica is refused
    /// everywhere within this time (at once on the replica that made it).
    /// 0 reads the token on every request. SQLite sees every revocation at
    /// once whatever this says.
    pub token_recheck_ms: u64,
    /// A search for one word or prefix (or alternatives joined by `OR`)
    /// with no filter ranks this many of the newest matching timeline
    /// events and as many of the newest other matching records; several
    /// words, a phrase or a filter rank every match.
    pub search_rank_window: u64,
    /// The weekly Ops Review digest.
    pub digest: DigestSettings,
    /// Outgoing mail.
    pub mail: MailSettings,
    /// Scheduler and outbox worker.
    pub jobs: JobSettings,
    /// Overdue remediation reminders.
    pub reminders: ReminderSettings,
    /// Document rendering: time zone, paper, templates, redaction domains.
    pub documents: DocumentSettings,
    /// Post-mortem due periods per severity.
    pub postmortem_due: PostmortemDue,
    /// Timeouts, connection cap, render queue, redaction rule caps.
    pub limits: LimitSettings,
    /// Outgoing webhook calls: the addresses they may reach.
    pub webhooks: WebhookSettings,
    /// Imports: which imported history needs no post-mortem.
    pub imports: ImportSettings,
    /// The taxonomy of contributing factors.
    pub factors: FactorSettings,
    /// Issue trackers remediation items are synced with.
    pub trackers: TrackerSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            database_max_connections: 8,
            token_recheck_ms: 1_000,
            search_rank_window: 2_000,
            body_limit_bytes: 16 * 1024 * 1024,
            import_limit_bytes: 1024 * 1024 * 1024,
            log_format: LogFormat::Human,
            metrics: MetricsAccess::Public,
            shutdown_grace_seconds: 30,
            customer_update_minutes: CustomerUpdateMinutes::default(),
            remediation_due_days: RemediationDueDays::default(),
            bootstrap_token: true,
            digest: DigestSettings::default(),
            mail: MailSettings::default(),
            jobs: JobSettings::default(),
            reminders: ReminderSettings::default(),
            documents: DocumentSettings::default(),
            postmortem_due: PostmortemDue::default(),
            limits: LimitSettings::default(),
            webhooks: WebhookSettings::default(),
            imports: ImportSettings::default(),
            factors: FactorSettings::default(),
            trackers: TrackerSettings::default(),
        }
    }
}

impl Settings {
    /// Defaults, then `file` (if given), then the environment.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError(format!(
                    "configuration file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        let mut settings: Settings = figment
            .merge(Env::prefixed("DEBRIEF_").split("__"))
            .extract()
            .map_err(|err| ConfigError(err.to_string()))?;
        if let Ok(list) = std::env::var("DEBRIEF_DIGEST_RECIPIENTS") {
            for address in list.split(',').map(str::trim).filter(|a| !a.is_empty()) {
                if !settings.digest.recipients.iter().any(|r| r == address) {
                    settings.digest.recipients.push(address.to_string());
                }
            }
        }
        settings.validate()?;
        Ok(settings)
    }

    /// Every value usable, or the first that is not, named by its key.
    fn validate(&self) -> Result<(), ConfigError> {
        self.listen.parse::<SocketAddr>().map_err(|err| {
            ConfigError(format!(
                "listen: {:?} is not host:port ({err})",
                self.listen
            ))
        })?;
        for (key, value) in [
            ("body_limit_bytes", self.body_limit_bytes as u64),
            ("import_limit_bytes", self.import_limit_bytes),
            ("search_rank_window", self.search_rank_window),
            (
                "database_max_connections",
                u64::from(self.database_max_connections),
            ),
        ] {
            if value == 0 {
                return Err(ConfigError(format!("{key} must be greater than 0")));
            }
        }
        self.digest.check()?;
        self.reminders.check()?;
        self.mail.check()?;
        self.jobs.check()?;
        self.limits.check()?;
        self.display_zone()?;
        self.postmortem_due.check()?;
        self.factors.check()?;
        self.trackers.check()?;
        self.documents.check()
    }

    /// The display time zone of documents.
    pub fn display_zone(&self) -> Result<chrono_tz::Tz, ConfigError> {
        self.documents
            .display_time_zone
            .parse::<chrono_tz::Tz>()
            .map_err(|_| {
                ConfigError(format!(
                    "documents.display_time_zone: {:?} is not an IANA time zone (e.g. UTC, Europe/Paris)",
                    self.documents.display_time_zone
                ))
            })
    }

    /// The database to connect to.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose().to_string(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("debrief.db").display()
            ),
        }
    }
}

#[cfg(test)]
#[expect(
    clippy::result_large_err,
    reason = "figment::Jail closures must return figment::Error"
)]
mod tests {
    use super::*;

    #[test]
    fn example_file_matches_the_defaults() {
        // In a jail: other tests set DEBRIEF_* variables, and the jail's lock
        // keeps them out of this one.
        figment::Jail::expect_with(|_| {
            let path =
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("debrief.example.toml");
            let loaded = Settings::load(Some(&path)).expect("the example configuration loads");
            let defaults = Settings::default();
            assert_eq!(loaded.listen, defaults.listen);
            assert_eq!(loaded.body_limit_bytes, defaults.body_limit_bytes);
            assert_eq!(loaded.customer_update_minutes.sev1, Some(30));
            assert_eq!(loaded.customer_update_minutes.sev4, Some(0));
            assert_eq!(loaded.documents.font_dirs, defaults.documents.font_dirs);
            assert_eq!(loaded.factors, defaults.factors);
            assert_eq!(loaded.search_rank_window, defaults.search_rank_window);
            Ok(())
        });
    }

    #[test]
    fn font_dirs_default_to_the_system_font_directories() {
        figment::Jail::expect_with(|jail| {
            let dirs = Settings::load(None).expect("loads").documents.font_dirs;
            assert_eq!(
                dirs,
                [
                    PathBuf::from("/usr/share/fonts"),
                    PathBuf::from("/usr/local/share/fonts")
                ]
            );
            jail.set_env("DEBRIEF_DOCUMENTS__FONT_DIRS", "[\"/opt/fonts\"]");
            let dirs = Settings::load(None).expect("loads").documents.font_dirs;
            assert_eq!(dirs, [PathBuf::from("/opt/fonts")]);
            Ok(())
        });
    }

    #[test]
    fn imported_history_day_from_the_file_and_the_environment() {
        figment::Jail::expect_with(|jail| {
            let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
            assert_eq!(
                Settings::load(None).expect("loads").imports.history_before,
                None
            );
            jail.create_file(
                "debrief.toml",
                "[imports]\nhistory_before = \"2026-01-01\"\n",
            )?;
            let path = std::path::Path::new("debrief.toml");
            let s = Settings::load(Some(path)).expect("loads");
            assert_eq!(s.imports.history_before, day("2026-01-01"));
            jail.set_env("DEBRIEF_IMPORTS__HISTORY_BEFORE", "2025-07-01");
            let s = Settings::load(Some(path)).expect("loads");
            assert_eq!(
                s.imports.history_before,
                day("2025-07-01"),
                "the environment wins"
            );
            jail.set_env("DEBRIEF_IMPORTS__HISTORY_BEFORE", "2026-02-30");
            let err = Settings::load(Some(path)).expect_err("not a day");
            assert!(
                err.to_string().to_lowercase().contains("history_before"),
                "the error names the key: {err}"
            );
            Ok(())
        });
    }

    #[test]
    fn file_then_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "debrief.toml",
                "listen = \"0.0.0.0:9000\"\ndata_dir = \"/var/lib/debrief\"\n[customer_update_minutes]\nsev1 = 10\n",
            )?;
            jail.set_env("DEBRIEF_LISTEN", "127.0.0.1:9100");
            jail.set_env("DEBRIEF_DATABASE_URL", "postgres://u:pw@db/debrief");
            jail.set_env("DEBRIEF_CUSTOMER_UPDATE_MINUTES__SEV2", "15");
            let s = Settings::load(Some(std::path::Path::new("debrief.toml"))).expect("loads");
            assert_eq!(s.listen, "127.0.0.1:9100", "environment wins over the file");
            assert_eq!(s.data_dir, PathBuf::from("/var/lib/debrief"));
            assert_eq!(s.customer_update_minutes.sev1, Some(10));
            assert_eq!(s.customer_update_minutes.sev2, Some(15));
            assert_eq!(
                s.customer_update_minutes.sev3,
                Some(240),
                "untouched keys keep defaults"
            );
            assert_eq!(s.database_url(), "postgres://u:pw@db/debrief");
            assert!(
                !format!("{s:?}").contains("pw"),
                "Debug never shows the database URL"
            );
            Ok(())
        });
    }

    #[test]
    fn bad_values_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("DEBRIEF_LISTEN", "not an address");
            assert!(
                Settings::load(None)
                    .unwrap_err()
                    .to_string()
                    .contains("listen")
            );
            jail.set_env("DEBRIEF_LISTEN", "127.0.0.1:1");
            jail.set_env("DEBRIEF_BODY_LIMIT_BYTES", "lots");
            assert!(Settings::load(None).is_err());
            Ok(())
        });
        assert!(Settings::load(Some(std::path::Path::new("/nonexistent/debrief.toml"))).is_err());
    }

    #[test]
    fn digest_recipients_come_from_the_file_and_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "debrief.toml",
                "[digest]\nrecipients = [\"leads@example.com\"]\nschedule = \"0 9 * * Mon\"\ntime_zone = \"Europe/Berlin\"\n",
            )?;
            jail.set_env(
                "DEBRIEF_DIGEST_RECIPIENTS",
                "ops@example.com, leads@example.com,,",
            );
            let s = Settings::load(Some(std::path::Path::new("debrief.toml"))).expect("loads");
            assert_eq!(
                s.digest.recipients,
                ["leads@example.com", "ops@example.com"],
                "added, without duplicates"
            );
            assert_eq!(
                s.digest.schedule, "0 9 * * Mon",
                "the 5-field form is accepted"
            );
            jail.set_env("DEBRIEF_DIGEST_RECIPIENTS", "not-an-address");
            let err = Settings::load(None).unwrap_err().to_string();
            assert!(err.contains("digest.recipients"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn webhook_allow_addresses_from_the_file_and_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "debrief.toml",
                "[webhooks]\nallow_addresses = [\"10.20.0.0/16\", \"192.168.1.7\"]\n",
            )?;
            let shown = || -> Vec<String> {
                Settings::load(Some(std::path::Path::new("debrief.toml")))
                    .expect("loads")
                    .webhooks
                    .allow_addresses
                    .iter()
                    .map(ToString::to_string)
                    .collect()
            };
            assert_eq!(shown(), ["10.20.0.0/16", "192.168.1.7/32"]);
            jail.set_env("DEBRIEF_WEBHOOKS__ALLOW_ADDRESSES", "127.0.0.0/8, ::1/128");
            assert_eq!(shown(), ["127.0.0.0/8", "::1/128"], "the environment wins");
            jail.set_env("DEBRIEF_WEBHOOKS__ALLOW_ADDRESSES", "intranet");
            let err = Settings::load(None).unwrap_err().to_string();
            assert!(err.contains("intranet"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn bad_schedules_and_zones_are_refused() {
        for (key, value, named) in [
            (
                "DEBRIEF_DIGEST__SCHEDULE",
                "every monday",
                "digest.schedule",
            ),
            (
                "DEBRIEF_DIGEST__SCHEDULE",
                "0 0 25 * * Mon",
                "digest.schedule",
            ),
            (
                "DEBRIEF_DIGEST__TIME_ZONE",
                "Mars/Olympus",
                "digest.time_zone",
            ),
            (
                "DEBRIEF_REMINDERS__SCHEDULE",
                "9 * * Mon",
                "reminders.schedule",
            ),
            ("DEBRIEF_MAIL__FROM", "nobody", "mail.from"),
            (
                "DEBRIEF_MAIL__LINK_BASE_URL",
                "debrief.example.com",
                "mail.link_base_url",
            ),
        ] {
            figment::Jail::expect_with(|jail| {
                jail.set_env(key, value);
                let err = Settings::load(None).unwrap_err().to_string();
                assert!(err.contains(named), "{value}: {err}");
                Ok(())
            });
        }
    }
}
