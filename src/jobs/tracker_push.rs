//! The push worker: lease an item's push row, bring its issue in step with
//! the item, record the result. The issue is created exactly once: a row
//! is leased by one worker at a time (a conditional update, as the outbox
//! does), the issue is looked for by the item's marker before one is
//! created (a worker that died after creating it, or whose answer was lost,
//! left it there), and the key is stored in the transaction that ends the
//! lease. A lease runs `jobs.claim_seconds`, far beyond a call's timeout, so
//! a live worker is never overtaken.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, ModelTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Expr, sea_query::ExprTrait,
};
use uuid::Uuid;

use crate::{
    domain::{IncidentRef, RemediationRef, TrackerKind},
    entities::{
        incident, remediation_item,
        tracker_push::{self, TrackerPushStatus},
    },
    jobs::outbox::backoff,
    reports::email::MailLinks,
    services::{
        Context, ServiceError, remediations,
        tracker_sync::{
            Desired, desired, marker, pause, paused, seen, store_error, store_seen, update_from,
        },
    },
    trackers::{Configured, IssueDraft, RemoteIssue, TrackerError},
};

/// What one pass over the push queue did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushReport {
    /// Issues created or brought in step.
    pub pushed: u32,
    /// Attempts that failed and will be retried.
    pub retrying: u32,
    /// Pushes given up (refused by the tracker, or out of attempts).
    pub failed: u32,
}

impl PushReport {
    pub fn did_work(&self) -> bool {
        self.pushed + self.retrying + self.failed > 0
    }
}

fn due(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(
            Condition::all()
                .add(tracker_push::Column::Status.eq(TrackerPushStatus::Pending))
                .add(tracker_push::Column::NextAttemptAt.lte(now)),
        )
        .add(
            Condition::all()
                .add(tracker_push::Column::Status.eq(TrackerPushStatus::Sending))
                .add(tracker_push::Column::LockedUntil.lt(now)),
        )
}

/// Pushes taken per pass at most (each is a call or three to a tracker):
/// a long queue is worked over several passes, never holding up the
/// scheduler's other jobs for long.
pub const PER_PASS: u64 = 200;

/// Push the items whose push is due (at most [`PER_PASS`]), one after another (a tracker's rate
/// limit is per token, so pushes to one tracker gain nothing from running
/// together); a tracker that answers "rate limited" is left alone for the
/// rest of the pass and until its retry time.
pub async fn drain(ctx: &Context) -> Result<PushReport, ServiceError> {
    let mut report = PushReport::default();
    if ctx.trackers.all().is_empty() {
        return Ok(report);
    }
    let now = ctx.now();
    let mut skipped = paused(&ctx.db, now).await?;
    let candidates: Vec<(Uuid, TrackerKind)> = tracker_push::Entity::find()
        .select_only()
        .column(tracker_push::Column::RemediationId)
        .column(tracker_push::Column::Tracker)
        .filter(due(now))
        .order_by_asc(tracker_push::Column::NextAttemptAt)
        .limit(PER_PASS)
        .into_tuple()
        .all(&ctx.db)
        .await?;
    for (id, kind) in candidates {
        if skipped.contains(&kind) {
            continue;
        }
        let Some(lease) = take_lease(ctx, id).await? else {
            continue; // another worker took it
        };
        let result = push_one(ctx, &lease.row).await;
        if let Some(TrackerError::RateLimited { retry_at }) = &result.error {
            pause(ctx, kind, *retry_at).await?;
            skipped.insert(kind);
        }
        record(ctx, lease, result, &mut report).await?;
    }
    Ok(report)
}

/// A push row this worker holds until `locked_until`.
struct Lease {
    row: tracker_push::Model,
    locked_until: DateTime<Utc>,
}

async fn take_lease(ctx: &Context, id: Uuid) -> Result<Option<Lease>, ServiceError> {
    let lease = Duration::seconds(i64::try_from(ctx.settings.jobs.claim_seconds).unwrap_or(600));
    let now = ctx.now();
    let locked_until = (now + lease).trunc_subsecs(6);
    let txn = ctx.begin_write().await?;
    let leased = tracker_push::Entity::update_many()
        .col_expr(
            tracker_push::Column::Status,
            Expr::value(TrackerPushStatus::Sending),
        )
        .col_expr(tracker_push::Column::LockedUntil, Expr::value(locked_until))
        .col_expr(
            tracker_push::Column::Attempts,
            Expr::col(tracker_push::Column::Attempts).add(Expr::value(1)),
        )
        .col_expr(tracker_push::Column::UpdatedAt, Expr::value(now))
        .filter(tracker_push::Column::RemediationId.eq(id))
        .filter(due(now))
        .exec(&txn)
        .await?;
    let row = if leased.rows_affected == 1 {
        tracker_push::Entity::find_by_id(id).one(&txn).await?
    } else {
        None
    };
    txn.commit().await?;
    Ok(row.map(|row| Lease { row, locked_until }))
}

/// What a push reached: the issue as last seen (even when a later step
/// failed: a created issue's key is never lost), and the error if any.
#[derive(Debug, Default)]
struct PushResult {
    seen: Option<RemoteIssue>,
    error: Option<TrackerError>,
    /// Nothing to do: the item is gone or no longer synced.
    moot: bool,
}

/// Bring one item's issue in step: find or create it, read it once if it
/// was linked by hand, then send what changed in Debrief.
async fn push_one(ctx: &Context, row: &tracker_push::Model) -> PushResult {
    let mut result = PushResult::default();
    let item = match remediation_item::Entity::find_by_id(row.remediation_id)
        .one(&ctx.db)
        .await
    {
        Ok(Some(item)) if item.tracker == Some(row.tracker) => item,
        Ok(_) => {
            result.moot = true;
            return result;
        }
        Err(err) => {
            result.error = Some(TrackerError::Unavailable(err.into()));
            return result;
        }
    };
    let Some(configured) = ctx.trackers.get(row.tracker) else {
        result.error = Some(TrackerError::Rejected {
            status: 0,
            detail: format!("the {} tracker is not configured", row.tracker),
        });
        return result;
    };
    let base = match first_sight(ctx, configured, &item).await {
        Ok(Some(remote)) => {
            result.seen = Some(remote);
            result.seen.as_ref().map(|r| Desired {
                title: r.title.clone(),
                state: r.state,
                due_date: r.due_date,
                assignee: r.assignee.clone(),
            })
        }
        Ok(None) => seen(&item),
        Err(err) => {
            result.error = Some(err);
            return result;
        }
    };
    let (Some(base), Some(key)) = (
        base,
        result
            .seen
            .as_ref()
            .map(|r| r.key.clone())
            .or(item.tracker_key.clone()),
    ) else {
        return result;
    };
    let update = update_from(&base, &desired(&item, &configured.routing));
    if !update.is_empty() {
        match configured.tracker.update(&key, &update).await {
            Ok(remote) => result.seen = Some(remote),
            Err(err) => result.error = Some(err),
        }
    }
    result
}

/// The issue, when this push is the first to see it: found by its marker
/// or created (no key yet), or read (linked by hand, never seen).
async fn first_sight(
    ctx: &Context,
    configured: &Configured,
    item: &remediation_item::Model,
) -> Result<Option<RemoteIssue>, TrackerError> {
    let tracker = &configured.tracker;
    match (&item.tracker_key, item.tracker_seen_state) {
        (Some(_), Some(_)) => Ok(None),
        (Some(key), None) => tracker.get(key).await.map(Some),
        (None, _) => {
            let target = configured.routing.target(item.team.as_deref());
            let marker = marker(item.number);
            if let Some(found) = tracker.find_by_marker(target, &marker).await? {
                tracing::info!(
                    remediation.ref = %RemediationRef::display(item.number),
                    "Found the issue {} of {} by its marker: not creating another",
                    found.key, RemediationRef::display(item.number)
                );
                return Ok(Some(found));
            }
            let draft = draft(ctx, configured, item, target, marker)
                .await
                .map_err(|e| TrackerError::Unavailable(e.into()))?;
            let created = tracker.create(&draft).await?;
            tracing::info!(
                remediation.ref = %RemediationRef::display(item.number),
                tracker = %tracker.kind(),
                "Created the issue {} for {}", created.key, RemediationRef::display(item.number)
            );
            Ok(Some(created))
        }
    }
}

/// The issue to create for an item: its title, a body with its
/// description, a link back and its incidents, labels, due date, assignee.
async fn draft(
    ctx: &Context,
    configured: &Configured,
    item: &remediation_item::Model,
    target: &str,
    marker: String,
) -> Result<IssueDraft, ServiceError> {
    let links = MailLinks::from_settings(&ctx.settings);
    let reference = RemediationRef::display(item.number);
    let mut incidents = item.find_related(incident::Entity).all(&ctx.db).await?;
    incidents.sort_by_key(|i| i.number);
    let mut body = String::new();
    if let Some(description) = item.description.as_deref().filter(|d| !d.trim().is_empty()) {
        body.push_str(description.trim());
        body.push_str("\n\n---\n\n");
    }
    let shown = match links.remediation(&reference) {
        Some(url) => format!("[{reference}]({url})"),
        None => reference.clone(),
    };
    body.push_str(&format!(
        "Remediation item {shown} in Debrief: priority {}, kind {}.\n\nIncidents:\n",
        item.priority, item.kind
    ));
    for i in &incidents {
        let r = IncidentRef::display(i.number);
        let shown = links
            .incident(&r)
            .map_or_else(|| r.clone(), |url| format!("[{r}]({url})"));
        body.push_str(&format!("- {shown}: {}\n", i.title));
    }
    let want = desired(item, &configured.routing);
    Ok(IssueDraft {
        target: target.to_string(),
        title: want.title,
        body,
        marker,
        labels: vec![
            "debrief".into(),
            format!("priority:{}", item.priority),
            format!("kind:{}", item.kind),
        ],
        due_date: want.due_date,
        assignee: want.assignee,
    })
}

/// Store what the push reached and end the lease, in one transaction: the
/// issue's key and state on the item, the row `done` (or `pending` again if
/// the item changed meanwhile, or the error's retry).
async fn record(
    ctx: &Context,
    lease: Lease,
    result: PushResult,
    report: &mut PushReport,
) -> Result<(), ServiceError> {
    let Lease { row, locked_until } = lease;
    let now = ctx.now();
    let txn = ctx.begin_write().await?;
    let item = remediation_item::Entity::find_by_id(row.remediation_id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .filter(|i| i.tracker == Some(row.tracker));
    let ours = Condition::all()
        .add(tracker_push::Column::RemediationId.eq(row.remediation_id))
        .add(tracker_push::Column::Status.eq(TrackerPushStatus::Sending))
        .add(tracker_push::Column::LockedUntil.eq(locked_until));
    if let (Some(item), Some(remote)) = (&item, &result.seen) {
        keep_seen(&txn, item, row.tracker, remote, now).await?;
    }
    let (status, next_at, attempts, error) = match (&result.error, &item) {
        (None, _) | (_, None) => {
            report.pushed += u32::from(!result.moot);
            (TrackerPushStatus::Done, now, row.attempts, None)
        }
        (Some(err), Some(item)) => {
            let text = err.to_string();
            store_error(&txn, item.id, &text).await?;
            let (status, at, attempts) = retry_of(ctx, err, &row, now);
            if status == TrackerPushStatus::Failed {
                report.failed += 1;
            } else {
                report.retrying += 1;
            }
            (status, at, attempts, Some(text))
        }
    };
    let wanted_meanwhile = Expr::col(tracker_push::Column::Wanted).ne(row.wanted);
    let done_or_again = if status == TrackerPushStatus::Done {
        Expr::case(wanted_meanwhile, Expr::value(TrackerPushStatus::Pending))
            .finally(Expr::value(TrackerPushStatus::Done))
            .into()
    } else {
        Expr::value(status)
    };
    tracker_push::Entity::update_many()
        .col_expr(tracker_push::Column::Status, done_or_again)
        .col_expr(tracker_push::Column::NextAttemptAt, Expr::value(next_at))
        .col_expr(tracker_push::Column::Attempts, Expr::value(attempts))
        .col_expr(
            tracker_push::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(tracker_push::Column::LastError, Expr::value(error.clone()))
        .col_expr(tracker_push::Column::UpdatedAt, Expr::value(now))
        .filter(ours)
        .exec(&txn)
        .await?;
    converge(ctx, &txn, row.remediation_id, now).await?;
    txn.commit().await?;
    if let Some(error) = error {
        tracing::warn!(
            remediation.id = %row.remediation_id,
            tracker = %row.tracker,
            error = %error,
            "Push to the {} tracker failed", row.tracker
        );
    }
    Ok(())
}

/// Store the issue as this push saw it, unless newer news of it arrived
/// meanwhile; the key of a newly created (or found) issue goes into the
/// item's history.
async fn keep_seen<C: ConnectionTrait>(
    txn: &C,
    item: &remediation_item::Model,
    tracker: TrackerKind,
    remote: &RemoteIssue,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let newer = item
        .tracker_seen_at
        .is_none_or(|at| at <= remote.updated_at);
    let same_issue = item.tracker_key.as_deref().is_none_or(|k| k == remote.key);
    if !(newer && same_issue) {
        return Ok(());
    }
    if item.tracker_key.is_none() {
        remediations::write_history(
            txn,
            vec![remediations::history(
                item.id,
                now,
                tracker.as_str(),
                "tracker_key",
                None,
                Some(remote.key.clone()),
            )],
        )
        .await?;
    }
    store_seen(txn, item.id, remote, now).await
}

/// If the item now differs from its issue as last seen (a change in the
/// tracker arrived while this push ran), push again: both sides end up equal.
async fn converge<C: ConnectionTrait>(
    ctx: &Context,
    txn: &C,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let Some(item) = remediation_item::Entity::find_by_id(id).one(txn).await? else {
        return Ok(());
    };
    let (Some(kind), Some(base)) = (item.tracker, seen(&item)) else {
        return Ok(());
    };
    let Some(configured) = ctx.trackers.get(kind) else {
        return Ok(());
    };
    let done = tracker_push::Entity::find_by_id(id)
        .one(txn)
        .await?
        .is_none_or(|r| r.status == TrackerPushStatus::Done);
    if done && !update_from(&base, &desired(&item, &configured.routing)).is_empty() {
        remediations::request_push(txn, id, kind, now).await?;
    }
    Ok(())
}

/// Where a failed push goes next: a rate limit waits for its retry time
/// (not counted as an attempt); a refusal is given up at once (the next
/// change of the item tries again); anything else is retried with back-off
/// until `jobs.max_attempts`.
fn retry_of(
    ctx: &Context,
    err: &TrackerError,
    row: &tracker_push::Model,
    now: DateTime<Utc>,
) -> (TrackerPushStatus, DateTime<Utc>, i32) {
    match err {
        TrackerError::RateLimited { retry_at } => {
            (TrackerPushStatus::Pending, *retry_at, row.attempts - 1)
        }
        TrackerError::Rejected { .. } | TrackerError::NotFound => {
            (TrackerPushStatus::Failed, now, row.attempts)
        }
        TrackerError::Unavailable(_) | TrackerError::Unauthorized { .. } => {
            let out_of_attempts =
                u32::try_from(row.attempts).unwrap_or(u32::MAX) >= ctx.settings.jobs.max_attempts;
            let status = if out_of_attempts {
                TrackerPushStatus::Failed
            } else {
                TrackerPushStatus::Pending
            };
            let at = now + backoff(ctx.settings.jobs.retry_base_seconds, row.attempts);
            (status, at, row.attempts)
        }
    }
}
