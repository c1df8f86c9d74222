//! The sections of the settings (`[digest]`, `[mail]`, `[limits]` …): each
//! with its defaults and the check of its own values.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

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

impl DocumentSettings {
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        if let Some(logo) = &self.logo {
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
        check_http_url("documents.public_base_url", self.public_base_url.as_deref())
    }
}

/// An optional setting that, when given, must be an http(s) URL.
pub(super) fn check_http_url(key: &str, url: Option<&str>) -> Result<(), ConfigError> {
    match url {
        Some(url) if !(url.starts_with("http://") || url.starts_with("https://")) => {
            Err(ConfigError(format!("{key}: {url:?} is not an http(s) URL")))
        }
        _ => Ok(()),
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

    pub(super) fn check(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("sev1", &self.sev1),
            ("sev2", &self.sev2),
            ("sev3", &self.sev3),
            ("sev4", &self.sev4),
        ] {
            DuePeriod::parse(value)
                .map_err(|err| ConfigError(format!("postmortem_due.{key}: {err}")))?;
        }
        Ok(())
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

impl DigestSettings {
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        // `{:#}`: the schedule's error and its cause, on one line.
        crate::domain::CronSpec::parse(&self.schedule).map_err(|err| {
            ConfigError(format!("digest.schedule: {:#}", anyhow::Error::new(err)))
        })?;
        crate::domain::parse_time_zone("digest.time_zone", &self.time_zone)
            .map_err(|err| ConfigError(format!("{}: {err}", err.field)))?;
        for address in &self.recipients {
            address.parse::<lettre::Address>().map_err(|err| {
                ConfigError(format!(
                    "digest.recipients: {address:?} is not an e-mail address ({err})"
                ))
            })?;
        }
        Ok(())
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

impl MailSettings {
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        self.from
            .parse::<lettre::message::Mailbox>()
            .map_err(|err| ConfigError(format!("mail.from: {:?}: {err}", self.from)))?;
        check_http_url("mail.link_base_url", self.link_base_url.as_deref())
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

impl JobSettings {
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        if self.tick_seconds == 0 || self.claim_seconds == 0 || self.max_attempts == 0 {
            return Err(ConfigError(
                "jobs.tick_seconds, jobs.claim_seconds and jobs.max_attempts must be greater than 0"
                    .into(),
            ));
        }
        Ok(())
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

impl ReminderSettings {
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        crate::domain::CronSpec::parse(&self.schedule).map_err(|err| {
            ConfigError(format!("reminders.schedule: {:#}", anyhow::Error::new(err)))
        })?;
        Ok(())
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

    pub(super) fn check(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            (
                "header_timeout_seconds",
                self.header_timeout_seconds as usize,
            ),
            ("body_timeout_seconds", self.body_timeout_seconds as usize),
            ("idle_timeout_seconds", self.idle_timeout_seconds as usize),
            ("max_connections", self.max_connections),
            ("renders", self.renders),
            ("redaction_rules", self.redaction_rules),
            ("redaction_pattern_bytes", self.redaction_pattern_bytes),
        ] {
            if value == 0 {
                return Err(ConfigError(format!("limits.{key} must be greater than 0")));
            }
        }
        Ok(())
    }
}
