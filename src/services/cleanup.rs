//! Cleanup items: temporary changes that must be undone before an incident
//! can be closed.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::{
    Context, ServiceError, Written, check_if_match, find_incident, new_id, same_incident, store,
};
use crate::{
    domain::{CleanupKind, CleanupStatus, IncidentRef},
    entities::{cleanup_item, incident},
    ingest::CleanupRecord,
};

#[derive(Debug, Clone)]
pub struct NewCleanupItem {
    pub kind: CleanupKind,
    pub description: String,
    pub owner: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct CleanupChanges {
    pub status: Option<CleanupStatus>,
    pub reason: Option<Option<String>>,
    pub owner: Option<Option<String>>,
    pub description: Option<String>,
    pub kind: Option<CleanupKind>,
}

/// A cleanup item to store.
#[derive(Debug, Clone)]
pub enum CleanupWrite<'a> {
    /// A new item, pending.
    New(NewCleanupItem),
    /// A change to a stored item of the incident, `If-Match` checked.
    Change {
        item_id: Uuid,
        if_match: Option<&'a str>,
        changes: CleanupChanges,
    },
    /// Brought in by an import with its own id: matched by id and updated
    /// when it differs.
    Import(CleanupRecord),
}

pub async fn create(
    ctx: &Context,
    reference: IncidentRef,
    new: NewCleanupItem,
) -> Result<cleanup_item::Model, ServiceError> {
    let now = ctx.now();
    let txn = ctx.begin_write().await?;
    let incident = find_incident(&txn, reference).await?;
    let written = write(&txn, &incident, CleanupWrite::New(new), now).await?;
    txn.commit().await?;
    Ok(written.model)
}

pub async fn list(
    ctx: &Context,
    reference: IncidentRef,
) -> Result<Vec<cleanup_item::Model>, ServiceError> {
    let order = [
        (cleanup_item::Column::CreatedAt, sea_orm::Order::Asc),
        (cleanup_item::Column::Id, sea_orm::Order::Asc),
    ];
    let all = cleanup_item::Entity::find();
    super::reads::of_incident(
        &ctx.db,
        reference,
        all,
        cleanup_item::Column::IncidentId,
        &order,
        None,
    )
    .await
}

/// Every cleanup item of the incident, oldest first.
pub async fn list_for<C: ConnectionTrait>(
    db: &C,
    incident_id: Uuid,
) -> Result<Vec<cleanup_item::Model>, ServiceError> {
    Ok(cleanup_item::Entity::find()
        .filter(cleanup_item::Column::IncidentId.eq(incident_id))
        .order_by_asc(cleanup_item::Column::CreatedAt)
        .order_by_asc(cleanup_item::Column::Id)
        .all(db)
        .await?)
}

/// Change a cleanup item. `kept` needs a reason; the reason goes when the
/// item is no longer kept.
pub async fn update(
    ctx: &Context,
    reference: IncidentRef,
    item_id: Uuid,
    if_match: Option<&str>,
    changes: CleanupChanges,
) -> Result<cleanup_item::Model, ServiceError> {
    let now = ctx.now();
    let txn = ctx.begin_write().await?;
    let incident = find_incident(&txn, reference).await?;
    let change = CleanupWrite::Change {
        item_id,
        if_match,
        changes,
    };
    let written = write(&txn, &incident, change, now).await?;
    txn.commit().await?;
    Ok(written.model)
}

/// Store a cleanup item of `incident` inside the caller's transaction: the
/// one writer of cleanup items. A `kept` item needs a reason.
pub async fn write<C: ConnectionTrait>(
    db: &C,
    incident: &incident::Model,
    write: CleanupWrite<'_>,
    now: DateTime<Utc>,
) -> Result<Written<cleanup_item::Model>, ServiceError> {
    let (current, next) = match write {
        CleanupWrite::New(new) => (None, new_item(incident, new, now)),
        CleanupWrite::Change {
            item_id,
            if_match,
            changes,
        } => changed_item(db, incident, item_id, if_match, changes).await?,
        CleanupWrite::Import(c) => imported_item(db, incident, c, now).await?,
    };
    check_kept_reason(&next)?;
    store(db, current, next, |m| {
        m.version += 1;
        m.updated_at = now;
    })
    .await
}

/// [`CleanupWrite::New`]: a pending item.
fn new_item(
    incident: &incident::Model,
    new: NewCleanupItem,
    now: DateTime<Utc>,
) -> cleanup_item::Model {
    cleanup_item::Model {
        id: new_id(),
        incident_id: incident.id,
        kind: new.kind,
        description: new.description,
        owner: new.owner,
        status: CleanupStatus::Pending,
        reason: None,
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

/// [`CleanupWrite::Change`]: the stored item (`If-Match` checked) and the
/// item the changes leave; the reason goes when the item is no longer
/// `kept` and no new one is given.
async fn changed_item<C: ConnectionTrait>(
    db: &C,
    incident: &incident::Model,
    item_id: Uuid,
    if_match: Option<&str>,
    changes: CleanupChanges,
) -> Result<(Option<cleanup_item::Model>, cleanup_item::Model), ServiceError> {
    let current = cleanup_item::Entity::find_by_id(item_id)
        .filter(cleanup_item::Column::IncidentId.eq(incident.id))
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("cleanup item {item_id}")))?;
    check_if_match(if_match, current.version)?;
    let mut next = current.clone();
    if let Some(status) = changes.status {
        next.status = status;
    }
    let reason_given = changes.reason.is_some();
    if let Some(reason) = changes.reason {
        next.reason = reason;
    }
    if let Some(owner) = changes.owner {
        next.owner = owner;
    }
    if let Some(description) = changes.description {
        next.description = description;
    }
    if let Some(kind) = changes.kind {
        next.kind = kind;
    }
    if next.status != CleanupStatus::Kept && !reason_given {
        next.reason = None;
    }
    Ok((Some(current), next))
}

/// [`CleanupWrite::Import`]: the stored item of that id, if any, and the
/// item as the file has it.
async fn imported_item<C: ConnectionTrait>(
    db: &C,
    incident: &incident::Model,
    c: CleanupRecord,
    now: DateTime<Utc>,
) -> Result<(Option<cleanup_item::Model>, cleanup_item::Model), ServiceError> {
    let stored = cleanup_item::Entity::find_by_id(c.id).one(db).await?;
    same_incident(stored.as_ref().map(|e| e.incident_id), incident.id)?;
    let next = cleanup_item::Model {
        id: c.id,
        incident_id: incident.id,
        kind: c.kind,
        description: c.description,
        owner: c.owner,
        status: c.status,
        reason: c.reason,
        version: stored.as_ref().map_or(1, |e| e.version),
        created_at: c.created_at,
        updated_at: stored.as_ref().map_or(now, |e| e.updated_at),
    };
    Ok((stored, next))
}

/// A `kept` item says why it is kept.
fn check_kept_reason(next: &cleanup_item::Model) -> Result<(), ServiceError> {
    if next.status == CleanupStatus::Kept && next.reason.is_none() {
        return Err(ServiceError::validation(
            "reason",
            "a cleanup item can only be `kept` with a `reason` saying why",
        ));
    }
    Ok(())
}
