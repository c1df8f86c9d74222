//! The history rows of a remediation item: one per field a change touched.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel};
use uuid::Uuid;

use crate::{
    entities::{remediation_history, remediation_item},
    services::{ServiceError, new_id},
};

pub(crate) fn history(
    item: Uuid,
    at: DateTime<Utc>,
    actor: &str,
    field: &str,
    old: Option<String>,
    new: Option<String>,
) -> remediation_history::Model {
    remediation_history::Model {
        id: new_id(),
        remediation_id: item,
        changed_at: at,
        actor: actor.to_string(),
        field: field.to_string(),
        old_value: old,
        new_value: new,
    }
}

pub(crate) async fn write_history<C: ConnectionTrait>(
    txn: &C,
    entries: Vec<remediation_history::Model>,
) -> Result<(), ServiceError> {
    if entries.is_empty() {
        return Ok(());
    }
    remediation_history::Entity::insert_many(
        entries
            .into_iter()
            .map(|e| e.into_active_model().reset_all()),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// The history entries of a change, one per field that changed.
pub(super) fn changes_of(
    current: &remediation_item::Model,
    next: &remediation_item::Model,
    actor: &str,
    now: DateTime<Utc>,
) -> Vec<remediation_history::Model> {
    let mut entries = Vec::new();
    let mut record = |field: &str, old: Option<String>, new: Option<String>| {
        if old != new {
            entries.push(history(current.id, now, actor, field, old, new));
        }
    };
    record(
        "title",
        Some(current.title.clone()),
        Some(next.title.clone()),
    );
    record(
        "description",
        current.description.clone(),
        next.description.clone(),
    );
    record(
        "kind",
        Some(current.kind.to_string()),
        Some(next.kind.to_string()),
    );
    record(
        "priority",
        Some(current.priority.to_string()),
        Some(next.priority.to_string()),
    );
    record("owner", current.owner.clone(), next.owner.clone());
    record("team", current.team.clone(), next.team.clone());
    record("due_date", show(&current.due_date), show(&next.due_date));
    record(
        "status",
        Some(current.status.to_string()),
        Some(next.status.to_string()),
    );
    record("reason", current.reason.clone(), next.reason.clone());
    record(
        "tracker_url",
        current.tracker_url.clone(),
        next.tracker_url.clone(),
    );
    entries
}

fn show<T: ToString>(v: &Option<T>) -> Option<String> {
    v.as_ref().map(ToString::to_string)
}
