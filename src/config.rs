//! Settings: built-in defaults, then an optional TOML file, then `DEBRIEF_*`
//! environment variables (nested keys use `__`, e.g.
//! `DEBRIEF_CUSTOMER_UPDATE_MINUTES__SEV1=15`).

use std::{fmt, net::SocketAddr, path::PathBuf};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Who may read `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MetricsAccess {
    /// Anyone who can reach the port (the default, as Prometheus scrapers expect).
    #[default]
    Public,
    /// A bearer token with the `read` scope is required.
    Token,
    /// `/metrics` is not served.
    Off,
}

/// How long an open incident may go without a public status update before it
/// counts as `customer_update_overdue`, per severity. `None` or 0 means never.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerUpdateMinutes {
    pub sev1: Option<u32>,
    pub sev2: Option<u32>,
    pub sev3: Option<u32>,
    pub sev4: Option<u32>,
}

impl Default for CustomerUpdateMinutes {
    fn default() -> Self {
        Self {
            sev1: Some(30),
            sev2: Some(60),
            sev3: Some(240),
            sev4: None,
        }
    }
}

/// The default due period of a remediation item, in days from its
/// creation, per priority. `None` or 0 means no default due date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemediationDueDays {
    pub p0: Option<u32>,
    pub p1: Option<u32>,
    pub p2: Option<u32>,
    pub p3: Option<u32>,
}

impl Default for RemediationDueDays {
    fn default() -> Self {
        Self {
            p0: Some(7),
            p1: Some(30),
            p2: Some(90),
            p3: None,
        }
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
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            database_max_connections: 8,
            body_limit_bytes: 16 * 1024 * 1024,
            log_format: LogFormat::Human,
            metrics: MetricsAccess::Public,
            shutdown_grace_seconds: 30,
            customer_update_minutes: CustomerUpdateMinutes::default(),
            remediation_due_days: RemediationDueDays::default(),
            bootstrap_token: true,
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
        let settings: Settings = figment
            .merge(Env::prefixed("DEBRIEF_").split("__"))
            .extract()
            .map_err(|err| ConfigError(err.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.listen.parse::<SocketAddr>().map_err(|err| {
            ConfigError(format!(
                "listen: {:?} is not host:port ({err})",
                self.listen
            ))
        })?;
        if self.body_limit_bytes == 0 {
            return Err(ConfigError(
                "body_limit_bytes must be greater than 0".into(),
            ));
        }
        if self.database_max_connections == 0 {
            return Err(ConfigError(
                "database_max_connections must be greater than 0".into(),
            ));
        }
        Ok(())
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
}
