//! PagerDuty incident log entries, as the REST API returns them
//! (`{"log_entries": [...]}`), into the timeline of one incident.
//!
//! `trigger` → detection (and `detected_at` when unset), `acknowledge` →
//! acknowledgement (and `acknowledged_at` when unset), `escalate`, `notify`
//! and `assign` → page, `annotate` → note, `resolve` → resolution. Other
//! entry types (snooze, reach_trigger_limit, …) are counted as skipped.
//! `summary` is the text, `agent.summary` the author, `id` the external id.
//!
//! PagerDuty documents a 1,024-character limit for an event's summary (the
//! text incidents and their trigger entries carry); Debrief keeps bodies of
//! up to [`BODY_MAX`] characters and names of up to [`NAME_MAX`], and
//! shortens (and keeps whole) anything longer ([`Fit`]).

use std::io::Read;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{
    BODY_MAX, EventBatcher, EventRecord, Fit, NAME_MAX, Record, Sink, read_document, stopped,
};
use crate::{
    clock::micros,
    domain::{EventSource, ForeignId, TimelineKind, Visibility},
    ingest::ImportError,
};

#[derive(Deserialize)]
struct Document {
    log_entries: Vec<LogEntry>,
}

#[derive(Deserialize)]
struct LogEntry {
    id: String,
    #[serde(rename = "type")]
    entry_type: String,
    #[serde(default)]
    summary: Option<String>,
    created_at: DateTime<Utc>,
    #[serde(default)]
    agent: Option<Reference>,
}

#[derive(Deserialize)]
struct Reference {
    #[serde(default)]
    summary: Option<String>,
    /// `user_reference` for a person; services and integrations are tools.
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

/// The timeline kind of an entry type; `None` for types with no timeline
/// meaning. References (`trigger_log_entry_reference`) count as the entry.
fn kind_of(entry_type: &str) -> Option<TimelineKind> {
    let name = entry_type
        .strip_suffix("_reference")
        .unwrap_or(entry_type)
        .strip_suffix("_log_entry")?;
    Some(match name {
        "trigger" => TimelineKind::Detection,
        "acknowledge" => TimelineKind::Acknowledgement,
        "escalate" | "notify" | "assign" => TimelineKind::Page,
        "annotate" => TimelineKind::Note,
        "resolve" => TimelineKind::Resolution,
        _ => return None,
    })
}

pub fn parse(reader: impl Read, sink: Sink<'_>) -> Result<(), ImportError> {
    let document: Document = read_document(reader)?;
    let mut events = EventBatcher::new("log_entries");
    let mut detected_at: Option<(DateTime<Utc>, String)> = None;
    let mut acknowledged_at: Option<(DateTime<Utc>, String)> = None;
    let mut skipped = 0;
    let mut fit = Fit::default();
    for (i, entry) in document.log_entries.into_iter().enumerate() {
        let p = |f: &str| format!("log_entries[{i}].{f}");
        let id = ForeignId::parse(&p("id"), entry.id.clone())?.into_inner();
        let Some(kind) = kind_of(&entry.entry_type) else {
            skipped += 1;
            continue;
        };
        let at = micros(entry.created_at);
        let earliest = |slot: &mut Option<(DateTime<Utc>, String)>| {
            if slot.as_ref().is_none_or(|(t, _)| at < *t) {
                *slot = Some((at, p("created_at")));
            }
        };
        match kind {
            TimelineKind::Detection => earliest(&mut detected_at),
            TimelineKind::Acknowledgement => earliest(&mut acknowledged_at),
            _ => {}
        }
        let summary = entry.summary.unwrap_or_default();
        let body = if summary.trim().is_empty() {
            entry.entry_type.replace('_', " ")
        } else {
            fit.required(&p("summary"), &summary, BODY_MAX)?
        };
        // Only a person is an author: an entry made by a service or an
        // integration (`PagerDuty`, `Datadog`) has none, so that the public
        // document never takes a tool's name for a person's.
        let author = entry
            .agent
            .filter(|a| a.kind.as_deref().is_none_or(|k| k.starts_with("user")))
            .and_then(|a| a.summary);
        let record = EventRecord {
            id: None,
            occurred_at: at,
            kind,
            body,
            author: fit.optional(&p("agent.summary"), author, NAME_MAX)?,
            source: EventSource::Pagerduty,
            external_id: Some(id.clone()),
            visibility: Visibility::Internal,
        };
        events.push(i, record, sink).map_err(stopped)?;
        fit.flush(EventSource::Pagerduty, &id, at, i, &mut events, sink)
            .map_err(stopped)?;
    }
    events.flush(sink).map_err(stopped)?;
    sink(Record::FillMilestones {
        detected_at,
        acknowledged_at,
    })
    .map_err(stopped)?;
    sink(Record::Skipped(skipped)).map_err(stopped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_types_map_to_timeline_kinds() {
        assert_eq!(kind_of("trigger_log_entry"), Some(TimelineKind::Detection));
        assert_eq!(
            kind_of("acknowledge_log_entry_reference"),
            Some(TimelineKind::Acknowledgement)
        );
        assert_eq!(kind_of("notify_log_entry"), Some(TimelineKind::Page));
        assert_eq!(kind_of("assign_log_entry"), Some(TimelineKind::Page));
        assert_eq!(kind_of("annotate_log_entry"), Some(TimelineKind::Note));
        assert_eq!(kind_of("resolve_log_entry"), Some(TimelineKind::Resolution));
        assert_eq!(kind_of("snooze_log_entry"), None);
        assert_eq!(kind_of("trigger"), None);
    }
}
