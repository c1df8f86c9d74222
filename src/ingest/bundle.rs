//! Debrief's own whole-incident bundle: the wire types (shared with the
//! export, `GET /api/v1/incidents/{ref}/bundle`) and a streaming reader.
//!
//! The bundle is one JSON object. Its `timeline` array is read event by
//! event and handed on in chunks, so it must come after `incident` (the
//! export writes it last, and it sorts last when a writer orders keys
//! alphabetically); the other sections are small, read whole, and may come
//! in any order.
//! The schema is `openapi/bundle.schema.json`.

use std::{fmt, io::Read};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{
    Deserialize, Deserializer, Serialize,
    de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor},
};
use uuid::Uuid;

use super::{FactorRecord, PostmortemRecord, SectionRecord};

use super::{
    CleanupRecord, EventBatcher, EventRecord, ImportError, IncidentKey, IncidentRecord, Record,
    RemediationRecord, RoleRecord, Sink, SitrepRecord, StatusUpdateRecord, parse_error,
};
use crate::{
    clock::micros,
    config::MAX_FACTORS,
    domain::{
        CleanupKind, CleanupStatus, Description, EventBody, EventSource, ExternalId, FactorNote,
        FactorSlug, HttpUrl, IncidentStatus, ListEntry, LongText, Milestones, Name,
        NotRequiredReason, PostmortemKind, PostmortemStatus, Priority, PublicStatus, Reason,
        RemediationKind, RemediationStatus, RoleName, SectionBody, SectionKey, SectionTitle,
        Severity, ShortText, SitrepSummary, StatusMessage, TimelineKind, Title, UpdateSource,
        Visibility, text::parse_list,
    },
    entities::sitrep::RoleSnapshot,
};

/// The value of a bundle's `format` key.
pub const BUNDLE_FORMAT: &str = "debrief-bundle";
/// The bundle format version this build reads and writes.
pub const BUNDLE_VERSION: u32 = 1;

/// A whole bundle, as the export writes it (`timeline` last).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bundle {
    pub format: String,
    pub version: u32,
    pub incident: BundleIncident,
    pub roles: Vec<BundleRole>,
    pub sitreps: Vec<BundleSitrep>,
    pub status_updates: Vec<BundleStatusUpdate>,
    pub cleanup_items: Vec<BundleCleanupItem>,
    pub remediation_items: Vec<BundleRemediationItem>,
    /// The post-mortem and its sections; `null` when the incident has none.
    pub postmortem: Option<BundlePostmortem>,
    pub timeline: Vec<BundleEvent>,
}

/// The post-mortem: its fields and its sections in document order.
/// Published documents (snapshots) are not part of a bundle: they belong to
/// the database that published them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundlePostmortem {
    pub id: Uuid,
    pub kind: PostmortemKind,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub due_date: Option<NaiveDate>,
    #[serde(default)]
    pub review_at: Option<DateTime<Utc>>,
    pub status: PostmortemStatus,
    /// Why no post-mortem is needed: required with `status`
    /// `not_required`, refused with any other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_required_reason: Option<String>,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub published_at: Option<DateTime<Utc>>,
    /// The first publication; taken as `published_at` when absent.
    #[serde(default)]
    pub first_published_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub sections: Vec<BundleSection>,
    /// The contributing factors in the post-mortem's order. Absent (a
    /// bundle written before factors existed): an import leaves the stored
    /// ones as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contributing_factors: Option<Vec<BundleFactor>>,
    pub created_at: DateTime<Utc>,
}

/// A contributing factor: the taxonomy's id (any well-formed id is kept,
/// whatever the importing Debrief's taxonomy) and its note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleFactor {
    pub factor: String,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleSection {
    pub id: Uuid,
    pub key: String,
    pub title: String,
    #[serde(default)]
    pub body: String,
    pub visibility: Visibility,
}

impl BundlePostmortem {
    fn into_record(self) -> Result<PostmortemRecord, ImportError> {
        let p = |f: &str| format!("postmortem.{f}");
        let mut keys = Vec::new();
        let sections = self
            .sections
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let f = |x: &str| format!("postmortem.sections[{i}].{x}");
                let key = SectionKey::parse(&f("key"), s.key)?.into_inner();
                if keys.contains(&key) {
                    return Err(ImportError::invalid(
                        f("key"),
                        format!("section key {key:?} appears twice"),
                    ));
                }
                keys.push(key.clone());
                Ok(SectionRecord {
                    id: s.id,
                    key,
                    title: SectionTitle::parse(&f("title"), s.title)?.into_inner(),
                    body: SectionBody::parse_optional(&f("body"), Some(s.body))?
                        .unwrap_or_default(),
                    visibility: s.visibility,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(PostmortemRecord {
            id: self.id,
            kind: self.kind,
            owner: ShortText::parse_optional(&p("owner"), self.owner)?,
            due_date: self.due_date,
            review_at: opt_micros(self.review_at),
            not_required_reason: not_required_reason(self.status, self.not_required_reason)?,
            status: self.status,
            slug: ShortText::parse_optional(&p("slug"), self.slug)?,
            published_at: opt_micros(self.published_at),
            first_published_at: opt_micros(self.first_published_at.or(self.published_at)),
            sections,
            contributing_factors: self.contributing_factors.map(factor_records).transpose()?,
            created_at: micros(self.created_at),
        })
    }
}

/// A bundle post-mortem's contributing factors, each checked: a
/// well-formed id, named once, a note within the API's limit.
fn factor_records(list: Vec<BundleFactor>) -> Result<Vec<FactorRecord>, ImportError> {
    if list.len() > MAX_FACTORS {
        return Err(ImportError::invalid(
            "postmortem.contributing_factors",
            format!("at most {MAX_FACTORS} contributing factors"),
        ));
    }
    let mut records: Vec<FactorRecord> = Vec::with_capacity(list.len());
    for (i, f) in list.into_iter().enumerate() {
        let at = |x: &str| format!("postmortem.contributing_factors[{i}].{x}");
        let factor = FactorSlug::parse(&at("factor"), &f.factor)?;
        if records.iter().any(|r| r.factor == factor) {
            return Err(ImportError::invalid(
                at("factor"),
                format!("factor {:?} appears twice", factor.as_str()),
            ));
        }
        let note = FactorNote::parse_optional(&at("note"), Some(f.note))?.unwrap_or_default();
        records.push(FactorRecord { factor, note });
    }
    Ok(records)
}

/// A bundle post-mortem's `not_required_reason`: there exactly when its
/// status is `not_required`.
fn not_required_reason(
    status: PostmortemStatus,
    reason: Option<String>,
) -> Result<Option<String>, ImportError> {
    const FIELD: &str = "postmortem.not_required_reason";
    match (status, reason) {
        (PostmortemStatus::NotRequired, Some(reason)) => {
            Ok(Some(NotRequiredReason::parse(FIELD, reason)?.into_inner()))
        }
        (PostmortemStatus::NotRequired, None) => Err(ImportError::invalid(
            FIELD,
            "a `not_required` post-mortem needs `not_required_reason`",
        )),
        (_, None) => Ok(None),
        (status, Some(_)) => Err(ImportError::invalid(
            FIELD,
            format!("`not_required_reason` goes with `status` `not_required`, not `{status}`"),
        )),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleIncident {
    pub id: Uuid,
    pub title: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    #[serde(default)]
    pub customer_impact: Option<String>,
    #[serde(default)]
    pub affected_components: Vec<String>,
    #[serde(default)]
    pub chat_room_url: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub detected_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub acknowledged_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub mitigated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub resolved_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleRole {
    pub id: Uuid,
    pub role: String,
    pub person: String,
    pub assigned_at: DateTime<Utc>,
    #[serde(default)]
    pub relieved_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleSitrep {
    pub id: Uuid,
    pub version: i32,
    pub summary: String,
    #[serde(default)]
    pub customer_impact: Option<String>,
    #[serde(default)]
    pub roles: Vec<RoleSnapshot>,
    #[serde(default)]
    pub open_issues: Vec<String>,
    #[serde(default)]
    pub resolved_issues: Vec<String>,
    #[serde(default)]
    pub current_actions: Vec<String>,
    #[serde(default)]
    pub next_update_due: Option<DateTime<Utc>>,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub status_update_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleStatusUpdate {
    pub id: Uuid,
    pub status: PublicStatus,
    pub message: String,
    #[serde(default)]
    pub affected_components: Vec<String>,
    pub posted_at: DateTime<Utc>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleCleanupItem {
    pub id: Uuid,
    pub kind: CleanupKind,
    pub description: String,
    #[serde(default)]
    pub owner: Option<String>,
    pub status: CleanupStatus,
    #[serde(default)]
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleRemediationItem {
    pub id: Uuid,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    pub kind: RemediationKind,
    pub priority: Priority,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub team: Option<String>,
    #[serde(default)]
    pub due_date: Option<NaiveDate>,
    pub status: RemediationStatus,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub tracker_url: Option<String>,
    #[serde(default)]
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleEvent {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub kind: TimelineKind,
    pub body: String,
    #[serde(default)]
    pub author: Option<String>,
    pub source: EventSource,
    #[serde(default)]
    pub external_id: Option<String>,
    pub visibility: Visibility,
}

fn opt_micros(t: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    t.map(micros)
}

/// An optional link: checked when present (a blank one is refused, as
/// it is not a URL).
fn url(field: &str, value: Option<String>) -> Result<Option<String>, ImportError> {
    Ok(value
        .map(|v| HttpUrl::parse(field, v).map(HttpUrl::into_inner))
        .transpose()?)
}

fn components(field: String, values: Vec<String>) -> Result<Vec<String>, ImportError> {
    Ok(parse_list::<ListEntry>(&field, values, 100)?)
}

impl BundleIncident {
    fn into_record(self) -> Result<IncidentRecord, ImportError> {
        let p = |f: &str| format!("incident.{f}");
        Ok(IncidentRecord {
            path: "incident".into(),
            key: IncidentKey::Id(self.id),
            exact: true,
            title: Title::parse(&p("title"), self.title)?.into_inner(),
            severity: self.severity,
            status: self.status,
            customer_impact: LongText::parse_optional(&p("customer_impact"), self.customer_impact)?,
            affected_components: components(p("affected_components"), self.affected_components)?,
            chat_room_url: url(&p("chat_room_url"), self.chat_room_url)?,
            labels: components(p("labels"), self.labels)?,
            milestones: Milestones {
                started_at: opt_micros(self.started_at),
                detected_at: opt_micros(self.detected_at),
                acknowledged_at: opt_micros(self.acknowledged_at),
                mitigated_at: opt_micros(self.mitigated_at),
                resolved_at: opt_micros(self.resolved_at),
            },
            closed_at: opt_micros(self.closed_at),
            created_at: Some(micros(self.created_at)),
        })
    }
}

impl BundleRole {
    fn into_record(self, prefix: &str) -> Result<RoleRecord, ImportError> {
        Ok(RoleRecord {
            id: self.id,
            role: RoleName::parse(&format!("{prefix}.role"), &self.role)?
                .as_str()
                .to_string(),
            person: Name::parse(&format!("{prefix}.person"), self.person)?.into_inner(),
            assigned_at: micros(self.assigned_at),
            relieved_at: opt_micros(self.relieved_at),
        })
    }
}

impl BundleSitrep {
    fn into_record(self, prefix: &str) -> Result<SitrepRecord, ImportError> {
        let p = |f: &str| format!("{prefix}.{f}");
        if self.version < 1 {
            return Err(ImportError::invalid(
                p("version"),
                format!("`{}` must be 1 or more", p("version")),
            ));
        }
        let list = |f: &str, v: Vec<String>| parse_list::<ListEntry>(&p(f), v, 200);
        Ok(SitrepRecord {
            id: self.id,
            version: self.version,
            summary: SitrepSummary::parse(&p("summary"), self.summary)?.into_inner(),
            customer_impact: LongText::parse_optional(&p("customer_impact"), self.customer_impact)?,
            roles: self.roles,
            open_issues: list("open_issues", self.open_issues)?,
            resolved_issues: list("resolved_issues", self.resolved_issues)?,
            current_actions: list("current_actions", self.current_actions)?,
            next_update_due: opt_micros(self.next_update_due),
            author: ShortText::parse_optional(&p("author"), self.author)?,
            status_update_id: self.status_update_id,
            created_at: micros(self.created_at),
        })
    }
}

impl BundleStatusUpdate {
    fn into_record(self, prefix: &str) -> Result<StatusUpdateRecord, ImportError> {
        let p = |f: &str| format!("{prefix}.{f}");
        Ok(StatusUpdateRecord {
            id: Some(self.id),
            status: self.status,
            message: StatusMessage::parse(&p("message"), self.message)?.into_inner(),
            affected_components: components(p("affected_components"), self.affected_components)?,
            posted_at: micros(self.posted_at),
            source: UpdateSource::parse_optional(&p("source"), self.source)?,
            external_id: ShortText::parse_optional(&p("external_id"), self.external_id)?,
        })
    }
}

impl BundleCleanupItem {
    fn into_record(self, prefix: &str) -> Result<CleanupRecord, ImportError> {
        let p = |f: &str| format!("{prefix}.{f}");
        Ok(CleanupRecord {
            id: self.id,
            kind: self.kind,
            description: Description::parse(&p("description"), self.description)?.into_inner(),
            owner: ShortText::parse_optional(&p("owner"), self.owner)?,
            status: self.status,
            reason: Reason::parse_optional(&p("reason"), self.reason)?,
            created_at: micros(self.created_at),
        })
    }
}

impl BundleRemediationItem {
    fn into_record(self, prefix: &str) -> Result<RemediationRecord, ImportError> {
        let p = |f: &str| format!("{prefix}.{f}");
        Ok(RemediationRecord {
            id: self.id,
            title: Title::parse(&p("title"), self.title)?.into_inner(),
            description: LongText::parse_optional(&p("description"), self.description)?,
            kind: self.kind,
            priority: self.priority,
            owner: ShortText::parse_optional(&p("owner"), self.owner)?,
            team: ShortText::parse_optional(&p("team"), self.team)?,
            due_date: self.due_date,
            status: self.status,
            reason: Reason::parse_optional(&p("reason"), self.reason)?,
            tracker_url: url(&p("tracker_url"), self.tracker_url)?,
            closed_at: opt_micros(self.closed_at),
            created_at: micros(self.created_at),
        })
    }
}

impl BundleEvent {
    fn into_record(self, index: usize) -> Result<EventRecord, ImportError> {
        let p = |f: &str| format!("timeline[{index}].{f}");
        Ok(EventRecord {
            id: Some(self.id),
            occurred_at: micros(self.occurred_at),
            kind: self.kind,
            body: EventBody::parse(&p("body"), self.body)?.into_inner(),
            author: ShortText::parse_optional(&p("author"), self.author)?,
            source: self.source,
            external_id: ExternalId::parse_optional(&p("external_id"), self.external_id)?,
            visibility: self.visibility,
        })
    }
}

/// Read a bundle, sending its records to `sink` as they are read.
pub fn parse(reader: impl Read, sink: Sink<'_>) -> Result<(), ImportError> {
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut track = serde_path_to_error::Track::new();
    let mut state = State {
        sink,
        failed: None,
        seen: Vec::new(),
        waiting: Vec::new(),
    };
    let result =
        (&mut state).deserialize(serde_path_to_error::Deserializer::new(&mut de, &mut track));
    if let Some(err) = state.failed.take() {
        return Err(err);
    }
    match result {
        Ok(()) => de.end().map_err(|e| parse_error("", e)),
        Err(err) => Err(parse_error(&track.path().to_string(), err)),
    }
}

/// The reader's state: where records go, and the first error that is not a
/// JSON error (a validation failure, or the import stopping).
struct State<'a> {
    sink: Sink<'a>,
    failed: Option<ImportError>,
    seen: Vec<&'static str>,
    /// Small sections read before `incident`.
    waiting: Vec<Record>,
}

impl State<'_> {
    /// Keep `err` and make serde stop.
    fn fail<E: de::Error>(&mut self, err: ImportError) -> E {
        self.failed.get_or_insert(err);
        E::custom("import stopped")
    }

    /// Hand a record on; sections read before the incident (JSON objects
    /// are unordered, and many writers sort keys) wait for it.
    fn send<E: de::Error>(&mut self, record: Record) -> Result<(), E> {
        let is_incident = matches!(record, Record::Incident(_));
        if !is_incident && !self.seen.contains(&"incident") {
            self.waiting.push(record);
            return Ok(());
        }
        (self.sink)(record).map_err(|s| self.fail(super::stopped(s)))?;
        if is_incident {
            for waiting in std::mem::take(&mut self.waiting) {
                (self.sink)(waiting).map_err(|s| self.fail(super::stopped(s)))?;
            }
        }
        Ok(())
    }

    /// Convert each entry of a section with its path, then send them.
    fn section<T, R, E: de::Error>(
        &mut self,
        name: &str,
        entries: Vec<T>,
        convert: impl Fn(T, &str) -> Result<R, ImportError>,
        wrap: impl FnOnce(Vec<R>) -> Record,
    ) -> Result<(), E> {
        let records = entries
            .into_iter()
            .enumerate()
            .map(|(i, e)| convert(e, &format!("{name}[{i}]")))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.fail(e))?;
        self.send(wrap(records))
    }
}

impl<'de> DeserializeSeed<'de> for &mut State<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

/// `format` must be `debrief-bundle`.
#[derive(Deserialize)]
enum FormatTag {
    #[serde(rename = "debrief-bundle")]
    Bundle,
}

/// `version` must be one this build reads.
#[derive(Deserialize)]
#[serde(try_from = "u32")]
struct VersionTag;

impl TryFrom<u32> for VersionTag {
    type Error = String;
    fn try_from(v: u32) -> Result<Self, String> {
        if v == BUNDLE_VERSION {
            Ok(VersionTag)
        } else {
            Err(format!(
                "bundle version {v} is not supported; this Debrief reads version {BUNDLE_VERSION}"
            ))
        }
    }
}

/// A key the bundle does not have: always an error, raised at the key's path.
struct UnknownKey(String);

impl<'de> DeserializeSeed<'de> for UnknownKey {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, _: D) -> Result<(), D::Error> {
        Err(de::Error::custom(format!(
            "unknown key `{}`; a bundle has format, version, incident, roles, sitreps, \
             status_updates, cleanup_items, remediation_items, postmortem and timeline",
            self.0
        )))
    }
}

/// The timeline array, read one event at a time.
struct Timeline<'x, 'a>(&'x mut State<'a>);

impl<'de> DeserializeSeed<'de> for Timeline<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Timeline<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of timeline events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let state = self.0;
        let mut batch = EventBatcher::new("timeline");
        let mut index = 0;
        while let Some(event) = seq.next_element::<BundleEvent>()? {
            let record = event.into_record(index).map_err(|e| state.fail(e))?;
            batch
                .push(index, record, &mut *state.sink)
                .map_err(|s| state.fail(super::stopped(s)))?;
            index += 1;
        }
        batch
            .flush(&mut *state.sink)
            .map_err(|s| state.fail(super::stopped(s)))
    }
}

impl<'de> Visitor<'de> for &mut State<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Debrief bundle (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            let Some(name) = BUNDLE_KEYS.iter().find(|k| **k == key).copied() else {
                map.next_value_seed(UnknownKey(key))?;
                continue;
            };
            self.enter(name)?;
            self.read_section(name, &mut map)?;
        }
        self.check_required()
    }
}

/// The keys of a bundle.
const BUNDLE_KEYS: [&str; 10] = [
    "format",
    "version",
    "incident",
    "roles",
    "sitreps",
    "status_updates",
    "cleanup_items",
    "remediation_items",
    "postmortem",
    "timeline",
];

impl State<'_> {
    /// Note that the section `name` is read: once, and the timeline after
    /// the incident.
    fn enter<E: de::Error>(&mut self, name: &'static str) -> Result<(), E> {
        if self.seen.contains(&name) {
            return Err(self.fail(ImportError::invalid(
                name,
                format!("`{name}` appears twice in the bundle"),
            )));
        }
        if name == "timeline" && !self.seen.contains(&"incident") {
            return Err(self.fail(ImportError::invalid(
                name,
                "`timeline` must come after `incident`: the timeline is streamed into \
                 the incident as it is read (the export writes it last)",
            )));
        }
        self.seen.push(name);
        Ok(())
    }

    /// Read the value of the section `name` and hand on its records.
    fn read_section<'de, A: MapAccess<'de>>(
        &mut self,
        name: &str,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match name {
            "format" => {
                map.next_value::<FormatTag>()?;
            }
            "version" => {
                map.next_value::<VersionTag>()?;
            }
            "incident" => {
                let incident = map.next_value::<BundleIncident>()?;
                let record = incident.into_record().map_err(|e| self.fail(e))?;
                self.send(Record::Incident(Box::new(record)))?;
            }
            "roles" => {
                let v = map.next_value::<Vec<BundleRole>>()?;
                self.section("roles", v, BundleRole::into_record, Record::Roles)?;
            }
            "sitreps" => {
                let v = map.next_value::<Vec<BundleSitrep>>()?;
                self.section("sitreps", v, BundleSitrep::into_record, Record::Sitreps)?;
            }
            "status_updates" => {
                let v = map.next_value::<Vec<BundleStatusUpdate>>()?;
                self.section(
                    "status_updates",
                    v,
                    BundleStatusUpdate::into_record,
                    Record::StatusUpdates,
                )?;
            }
            "cleanup_items" => {
                let v = map.next_value::<Vec<BundleCleanupItem>>()?;
                self.section(
                    "cleanup_items",
                    v,
                    BundleCleanupItem::into_record,
                    Record::CleanupItems,
                )?;
            }
            "remediation_items" => {
                let v = map.next_value::<Vec<BundleRemediationItem>>()?;
                self.section(
                    "remediation_items",
                    v,
                    BundleRemediationItem::into_record,
                    Record::RemediationItems,
                )?;
            }
            "postmortem" => {
                if let Some(pm) = map.next_value::<Option<BundlePostmortem>>()? {
                    let record = pm.into_record().map_err(|e| self.fail(e))?;
                    self.send(Record::Postmortem(Box::new(record)))?;
                }
            }
            _ => {
                map.next_value_seed(Timeline(&mut *self))?;
            }
        }
        Ok(())
    }

    /// After the last key: the sections every bundle has.
    fn check_required<E: de::Error>(&mut self) -> Result<(), E> {
        for required in ["format", "version", "incident"] {
            if !self.seen.contains(&required) {
                return Err(self.fail(ImportError::invalid(
                    required,
                    format!("`{required}` is missing: a bundle needs format, version and incident"),
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
