//! Reconciliation: at `trackers.reconcile_schedule`, every linked issue that
//! is open (on either side) is fetched again and its news applied to the
//! item as a webhook's would be, so a missed webhook is caught up. Items
//! least recently in step go first; a tracker that answers "rate limited"
//! (`403`/`429` with `Retry-After` or `X-RateLimit-Reset`) ends its part of
//! the pass and is paused until then: the next pass starts with the items
//! this one did not reach.

use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::{
    domain::{RemediationStatus, RemoteState, TrackerKind},
    entities::{remediation_item, tracker_webhook_delivery},
    services::{
        Context, ServiceError,
        tracker_sync::{Applied, apply_remote, locked_item, pause, paused, store_error},
    },
    trackers::{Configured, TrackerError},
};

/// Issues fetched per tracker and pass, at most.
pub const PER_PASS: u64 = 1_000;

/// What one reconciliation pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Issues fetched.
    pub checked: usize,
    /// Items changed by what the tracker showed.
    pub changed: usize,
    /// Fetches that failed (the item's `tracker_error` says why).
    pub failed: usize,
    /// Trackers whose part of the pass stopped at a rate limit, and when
    /// they may be called again.
    pub paused: Vec<(TrackerKind, chrono::DateTime<chrono::Utc>)>,
}

/// How long a webhook delivery id is kept to recognise a replay: GitHub
/// redelivers (by hand) for three days.
pub const DELIVERIES_KEPT_DAYS: i64 = 30;

/// One pass over every configured tracker; first, delivery ids older than
/// [`DELIVERIES_KEPT_DAYS`] are forgotten.
pub async fn reconcile(ctx: &Context) -> Result<ReconcileReport, ServiceError> {
    let mut report = ReconcileReport::default();
    let txn = ctx.begin_write().await?;
    tracker_webhook_delivery::Entity::delete_many()
        .filter(
            tracker_webhook_delivery::Column::ReceivedAt
                .lt(ctx.now() - chrono::Duration::days(DELIVERIES_KEPT_DAYS)),
        )
        .exec(&txn)
        .await?;
    txn.commit().await?;
    let skipped = paused(&ctx.db, ctx.now()).await?;
    for configured in ctx.trackers.all() {
        if !skipped.contains(&configured.tracker.kind()) {
            reconcile_tracker(ctx, configured, &mut report).await?;
        }
    }
    Ok(report)
}

async fn reconcile_tracker(
    ctx: &Context,
    configured: &Configured,
    report: &mut ReconcileReport,
) -> Result<(), ServiceError> {
    let kind = configured.tracker.kind();
    let open = Condition::any()
        .add(remediation_item::Column::Status.is_in([
            RemediationStatus::Open,
            RemediationStatus::InProgress,
            RemediationStatus::Blocked,
        ]))
        .add(remediation_item::Column::TrackerSeenState.eq(RemoteState::Open));
    let items: Vec<(uuid::Uuid, String)> = remediation_item::Entity::find()
        .select_only()
        .column(remediation_item::Column::Id)
        .column(remediation_item::Column::TrackerKey)
        .filter(remediation_item::Column::Tracker.eq(kind))
        .filter(remediation_item::Column::TrackerKey.is_not_null())
        .filter(open)
        .order_by_asc(remediation_item::Column::TrackerSyncedAt)
        .order_by_asc(remediation_item::Column::Number)
        .limit(PER_PASS)
        .into_tuple()
        .all(&ctx.db)
        .await?;
    for (id, key) in items {
        match configured.tracker.get(&key).await {
            Ok(remote) => {
                report.checked += 1;
                let txn = ctx.begin_write().await?;
                if let Some(item) = locked_item(&txn, kind, &key).await? {
                    let actor = kind.as_str();
                    let applied =
                        apply_remote(&txn, &item, &remote, &configured.routing, actor, ctx.now())
                            .await?;
                    report.changed += usize::from(applied == Applied::Changed);
                }
                txn.commit().await?;
            }
            Err(TrackerError::RateLimited { retry_at }) => {
                pause(ctx, kind, retry_at).await?;
                report.paused.push((kind, retry_at));
                return Ok(());
            }
            Err(err) => {
                report.failed += 1;
                let txn = ctx.begin_write().await?;
                store_error(&txn, id, &err.to_string()).await?;
                txn.commit().await?;
                tracing::warn!(tracker = %kind, error = %err, "Reconciliation of {key} failed");
                if matches!(err, TrackerError::Unavailable(_)) {
                    return Ok(()); // the tracker is down: the next pass tries again
                }
            }
        }
    }
    Ok(())
}
