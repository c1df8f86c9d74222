//! Linking a remediation item to one more incident, or removing a link.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, sea_query::Expr,
};

use super::{
    find_item,
    history::{history, write_history},
    read::incident_refs,
};
use crate::{
    domain::{IncidentRef, RemediationRef},
    entities::{incident, remediation_incident, remediation_item},
    services::{Outcome, ServiceError, Written, find_incident, insert_model},
};

/// Add or remove one link of an item (see
/// [`RemediationWrite::Link`](super::RemediationWrite::Link)).
pub(super) async fn change_links<C: ConnectionTrait>(
    db: &C,
    reference: RemediationRef,
    incident_ref: IncidentRef,
    actor: &str,
    add: bool,
    now: DateTime<Utc>,
) -> Result<Written<remediation_item::Model>, ServiceError> {
    let item = find_item(db, reference, true).await?;
    let incident = incident_to_link(db, incident_ref, add).await?;
    let before = linked_refs(db, &item).await?;
    let label = IncidentRef::display(incident.number);
    let linked = before.contains(&label);
    if add == linked {
        return Ok(Written {
            model: item,
            outcome: Outcome::Unchanged,
        });
    }
    if add {
        insert_model(
            db,
            remediation_incident::Model {
                remediation_id: item.id,
                incident_id: incident.id,
                created_at: now,
            }
            .into_active_model(),
        )
        .await?;
    } else {
        remove_link(db, &item, &incident, &label, &before).await?;
    }
    let after = linked_refs(db, &item).await?;
    let history = history(
        item.id,
        now,
        actor,
        "incidents",
        Some(before.join(", ")),
        Some(after.join(", ")),
    );
    write_history(db, vec![history]).await?;
    touch(db, item, now).await
}

/// The incident to link or unlink; linking to a missing incident is a bad
/// request body, not a missing resource.
async fn incident_to_link<C: ConnectionTrait>(
    db: &C,
    incident_ref: IncidentRef,
    add: bool,
) -> Result<incident::Model, ServiceError> {
    match find_incident(db, incident_ref).await {
        Err(ServiceError::NotFound(what)) if add => Err(ServiceError::validation(
            "incident",
            format!("{what} does not exist"),
        )),
        other => other,
    }
}

/// The `INC-n` references the item is linked to, in number order.
async fn linked_refs<C: ConnectionTrait>(
    db: &C,
    item: &remediation_item::Model,
) -> Result<Vec<String>, ServiceError> {
    Ok(incident_refs(db, &[item.id])
        .await?
        .remove(&item.id)
        .unwrap_or_default())
}

/// Remove the link to `incident`, unless it is the item's last one.
async fn remove_link<C: ConnectionTrait>(
    db: &C,
    item: &remediation_item::Model,
    incident: &incident::Model,
    label: &str,
    before: &[String],
) -> Result<(), ServiceError> {
    if before.len() == 1 {
        return Err(ServiceError::Conflict {
            detail: format!(
                "{label} is the only incident {} is linked to; link another first",
                RemediationRef::display(item.number)
            ),
            field: Some("incident".into()),
            details: None,
        });
    }
    remediation_incident::Entity::delete_many()
        .filter(remediation_incident::Column::RemediationId.eq(item.id))
        .filter(remediation_incident::Column::IncidentId.eq(incident.id))
        .exec(db)
        .await?;
    Ok(())
}

/// Mark the item updated now (a link changed; its version stays).
async fn touch<C: ConnectionTrait>(
    db: &C,
    mut item: remediation_item::Model,
    now: DateTime<Utc>,
) -> Result<Written<remediation_item::Model>, ServiceError> {
    remediation_item::Entity::update_many()
        .col_expr(remediation_item::Column::UpdatedAt, Expr::value(now))
        .filter(remediation_item::Column::Id.eq(item.id))
        .exec(db)
        .await?;
    item.updated_at = now;
    Ok(Written {
        model: item,
        outcome: Outcome::Updated,
    })
}
