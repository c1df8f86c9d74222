//! Public status updates, and the incident's last customer update time.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, sea_query::Expr,
};
use uuid::Uuid;

use super::{Context, ServiceError, Written, find_incident, new_id, same_incident, store};
use crate::{
    domain::{IncidentRef, PublicStatus},
    entities::{incident, status_update},
    ingest::StatusUpdateRecord,
};

#[derive(Debug, Clone)]
pub struct NewStatusUpdate {
    pub status: PublicStatus,
    pub message: String,
    pub affected_components: Vec<String>,
    /// When it was posted; now when unset.
    pub posted_at: Option<DateTime<Utc>>,
}

/// A status update to store.
#[derive(Debug, Clone)]
pub enum StatusUpdateWrite {
    /// Posted now (the API, or with a sitrep).
    Post(NewStatusUpdate),
    /// Brought in by an import: matched with what is stored by its id, else
    /// by `(source, external_id)`, and updated when it differs.
    Import(StatusUpdateRecord),
}

pub async fn create(
    ctx: &Context,
    reference: IncidentRef,
    new: NewStatusUpdate,
) -> Result<status_update::Model, ServiceError> {
    let now = ctx.now();
    let txn = ctx.begin_write().await?;
    let incident = find_incident(&txn, reference).await?;
    let written = write(&txn, &incident, StatusUpdateWrite::Post(new), now).await?;
    txn.commit().await?;
    Ok(written.model)
}

/// Store a status update of `incident` inside the caller's transaction and
/// move the incident's `last_customer_update_at` forward to it: the one
/// writer of status updates.
pub async fn write<C: ConnectionTrait>(
    db: &C,
    incident: &incident::Model,
    write: StatusUpdateWrite,
    now: DateTime<Utc>,
) -> Result<Written<status_update::Model>, ServiceError> {
    let (current, next) = match write {
        StatusUpdateWrite::Post(new) => {
            let next = status_update::Model {
                id: new_id(),
                incident_id: incident.id,
                status: new.status,
                message: new.message,
                affected_components: new.affected_components.into(),
                posted_at: new.posted_at.unwrap_or(now),
                source: None,
                external_id: None,
                created_at: now,
                updated_at: now,
            };
            (None, next)
        }
        StatusUpdateWrite::Import(u) => {
            let stored = match (u.id, &u.source, &u.external_id) {
                (Some(id), _, _) => status_update::Entity::find_by_id(id).one(db).await?,
                (None, Some(source), Some(external_id)) => {
                    status_update::Entity::find()
                        .filter(status_update::Column::IncidentId.eq(incident.id))
                        .filter(status_update::Column::Source.eq(source.clone()))
                        .filter(status_update::Column::ExternalId.eq(external_id.clone()))
                        .one(db)
                        .await?
                }
                _ => None,
            };
            same_incident(stored.as_ref().map(|s| s.incident_id), incident.id)?;
            let next = status_update::Model {
                id: u
                    .id
                    .or(stored.as_ref().map(|s| s.id))
                    .unwrap_or_else(new_id),
                incident_id: incident.id,
                status: u.status,
                message: u.message,
                affected_components: u.affected_components.into(),
                posted_at: u.posted_at,
                source: u.source,
                external_id: u.external_id,
                created_at: stored.as_ref().map_or(now, |s| s.created_at),
                updated_at: stored.as_ref().map_or(now, |s| s.updated_at),
            };
            (stored, next)
        }
    };
    let written = store(db, current, next, |m| m.updated_at = now).await?;
    let posted_at = written.model.posted_at;
    // `last_customer_update_at` only moves forward; the condition keeps it
    // so when the caller's copy of the incident is older than the row.
    if written.changed()
        && incident
            .last_customer_update_at
            .is_none_or(|last| last < posted_at)
    {
        incident::Entity::update_many()
            .col_expr(
                incident::Column::LastCustomerUpdateAt,
                Expr::value(posted_at),
            )
            .filter(incident::Column::Id.eq(incident.id))
            .filter(
                Condition::any()
                    .add(incident::Column::LastCustomerUpdateAt.is_null())
                    .add(incident::Column::LastCustomerUpdateAt.lt(posted_at)),
            )
            .exec(db)
            .await?;
    }
    Ok(written)
}

pub async fn list(
    ctx: &Context,
    reference: IncidentRef,
) -> Result<Vec<status_update::Model>, ServiceError> {
    let order = [
        (status_update::Column::PostedAt, sea_orm::Order::Asc),
        (status_update::Column::Id, sea_orm::Order::Asc),
    ];
    let all = status_update::Entity::find();
    super::reads::of_incident(
        &ctx.db,
        reference,
        all,
        status_update::Column::IncidentId,
        &order,
        None,
    )
    .await
}

pub async fn list_for<C: ConnectionTrait>(
    db: &C,
    incident_id: Uuid,
) -> Result<Vec<status_update::Model>, ServiceError> {
    Ok(status_update::Entity::find()
        .filter(status_update::Column::IncidentId.eq(incident_id))
        .order_by_asc(status_update::Column::PostedAt)
        .order_by_asc(status_update::Column::Id)
        .all(db)
        .await?)
}
