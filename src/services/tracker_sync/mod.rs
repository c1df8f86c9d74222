//! Two-way sync of remediation items with issue trackers, knowing trackers
//! only as `dyn Tracker` (see `trackers/`): the push queue (requested by
//! `remediations::request_push`; worked by `jobs::tracker_push`, which
//! creates the issue exactly once, then sends what changed in Debrief), and
//! tracker news applied to items (`webhook` for signed deliveries,
//! `jobs::tracker_reconcile` for the scheduled catch-up).
//!
//! Changes are compared three ways: the item, the issue, and the issue as
//! Debrief last saw it (`tracker_seen_*`). A field of the issue that differs
//! from what was seen changed in the tracker: it is applied to the item
//! (history actor `github:<login>`) and not pushed back. A field of the
//! item that differs from what was seen changed in Debrief: it is pushed.
//! When both changed, the later change wins, and both are in the history.

pub mod webhook;

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::Expr};
use uuid::Uuid;

use super::{
    Context, ServiceError,
    remediations::{self, RemediationChanges, RemediationWrite},
};
use crate::{
    domain::{RemediationRef, RemediationStatus, RemoteState, TrackerKind},
    entities::{remediation_item, tracker_rate_limit},
    trackers::{IssueUpdate, RemoteIssue, Routing},
};

/// The marker that finds an item's issue again: `debrief:REM-12`.
pub fn marker(number: i64) -> String {
    format!("debrief:{}", RemediationRef::display(number))
}

/// What the issue should show, from the item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Desired {
    pub title: String,
    pub state: RemoteState,
    pub due_date: Option<NaiveDate>,
    pub assignee: Option<String>,
}

pub(crate) fn desired(item: &remediation_item::Model, routing: &Routing) -> Desired {
    Desired {
        title: item.title.clone(),
        state: match item.status {
            RemediationStatus::Done => RemoteState::Done,
            RemediationStatus::WontDo => RemoteState::NotPlanned,
            _ => RemoteState::Open,
        },
        due_date: item.due_date,
        assignee: match &item.tracker_seen_assignee {
            // The owner the issue's assignee stands for (an unmapped login
            // became the owner as it is): that assignee stays.
            Some(login) if item.owner.as_deref() == Some(routing.owner(login).as_str()) => {
                Some(login.clone())
            }
            _ => routing.assignee(item.owner.as_deref()),
        },
    }
}

/// The issue as last seen, if it was.
pub(crate) fn seen(item: &remediation_item::Model) -> Option<Desired> {
    item.tracker_seen_state.map(|state| Desired {
        title: item.tracker_seen_title.clone().unwrap_or_default(),
        state,
        due_date: item.tracker_seen_due,
        assignee: item.tracker_seen_assignee.clone(),
    })
}

/// What to send so the issue shows `want`, given it was seen as `base`.
pub(crate) fn update_from(base: &Desired, want: &Desired) -> IssueUpdate {
    IssueUpdate {
        title: (want.title != base.title).then(|| want.title.clone()),
        due_date: (want.due_date != base.due_date).then_some(want.due_date),
        assignee: (want.assignee != base.assignee).then(|| want.assignee.clone()),
        state: (want.state != base.state).then_some(want.state),
    }
}

/// Record the issue as seen now (and in step): its key and URL, its fields.
pub(crate) async fn store_seen<C: ConnectionTrait>(
    db: &C,
    item: Uuid,
    remote: &RemoteIssue,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    remediation_item::Entity::update_many()
        .col_expr(
            remediation_item::Column::TrackerKey,
            Expr::value(remote.key.clone()),
        )
        .col_expr(
            remediation_item::Column::TrackerUrl,
            Expr::value(remote.url.clone()),
        )
        .col_expr(remediation_item::Column::TrackerSyncedAt, Expr::value(now))
        .col_expr(
            remediation_item::Column::TrackerError,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            remediation_item::Column::TrackerSeenTitle,
            Expr::value(remote.title.clone()),
        )
        .col_expr(
            remediation_item::Column::TrackerSeenState,
            Expr::value(remote.state),
        )
        .col_expr(
            remediation_item::Column::TrackerSeenDue,
            Expr::value(remote.due_date),
        )
        .col_expr(
            remediation_item::Column::TrackerSeenAssignee,
            Expr::value(remote.assignee.clone()),
        )
        .col_expr(
            remediation_item::Column::TrackerSeenAt,
            Expr::value(remote.updated_at),
        )
        .filter(remediation_item::Column::Id.eq(item))
        .exec(db)
        .await?;
    Ok(())
}

/// Record why the last exchange with the tracker failed.
pub(crate) async fn store_error<C: ConnectionTrait>(
    db: &C,
    item: Uuid,
    error: &str,
) -> Result<(), ServiceError> {
    remediation_item::Entity::update_many()
        .col_expr(remediation_item::Column::TrackerError, Expr::value(error))
        .filter(remediation_item::Column::Id.eq(item))
        .exec(db)
        .await?;
    Ok(())
}

/// What applying tracker news did to an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The item changed (history entries under the tracker's actor).
    Changed,
    /// Nothing the tracker changed since Debrief last saw the issue.
    Unchanged,
    /// Older than what Debrief has seen of the issue: ignored.
    Stale,
}

/// The changes an issue seen as `remote` brings to the item: each field
/// that differs from what was last seen, as far as the item's rules allow.
fn changes_from(
    item: &remediation_item::Model,
    base: &Desired,
    remote: &RemoteIssue,
    routing: &Routing,
) -> RemediationChanges {
    let mut changes = RemediationChanges::default();
    if remote.title != base.title && remote.title != item.title {
        let title: String = remote.title.trim().chars().take(300).collect();
        if !title.is_empty() {
            changes.title = Some(title);
        }
    }
    if remote.due_date != base.due_date && remote.due_date != item.due_date {
        changes.due_date = Some(remote.due_date);
    }
    if remote.assignee != base.assignee {
        let owner = remote.assignee.as_deref().map(|a| routing.owner(a));
        if owner != item.owner {
            changes.owner = Some(owner);
        }
    }
    if remote.state != base.state {
        let status = match remote.state {
            RemoteState::Done => Some(RemediationStatus::Done),
            RemoteState::NotPlanned => Some(RemediationStatus::WontDo),
            RemoteState::Open if item.status.is_closed() => Some(RemediationStatus::Open),
            RemoteState::Open => None,
        };
        if let Some(status) = status.filter(|s| *s != item.status && item.status.can_become(*s)) {
            changes.status = Some(status);
            if status == RemediationStatus::WontDo {
                changes.reason = Some(Some(format!("closed as not planned in {}", remote.key)));
            }
        }
    }
    changes
}

fn is_empty(c: &RemediationChanges) -> bool {
    c.title.is_none() && c.due_date.is_none() && c.owner.is_none() && c.status.is_none()
}

/// Apply the issue as the tracker shows it now to its item (locked by the
/// caller's transaction), then remember it as seen. Nothing is pushed back.
pub(crate) async fn apply_remote<C: ConnectionTrait>(
    db: &C,
    item: &remediation_item::Model,
    remote: &RemoteIssue,
    routing: &Routing,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Applied, ServiceError> {
    if item
        .tracker_seen_at
        .is_some_and(|seen_at| remote.updated_at < seen_at)
    {
        return Ok(Applied::Stale);
    }
    let mut applied = Applied::Unchanged;
    if let Some(base) = seen(item) {
        let changes = changes_from(item, &base, remote, routing);
        if !is_empty(&changes) {
            let change = RemediationWrite::Change {
                reference: RemediationRef::Id(item.id),
                if_match: None,
                changes,
            };
            remediations::write(db, change, actor, now).await?;
            applied = Applied::Changed;
        }
    }
    store_seen(db, item.id, remote, now).await?;
    Ok(applied)
}

/// The item linked to an issue, its row locked for the transaction.
pub(crate) async fn locked_item<C: ConnectionTrait>(
    db: &C,
    kind: TrackerKind,
    key: &str,
) -> Result<Option<remediation_item::Model>, ServiceError> {
    use sea_orm::QuerySelect;
    Ok(remediation_item::Entity::find()
        .filter(remediation_item::Column::Tracker.eq(kind))
        .filter(remediation_item::Column::TrackerKey.eq(key))
        .lock_exclusive()
        .one(db)
        .await?)
}

/// The trackers paused by a rate limit until after `now`.
pub(crate) async fn paused<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
) -> Result<HashSet<TrackerKind>, ServiceError> {
    Ok(tracker_rate_limit::Entity::find()
        .filter(tracker_rate_limit::Column::RetryAt.gt(now))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.tracker)
        .collect())
}

/// Pause `kind` until `retry_at`, for every worker and replica.
pub(crate) async fn pause(
    ctx: &Context,
    kind: TrackerKind,
    retry_at: DateTime<Utc>,
) -> Result<(), ServiceError> {
    use sea_orm::{IntoActiveModel, sea_query::OnConflict};
    let txn = ctx.begin_write().await?;
    tracker_rate_limit::Entity::insert(
        tracker_rate_limit::Model {
            tracker: kind,
            retry_at,
            updated_at: ctx.now(),
        }
        .into_active_model(),
    )
    .on_conflict(
        OnConflict::column(tracker_rate_limit::Column::Tracker)
            .update_columns([
                tracker_rate_limit::Column::RetryAt,
                tracker_rate_limit::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    txn.commit().await?;
    tracing::warn!(tracker = %kind, "The {kind} tracker is rate limited: no calls before {retry_at}");
    Ok(())
}
