//! Role assignments: who is Incident Commander, comms, scribe … and the
//! hand-offs between them.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    sea_query::Expr,
};

use uuid::Uuid;

use super::{
    Context, ServiceError, Written, find_incident, insert_model, new_id, same_incident, store,
    system_event,
};
use crate::{
    domain::{IncidentRef, RoleName, TimelineKind},
    entities::{incident, role_assignment},
    ingest::RoleRecord,
};

#[derive(Debug, Clone)]
pub struct NewRoleAssignment {
    pub role: RoleName,
    pub person: String,
    /// When the role was taken; now when unset.
    pub assigned_at: Option<DateTime<Utc>>,
}

/// A role assignment to store.
#[derive(Debug, Clone)]
pub enum RoleWrite {
    /// Assign now (the API). For exclusive roles (IC, comms) the current
    /// holder is relieved at the moment of the hand-off, and the hand-off
    /// is written to the timeline.
    Assign(NewRoleAssignment),
    /// Brought in by an import with its own id and times (hand-offs
    /// included): matched by id and updated when it differs.
    Import(RoleRecord),
}

/// Assign a role (see [`RoleWrite::Assign`]).
pub async fn assign(
    ctx: &Context,
    reference: IncidentRef,
    new: NewRoleAssignment,
) -> Result<role_assignment::Model, ServiceError> {
    let now = ctx.now();
    let txn = ctx.begin_write().await?;
    let incident = find_incident(&txn, reference).await?;
    let written = write(&txn, &incident, RoleWrite::Assign(new), now).await?;
    txn.commit().await?;
    Ok(written.model)
}

/// Store a role assignment of `incident` inside the caller's transaction:
/// the one writer of role assignments.
pub async fn write<C: ConnectionTrait>(
    db: &C,
    incident: &incident::Model,
    write: RoleWrite,
    now: DateTime<Utc>,
) -> Result<Written<role_assignment::Model>, ServiceError> {
    match write {
        RoleWrite::Assign(new) => write_assign(db, incident, new, now).await,
        RoleWrite::Import(r) => write_import(db, incident, r, now).await,
    }
}

/// [`RoleWrite::Import`]: the assignment stored under its own id.
async fn write_import<C: ConnectionTrait>(
    db: &C,
    incident: &incident::Model,
    r: RoleRecord,
    now: DateTime<Utc>,
) -> Result<Written<role_assignment::Model>, ServiceError> {
    let stored = role_assignment::Entity::find_by_id(r.id).one(db).await?;
    same_incident(stored.as_ref().map(|e| e.incident_id), incident.id)?;
    let next = role_assignment::Model {
        id: r.id,
        incident_id: incident.id,
        role: r.role,
        person: r.person,
        assigned_at: r.assigned_at,
        relieved_at: r.relieved_at,
        created_at: stored.as_ref().map_or(now, |e| e.created_at),
        updated_at: stored.as_ref().map_or(now, |e| e.updated_at),
    };
    store(db, stored, next, |m| m.updated_at = now).await
}

/// [`RoleWrite::Assign`]: the holders an exclusive role hands off from
/// relieved, the new assignment stored, the hand-off on the timeline.
async fn write_assign<C: ConnectionTrait>(
    db: &C,
    incident: &incident::Model,
    new: NewRoleAssignment,
    now: DateTime<Utc>,
) -> Result<Written<role_assignment::Model>, ServiceError> {
    let at = new.assigned_at.unwrap_or(now);
    let holders = role_assignment::Entity::find()
        .filter(role_assignment::Column::IncidentId.eq(incident.id))
        .filter(role_assignment::Column::Role.eq(new.role.as_str()))
        .filter(role_assignment::Column::RelievedAt.is_null())
        .order_by_asc(role_assignment::Column::AssignedAt)
        .all(db)
        .await?;
    let relieved = check_hand_off(&holders, &new, at)?;
    if !relieved.is_empty() {
        role_assignment::Entity::update_many()
            .col_expr(role_assignment::Column::RelievedAt, Expr::value(at))
            .col_expr(role_assignment::Column::UpdatedAt, Expr::value(now))
            .filter(role_assignment::Column::Id.is_in(relieved.iter().map(|h| h.id)))
            .exec(db)
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
    let written = store(db, None, model, |_| {}).await?;
    record_assignment(db, incident, &new, &relieved, at).await?;
    Ok(written)
}

/// The current holders the assignment relieves (all of them for an
/// exclusive role, none otherwise); refused if the person holds the role
/// already or the hand-off is dated before a holder took it.
fn check_hand_off<'h>(
    holders: &'h [role_assignment::Model],
    new: &NewRoleAssignment,
    at: DateTime<Utc>,
) -> Result<Vec<&'h role_assignment::Model>, ServiceError> {
    if holders.iter().any(|h| h.person == new.person) {
        return Err(ServiceError::Conflict {
            detail: format!(
                "{} already holds the role {}",
                new.person,
                new.role.as_str()
            ),
            field: Some("person".into()),
            details: None,
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
    Ok(relieved)
}

/// The timeline entry of an assignment: a hand-off names who it relieved.
async fn record_assignment<C: ConnectionTrait>(
    db: &C,
    incident: &incident::Model,
    new: &NewRoleAssignment,
    relieved: &[&role_assignment::Model],
    at: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let body = match relieved {
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
        db,
        system_event(incident.id, at, TimelineKind::Note, body).into_active_model(),
    )
    .await?;
    Ok(())
}

/// Every assignment of the incident, oldest first.
pub async fn list(
    ctx: &Context,
    reference: IncidentRef,
) -> Result<Vec<role_assignment::Model>, ServiceError> {
    let order = [
        (role_assignment::Column::AssignedAt, sea_orm::Order::Asc),
        (role_assignment::Column::CreatedAt, sea_orm::Order::Asc),
    ];
    let all = role_assignment::Entity::find();
    super::reads::of_incident(
        &ctx.db,
        reference,
        all,
        role_assignment::Column::IncidentId,
        &order,
        None,
    )
    .await
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
