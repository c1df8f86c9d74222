//! Public status updates, and the incident's last customer update time.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    sea_query::Expr,
};
use uuid::Uuid;

use super::{Context, find_incident, insert_model, json_list, new_id};
use crate::{
    domain::{IncidentRef, PublicStatus},
    entities::{incident, status_update},
    error::ServiceError,
};

#[derive(Debug, Clone)]
pub struct NewStatusUpdate {
    pub status: PublicStatus,
    pub message: String,
    pub affected_components: Vec<String>,
    /// When it was posted; now when unset.
    pub posted_at: Option<DateTime<Utc>>,
}

pub async fn create(
    ctx: &Context,
    reference: IncidentRef,
    new: NewStatusUpdate,
) -> Result<status_update::Model, ServiceError> {
    let now = ctx.now();
    let txn = ctx.begin_write().await?;
    let incident = find_incident(&txn, reference).await?;
    let model = insert(&txn, &incident, now, new).await?;
    txn.commit().await?;
    Ok(model)
}

/// Store a status update inside the caller's transaction and move the
/// incident's `last_customer_update_at` forward.
pub async fn insert<C: ConnectionTrait>(
    txn: &C,
    incident: &incident::Model,
    now: DateTime<Utc>,
    new: NewStatusUpdate,
) -> Result<status_update::Model, ServiceError> {
    let posted_at = new.posted_at.unwrap_or(now);
    let model = status_update::Model {
        id: new_id(),
        incident_id: incident.id,
        status: new.status.as_str().into(),
        message: new.message,
        affected_components: json_list(&new.affected_components),
        posted_at,
        source: None,
        external_id: None,
        created_at: now,
        updated_at: now,
    };
    insert_model(txn, model.clone().into_active_model()).await?;
    if incident
        .last_customer_update_at
        .is_none_or(|last| last < posted_at)
    {
        incident::Entity::update_many()
            .col_expr(
                incident::Column::LastCustomerUpdateAt,
                Expr::value(posted_at),
            )
            .filter(incident::Column::Id.eq(incident.id))
            .exec(txn)
            .await?;
    }
    Ok(model)
}

pub async fn list(
    ctx: &Context,
    reference: IncidentRef,
) -> Result<Vec<status_update::Model>, ServiceError> {
    let incident = find_incident(&ctx.db, reference).await?;
    list_for(&ctx.db, incident.id).await
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
