//! Atlassian Statuspage's public incident JSON: a page's `incidents.json`
//! (`{"page": {...}, "incidents": [...]}`) or one incident object.
//!
//! Each incident becomes an incident recognised by its Statuspage id; each
//! entry of `incident_updates` becomes a public status update and a public
//! `communication` timeline event, both recognised by the update's id.
//!
//! Statuspage's REST reference (developer.statuspage.io) documents no
//! maximum length for an incident name, a component name or an update
//! body, and allows 1,100 components per page
//! (support.atlassian.com/statuspage/docs/create-a-component/). Values
//! longer than Debrief stores are shortened and kept whole ([`Fit`]).

use std::io::Read;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{
    EventBatcher, EventRecord, Fit, IncidentKey, IncidentRecord, LIST_MAX, MESSAGE_MAX, NAME_MAX,
    Record, Sink, StatusUpdateRecord, TITLE_MAX, from_value, read_document, stopped,
};
use crate::{
    clock::micros,
    domain::{
        EventSource, ForeignId, IncidentStatus, Milestones, PublicStatus, Severity, TimelineKind,
        Visibility,
    },
    ingest::ImportError,
};

/// Either shape of the file.
#[derive(Deserialize)]
#[serde(untagged)]
enum Document {
    Page { incidents: Vec<serde_json::Value> },
    Single(serde_json::Value),
}

#[derive(Deserialize)]
struct Incident {
    id: String,
    name: String,
    status: String,
    #[serde(default)]
    impact: Option<String>,
    created_at: DateTime<Utc>,
    #[serde(default)]
    started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    monitoring_at: Option<DateTime<Utc>>,
    #[serde(default)]
    resolved_at: Option<DateTime<Utc>>,
    #[serde(default)]
    incident_updates: Vec<Update>,
    #[serde(default)]
    components: Option<Vec<Component>>,
}

#[derive(Deserialize)]
struct Update {
    id: String,
    status: String,
    #[serde(default)]
    body: Option<String>,
    created_at: DateTime<Utc>,
    #[serde(default)]
    display_at: Option<DateTime<Utc>>,
    #[serde(default)]
    affected_components: Option<Vec<Component>>,
}

#[derive(Deserialize)]
struct Component {
    name: String,
}

/// `critical`→sev1, `major`→sev2, `minor`→sev3, `none`→sev4.
fn severity(field: &str, impact: Option<&str>) -> Result<Severity, ImportError> {
    match impact.unwrap_or("none") {
        "critical" => Ok(Severity::Sev1),
        "major" => Ok(Severity::Sev2),
        "minor" => Ok(Severity::Sev3),
        "none" => Ok(Severity::Sev4),
        other => Err(ImportError::invalid(
            field,
            format!(
                "`{field}` is {other:?}; Statuspage impacts are critical, major, minor and none"
            ),
        )),
    }
}

/// Statuspage's incident statuses; `postmortem` means resolved.
fn public_status(field: &str, status: &str) -> Result<PublicStatus, ImportError> {
    match status {
        "investigating" => Ok(PublicStatus::Investigating),
        "identified" => Ok(PublicStatus::Identified),
        "monitoring" => Ok(PublicStatus::Monitoring),
        "resolved" | "postmortem" => Ok(PublicStatus::Resolved),
        other => Err(ImportError::invalid(
            field,
            format!(
                "`{field}` is {other:?}; incident statuses are investigating, identified, \
                 monitoring, resolved and postmortem (scheduled maintenances are not imported)"
            ),
        )),
    }
}

fn incident_status(status: PublicStatus) -> IncidentStatus {
    match status {
        PublicStatus::Investigating => IncidentStatus::Investigating,
        PublicStatus::Identified => IncidentStatus::Identified,
        PublicStatus::Monitoring => IncidentStatus::Monitoring,
        PublicStatus::Resolved => IncidentStatus::Resolved,
    }
}

/// Component names: at most [`LIST_MAX`] of at most [`NAME_MAX`] characters,
/// the rest shortened by `fit`.
fn names(
    fit: &mut Fit,
    field: &str,
    components: Option<Vec<Component>>,
) -> Result<Vec<String>, ImportError> {
    let names = components
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.name)
        .collect();
    fit.list(field, names, LIST_MAX, NAME_MAX, |i| {
        format!("{field}[{i}].name")
    })
}

pub fn parse(reader: impl Read, sink: Sink<'_>) -> Result<(), ImportError> {
    let (incidents, prefix) = match read_document::<Document>(reader)? {
        Document::Page { incidents } => (incidents, "incidents"),
        Document::Single(one) => (vec![one], ""),
    };
    for (i, value) in incidents.into_iter().enumerate() {
        let path = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}[{i}]")
        };
        let incident: Incident = from_value(&path, value)?;
        convert(&path, incident, sink)?;
    }
    Ok(())
}

/// `field` of the incident at `path` (`incidents[2].name`, or `name` for a
/// file of one incident).
fn under(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

/// One incident: the incident record, then each update as a status update
/// and a public `communication` event, with what was shortened kept whole.
fn convert(path: &str, mut incident: Incident, sink: Sink<'_>) -> Result<(), ImportError> {
    let p = |f: &str| under(path, f);
    let status = public_status(&p("status"), &incident.status)?;
    let mut fit = Fit::default();
    let incident_id = ForeignId::parse(&p("id"), incident.id.clone())?.into_inner();
    let started_at = micros(incident.started_at.unwrap_or(incident.created_at));
    let updates = std::mem::take(&mut incident.incident_updates);
    let record = incident_record(path, incident, &incident_id, status, &mut fit)?;
    sink(Record::Incident(Box::new(record))).map_err(stopped)?;
    let mut events = EventBatcher::new(p("incident_updates"));
    let source = EventSource::Statuspage;
    fit.flush(source, &incident_id, started_at, 0, &mut events, sink)
        .map_err(stopped)?;
    let mut records = Vec::with_capacity(updates.len());
    for (j, update) in updates.into_iter().enumerate() {
        let (id, record) = update_record(&p(&format!("incident_updates[{j}]")), update, &mut fit)?;
        events
            .push(j, update_event(&id, &record), sink)
            .map_err(stopped)?;
        fit.flush(source, &id, record.posted_at, j, &mut events, sink)
            .map_err(stopped)?;
        records.push(record);
    }
    sink(Record::StatusUpdates(records)).map_err(stopped)?;
    events.flush(sink).map_err(stopped)
}

/// The incident itself, recognised by its Statuspage id.
fn incident_record(
    path: &str,
    incident: Incident,
    incident_id: &str,
    status: PublicStatus,
    fit: &mut Fit,
) -> Result<IncidentRecord, ImportError> {
    let p = |f: &str| under(path, f);
    Ok(IncidentRecord {
        path: if path.is_empty() {
            "body".into()
        } else {
            path.to_string()
        },
        key: IncidentKey::External {
            source: EventSource::Statuspage,
            id: incident_id.to_string(),
        },
        exact: false,
        title: fit.required(&p("name"), &incident.name, TITLE_MAX)?,
        severity: severity(&p("impact"), incident.impact.as_deref())?,
        status: incident_status(status),
        customer_impact: None,
        affected_components: names(fit, &p("components"), incident.components)?,
        chat_room_url: None,
        labels: Vec::new(),
        milestones: Milestones {
            started_at: Some(micros(incident.started_at.unwrap_or(incident.created_at))),
            mitigated_at: incident.monitoring_at.map(micros),
            resolved_at: incident.resolved_at.map(micros),
            ..Milestones::default()
        },
        closed_at: None,
        created_at: None,
    })
}

/// One entry of `incident_updates` (at `prefix`) as a public status update,
/// with its Statuspage id.
fn update_record(
    prefix: &str,
    update: Update,
    fit: &mut Fit,
) -> Result<(String, StatusUpdateRecord), ImportError> {
    let u = |f: &str| format!("{prefix}.{f}");
    let id = ForeignId::parse(&u("id"), update.id)?.into_inner();
    let status = public_status(&u("status"), &update.status)?;
    let body = update.body.unwrap_or_default();
    let message = if body.trim().is_empty() {
        format!("Status: {status}")
    } else {
        fit.required(&u("body"), &body, MESSAGE_MAX)?
    };
    let affected_components = names(fit, &u("affected_components"), update.affected_components)?;
    let record = StatusUpdateRecord {
        id: None,
        status,
        message,
        affected_components,
        posted_at: micros(update.display_at.unwrap_or(update.created_at)),
        source: Some(EventSource::Statuspage.as_str().into()),
        external_id: Some(id.clone()),
    };
    Ok((id, record))
}

/// The public `communication` event that records a status update.
fn update_event(id: &str, update: &StatusUpdateRecord) -> EventRecord {
    EventRecord {
        id: None,
        occurred_at: update.posted_at,
        kind: TimelineKind::Communication,
        body: update.message.clone(),
        author: None,
        source: EventSource::Statuspage,
        external_id: Some(id.to_string()),
        visibility: Visibility::Public,
    }
}
