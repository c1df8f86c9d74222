//! A tracker's webhook delivery: verified by the back end (signature or
//! secret), recorded by its delivery id (a replay changes nothing), and
//! applied to the linked item with the tracker's user as the history actor.

use sea_orm::{EntityTrait, IntoActiveModel, sea_query::OnConflict};

use super::{Applied, apply_remote, locked_item};
use crate::{
    domain::TrackerKind,
    entities::tracker_webhook_delivery,
    services::{Context, ServiceError},
    trackers::{WebhookError, WebhookHeaders},
};

/// What a delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// Verified, but not about an issue (a ping, a comment …).
    Ignored,
    /// This delivery was applied before: nothing done.
    Replayed,
    /// About an issue no item is linked to.
    Unlinked,
    /// Applied to the linked item (changed, unchanged or stale).
    Applied(Applied),
}

/// Receive one delivery for the `kind` tracker.
pub async fn receive(
    ctx: &Context,
    kind: TrackerKind,
    headers: &WebhookHeaders,
    query: Option<&str>,
    body: &[u8],
) -> Result<WebhookOutcome, ServiceError> {
    let configured = ctx
        .trackers
        .get(kind)
        .ok_or_else(|| ServiceError::NotFound(format!("the {kind} tracker")))?;
    let event = match configured.tracker.verify_webhook(headers, query, body) {
        Ok(Some(event)) => event,
        Ok(None) => return Ok(WebhookOutcome::Ignored),
        Err(WebhookError::BadSignature) => {
            tracing::warn!(tracker = %kind, "Refused a {kind} webhook delivery: bad signature");
            return Err(ServiceError::Unauthenticated(
                "the webhook signature does not match the configured webhook_secret".into(),
            ));
        }
        Err(WebhookError::Malformed(detail)) => {
            return Err(ServiceError::bad_request(
                "body",
                format!("webhook payload: {detail}"),
            ));
        }
    };
    let now = ctx.now();
    let txn = ctx.begin_write().await?;
    let recorded = tracker_webhook_delivery::Entity::insert(
        tracker_webhook_delivery::Model {
            tracker: kind,
            delivery_id: event.delivery_id.clone(),
            received_at: now,
        }
        .into_active_model(),
    )
    .on_conflict(
        OnConflict::columns([
            tracker_webhook_delivery::Column::Tracker,
            tracker_webhook_delivery::Column::DeliveryId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if recorded == 0 {
        txn.commit().await?;
        return Ok(WebhookOutcome::Replayed);
    }
    let Some(item) = locked_item(&txn, kind, &event.issue.key).await? else {
        txn.commit().await?;
        return Ok(WebhookOutcome::Unlinked);
    };
    let applied = apply_remote(
        &txn,
        &item,
        &event.issue,
        &configured.routing,
        &event.actor,
        now,
    )
    .await?;
    txn.commit().await?;
    tracing::info!(
        tracker = %kind,
        delivery = %event.delivery_id,
        "Webhook for {} applied ({applied:?})", event.issue.key
    );
    Ok(WebhookOutcome::Applied(applied))
}
