//! The one write path of incidents: opened now, changed now, imported, or
//! given the milestones an import read from a foreign timeline; each
//! checked, stored and recorded on the timeline in named steps.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder,
};
use uuid::Uuid;

use super::{IncidentChanges, NewIncident, apply};
use crate::{
    config::PostmortemDue,
    db,
    domain::{
        CleanupStatus, EventSource, IncidentRef, IncidentStatus, Milestones, Severity, TimelineKind,
    },
    entities::{cleanup_item, incident, incident_external_id},
    ingest::{IncidentKey, IncidentRecord},
    services::{
        ConflictDetails, Outcome, ServiceError, Written, check_if_match, find_incident_for_update,
        insert_model, new_id, postmortems, system_event, update_versioned,
    },
};

/// An incident to store.
#[derive(Debug, Clone)]
pub enum IncidentWrite<'a> {
    /// Opened now (the API): started at the earliest milestone given, else
    /// now; resolved now when it opens resolved or closed. Its timeline and
    /// its post-mortem start with it.
    Open(NewIncident),
    /// A change made now (the API), `If-Match` checked. A new status moves
    /// `resolved_at` and `closed_at`; reopening clears them; closing waits
    /// for the pending cleanup items; status and severity changes are
    /// written to the timeline.
    Change {
        reference: IncidentRef,
        if_match: Option<&'a str>,
        changes: IncidentChanges,
    },
    /// Brought in by an import: matched by its id or by the foreign id it
    /// was imported under, then created, or changed as
    /// [`IncidentRecord::exact`] says. It is history, not a change made
    /// now: no status rule moves its times and no timeline entry is
    /// written. Its post-mortem is the importer's to ensure, once the
    /// file's own post-mortem has been read.
    Import(IncidentRecord),
    /// Milestones an import read from a foreign timeline, set where the
    /// incident has none.
    FillMilestones {
        id: Uuid,
        detected_at: Option<DateTime<Utc>>,
        acknowledged_at: Option<DateTime<Utc>>,
    },
}

/// What a change made now did to the status and severity, for the timeline.
struct Transition {
    old_status: IncidentStatus,
    new_status: IncidentStatus,
    old_severity: Severity,
    new_severity: Severity,
    reopened: bool,
}

/// An incident as a write leaves it, with what storing it needs.
struct NextIncident<'a> {
    /// The stored incident; `None` for a new one.
    current: Option<incident::Model>,
    next: incident::Model,
    /// The `If-Match` of a change made now.
    if_match: Option<&'a str>,
    /// The foreign id an import found no incident under, linked to the
    /// incident it creates.
    external: Option<(EventSource, String)>,
    /// What a change made now did to the status and severity.
    transition: Option<Transition>,
}

impl NextIncident<'_> {
    /// Nothing but the stored and the next incident.
    fn new(current: Option<incident::Model>, next: incident::Model) -> Self {
        NextIncident {
            current,
            next,
            if_match: None,
            external: None,
            transition: None,
        }
    }
}

/// Store an incident inside the caller's transaction: the one writer of
/// incidents. Milestones are always in order; a changed incident gets the
/// next version.
pub async fn write<C: ConnectionTrait>(
    db: &C,
    write: IncidentWrite<'_>,
    periods: &PostmortemDue,
    now: DateTime<Utc>,
) -> Result<Written<incident::Model>, ServiceError> {
    let opened = matches!(write, IncidentWrite::Open(_));
    let mut planned = next_incident(db, write, now).await?;
    check_next(db, &planned).await?;
    let transition = planned.transition.take();
    let written = store_incident(db, planned, transition.as_ref(), now).await?;
    if opened {
        record_opened(db, &written.model, now).await?;
    }
    // A new incident has its post-mortem; a new severity or start moves
    // its due date. An import's are ensured when the whole file is read.
    if (opened || transition.is_some()) && written.changed() {
        postmortems::ensure(db, &written.model, periods, now).await?;
    }
    if let Some(t) = &transition
        && written.changed()
    {
        record_severity_change(db, &written.model, t, now).await?;
    }
    Ok(written)
}

/// The stored incident, if any, and the incident the write leaves.
async fn next_incident<'a, C: ConnectionTrait>(
    db: &C,
    write: IncidentWrite<'a>,
    now: DateTime<Utc>,
) -> Result<NextIncident<'a>, ServiceError> {
    Ok(match write {
        IncidentWrite::Open(new) => NextIncident::new(None, opened_incident(new, now)),
        IncidentWrite::Change {
            reference,
            if_match,
            changes,
        } => {
            let current = find_incident_for_update(db, reference).await?;
            check_if_match(if_match, current.version)?;
            let (next, moved) = changed_now(&current, changes, now)?;
            let mut planned = NextIncident::new(Some(current), next);
            planned.if_match = if_match;
            planned.transition = Some(moved);
            planned
        }
        IncidentWrite::Import(rec) => {
            let stored = find_imported(db, &rec.key).await?;
            let next = imported_incident(stored.as_ref(), &rec, now);
            let mut planned = NextIncident::new(stored, next);
            if planned.current.is_none()
                && let IncidentKey::External { source, id } = rec.key
            {
                planned.external = Some((source, id));
            }
            planned
        }
        IncidentWrite::FillMilestones {
            id,
            detected_at,
            acknowledged_at,
        } => {
            let current = incident::Entity::find_by_id(id)
                .one(db)
                .await?
                .ok_or_else(|| ServiceError::NotFound(format!("incident {id}")))?;
            let mut next = current.clone();
            next.detected_at = next.detected_at.or(detected_at);
            next.acknowledged_at = next.acknowledged_at.or(acknowledged_at);
            NextIncident::new(Some(current), next)
        }
    })
}

/// The stored incident an import names, by its id or by the foreign id it
/// was imported under.
async fn find_imported<C: ConnectionTrait>(
    db: &C,
    key: &IncidentKey,
) -> Result<Option<incident::Model>, ServiceError> {
    Ok(match key {
        IncidentKey::Id(id) => incident::Entity::find_by_id(*id).one(db).await?,
        IncidentKey::External { source, id } => {
            incident::Entity::find()
                .inner_join(incident_external_id::Entity)
                .filter(incident_external_id::Column::Source.eq(*source))
                .filter(incident_external_id::Column::ExternalId.eq(id.as_str()))
                .one(db)
                .await?
        }
    })
}

/// The incident's milestones are in order, and closing it now waits for
/// its pending cleanup items.
async fn check_next<C: ConnectionTrait>(
    db: &C,
    planned: &NextIncident<'_>,
) -> Result<(), ServiceError> {
    milestones_of(&planned.next).check()?;
    if let (Some(current), Some(t)) = (&planned.current, &planned.transition)
        && t.new_status == IncidentStatus::Closed
        && t.old_status != IncidentStatus::Closed
    {
        refuse_pending_cleanup(db, current).await?;
    }
    Ok(())
}

/// The incident stored: a new one with the next number (and the foreign
/// id it was imported under), a changed one with the next version (and
/// the status change of a change made now on the timeline).
async fn store_incident<C: ConnectionTrait>(
    db: &C,
    planned: NextIncident<'_>,
    transition: Option<&Transition>,
    now: DateTime<Utc>,
) -> Result<Written<incident::Model>, ServiceError> {
    let NextIncident {
        current,
        mut next,
        if_match,
        external,
        ..
    } = planned;
    let Some(current) = current else {
        next.number = db::next_counter(db, "incident").await?;
        insert_model(db, next.clone().into_active_model()).await?;
        if let Some((source, external_id)) = external {
            let link = incident_external_id::Model {
                source,
                external_id,
                incident_id: next.id,
                created_at: now,
            };
            insert_model(db, link.into_active_model()).await?;
        }
        return Ok(Written {
            model: next,
            outcome: Outcome::Created,
        });
    };
    if current == next {
        return Ok(Written {
            model: current,
            outcome: Outcome::Unchanged,
        });
    }
    next.version = current.version + 1;
    next.updated_at = now;
    update_versioned(
        db,
        next.clone().into_active_model().reset_all(),
        (incident::Column::Id, current.id),
        (incident::Column::Version, current.version),
        if_match,
    )
    .await?;
    if let Some(t) = transition {
        write_transition(db, &current, t, now).await?;
    }
    Ok(Written {
        model: next,
        outcome: Outcome::Updated,
    })
}

/// The timeline entry of an incident opened now.
async fn record_opened<C: ConnectionTrait>(
    db: &C,
    model: &incident::Model,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let opened = system_event(
        model.id,
        now,
        TimelineKind::StatusChange,
        format!(
            "Incident {} opened as {}, status {}.",
            IncidentRef::display(model.number),
            model.severity,
            model.status
        ),
    );
    insert_model(db, opened.into_active_model()).await?;
    Ok(())
}

/// The timeline entry of a severity change made now.
async fn record_severity_change<C: ConnectionTrait>(
    db: &C,
    model: &incident::Model,
    t: &Transition,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    if t.new_severity == t.old_severity {
        return Ok(());
    }
    let event = system_event(
        model.id,
        now,
        TimelineKind::Decision,
        format!(
            "Severity changed from {} to {}.",
            t.old_severity, t.new_severity
        ),
    );
    insert_model(db, event.into_active_model()).await?;
    Ok(())
}

/// The milestones an incident row holds.
fn milestones_of(m: &incident::Model) -> Milestones {
    Milestones {
        started_at: m.started_at,
        detected_at: m.detected_at,
        acknowledged_at: m.acknowledged_at,
        mitigated_at: m.mitigated_at,
        resolved_at: m.resolved_at,
    }
}

/// A new incident opened now (its number is taken when it is stored).
fn opened_incident(new: NewIncident, now: DateTime<Utc>) -> incident::Model {
    let mut milestones = new.milestones;
    // Without `started_at`, the incident started at the earliest milestone
    // given (a back-dated record is not refused), else now.
    let earliest = [
        milestones.detected_at,
        milestones.acknowledged_at,
        milestones.mitigated_at,
        milestones.resolved_at,
    ]
    .into_iter()
    .flatten()
    .min();
    milestones.started_at.get_or_insert(earliest.unwrap_or(now));
    if matches!(
        new.status,
        IncidentStatus::Resolved | IncidentStatus::Closed
    ) {
        milestones.resolved_at.get_or_insert(now);
    }
    incident::Model {
        id: new_id(),
        number: 0,
        title: new.title,
        severity: new.severity,
        status: new.status,
        customer_impact: new.customer_impact,
        affected_components: new.affected_components.into(),
        chat_room_url: new.chat_room_url,
        labels: new.labels.into(),
        started_at: milestones.started_at,
        detected_at: milestones.detected_at,
        acknowledged_at: milestones.acknowledged_at,
        mitigated_at: milestones.mitigated_at,
        resolved_at: milestones.resolved_at,
        closed_at: (new.status == IncidentStatus::Closed).then_some(now),
        last_customer_update_at: None,
        sitrep_count: 0,
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

/// An incident as an import records it: a new one (its number is taken
/// when it is stored), or the stored one with the file's values.
fn imported_incident(
    stored: Option<&incident::Model>,
    rec: &IncidentRecord,
    now: DateTime<Utc>,
) -> incident::Model {
    let ms = rec.milestones;
    let Some(stored) = stored else {
        return incident::Model {
            id: match &rec.key {
                IncidentKey::Id(id) => *id,
                IncidentKey::External { .. } => new_id(),
            },
            number: 0,
            title: rec.title.clone(),
            severity: rec.severity,
            status: rec.status,
            customer_impact: rec.customer_impact.clone(),
            affected_components: rec.affected_components.clone().into(),
            chat_room_url: rec.chat_room_url.clone(),
            labels: rec.labels.clone().into(),
            started_at: ms.started_at,
            detected_at: ms.detected_at,
            acknowledged_at: ms.acknowledged_at,
            mitigated_at: ms.mitigated_at,
            resolved_at: ms.resolved_at,
            closed_at: rec.closed_at,
            last_customer_update_at: None,
            sitrep_count: 0,
            version: 1,
            created_at: rec.created_at.unwrap_or(now),
            updated_at: now,
        };
    };
    let mut m = stored.clone();
    m.title = rec.title.clone();
    m.severity = rec.severity;
    m.status = rec.status;
    m.affected_components = rec.affected_components.clone().into();
    if rec.exact {
        m.customer_impact = rec.customer_impact.clone();
        m.chat_room_url = rec.chat_room_url.clone();
        m.labels = rec.labels.clone().into();
        m.started_at = ms.started_at;
        m.detected_at = ms.detected_at;
        m.acknowledged_at = ms.acknowledged_at;
        m.mitigated_at = ms.mitigated_at;
        m.resolved_at = ms.resolved_at;
        m.closed_at = rec.closed_at;
        m.created_at = rec.created_at.unwrap_or(m.created_at);
    } else {
        // A foreign format knows some milestones; the others are kept.
        m.started_at = ms.started_at.or(m.started_at);
        m.detected_at = ms.detected_at.or(m.detected_at);
        m.acknowledged_at = ms.acknowledged_at.or(m.acknowledged_at);
        m.mitigated_at = ms.mitigated_at.or(m.mitigated_at);
        m.resolved_at = ms.resolved_at.or(m.resolved_at);
    }
    m
}

/// The incident a change made now leaves, with the status rules applied.
fn changed_now(
    current: &incident::Model,
    changes: IncidentChanges,
    now: DateTime<Utc>,
) -> Result<(incident::Model, Transition), ServiceError> {
    let old_status: IncidentStatus = current.status;
    let old_severity: Severity = current.severity;
    let mut next = current.clone();
    if let Some(title) = changes.title {
        next.title = title;
    }
    if let Some(severity) = changes.severity {
        next.severity = severity;
    }
    if let Some(status) = changes.status {
        next.status = status;
    }
    apply(&mut next.customer_impact, changes.customer_impact);
    if let Some(components) = changes.affected_components {
        next.affected_components = components.into();
    }
    apply(&mut next.chat_room_url, changes.chat_room_url);
    if let Some(labels) = changes.labels {
        next.labels = labels.into();
    }
    apply(&mut next.started_at, changes.started_at);
    apply(&mut next.detected_at, changes.detected_at);
    apply(&mut next.acknowledged_at, changes.acknowledged_at);
    apply(&mut next.mitigated_at, changes.mitigated_at);
    apply(&mut next.resolved_at, changes.resolved_at);

    let new_status = changes.status.unwrap_or(old_status);
    // Reopening (resolved or closed → an open status): the incident is no
    // longer resolved, so `resolved_at` and `closed_at` are cleared and
    // the timeline says what they were.
    let reopened = !old_status.is_open() && new_status.is_open();
    if reopened && matches!(changes.resolved_at, Some(Some(_))) {
        return Err(ServiceError::validation(
            "resolved_at",
            format!(
                "reopening the incident as `{new_status}` clears `resolved_at`; it cannot be set in the same change"
            ),
        ));
    }
    if new_status != old_status {
        if matches!(
            new_status,
            IncidentStatus::Resolved | IncidentStatus::Closed
        ) {
            next.resolved_at.get_or_insert(now);
        }
        if reopened {
            next.resolved_at = None;
        }
        next.closed_at = (new_status == IncidentStatus::Closed).then_some(now);
    }
    let transition = Transition {
        old_status,
        new_status,
        old_severity,
        new_severity: changes.severity.unwrap_or(old_severity),
        reopened,
    };
    Ok((next, transition))
}

/// An incident is closed only when none of its cleanup items is pending.
async fn refuse_pending_cleanup<C: ConnectionTrait>(
    db: &C,
    current: &incident::Model,
) -> Result<(), ServiceError> {
    let pending = cleanup_item::Entity::find()
        .filter(cleanup_item::Column::IncidentId.eq(current.id))
        .filter(cleanup_item::Column::Status.eq(CleanupStatus::Pending))
        .order_by_asc(cleanup_item::Column::CreatedAt)
        .all(db)
        .await?;
    if pending.is_empty() {
        return Ok(());
    }
    let listed: Vec<String> = pending
        .iter()
        .map(|item| format!("{} ({}): {}", item.id, item.kind, item.description))
        .collect();
    Err(ServiceError::Conflict {
        detail: format!(
            "{} cannot be closed while {} cleanup item(s) are pending: {}",
            IncidentRef::display(current.number),
            pending.len(),
            listed.join("; ")
        ),
        field: Some("status".into()),
        details: Some(ConflictDetails::PendingCleanupItems(
            pending.iter().map(|i| i.id).collect(),
        )),
    })
}

/// The timeline entry of a status change made now.
async fn write_transition<C: ConnectionTrait>(
    db: &C,
    current: &incident::Model,
    t: &Transition,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let (old_status, new_status) = (t.old_status, t.new_status);
    if new_status == old_status {
        return Ok(());
    }
    let text = if t.reopened {
        let cleared: Vec<String> = [
            ("resolved_at", current.resolved_at),
            ("closed_at", current.closed_at),
        ]
        .into_iter()
        .filter_map(|(name, at)| Some(format!("{name} ({})", at?.to_rfc3339())))
        .collect();
        let cleared = if cleared.is_empty() {
            String::new()
        } else {
            format!(" Cleared {}.", cleared.join(" and "))
        };
        format!("Incident reopened: status changed from {old_status} to {new_status}.{cleared}")
    } else {
        format!("Status changed from {old_status} to {new_status}.")
    };
    let event = system_event(current.id, now, TimelineKind::StatusChange, text);
    insert_model(db, event.into_active_model()).await?;
    Ok(())
}
