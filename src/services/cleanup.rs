//! Cleanup items: temporary changes that must be undone before an incident
//! can be closed.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder,
};
use uuid::Uuid;

use super::{Context, check_if_match, find_incident, insert_model, new_id, parse_stored};
use crate::{
    domain::{CleanupKind, CleanupStatus, IncidentRef},
    entities::cleanup_item,
    error::ServiceError,
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

pub async fn create(
    ctx: &Context,
    reference: IncidentRef,
    new: NewCleanupItem,
) -> Result<cleanup_item::Model, ServiceError> {
    let now = ctx.now();
    let txn = ctx.begin_write().await?;
    let incident = find_incident(&txn, reference).await?;
    let model = cleanup_item::Model {
        id: new_id(),
        incident_id: incident.id,
        kind: new.kind.as_str().into(),
        description: new.description,
        owner: new.owner,
        status: CleanupStatus::Pending.as_str().into(),
        reason: None,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    insert_model(&txn, model.clone().into_active_model()).await?;
    txn.commit().await?;
    Ok(model)
}

pub async fn list(
    ctx: &Context,
    reference: IncidentRef,
) -> Result<Vec<cleanup_item::Model>, ServiceError> {
    let incident = find_incident(&ctx.db, reference).await?;
    list_for(&ctx.db, incident.id).await
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
    let current = cleanup_item::Entity::find_by_id(item_id)
        .filter(cleanup_item::Column::IncidentId.eq(incident.id))
        .one(&txn)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("cleanup item {item_id}")))?;
    check_if_match(if_match, current.version)?;
    let mut next = current.clone();
    if let Some(status) = changes.status {
        next.status = status.as_str().into();
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
        next.kind = kind.as_str().into();
    }
    let status: CleanupStatus = parse_stored(&next.status)?;
    if status == CleanupStatus::Kept && next.reason.is_none() {
        return Err(ServiceError::validation(
            "reason",
            "a cleanup item can only be `kept` with a `reason` saying why",
        ));
    }
    if status != CleanupStatus::Kept && !reason_given {
        next.reason = None;
    }
    if next == current {
        txn.commit().await?;
        return Ok(current);
    }
    next.version += 1;
    next.updated_at = now;
    cleanup_item::Entity::update(next.clone().into_active_model().reset_all())
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(next)
}
