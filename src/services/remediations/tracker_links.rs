//! Which tracker a new item goes to, the requests of the tracker push
//! queue (`jobs::tracker_push` works them), and linking an item to an
//! existing tracker issue, and unlinking it: the
//! `tracker_url` change goes through [`write`] (history, version), the sync
//! columns are set beside it, and a push is asked for: the worker reads the
//! issue and brings it in step with the item, as it does a created one.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Statement, sea_query::Expr,
};
use uuid::Uuid;

use super::{RemediationChanges, RemediationView, RemediationWrite, find_item, views, write};
use crate::{
    domain::{RemediationRef, TrackerKind},
    entities::{
        remediation_item,
        tracker_push::{self, TrackerPushStatus},
    },
    services::{Context, ServiceError},
    trackers::Trackers,
};

/// Link the item to the issue at `url`, an issue URL of a configured tracker.
pub async fn link_tracker(
    ctx: &Context,
    reference: RemediationRef,
    url: &str,
    actor: &str,
) -> Result<RemediationView, ServiceError> {
    let (kind, key) = ctx
        .trackers
        .all()
        .iter()
        .find_map(|c| {
            c.tracker
                .key_from_url(url)
                .map(|key| (c.tracker.kind(), key))
        })
        .ok_or_else(|| not_an_issue_url(ctx, url))?;
    let txn = ctx.begin_write().await?;
    let item = find_item(&txn, reference, true).await?;
    if item.tracker == Some(kind) && item.tracker_key.as_deref() == Some(key.as_str()) {
        let view = views(ctx, &txn, vec![item]).await?.remove(0);
        txn.commit().await?;
        return Ok(view); // linked to that issue already
    }
    if let Some(linked) = &item.tracker_key {
        return Err(conflict(format!(
            "{} is linked to {linked} already: unlink it first (`DELETE …/tracker`)",
            RemediationRef::display(item.number)
        )));
    }
    if let Some(other) = linked_item(&txn, kind, &key).await? {
        return Err(conflict(format!(
            "{key} is linked to {} already",
            RemediationRef::display(other.number)
        )));
    }
    let change = RemediationWrite::Change {
        reference: RemediationRef::Id(item.id),
        if_match: None,
        changes: RemediationChanges {
            tracker_url: Some(Some(url.to_string())),
            ..RemediationChanges::default()
        },
    };
    let now = ctx.now();
    let mut item = write(&txn, change, actor, now).await?.model;
    set_link(&txn, item.id, Some((kind, key.clone()))).await?;
    request_push(&txn, item.id, kind, now).await?;
    item.tracker = Some(kind);
    item.tracker_key = Some(key);
    let view = views(ctx, &txn, vec![item]).await?.remove(0);
    txn.commit().await?;
    Ok(view)
}

/// Forget the item's issue (the issue itself is left as it is).
pub async fn unlink_tracker(
    ctx: &Context,
    reference: RemediationRef,
    actor: &str,
) -> Result<RemediationView, ServiceError> {
    let txn = ctx.begin_write().await?;
    let item = find_item(&txn, reference, true).await?;
    if item.tracker.is_none() && item.tracker_key.is_none() {
        return Err(ServiceError::NotFound(format!(
            "the tracker issue of {}",
            RemediationRef::display(item.number)
        )));
    }
    set_link(&txn, item.id, None).await?;
    tracker_push::Entity::delete_many()
        .filter(tracker_push::Column::RemediationId.eq(item.id))
        .exec(&txn)
        .await?;
    let change = RemediationWrite::Change {
        reference: RemediationRef::Id(item.id),
        if_match: None,
        changes: RemediationChanges {
            tracker_url: Some(None),
            ..RemediationChanges::default()
        },
    };
    let item = write(&txn, change, actor, ctx.now()).await?.model;
    let view = views(ctx, &txn, vec![item]).await?.remove(0);
    txn.commit().await?;
    Ok(view)
}

fn conflict(detail: String) -> ServiceError {
    ServiceError::Conflict {
        detail,
        field: Some("url".into()),
        details: None,
    }
}

fn not_an_issue_url(ctx: &Context, url: &str) -> ServiceError {
    let configured: Vec<String> = ctx
        .trackers
        .all()
        .iter()
        .map(|c| c.tracker.kind().to_string())
        .collect();
    let detail = if configured.is_empty() {
        "no issue tracker is configured on this server ([trackers.github] …)".to_string()
    } else {
        format!(
            "{url:?} is not an issue URL of a configured tracker ({}), e.g. \
             https://github.com/OWNER/REPO/issues/12",
            configured.join(", ")
        )
    };
    ServiceError::validation("url", detail)
}

/// The item linked to `key` in `kind`, if any.
pub(crate) async fn linked_item<C: ConnectionTrait>(
    db: &C,
    kind: TrackerKind,
    key: &str,
) -> Result<Option<remediation_item::Model>, ServiceError> {
    Ok(remediation_item::Entity::find()
        .filter(remediation_item::Column::Tracker.eq(kind))
        .filter(remediation_item::Column::TrackerKey.eq(key))
        .one(db)
        .await?)
}

/// Set (or clear) the item's tracker and key, forgetting what was seen of
/// any previous issue.
async fn set_link<C: ConnectionTrait>(
    db: &C,
    id: uuid::Uuid,
    link: Option<(TrackerKind, String)>,
) -> Result<(), ServiceError> {
    let (kind, key) = link.unzip();
    remediation_item::Entity::update_many()
        .col_expr(remediation_item::Column::Tracker, Expr::value(kind))
        .col_expr(remediation_item::Column::TrackerKey, Expr::value(key))
        .col_expr(
            remediation_item::Column::TrackerSyncedAt,
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
        .col_expr(
            remediation_item::Column::TrackerError,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            remediation_item::Column::TrackerSeenTitle,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            remediation_item::Column::TrackerSeenState,
            Expr::value(Option::<crate::domain::RemoteState>::None),
        )
        .col_expr(
            remediation_item::Column::TrackerSeenDue,
            Expr::value(Option::<chrono::NaiveDate>::None),
        )
        .col_expr(
            remediation_item::Column::TrackerSeenAssignee,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            remediation_item::Column::TrackerSeenAt,
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
        .filter(remediation_item::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// The tracker of a new item: the one asked for (which must be
/// configured), else the team's or the default.
pub fn tracker_for_new(
    trackers: &Trackers,
    requested: Option<TrackerKind>,
    team: Option<&str>,
) -> Result<Option<TrackerKind>, ServiceError> {
    match requested {
        Some(kind) if trackers.get(kind).is_some() => Ok(Some(kind)),
        Some(kind) => Err(ServiceError::validation(
            "tracker",
            format!("the `{kind}` tracker is not configured on this server ([trackers.{kind}])"),
        )),
        None => Ok(trackers.for_team(team)),
    }
}

/// Ask for the item's issue to be created or brought in step, in the
/// transaction of the change: one row per item, its request counter raised.
/// A row a worker holds stays with it (the worker sees the raised counter
/// and leaves the row pending when it is done).
pub async fn request_push<C: ConnectionTrait>(
    db: &C,
    item: Uuid,
    tracker: TrackerKind,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let backend = db.get_database_backend();
    let p: Vec<String> = (1..=4)
        .map(|i| match backend {
            DbBackend::Postgres => format!("${i}"),
            _ => format!("?{i}"),
        })
        .collect();
    let (sending, pending) = (TrackerPushStatus::Sending, TrackerPushStatus::Pending);
    let sql = format!(
        "INSERT INTO tracker_pushes (remediation_id, tracker, status, wanted, attempts, \
         next_attempt_at, locked_until, last_error, created_at, updated_at) \
         VALUES ({a}, {b}, '{pending}', 1, 0, {c}, NULL, NULL, {c}, {c}) \
         ON CONFLICT (remediation_id) DO UPDATE SET \
         wanted = tracker_pushes.wanted + 1, tracker = excluded.tracker, \
         updated_at = excluded.updated_at, \
         status = CASE WHEN tracker_pushes.status = '{sending}' THEN tracker_pushes.status ELSE '{pending}' END, \
         attempts = CASE WHEN tracker_pushes.status = '{sending}' THEN tracker_pushes.attempts ELSE 0 END, \
         next_attempt_at = CASE WHEN tracker_pushes.status = '{sending}' \
         THEN tracker_pushes.next_attempt_at ELSE excluded.next_attempt_at END",
        a = p[0],
        b = p[1],
        c = p[2],
    );
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        sql,
        [item.into(), tracker.into(), now.into()],
    ))
    .await?;
    Ok(())
}
