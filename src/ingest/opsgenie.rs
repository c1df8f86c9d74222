//! An Opsgenie incident timeline, as the Incident Timeline API lists it
//! (`GET /v2/incident-timelines/{incidentId}/entries`,
//! https://docs.opsgenie.com/docs/incident-timeline-api), into the timeline
//! of one incident.
//!
//! The response is `{"data": {"entries": [...], "nextOffset": "..."},
//! "took": ..., "requestId": "..."}`; a file may hold one response or an
//! array of them (the pages of a long timeline, in order). Each entry has
//! `id`, `group`, `type`, `eventTime`, `hidden`, `actor {name, type}`,
//! `description {name, type}` and `lastEdit {editTime, actor}`. Notes added
//! through the API or by hand have `"group": "custom", "type":
//! "CustomUserEntry"`.
//!
//! The documentation names no other `type` values, so the kind is chosen by
//! the words in `type`: resolved/closed → resolution, acknowledged →
//! acknowledgement, created/opened/triggered → detection,
//! responder/notified/escalated → page, status page/stakeholder/
//! communication → communication, status/priority changes → status_change,
//! anything else (custom entries included) → note. `description.name` (or
//! `description.content`, the field the add-entry request uses) is the
//! text; `actor.name` is the author only when `actor.type` is `user`, so a
//! tool's name is never taken for a person's. Hidden entries are skipped
//! and counted; `id` is the external id.
//!
//! Opsgenie documents 130 characters for an incident message and 15,000
//! for a description (docs.opsgenie.com/v1.0/docs/incident-api), none for a
//! timeline entry; Debrief keeps bodies of [`BODY_MAX`] characters and names
//! of [`NAME_MAX`], and shortens (and keeps whole) anything longer.

use std::io::Read;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{
    BODY_MAX, EventBatcher, EventRecord, Fit, NAME_MAX, Record, Sink, from_value, read_document,
    stopped,
};
use crate::{
    clock::micros,
    domain::{EventSource, ForeignId, TimelineKind, Visibility},
    ingest::ImportError,
};

/// One response, or the pages of a timeline.
#[derive(Deserialize)]
#[serde(untagged)]
enum Document {
    Pages(Vec<serde_json::Value>),
    One(serde_json::Value),
}

#[derive(Deserialize)]
struct Response {
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    entries: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    id: String,
    #[serde(default)]
    group: Option<String>,
    #[serde(rename = "type", default)]
    entry_type: Option<String>,
    event_time: DateTime<Utc>,
    #[serde(default)]
    hidden: bool,
    #[serde(default)]
    actor: Option<Actor>,
    #[serde(default)]
    description: Option<Description>,
}

#[derive(Deserialize)]
struct Actor {
    #[serde(default)]
    name: Option<String>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct Description {
    #[serde(default, alias = "content")]
    name: Option<String>,
}

/// The timeline kind of an entry, by the words of its `type`.
fn kind_of(group: Option<&str>, entry_type: &str) -> TimelineKind {
    let t = entry_type.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| t.contains(w));
    if group == Some("custom") || t == "customuserentry" {
        TimelineKind::Note
    } else if has(&["resolve", "close"]) {
        TimelineKind::Resolution
    } else if has(&["acknowledge", "acked"]) {
        TimelineKind::Acknowledgement
    } else if has(&["created", "opened", "triggered"]) {
        TimelineKind::Detection
    } else if has(&["responder", "notif", "escalat"]) {
        TimelineKind::Page
    } else if has(&["statuspage", "stakeholder", "communication"]) {
        TimelineKind::Communication
    } else if has(&["status", "priority"]) {
        TimelineKind::StatusChange
    } else {
        TimelineKind::Note
    }
}

/// `IncidentResolved` → `Incident resolved`, for an entry with no text.
fn words(entry_type: &str) -> String {
    let mut out = String::new();
    for (i, c) in entry_type.chars().enumerate() {
        if i > 0 && c.is_uppercase() {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

pub fn parse(reader: impl Read, sink: Sink<'_>) -> Result<(), ImportError> {
    let pages = match read_document::<Document>(reader)? {
        Document::Pages(pages) => pages
            .into_iter()
            .enumerate()
            .map(|(n, page)| (format!("[{n}]"), page))
            .collect(),
        Document::One(one) => vec![(String::new(), one)],
    };
    let mut skipped = 0;
    let mut fit = Fit::default();
    for (prefix, page) in pages {
        let response: Response = from_value(&prefix, page)?;
        let at_entries = if prefix.is_empty() {
            "data.entries".to_string()
        } else {
            format!("{prefix}.data.entries")
        };
        let mut events = EventBatcher::new(at_entries.clone());
        for (i, entry) in response.data.entries.into_iter().enumerate() {
            let p = |f: &str| format!("{at_entries}[{i}].{f}");
            let id = ForeignId::parse(&p("id"), entry.id.clone())?.into_inner();
            if entry.hidden {
                skipped += 1;
                continue;
            }
            let entry_type = entry.entry_type.unwrap_or_default();
            let kind = kind_of(entry.group.as_deref(), &entry_type);
            let at = micros(entry.event_time);
            let text = entry
                .description
                .and_then(|d| d.name)
                .filter(|t| !t.trim().is_empty());
            let body = match text {
                Some(text) => fit.required(&p("description.name"), &text, BODY_MAX)?,
                None if !entry_type.trim().is_empty() => words(entry_type.trim()),
                None => "Opsgenie timeline entry".to_string(),
            };
            let author = entry
                .actor
                .filter(|a| a.kind.as_deref() == Some("user"))
                .and_then(|a| a.name);
            let record = EventRecord {
                id: None,
                occurred_at: at,
                kind,
                body,
                author: fit.optional(&p("actor.name"), author, NAME_MAX)?,
                source: EventSource::Opsgenie,
                external_id: Some(id.clone()),
                visibility: Visibility::Internal,
            };
            events.push(i, record, sink).map_err(stopped)?;
            fit.flush(EventSource::Opsgenie, &id, at, i, &mut events, sink)
                .map_err(stopped)?;
        }
        events.flush(sink).map_err(stopped)?;
    }
    sink(Record::Skipped(skipped)).map_err(stopped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_types_map_to_timeline_kinds() {
        let cases = [
            (Some("custom"), "CustomUserEntry", TimelineKind::Note),
            (Some("incident"), "IncidentCreated", TimelineKind::Detection),
            (
                Some("incident"),
                "IncidentResolved",
                TimelineKind::Resolution,
            ),
            (Some("incident"), "IncidentClosed", TimelineKind::Resolution),
            (
                Some("responder"),
                "ResponderAlertAcked",
                TimelineKind::Acknowledgement,
            ),
            (Some("responder"), "RespondersAdded", TimelineKind::Page),
            (
                Some("incident"),
                "StatusPageEntryAdded",
                TimelineKind::Communication,
            ),
            (
                Some("incident"),
                "PriorityChanged",
                TimelineKind::StatusChange,
            ),
            (Some("incident"), "TagsAdded", TimelineKind::Note),
        ];
        for (group, entry_type, kind) in cases {
            assert_eq!(kind_of(group, entry_type), kind, "{entry_type}");
        }
        assert_eq!(words("IncidentResolved"), "Incident resolved");
    }
}
