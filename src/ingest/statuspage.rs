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
    BODY_MAX, EventBatcher, EventRecord, Fit, IncidentKey, IncidentRecord, LIST_MAX, NAME_MAX,
    Record, Sink, StatusUpdateRecord, TITLE_MAX, from_value, read_document, stopped,
};
use crate::{
    clock::micros,
    domain::{
        EventSource, ForeignId, IncidentStatus, Milestones, PublicStatus, Severity, TimelineKind,
        Visibility,
    },
    services::ServiceError,
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
fn severity(field: &str, impact: Option<&str>) -> Result<Severity, ServiceError> {
    match impact.unwrap_or("none") {
        "critical" => Ok(Severity::Sev1),
        "major" => Ok(Severity::Sev2),
        "minor" => Ok(Severity::Sev3),
        "none" => Ok(Severity::Sev4),
        other => Err(ServiceError::validation(
            field,
            format!(
                "`{field}` is {other:?}; Statuspage impacts are critical, major, minor and none"
            ),
        )),
    }
}

/// Statuspage's incident statuses; `postmortem` means resolved.
fn public_status(field: &str, status: &str) -> Result<PublicStatus, ServiceError> {
    match status {
        "investigating" => Ok(PublicStatus::Investigating),
        "identified" => Ok(PublicStatus::Identified),
        "monitoring" => Ok(PublicStatus::Monitoring),
        "resolved" | "postmortem" => Ok(PublicStatus::Resolved),
        other => Err(ServiceError::validation(
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
) -> Result<Vec<String>, ServiceError> {
    let names = components
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.name)
        .collect();
    fit.list(field, names, LIST_MAX, NAME_MAX, |i| {
        format!("{field}[{i}].name")
    })
}

pub fn parse(reader: impl Read, sink: Sink<'_>) -> Result<(), ServiceError> {
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

fn convert(path: &str, incident: Incident, sink: Sink<'_>) -> Result<(), ServiceError> {
    let p = |f: &str| {
        if path.is_empty() {
            f.to_string()
        } else {
            format!("{path}.{f}")
        }
    };
    let status = public_status(&p("status"), &incident.status)?;
    let mut fit = Fit::default();
    let incident_id = ForeignId::parse(&p("id"), incident.id.clone())?.into_inner();
    let started_at = micros(incident.started_at.unwrap_or(incident.created_at));
    let record = IncidentRecord {
        path: if path.is_empty() {
            "body".into()
        } else {
            path.to_string()
        },
        key: IncidentKey::External {
            source: EventSource::Statuspage,
            id: incident_id.clone(),
        },
        exact: false,
        title: fit.required(&p("name"), &incident.name, TITLE_MAX)?,
        severity: severity(&p("impact"), incident.impact.as_deref())?,
        status: incident_status(status),
        customer_impact: None,
        affected_components: names(&mut fit, &p("components"), incident.components)?,
        chat_room_url: None,
        labels: Vec::new(),
        milestones: Milestones {
            started_at: Some(started_at),
            mitigated_at: incident.monitoring_at.map(micros),
            resolved_at: incident.resolved_at.map(micros),
            ..Milestones::default()
        },
        closed_at: None,
        created_at: None,
    };
    sink(Record::Incident(Box::new(record))).map_err(stopped)?;
    let mut updates = Vec::new();
    let mut events = EventBatcher::new(p("incident_updates"));
    let source = EventSource::Statuspage;
    fit.flush(source, &incident_id, started_at, 0, &mut events, sink)
        .map_err(stopped)?;
    for (j, update) in incident.incident_updates.into_iter().enumerate() {
        let u = |f: &str| p(&format!("incident_updates[{j}].{f}"));
        let id = ForeignId::parse(&u("id"), update.id.clone())?.into_inner();
        let status = public_status(&u("status"), &update.status)?;
        let body = update.body.unwrap_or_default();
        let message = if body.trim().is_empty() {
            format!("Status: {status}")
        } else {
            fit.required(&u("body"), &body, BODY_MAX)?
        };
        let posted_at = micros(update.display_at.unwrap_or(update.created_at));
        let affected_components = names(
            &mut fit,
            &u("affected_components"),
            update.affected_components,
        )?;
        updates.push(StatusUpdateRecord {
            id: None,
            status,
            message: message.clone(),
            affected_components,
            posted_at,
            source: Some(EventSource::Statuspage.as_str().into()),
            external_id: Some(id.clone()),
        });
        events
            .push(
                j,
                EventRecord {
                    id: None,
                    occurred_at: posted_at,
                    kind: TimelineKind::Communication,
                    body: message,
                    author: None,
                    source: EventSource::Statuspage,
                    external_id: Some(id.clone()),
                    visibility: Visibility::Public,
                },
                sink,
            )
            .map_err(stopped)?;
        fit.flush(source, &id, posted_at, j, &mut events, sink)
            .map_err(stopped)?;
    }
    sink(Record::StatusUpdates(updates)).map_err(stopped)?;
    events.flush(sink).map_err(stopped)
}
