//! Foreign formats (Statuspage, PagerDuty, Opsgenie, Slack) and Debrief's own
//! bundle, read into domain records.
//!
//! A parser reads from a [`Read`] on a blocking thread and hands records to
//! the import service through a [`Sink`] (a bounded channel), timeline events
//! in chunks of [`CHUNK`]: a file of any size is held only a window at a time.
//! Every error names the position in the file (a JSON path such as
//! `timeline[41].kind`) and the reason.
//!
//! A foreign value longer than Debrief stores is never a reason to refuse a
//! file: [`Fit`] shortens it, keeps it whole in an internal `note` event and
//! reports the shortening ([`Shortening`]).

pub mod bundle;
mod error;
pub mod mrkdwn;
pub mod opsgenie;
pub mod pagerduty;
pub mod slack;
pub mod statuspage;

pub use error::ImportError;

use std::io::{BufRead, Read, Seek};

use chrono::{DateTime, NaiveDate, Utc};
use poem_openapi::Enum;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    domain::{
        CleanupKind, CleanupStatus, EventBody, EventSource, ExternalId, IncidentStatus, Milestones,
        Name, PostmortemKind, PostmortemStatus, Priority, PublicStatus, RemediationKind,
        RemediationStatus, Severity, StatusMessage, TimelineKind, Title, Visibility,
        text::TextRule,
    },
    entities::sitrep::RoleSnapshot,
};

/// Timeline events per chunk handed to the import service (and per INSERT).
pub const CHUNK: usize = 1000;

/// The formats `POST /api/v1/imports/{format}` and `debrief import` read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ImportFormat {
    /// Debrief's own whole-incident bundle (`openapi/bundle.schema.json`).
    Bundle,
    /// Atlassian Statuspage incident JSON: a page's `incidents.json` or one incident.
    Statuspage,
    /// PagerDuty incident log entries (`{"log_entries": [...]}`).
    Pagerduty,
    /// A Slack channel export: a JSON array of messages, or a workspace
    /// export ZIP with `channel` naming the channel.
    Slack,
    /// An Opsgenie incident timeline (`{"data": {"entries": [...]}}`).
    Opsgenie,
}

impl ImportFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bundle => "bundle",
            Self::Statuspage => "statuspage",
            Self::Pagerduty => "pagerduty",
            Self::Slack => "slack",
            Self::Opsgenie => "opsgenie",
        }
    }

    /// Whether the format carries its own incidents (bundle, Statuspage) or
    /// adds to an incident named with `incident` (PagerDuty, Opsgenie, Slack).
    pub fn needs_target(self) -> bool {
        matches!(self, Self::Pagerduty | Self::Slack | Self::Opsgenie)
    }
}

impl std::str::FromStr for ImportFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "bundle" => Ok(Self::Bundle),
            "statuspage" => Ok(Self::Statuspage),
            "pagerduty" => Ok(Self::Pagerduty),
            "slack" => Ok(Self::Slack),
            "opsgenie" => Ok(Self::Opsgenie),
            other => Err(format!(
                "{other:?} is not one of: bundle, statuspage, pagerduty, opsgenie, slack"
            )),
        }
    }
}

/// How an imported incident is recognised on the next import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncidentKey {
    /// A bundle names the incident's own id.
    Id(Uuid),
    /// A foreign record: (`statuspage`, its id).
    External { source: EventSource, id: String },
}

/// An incident as a file describes it.
#[derive(Debug, Clone)]
pub struct IncidentRecord {
    /// Where it sits in the file (`incident`, `incidents[2]`), for errors.
    pub path: String,
    pub key: IncidentKey,
    /// A bundle sets every field; a foreign format only `title`, `severity`,
    /// `status`, `affected_components` and the milestones it knows, and the
    /// other fields of an existing incident are kept.
    pub exact: bool,
    pub title: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub customer_impact: Option<String>,
    pub affected_components: Vec<String>,
    pub chat_room_url: Option<String>,
    pub labels: Vec<String>,
    pub milestones: Milestones,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
}

/// A timeline event. Bundle events carry their id; foreign ones are
/// recognised by `(source, external_id)`.
#[derive(Debug, Clone)]
pub struct EventRecord {
    pub id: Option<Uuid>,
    pub occurred_at: DateTime<Utc>,
    pub kind: TimelineKind,
    pub body: String,
    pub author: Option<String>,
    pub source: EventSource,
    pub external_id: Option<String>,
    pub visibility: Visibility,
}

#[derive(Debug, Clone)]
pub struct RoleRecord {
    pub id: Uuid,
    pub role: String,
    pub person: String,
    pub assigned_at: DateTime<Utc>,
    pub relieved_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct SitrepRecord {
    pub id: Uuid,
    pub version: i32,
    pub summary: String,
    pub customer_impact: Option<String>,
    pub roles: Vec<RoleSnapshot>,
    pub open_issues: Vec<String>,
    pub resolved_issues: Vec<String>,
    pub current_actions: Vec<String>,
    pub next_update_due: Option<DateTime<Utc>>,
    pub author: Option<String>,
    pub status_update_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// A public status update; bundle ones carry their id, Statuspage ones are
/// recognised by `(source, external_id)`.
#[derive(Debug, Clone)]
pub struct StatusUpdateRecord {
    pub id: Option<Uuid>,
    pub status: PublicStatus,
    pub message: String,
    pub affected_components: Vec<String>,
    pub posted_at: DateTime<Utc>,
    pub source: Option<String>,
    pub external_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CleanupRecord {
    pub id: Uuid,
    pub kind: CleanupKind,
    pub description: String,
    pub owner: Option<String>,
    pub status: CleanupStatus,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct RemediationRecord {
    pub id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub kind: RemediationKind,
    pub priority: Priority,
    pub owner: Option<String>,
    pub team: Option<String>,
    pub due_date: Option<NaiveDate>,
    pub status: RemediationStatus,
    pub reason: Option<String>,
    pub tracker_url: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct PostmortemRecord {
    pub id: Uuid,
    pub kind: PostmortemKind,
    pub owner: Option<String>,
    pub due_date: Option<NaiveDate>,
    pub review_at: Option<DateTime<Utc>>,
    pub status: PostmortemStatus,
    /// Set exactly when `status` is `not_required`.
    pub not_required_reason: Option<String>,
    pub slug: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub first_published_at: Option<DateTime<Utc>>,
    /// In document order.
    pub sections: Vec<SectionRecord>,
    /// The contributing factors in the post-mortem's order; `None` when the
    /// file does not say (the stored ones stay).
    pub contributing_factors: Option<Vec<FactorRecord>>,
    pub created_at: DateTime<Utc>,
}

/// A contributing factor a post-mortem names, with its note.
#[derive(Debug, Clone)]
pub struct FactorRecord {
    pub factor: crate::domain::FactorSlug,
    pub note: String,
}

#[derive(Debug, Clone)]
pub struct SectionRecord {
    pub id: Uuid,
    pub key: String,
    pub title: String,
    pub body: String,
    pub visibility: Visibility,
}

/// What a parser hands to the import service, in file order. Records after
/// an [`Record::Incident`] belong to that incident; PagerDuty and Slack
/// records belong to the incident named with `incident`.
#[derive(Debug)]
pub enum Record {
    Incident(Box<IncidentRecord>),
    Roles(Vec<RoleRecord>),
    Sitreps(Vec<SitrepRecord>),
    StatusUpdates(Vec<StatusUpdateRecord>),
    CleanupItems(Vec<CleanupRecord>),
    RemediationItems(Vec<RemediationRecord>),
    Postmortem(Box<PostmortemRecord>),
    /// A chunk of timeline events; `path` locates the first one
    /// (`timeline[1000]`) for errors the database raises.
    Events {
        path: String,
        events: Vec<EventRecord>,
    },
    /// Milestones to set on the incident where they are still unset
    /// (PagerDuty's first trigger and acknowledgement); `path` names the
    /// entry that set each.
    FillMilestones {
        detected_at: Option<(DateTime<Utc>, String)>,
        acknowledged_at: Option<(DateTime<Utc>, String)>,
    },
    /// Entries that were read and deliberately left out (Slack joins and
    /// bots, PagerDuty entry types with no timeline meaning, hidden Opsgenie
    /// entries).
    Skipped(u64),
    /// Values that were longer than Debrief stores and were shortened (each
    /// kept whole in an internal `note` event).
    Shortened(Vec<Shortening>),
}

/// Where a parser sends records; `Err` means the import stopped on the other
/// side and parsing should stop too.
pub type Sink<'a> = &'a mut dyn FnMut(Record) -> Result<(), Stopped>;

/// The import service stopped listening (it failed, or the client went away).
#[derive(Debug, Clone, Copy)]
pub struct Stopped;

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the import stopped")
    }
}

/// What a parse needs besides the file.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// The channel to read from a Slack workspace export ZIP.
    pub channel: Option<String>,
    /// The most a ZIP may hold once unpacked, in bytes (the import limit).
    pub max_unpacked_bytes: u64,
}

/// Read a whole file of `format` and send its records to `sink`.
pub fn parse(
    format: ImportFormat,
    options: &ParseOptions,
    reader: impl Read + Seek,
    sink: Sink<'_>,
) -> Result<(), ImportError> {
    let reader = std::io::BufReader::with_capacity(256 * 1024, reader);
    match format {
        ImportFormat::Bundle => bundle::parse(reader, sink),
        ImportFormat::Statuspage => statuspage::parse(reader, sink),
        ImportFormat::Pagerduty => pagerduty::parse(reader, sink),
        ImportFormat::Opsgenie => opsgenie::parse(reader, sink),
        ImportFormat::Slack => slack::parse(reader, options, sink),
    }
}

/// The first bytes of every ZIP archive (a local file header).
pub const ZIP_MAGIC: &[u8; 4] = b"PK\x03\x04";

/// Whether the buffered file starts like a ZIP archive; reads nothing away.
pub fn starts_as_zip(reader: &mut impl BufRead) -> std::io::Result<bool> {
    Ok(reader.fill_buf()?.starts_with(ZIP_MAGIC))
}

// Debrief's own limits on what it stores: those of the domain's text types
// (`domain/text.rs`), which the API's spec states too (the bundle schema,
// `openapi/bundle.schema.json`, repeats them by hand; a test in
// `bundle/tests.rs` compares the two). Each is at least what the sources
// document (docs/imports.md, "Limits: real exports come in whole"); a longer
// value is shortened by [`Fit`], never refused.

/// Characters of an incident title (a column of this width).
pub const TITLE_MAX: usize = Title::MAX_CHARS;
/// Characters of a name: a component, a person.
pub const NAME_MAX: usize = Name::MAX_CHARS;
/// Components per incident and per status update.
pub const LIST_MAX: usize = 100;
/// Characters of a timeline event body.
pub const BODY_MAX: usize = EventBody::MAX_CHARS;
/// Characters of a status update message.
pub const MESSAGE_MAX: usize = StatusMessage::MAX_CHARS;
/// Characters of an external id; ids are matched, so a longer one is refused.
pub const EXTERNAL_ID_MAX: usize = ExternalId::MAX_CHARS;

/// What a [`Shortening`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum LengthUnit {
    /// The value was a text of `from` characters, shortened to `to`.
    Characters,
    /// The value was a list of `from` entries, of which the first `to` are kept.
    Entries,
}

/// A value longer than Debrief stores, shortened on import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shortening {
    /// Where the value is in the file (`incidents[0].components[3].name`).
    pub field: String,
    /// Its length in the file.
    pub from: u64,
    /// Its length as stored.
    pub to: u64,
    pub unit: LengthUnit,
}

/// Fits foreign values into Debrief's limits: a text longer than its limit
/// is cut (ending in `…`), a list longer than its limit keeps its first
/// entries, and each whole value is kept to be stored as an internal `note`
/// event ([`Fit::flush`]). Blank or NUL-holding required values are still
/// errors: those are not a question of length.
#[derive(Debug, Default)]
pub(crate) struct Fit {
    shortened: Vec<Shortening>,
    /// The whole values, with the index of their shortening.
    kept: Vec<(usize, String)>,
}

impl Fit {
    /// The rules of Debrief's texts without their lengths: a longer text is
    /// shortened, not refused.
    const REQUIRED: TextRule = TextRule::required(usize::MAX);
    const OPTIONAL: TextRule = TextRule::optional(usize::MAX);

    /// A required text of at most `max` characters (trimmed).
    pub fn required(
        &mut self,
        field: &str,
        value: &str,
        max: usize,
    ) -> Result<String, ImportError> {
        let whole = Self::REQUIRED.check(field, value.to_string())?;
        Ok(self.shorten(field, whole, max))
    }

    /// An optional text of at most `max` characters; blank becomes `None`.
    pub fn optional(
        &mut self,
        field: &str,
        value: Option<String>,
        max: usize,
    ) -> Result<Option<String>, ImportError> {
        let value = value.map(|v| Self::OPTIONAL.check(field, v)).transpose()?;
        Ok(value
            .filter(|v| !crate::domain::text::is_blank(v))
            .map(|v| self.shorten(field, v, max)))
    }

    /// A list of at most `max_items` names of at most `max_len` characters;
    /// `entry(i)` names the i-th entry's field (`components[3].name`).
    pub fn list(
        &mut self,
        field: &str,
        values: Vec<String>,
        max_items: usize,
        max_len: usize,
        entry: impl Fn(usize) -> String,
    ) -> Result<Vec<String>, ImportError> {
        let total = values.len();
        let mut kept = Vec::with_capacity(total.min(max_items));
        let mut rest = Vec::new();
        for (i, value) in values.into_iter().enumerate() {
            let at = entry(i);
            if i < max_items {
                kept.push(self.required(&at, &value, max_len)?);
            } else {
                rest.push(Self::REQUIRED.check(&at, value)?);
            }
        }
        if !rest.is_empty() {
            self.kept.push((self.shortened.len(), rest.join("\n")));
            self.shortened.push(Shortening {
                field: field.to_string(),
                from: total as u64,
                to: max_items as u64,
                unit: LengthUnit::Entries,
            });
        }
        Ok(kept)
    }

    fn shorten(&mut self, field: &str, value: String, max: usize) -> String {
        let length = value.chars().count();
        if length <= max {
            return value;
        }
        let mut short: String = value.chars().take(max.saturating_sub(1)).collect();
        short.push('…');
        self.kept.push((self.shortened.len(), value));
        self.shortened.push(Shortening {
            field: field.to_string(),
            from: length as u64,
            to: max as u64,
            unit: LengthUnit::Characters,
        });
        short
    }

    /// Hand over what was shortened since the last flush: each whole value
    /// as internal `note` events at `at` (split into parts of at most
    /// [`BODY_MAX`] characters), recognised by external ids derived from
    /// `id`; and the list, for the report.
    pub fn flush(
        &mut self,
        source: EventSource,
        id: &str,
        at: DateTime<Utc>,
        index: usize,
        events: &mut EventBatcher,
        sink: Sink<'_>,
    ) -> Result<(), Stopped> {
        if self.shortened.is_empty() {
            return Ok(());
        }
        for (n, (which, whole)) in std::mem::take(&mut self.kept).into_iter().enumerate() {
            let s = &self.shortened[which];
            let unit = match s.unit {
                LengthUnit::Characters => "characters",
                LengthUnit::Entries => "entries",
            };
            let head = format!(
                "Kept whole on import: `{}` has {} {unit}; Debrief stores {}.",
                s.field, s.from, s.to
            );
            // Room for the head and a part number in every part.
            let room = BODY_MAX - head.chars().count() - 40;
            let chars: Vec<char> = whole.chars().collect();
            let parts: Vec<String> = chars.chunks(room).map(|c| c.iter().collect()).collect();
            for (k, part) in parts.iter().enumerate() {
                let (body, suffix) = if parts.len() == 1 {
                    (format!("{head}\n\n{part}"), format!("kept-{n}"))
                } else {
                    (
                        format!("{head} (part {} of {})\n\n{part}", k + 1, parts.len()),
                        format!("kept-{n}.{}", k + 1),
                    )
                };
                let record = EventRecord {
                    id: None,
                    occurred_at: at,
                    kind: TimelineKind::Note,
                    body,
                    author: None,
                    source,
                    external_id: Some(derived_id(id, &suffix)),
                    visibility: Visibility::Internal,
                };
                events.push(index, record, sink)?;
            }
        }
        sink(Record::Shortened(std::mem::take(&mut self.shortened)))
    }
}

/// An external id for a record derived from another (`id~suffix`); one that
/// would be longer than [`EXTERNAL_ID_MAX`] becomes its SHA-256 (hex).
pub(crate) fn derived_id(id: &str, suffix: &str) -> String {
    let derived = format!("{id}~{suffix}");
    if derived.chars().count() <= EXTERNAL_ID_MAX {
        return derived;
    }
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(derived.as_bytes()))
}

/// A parse error at `path`, as an [`ImportError`] naming the field.
pub(crate) fn parse_error(path: &str, err: serde_json::Error) -> ImportError {
    let path = if path.is_empty() { "." } else { path }.to_string();
    if err.is_io() {
        return ImportError::Read(std::io::Error::from(err));
    }
    if err.is_syntax() || err.is_eof() {
        let at = if path == "." {
            String::new()
        } else {
            format!(" (in `{path}`)")
        };
        return ImportError::malformed(
            if path == "." {
                "body".to_string()
            } else {
                path
            },
            format!("not valid JSON{at}: {err}"),
        );
    }
    let message = err.to_string();
    let mut field = if path == "." { String::new() } else { path };
    if let Some(rest) = message.strip_prefix("missing field `")
        && let Some(name) = rest.split('`').next()
    {
        field = if field.is_empty() {
            name.to_string()
        } else {
            format!("{field}.{name}")
        };
    }
    if field.is_empty() {
        field = "body".into();
    }
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_string();
    ImportError::invalid(field.clone(), format!("`{field}`: {message}"))
}

/// Deserialize a whole (small) document with paths on errors.
pub(crate) fn read_document<T: serde::de::DeserializeOwned>(
    reader: impl Read,
) -> Result<T, ImportError> {
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut track = serde_path_to_error::Track::new();
    let value = T::deserialize(serde_path_to_error::Deserializer::new(&mut de, &mut track));
    match value {
        Ok(v) => {
            de.end().map_err(|e| parse_error("", e))?;
            Ok(v)
        }
        Err(err) => Err(parse_error(&track.path().to_string(), err)),
    }
}

/// Deserialize a part of a document already read, under `prefix`
/// (`incidents[2]`), with paths on errors.
pub(crate) fn from_value<T: serde::de::DeserializeOwned>(
    prefix: &str,
    value: serde_json::Value,
) -> Result<T, ImportError> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|err| {
        let path = err.path().to_string();
        let path = match (prefix.is_empty(), path.as_str()) {
            (true, _) => path,
            (false, ".") => prefix.to_string(),
            (false, p) if p.starts_with('[') => format!("{prefix}{p}"),
            (false, p) => format!("{prefix}.{p}"),
        };
        parse_error(&path, err.into_inner())
    })
}

/// A record could not be handed over: the import stopped on the other side.
pub(crate) fn stopped(_: Stopped) -> ImportError {
    ImportError::Stopped
}

/// Send events in chunks of [`CHUNK`].
pub(crate) struct EventBatcher {
    prefix: String,
    first: usize,
    events: Vec<EventRecord>,
}

impl EventBatcher {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            first: 0,
            events: Vec::with_capacity(CHUNK),
        }
    }

    /// Add the event at `index`; a full chunk is sent.
    pub fn push(
        &mut self,
        index: usize,
        event: EventRecord,
        sink: Sink<'_>,
    ) -> Result<(), Stopped> {
        if self.events.is_empty() {
            self.first = index;
        }
        self.events.push(event);
        if self.events.len() >= CHUNK {
            self.flush(sink)?;
        }
        Ok(())
    }

    pub fn flush(&mut self, sink: Sink<'_>) -> Result<(), Stopped> {
        if self.events.is_empty() {
            return Ok(());
        }
        let events = std::mem::replace(&mut self.events, Vec::with_capacity(CHUNK));
        sink(Record::Events {
            path: format!("{}[{}]", self.prefix, self.first),
            events,
        })
    }
}
