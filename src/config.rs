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

/// How documents are rendered and published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DocumentSettings {
    /// IANA time zone in which documents show times (`UTC`, `Europe/Paris`).
    pub display_time_zone: String,
    /// Paper of PDF documents: `a4` or `letter`.
    pub paper_size: crate::reports::pdf::PaperSize,
    /// Directories searched, with their subdirectories, for the fonts PDF
    /// documents fall back to for characters DejaVu lacks (CJK, emoji …).
    /// Empty: DejaVu only.
    pub font_dirs: Vec<PathBuf>,
    /// Directory whose template files replace the embedded ones of the same
    /// name (see `reports/templates/`).
    pub templates_dir: Option<PathBuf>,
    /// Host names under these domains are redacted from public documents.
    pub internal_domains: Vec<String>,
    /// Absolute base URL of the public pages, for the Atom feed's links
    /// (`https://status.example.com`). Unset: links are relative.
    pub public_base_url: Option<String>,
    /// The organisation named at the top of every public page.
    pub organisation: Option<String>,
    /// A PNG, JPEG or SVG logo shown beside it on public pages (inlined
    /// into the page: public pages load nothing from elsewhere).
    pub logo: Option<PathBuf>,
}

impl Default for DocumentSettings {
    fn default() -> Self {
        Self {
            display_time_zone: "UTC".into(),
            paper_size: crate::reports::pdf::PaperSize::A4,
            font_dirs: crate::reports::pdf::system_font_dirs(),
            templates_dir: None,
            internal_domains: Vec::new(),
            public_base_url: None,
            organisation: None,
            logo: None,
        }
    }
}

/// Largest logo file: it is inlined into every public page.
pub const MAX_LOGO_BYTES: u64 = 256 * 1024;

/// The media type of a logo file, by its extension; `None` when it is not
/// a PNG, JPEG or SVG file.
pub fn logo_media_type(path: &std::path::Path) -> Option<&'static str> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "png" => Some("image/png"),
        "jpg" | "jpeg" => Some("image/jpeg"),
        "svg" => Some("image/svg+xml"),
        _ => None,
    }
}

/// When a post-mortem is due after its incident started, per severity:
/// `"3 days"`, `"5 business days"` (Monday to Friday) or `"none"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostmortemDue {
    pub sev1: String,
    pub sev2: String,
    pub sev3: String,
    pub sev4: String,
}

impl Default for PostmortemDue {
    fn default() -> Self {
        Self {
            sev1: "3 days".into(),
            sev2: "5 business days".into(),
            sev3: "10 business days".into(),
            sev4: "none".into(),
        }
    }
}

/// A due period as configured in [`PostmortemDue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuePeriod {
    /// No due date.
    None,
    /// This many calendar days.
    Days(u32),
    /// This many business days (Monday to Friday).
    BusinessDays(u32),
}

impl DuePeriod {
    /// Parse `"N days"`, `"N business days"` or `"none"`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let count = |n: &str| {
            n.parse::<u32>()
                .ok()
                .filter(|n| *n <= 366)
                .ok_or_else(|| format!("{text:?}: {n:?} is not a number of days up to 366"))
        };
        match words.as_slice() {
            ["none"] => Ok(DuePeriod::None),
            [n, "day" | "days"] => Ok(DuePeriod::Days(count(n)?)),
            [n, "business", "day" | "days"] => Ok(DuePeriod::BusinessDays(count(n)?)),
            _ => Err(format!(
                "{text:?} is not \"N days\", \"N business days\" or \"none\""
            )),
        }
    }
}

impl PostmortemDue {
    /// The period for a severity (`sev1` … `sev4`); checked at load time.
    pub fn period(&self, severity: crate::domain::Severity) -> DuePeriod {
        use crate::domain::Severity;
        let text = match severity {
            Severity::Sev1 => &self.sev1,
            Severity::Sev2 => &self.sev2,
            Severity::Sev3 => &self.sev3,
            Severity::Sev4 => &self.sev4,
        };
        DuePeriod::parse(text).unwrap_or(DuePeriod::None)
    }
}

/// The weekly Ops Review digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DigestSettings {
    /// When the digest runs: a cron expression with seconds first
    /// (`0 0 9 * * Mon`) or the common 5-field form (`0 9 * * Mon`).
    pub schedule: String,
    /// IANA time zone of the schedule and of the week's boundaries.
    pub time_zone: String,
    /// Who receives it; `DEBRIEF_DIGEST_RECIPIENTS` (comma-separated) adds more.
    pub recipients: Vec<String>,
}

impl Default for DigestSettings {
    fn default() -> Self {
        Self {
            schedule: "0 0 9 * * Mon".into(),
            time_zone: "UTC".into(),
            recipients: Vec::new(),
        }
    }
}

/// How mail leaves the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    /// Write each message as an `.eml` file under `<data_dir>/outbox/` (the default).
    #[default]
    File,
    /// Send over SMTP (see `mail.smtp`).
    Smtp,
    /// Keep messages in memory: for tests.
    Memory,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption at all: only for a relay on localhost or a test sink.
    Plain,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SmtpSettings {
    pub host: String,
    /// Unset: 587 for STARTTLS, 465 for TLS, 25 for plain.
    pub port: Option<u16>,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Seconds a connection or a command may take.
    pub timeout_seconds: u64,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            host: "localhost".into(),
            port: None,
            security: SmtpSecurity::Starttls,
            username: None,
            password: None,
            timeout_seconds: 30,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MailSettings {
    pub transport: MailTransport,
    /// The `From:` of every message.
    pub from: String,
    /// Absolute base URL at which people reach this Debrief service
    /// (`https://debrief.internal.example.com`): mails link to the incident,
    /// remediation item or digest under `<base>/api/v1/…`. Unset: no links.
    /// Internal on purpose: `documents.public_base_url` is for customers.
    pub link_base_url: Option<String>,
    pub smtp: SmtpSettings,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            transport: MailTransport::File,
            from: "Debrief <debrief@localhost>".into(),
            link_base_url: None,
            smtp: SmtpSettings::default(),
        }
    }
}

/// The scheduler and the outbox worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobSettings {
    /// Run the scheduler and the outbox worker inside `debrief serve`.
    pub enabled: bool,
    /// Seconds between two passes of the scheduler and the outbox.
    pub tick_seconds: u64,
    /// Seconds a claimed run or a leased delivery stays claimed; after
    /// that another replica (or the restarted process) takes it over.
    pub claim_seconds: u64,
    /// Delivery attempts before a delivery is marked `failed`.
    pub max_attempts: u32,
    /// First retry delay in seconds; it doubles at each attempt (at most a day).
    pub retry_base_seconds: u64,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            tick_seconds: 30,
            claim_seconds: 600,
            max_attempts: 12,
            retry_base_seconds: 60,
        }
    }
}

/// Reminders to owners of overdue remediation items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReminderSettings {
    /// One reminder per owner per run of this schedule (weekly by default),
    /// in `digest.time_zone`.
    pub schedule: String,
    /// Owners that are not e-mail addresses get `owner@<owner_domain>`;
    /// unset, they get no reminder.
    pub owner_domain: Option<String>,
}

impl Default for ReminderSettings {
    fn default() -> Self {
        Self {
            schedule: "0 0 8 * * Mon".into(),
            owner_domain: None,
        }
    }
}

/// Outgoing webhook calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct WebhookSettings {
    /// Addresses that webhook targets may reach although they are not
    /// public (loopback, private, link-local, unique-local …): CIDR ranges
    /// (`10.20.0.0/16`) or single addresses. Empty by default: public
    /// addresses only. In the environment, a comma-separated list.
    #[serde(deserialize_with = "ip_networks")]
    pub allow_addresses: Vec<ipnet::IpNet>,
}

/// A list of CIDR ranges or single addresses, as a list or as one
/// comma-separated string (the form an environment variable gives).
fn ip_networks<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<ipnet::IpNet>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrText {
        List(Vec<String>),
        Text(String),
    }
    let items = match ListOrText::deserialize(deserializer)? {
        ListOrText::List(items) => items,
        ListOrText::Text(text) => text.split(',').map(str::to_string).collect(),
    };
    items
        .iter()
        .map(|item| item.trim())
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "{item:?} is not an IP address or a CIDR range (10.0.0.0/8, ::1/128)"
                    ))
                })
        })
        .collect()
}

/// Imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ImportSettings {
    /// The post-mortem of an imported incident resolved before this day
    /// (`"2026-01-01"`, 00:00 UTC) is marked `not_required` as imported
    /// history, unless the import names another day (`history_before`).
    /// Unset: none is.
    pub history_before: Option<chrono::NaiveDate>,
}

/// Bounds on what clients may hold: connections, time, concurrent renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LimitSettings {
    /// Seconds from the first byte of a request to the end of its headers.
    pub header_timeout_seconds: u64,
    /// Seconds a request body may pause between two chunks.
    pub body_timeout_seconds: u64,
    /// Seconds a keep-alive connection may wait for its next request.
    pub idle_timeout_seconds: u64,
    /// Client connections open at once (lowered to fit the process's
    /// open-file limit); past it, new connections wait in the backlog.
    pub max_connections: usize,
    /// Documents and digests rendered at once.
    pub renders: usize,
    /// Renders that may wait for a turn; past it, `503` with `Retry-After`.
    pub render_queue: usize,
    /// Redaction rules per scope (global, or one incident).
    pub redaction_rules: usize,
    /// Compiled size in bytes of all the patterns of one scope together.
    pub redaction_pattern_bytes: usize,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            header_timeout_seconds: 10,
            body_timeout_seconds: 30,
            idle_timeout_seconds: 60,
            max_connections: 10_000,
            renders: 2,
            render_queue: 32,
            redaction_rules: 200,
            redaction_pattern_bytes: 1024 * 1024,
        }
    }
}

impl LimitSettings {
    pub fn connections(&self) -> crate::connections::ConnectionLimits {
        crate::connections::ConnectionLimits {
            header_timeout: std::time::Duration::from_secs(self.header_timeout_seconds),
            idle_timeout: std::time::Duration::from_secs(self.idle_timeout_seconds),
            max_connections: self.max_connections,
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
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            database_max_connections: 8,
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
        crate::domain::CronSpec::parse(&self.digest.schedule)
            .map_err(|err| ConfigError(format!("digest.schedule: {err}")))?;
        crate::domain::CronSpec::parse(&self.reminders.schedule)
            .map_err(|err| ConfigError(format!("reminders.schedule: {err}")))?;
        crate::domain::parse_time_zone(&self.digest.time_zone)
            .map_err(|err| ConfigError(format!("digest.time_zone: {err}")))?;
        for address in &self.digest.recipients {
            address.parse::<lettre::Address>().map_err(|err| {
                ConfigError(format!(
                    "digest.recipients: {address:?} is not an e-mail address ({err})"
                ))
            })?;
        }
        self.mail
            .from
            .parse::<lettre::message::Mailbox>()
            .map_err(|err| ConfigError(format!("mail.from: {:?}: {err}", self.mail.from)))?;
        if self.jobs.tick_seconds == 0
            || self.jobs.claim_seconds == 0
            || self.jobs.max_attempts == 0
        {
            return Err(ConfigError(
                "jobs.tick_seconds, jobs.claim_seconds and jobs.max_attempts must be greater than 0"
                    .into(),
            ));
        }
        if self.import_limit_bytes == 0 {
            return Err(ConfigError(
                "import_limit_bytes must be greater than 0".into(),
            ));
        }
        let l = &self.limits;
        for (key, value) in [
            (
                "limits.header_timeout_seconds",
                l.header_timeout_seconds as usize,
            ),
            (
                "limits.body_timeout_seconds",
                l.body_timeout_seconds as usize,
            ),
            (
                "limits.idle_timeout_seconds",
                l.idle_timeout_seconds as usize,
            ),
            ("limits.max_connections", l.max_connections),
            ("limits.renders", l.renders),
            ("limits.redaction_rules", l.redaction_rules),
            ("limits.redaction_pattern_bytes", l.redaction_pattern_bytes),
        ] {
            if value == 0 {
                return Err(ConfigError(format!("{key} must be greater than 0")));
            }
        }
        if self.database_max_connections == 0 {
            return Err(ConfigError(
                "database_max_connections must be greater than 0".into(),
            ));
        }
        self.display_zone()?;
        for (key, value) in [
            ("sev1", &self.postmortem_due.sev1),
            ("sev2", &self.postmortem_due.sev2),
            ("sev3", &self.postmortem_due.sev3),
            ("sev4", &self.postmortem_due.sev4),
        ] {
            DuePeriod::parse(value)
                .map_err(|err| ConfigError(format!("postmortem_due.{key}: {err}")))?;
        }
        if let Some(logo) = &self.documents.logo {
            if logo_media_type(logo).is_none() {
                return Err(ConfigError(format!(
                    "documents.logo: {} is not a .png, .jpg or .svg file",
                    logo.display()
                )));
            }
            let size = std::fs::metadata(logo)
                .map_err(|err| ConfigError(format!("documents.logo: {}: {err}", logo.display())))?
                .len();
            if size > MAX_LOGO_BYTES {
                return Err(ConfigError(format!(
                    "documents.logo: {} is {size} bytes; a logo may be {MAX_LOGO_BYTES} at most \
                     (it is inlined into every public page)",
                    logo.display()
                )));
            }
        }
        if let Some(url) = &self.documents.public_base_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError(format!(
                "documents.public_base_url: {url:?} is not an http(s) URL"
            )));
        }
        if let Some(url) = &self.mail.link_base_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError(format!(
                "mail.link_base_url: {url:?} is not an http(s) URL"
            )));
        }
        Ok(())
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
