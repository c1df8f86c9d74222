//! Role assignments: who is Incident Commander, comms, scribe … and the
//! hand-offs between them.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    sea_query::Expr,
};

use uuid::Uuid;

use super::{Context, find_incident, insert_model, new_id, system_event};
use crate::{
    domain::{IncidentRef, RoleName, TimelineKind},
    entities::role_assignment,
    error::ServiceError,
};

#[derive(Debug, Clone)]
pub struct NewRoleAssignment {
    pub role: RoleName,
    pub person: String,
    /// When the role was taken; now when unset.
    pub assigned_at: Option<DateTime<Utc>>,
}

/// Assign a role. For exclusive roles (IC, comms) the current holder is
/// relieved at the moment of the hand-off, and the hand-off is written to
/// the timeline.
pub async fn assign(
    ctx: &Context,
    reference: IncidentRef,
    new: NewRoleAssignment,
) -> Result<role_assignment::Model, ServiceError> {
    let now = ctx.now();
    let at = new.assigned_at.unwrap_or(now);
    let txn = ctx.begin_write().await?;
    let incident = find_incident(&txn, reference).await?;
    let holders = role_assignment::Entity::find()
        .filter(role_assignment::Column::IncidentId.eq(incident.id))
        .filter(role_assignment::Column::Role.eq(new.role.as_str()))
        .filter(role_assignment::Column::RelievedAt.is_null())
        .order_by_asc(role_assignment::Column::AssignedAt)
        .all(&txn)
        .await?;
    if holders.iter().any(|h| h.person == new.person) {
        return Err(ServiceError::Conflict {
            detail: format!(
                "{} already holds the role {}",
                new.person,
                new.role.as_str()
            ),
            field: Some("person".into()),
            pending_cleanup_items: Vec::new(),
        });
    }
    let relieved: Vec<&role_assignment::Model> = if new.role.is_exclusive() {
        holders.iter().collect()
    } else {
        Vec::new()
    };
    if let Some(latest) = relieved.iter().map(|h| h.assigned_at).max()
        && at < latest
    {
        return Err(ServiceError::validation(
            "assigned_at",
            format!(
                "`assigned_at` is before the current holder took the role ({})",
                latest.to_rfc3339()
            ),
        ));
    }
    if !relieved.is_empty() {
        role_assignment::Entity::update_many()
            .col_expr(role_assignment::Column::RelievedAt, Expr::value(at))
            .col_expr(role_assignment::Column::UpdatedAt, Expr::value(now))
            .filter(role_assignment::Column::Id.is_in(relieved.iter().map(|h| h.id)))
            .exec(&txn)
            .await?;
    }
    let model = role_assignment::Model {
        id: new_id(),
        incident_id: incident.id,
        role: new.role.as_str().into(),
        person: new.person.clone(),
        assigned_at: at,
        relieved_at: None,
        created_at: now,
        updated_at: now,
    };
    insert_model(&txn, model.clone().into_active_model()).await?;
    let body = match relieved.as_slice() {
        [] => format!("{} assigned as {}.", new.person, new.role.label()),
        previous => format!(
            "{} handed off from {} to {}.",
            new.role.label(),
            previous
                .iter()
                .map(|h| h.person.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            new.person
        ),
    };
    insert_model(
        &txn,
        system_event(incident.id, at, TimelineKind::Note, body).into_active_model(),
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}

/// Every assignment of the incident, oldest first.
pub async fn list(
    ctx: &Context,
    reference: IncidentRef,
) -> Result<Vec<role_assignment::Model>, ServiceError> {
    let incident = find_incident(&ctx.db, reference).await?;
    list_for(&ctx.db, incident.id).await
}

/// Every assignment of the incident, oldest first.
pub async fn list_for<C: ConnectionTrait>(
    db: &C,
    incident_id: Uuid,
) -> Result<Vec<role_assignment::Model>, ServiceError> {
    Ok(role_assignment::Entity::find()
        .filter(role_assignment::Column::IncidentId.eq(incident_id))
        .order_by_asc(role_assignment::Column::AssignedAt)
        .order_by_asc(role_assignment::Column::CreatedAt)
        .all(db)
        .await?)
}
