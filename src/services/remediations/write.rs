//! Storing a remediation item: creating, changing or importing it with its
//! rules (status, reason, due date), and the summary's count groups.

use chrono::{DateTime, Days, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel, Statement,
};

use super::{
    NewRemediation, RemediationChanges, RemediationWrite, find_item,
    history::{changes_of, history, write_history},
    links::change_links,
};
use crate::{
    config::RemediationDueDays,
    db,
    domain::{IncidentRef, Priority, RemediationRef, RemediationStatus},
    entities::{incident, remediation_incident, remediation_item},
    ingest::RemediationRecord,
    services::{
        Outcome, ServiceError, Written, check_if_match, find_incident, insert_model, new_id,
        update_versioned,
    },
};

fn default_due(
    days: &RemediationDueDays,
    priority: Priority,
    today: NaiveDate,
) -> Option<NaiveDate> {
    let d = match priority {
        Priority::P0 => days.p0,
        Priority::P1 => days.p1,
        Priority::P2 => days.p2,
        Priority::P3 => days.p3,
    };
    d.filter(|&d| d > 0)
        .and_then(|d| today.checked_add_days(Days::new(u64::from(d))))
}

fn check_status_reason(
    status: RemediationStatus,
    reason: &Option<String>,
) -> Result<(), ServiceError> {
    if status == RemediationStatus::WontDo && reason.is_none() {
        return Err(ServiceError::validation(
            "reason",
            "a remediation item can only be `wont_do` with a `reason` saying why",
        ));
    }
    Ok(())
}

/// Move one item into (`delta` = 1) or out of (-1) its count group.
async fn bump_count<C: ConnectionTrait>(
    txn: &C,
    item: &remediation_item::Model,
    delta: i64,
) -> Result<(), ServiceError> {
    let backend = txn.get_database_backend();
    let (a, b, c, d) = if backend == DbBackend::Postgres {
        ("$1", "$2", "$3", "$4")
    } else {
        ("?1", "?2", "?3", "?4")
    };
    let sql = format!(
        "INSERT INTO remediation_counts (team, priority, status, count) VALUES ({a}, {b}, {c}, {d}) \
         ON CONFLICT (team, priority, status) DO UPDATE SET count = remediation_counts.count + excluded.count"
    );
    let team = item.team.clone().unwrap_or_default();
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        sql,
        [
            team.into(),
            item.priority.into(),
            item.status.into(),
            delta.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Recompute the count groups from the items, for a bulk load that writes
/// items without [`write`] (the remediation bench's data set). The service
/// itself keeps the groups in step item by item and never needs this.
pub async fn rebuild_counts<C: ConnectionTrait>(db: &C) -> Result<(), ServiceError> {
    let backend = db.get_database_backend();
    db.execute_raw(Statement::from_string(
        backend,
        "DELETE FROM remediation_counts",
    ))
    .await?;
    db.execute_raw(Statement::from_string(
        backend,
        "INSERT INTO remediation_counts (team, priority, status, count) \
         SELECT COALESCE(team, ''), priority, status, COUNT(*) FROM remediation_items \
         GROUP BY COALESCE(team, ''), priority, status",
    ))
    .await?;
    Ok(())
}

/// Resolve incident references inside a transaction; a missing one is a 422
/// naming its position.
async fn resolve_incidents<C: ConnectionTrait>(
    txn: &C,
    field: &str,
    refs: &[IncidentRef],
) -> Result<Vec<incident::Model>, ServiceError> {
    let mut found = Vec::with_capacity(refs.len());
    for (i, reference) in refs.iter().enumerate() {
        match find_incident(txn, *reference).await {
            Ok(incident) => {
                if !found.iter().any(|f: &incident::Model| f.id == incident.id) {
                    found.push(incident);
                }
            }
            Err(ServiceError::NotFound(what)) => {
                return Err(ServiceError::validation(
                    format!("{field}[{i}]"),
                    format!("{what} does not exist"),
                ));
            }
            Err(err) => return Err(err),
        }
    }
    Ok(found)
}

/// Store a remediation item, or its links, inside the caller's
/// transaction: the one writer of remediation items. A `wont_do` item
/// needs a reason; every change goes into the item's history under
/// `actor`, and the count groups of the summary follow the item.
pub async fn write<C: ConnectionTrait>(
    db: &C,
    write: RemediationWrite<'_>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Written<remediation_item::Model>, ServiceError> {
    let imported = matches!(write, RemediationWrite::Import { .. });
    let planned = match write {
        RemediationWrite::Create { new, due_days } => {
            planned_create(db, new, due_days, now).await?
        }
        RemediationWrite::Change {
            reference,
            if_match,
            changes,
        } => planned_change(db, reference, if_match, changes, now).await?,
        RemediationWrite::Link {
            reference,
            incident,
            add,
        } => return change_links(db, reference, incident, actor, add, now).await,
        RemediationWrite::Import { record, incident } => {
            planned_import(db, record, incident, now).await?
        }
    };
    let Planned {
        current,
        next,
        incidents,
        if_match,
    } = planned;
    check_status_reason(next.status, &next.reason)?;
    let written = match current {
        None => return insert_item(db, next, &incidents, actor, now).await,
        Some(current) if current == next => Written {
            model: current,
            outcome: Outcome::Unchanged,
        },
        Some(current) => update_item(db, current, next, if_match, actor, now).await?,
    };
    // A stored item an import names is linked to its incident too (the
    // link is not counted as a change of the item).
    if imported && let Some(incident) = incidents.first() {
        let reference = RemediationRef::Id(written.model.id);
        let incident = IncidentRef::Id(incident.id);
        let linked = change_links(db, reference, incident, actor, true, now).await?;
        return Ok(Written {
            model: linked.model,
            outcome: written.outcome,
        });
    }
    Ok(written)
}

/// What a write will store: the item as stored now (none for a new one),
/// as it will be, the incidents a new or imported item links to, and the
/// `If-Match` the client gave.
struct Planned<'a> {
    current: Option<remediation_item::Model>,
    next: remediation_item::Model,
    incidents: Vec<incident::Model>,
    if_match: Option<&'a str>,
}

/// A new item from the API, checked, with its default due date.
async fn planned_create<C: ConnectionTrait>(
    db: &C,
    new: NewRemediation,
    due_days: &RemediationDueDays,
    now: DateTime<Utc>,
) -> Result<Planned<'static>, ServiceError> {
    if new.incidents.is_empty() {
        return Err(ServiceError::validation(
            "incidents",
            "a remediation item links to at least one incident",
        ));
    }
    // A due date in the past is accepted: follow-ups entered after
    // the fact (history brought in from another tool) are overdue
    // from the start.
    let due_date = new
        .due_date
        .or_else(|| default_due(due_days, new.priority, now.date_naive()));
    check_status_reason(new.status, &new.reason)?;
    let incidents = resolve_incidents(db, "incidents", &new.incidents).await?;
    let item = remediation_item::Model {
        id: new_id(),
        number: 0,
        title: new.title,
        description: new.description,
        kind: new.kind,
        priority: new.priority,
        owner: new.owner,
        team: new.team,
        due_date,
        status: new.status,
        reason: new.reason,
        tracker_url: new.tracker_url,
        tracker: new.tracker,
        tracker_key: None,
        tracker_synced_at: None,
        tracker_error: None,
        tracker_seen_title: None,
        tracker_seen_state: None,
        tracker_seen_due: None,
        tracker_seen_assignee: None,
        tracker_seen_at: None,
        closed_at: new.status.is_closed().then_some(now),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    Ok(Planned {
        current: None,
        next: item,
        incidents,
        if_match: None,
    })
}

/// A change made now to a stored item, its row locked and `If-Match`
/// checked.
async fn planned_change<'a, C: ConnectionTrait>(
    db: &C,
    reference: RemediationRef,
    if_match: Option<&'a str>,
    changes: RemediationChanges,
    now: DateTime<Utc>,
) -> Result<Planned<'a>, ServiceError> {
    let current = find_item(db, reference, true).await?;
    check_if_match(if_match, current.version)?;
    let next = changed_now(&current, changes, now)?;
    Ok(Planned {
        current: Some(current),
        next,
        incidents: Vec::new(),
        if_match,
    })
}

/// An imported item as the import has it, over the stored one of the same
/// id if any (whose number and version it keeps).
async fn planned_import<C: ConnectionTrait>(
    db: &C,
    r: RemediationRecord,
    incident: &incident::Model,
    now: DateTime<Utc>,
) -> Result<Planned<'static>, ServiceError> {
    let stored = remediation_item::Entity::find_by_id(r.id).one(db).await?;
    let next = remediation_item::Model {
        id: r.id,
        number: stored.as_ref().map_or(0, |e| e.number),
        title: r.title,
        description: r.description,
        kind: r.kind,
        priority: r.priority,
        owner: r.owner,
        team: r.team,
        due_date: r.due_date,
        status: r.status,
        reason: r.reason,
        tracker_url: r.tracker_url,
        // The sync state is the service's, not the bundle's.
        tracker: stored.as_ref().and_then(|e| e.tracker),
        tracker_key: stored.as_ref().and_then(|e| e.tracker_key.clone()),
        tracker_synced_at: stored.as_ref().and_then(|e| e.tracker_synced_at),
        tracker_error: stored.as_ref().and_then(|e| e.tracker_error.clone()),
        tracker_seen_title: stored.as_ref().and_then(|e| e.tracker_seen_title.clone()),
        tracker_seen_state: stored.as_ref().and_then(|e| e.tracker_seen_state),
        tracker_seen_due: stored.as_ref().and_then(|e| e.tracker_seen_due),
        tracker_seen_assignee: stored
            .as_ref()
            .and_then(|e| e.tracker_seen_assignee.clone()),
        tracker_seen_at: stored.as_ref().and_then(|e| e.tracker_seen_at),
        closed_at: r.closed_at,
        version: stored.as_ref().map_or(1, |e| e.version),
        created_at: r.created_at,
        updated_at: stored.as_ref().map_or(now, |e| e.updated_at),
    };
    Ok(Planned {
        current: stored,
        next,
        incidents: vec![incident.clone()],
        if_match: None,
    })
}

/// Insert a new item with its number, its count, its links and the
/// history entry that records its creation.
async fn insert_item<C: ConnectionTrait>(
    db: &C,
    mut item: remediation_item::Model,
    incidents: &[incident::Model],
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Written<remediation_item::Model>, ServiceError> {
    item.number = db::next_counter(db, "remediation").await?;
    insert_model(db, item.clone().into_active_model()).await?;
    bump_count(db, &item, 1).await?;
    remediation_incident::Entity::insert_many(incidents.iter().map(|i| {
        remediation_incident::Model {
            remediation_id: item.id,
            incident_id: i.id,
            created_at: now,
        }
        .into_active_model()
        .reset_all()
    }))
    .exec_without_returning(db)
    .await?;
    let mut refs: Vec<(i64, String)> = incidents
        .iter()
        .map(|i| (i.number, IncidentRef::display(i.number)))
        .collect();
    refs.sort();
    let refs: Vec<String> = refs.into_iter().map(|(_, r)| r).collect();
    write_history(
        db,
        vec![history(
            item.id,
            now,
            actor,
            "created",
            None,
            Some(format!("{} ({})", item.title, refs.join(", "))),
        )],
    )
    .await?;
    Ok(Written {
        model: item,
        outcome: Outcome::Created,
    })
}

/// Store a changed item under the next version, with one history entry per
/// changed field, and move it to its new count group.
async fn update_item<C: ConnectionTrait>(
    db: &C,
    current: remediation_item::Model,
    mut next: remediation_item::Model,
    if_match: Option<&str>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Written<remediation_item::Model>, ServiceError> {
    let entries = changes_of(&current, &next, actor, now);
    next.version = current.version + 1;
    next.updated_at = now;
    update_versioned(
        db,
        next.clone().into_active_model().reset_all(),
        (remediation_item::Column::Id, current.id),
        (remediation_item::Column::Version, current.version),
        if_match,
    )
    .await?;
    write_history(db, entries).await?;
    if (&current.team, &current.priority, &current.status)
        != (&next.team, &next.priority, &next.status)
    {
        bump_count(db, &current, -1).await?;
        bump_count(db, &next, 1).await?;
    }
    Ok(Written {
        model: next,
        outcome: Outcome::Updated,
    })
}

/// The item a change made now leaves, with the status rules applied.
fn changed_now(
    current: &remediation_item::Model,
    changes: RemediationChanges,
    now: DateTime<Utc>,
) -> Result<remediation_item::Model, ServiceError> {
    let old_status: RemediationStatus = current.status;
    let mut next = current.clone();
    if let Some(v) = changes.title {
        next.title = v;
    }
    if let Some(v) = changes.description {
        next.description = v;
    }
    if let Some(v) = changes.kind {
        next.kind = v;
    }
    if let Some(v) = changes.priority {
        next.priority = v;
    }
    if let Some(v) = changes.owner {
        next.owner = v;
    }
    if let Some(v) = changes.team {
        next.team = v;
    }
    if let Some(v) = changes.due_date {
        next.due_date = v;
    }
    if let Some(v) = changes.tracker_url {
        if current.tracker_key.is_some() && v != current.tracker_url {
            return Err(ServiceError::validation(
                "tracker_url",
                "this item is synced with a tracker issue: change the link with                  `POST` or `DELETE /remediations/{ref}/tracker`",
            ));
        }
        next.tracker_url = v;
    }
    let new_status = changes.status.unwrap_or(old_status);
    if !old_status.can_become(new_status) {
        return Err(ServiceError::validation(
            "status",
            format!("a `{old_status}` item cannot become `{new_status}`: reopen it (`open`) first"),
        ));
    }
    next.status = new_status;
    match changes.reason {
        Some(v) => next.reason = v,
        // Reopening or finishing drops the reason for not doing it.
        None if new_status != RemediationStatus::WontDo => next.reason = None,
        None => {}
    }
    check_status_reason(new_status, &next.reason)?;
    if new_status.is_closed() != old_status.is_closed()
        || (new_status.is_closed() && new_status != old_status)
    {
        next.closed_at = new_status.is_closed().then_some(now);
    }
    Ok(next)
}
