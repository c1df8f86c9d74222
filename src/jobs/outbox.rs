//! The outbox worker: lease a due delivery (one row, one recipient), send
//! it, record the outcome; failures are retried with exponential backoff
//! until `jobs.max_attempts`, then marked `failed` (at once when no retry
//! can help, as for a webhook call whose channel was removed).
//!
//! A lease is a conditional update (`pending` and due, or `sending` with an
//! expired lease → `sending` until `now + claim_seconds`, `now` being the
//! moment that one delivery is taken), so two replicas never send the same
//! row at once, and a row whose sender died is sent again after its lease
//! expires. Different recipients are served concurrently. A delivery is marked `sent` right after
//! the server accepted it; only a crash between those two steps can repeat
//! a mail, and the repeat carries the same Message-ID.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use futures_util::StreamExt;
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
    sea_query::ExprTrait,
};

use crate::{
    domain::ChannelKind,
    entities::{
        delivery::{self, DeliveryStatus},
        digest,
    },
    notify::{
        Mailer, WebhookClient,
        mailer::{self, InlineImage},
        webhook::{WebhookError, masked_target},
    },
    reports::email::{self, MailLinks},
    services::{Context, ServiceError, channels},
};

/// A delivery that no retry can make: given up at its first failure.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Undeliverable(&'static str);

/// Is `err` a failure that no retry can mend?
fn is_permanent(err: &anyhow::Error) -> bool {
    err.downcast_ref::<Undeliverable>().is_some()
        || err
            .downcast_ref::<WebhookError>()
            .is_some_and(|e| e.is_permanent())
}

/// The recipient as logs show it: webhook URLs keep their credentials in
/// their path, so only scheme, host and port.
fn shown_recipient(row: &delivery::Model) -> String {
    if row.channel == ChannelKind::Webhook {
        masked_target(&row.recipient)
    } else {
        row.recipient.clone()
    }
}

/// What one pass over the outbox did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Deliveries accepted by the server or webhook.
    pub sent: u32,
    /// Attempts that failed and will be retried.
    pub retrying: u32,
    /// Deliveries given up after the last attempt.
    pub failed: u32,
}

impl DrainReport {
    fn add(&mut self, other: DrainReport) {
        self.sent += other.sent;
        self.retrying += other.retrying;
        self.failed += other.failed;
    }

    pub fn did_work(&self) -> bool {
        self.sent + self.retrying + self.failed > 0
    }
}

fn due(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(
            Condition::all()
                .add(delivery::Column::Status.eq(DeliveryStatus::Pending))
                .add(delivery::Column::NextAttemptAt.lte(now)),
        )
        .add(
            Condition::all()
                .add(delivery::Column::Status.eq(DeliveryStatus::Sending))
                .add(delivery::Column::LockedUntil.lt(now)),
        )
}

/// The delay before attempt `attempts + 1`: base × 2^(attempts − 1), at most a day.
pub fn backoff(base_seconds: u64, attempts: i32) -> Duration {
    let exponent = std::cmp::min(u32::try_from(attempts.saturating_sub(1)).unwrap_or(0), 20);
    let seconds = std::cmp::min(base_seconds.saturating_mul(1u64 << exponent), 86_400);
    Duration::seconds(i64::try_from(seconds).unwrap_or(86_400))
}

/// Targets (recipients) delivered to at once; each target's deliveries go
/// one after another, in order.
const CONCURRENT_TARGETS: usize = 8;

/// Send every delivery that is due now. Deliveries to different targets go
/// concurrently (up to [`CONCURRENT_TARGETS`]), so one slow or dead target
/// delays the others by nothing; each delivery is leased at the moment it
/// is taken, with its own expiry, so a pass of any length never lets
/// another worker take a delivery this one is still sending.
pub async fn drain(
    ctx: &Context,
    mailer: &Mailer,
    webhooks: &WebhookClient,
) -> Result<DrainReport, ServiceError> {
    let candidates: Vec<(uuid::Uuid, String)> = delivery::Entity::find()
        .select_only()
        .column(delivery::Column::Id)
        .column(delivery::Column::Recipient)
        .filter(due(ctx.now()))
        .order_by_asc(delivery::Column::NextAttemptAt)
        .order_by_asc(delivery::Column::Id)
        .into_tuple()
        .all(&ctx.db)
        .await?;
    let mut targets: Vec<(String, Vec<uuid::Uuid>)> = Vec::new();
    for (id, recipient) in candidates {
        match targets.iter_mut().find(|(r, _)| *r == recipient) {
            Some((_, ids)) => ids.push(id),
            None => targets.push((recipient, vec![id])),
        }
    }
    let reports: Vec<Result<DrainReport, ServiceError>> = futures_util::stream::iter(targets)
        .map(|(_, ids)| async move {
            let mut report = DrainReport::default();
            for id in ids {
                report.add(drain_one(ctx, mailer, webhooks, id).await?);
            }
            Ok(report)
        })
        .buffer_unordered(CONCURRENT_TARGETS)
        .collect()
        .await;
    let mut report = DrainReport::default();
    for part in reports {
        report.add(part?);
    }
    Ok(report)
}

/// Lease one delivery, send it, record the outcome.
async fn drain_one(
    ctx: &Context,
    mailer: &Mailer,
    webhooks: &WebhookClient,
    id: uuid::Uuid,
) -> Result<DrainReport, ServiceError> {
    let Some(lease) = take_lease(ctx, id).await? else {
        return Ok(DrainReport::default()); // another worker took it
    };
    let outcome = deliver(ctx, mailer, webhooks, &lease.row).await;
    record_outcome(ctx, lease, outcome).await
}

/// A delivery this worker holds until `locked_until`.
struct Lease {
    row: delivery::Model,
    locked_until: DateTime<Utc>,
}

/// Lease delivery `id` if it is still due: `sending` until now plus
/// `jobs.claim_seconds`, one more attempt counted. `None` when another
/// worker took it first.
async fn take_lease(ctx: &Context, id: uuid::Uuid) -> Result<Option<Lease>, ServiceError> {
    let lease = Duration::seconds(i64::try_from(ctx.settings.jobs.claim_seconds).unwrap_or(600));
    // The lease runs from now, when this delivery is taken, not from the
    // start of the pass.
    let now = ctx.now();
    // Microseconds, as PostgreSQL keeps them, so the value compares equal
    // when the outcome is recorded.
    let locked_until = (now + lease).trunc_subsecs(6);
    let txn = ctx.begin_write().await?;
    let leased = delivery::Entity::update_many()
        .col_expr(
            delivery::Column::Status,
            Expr::value(DeliveryStatus::Sending),
        )
        .col_expr(delivery::Column::LockedUntil, Expr::value(locked_until))
        .col_expr(
            delivery::Column::Attempts,
            Expr::col(delivery::Column::Attempts).add(Expr::value(1)),
        )
        .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
        .filter(delivery::Column::Id.eq(id))
        .filter(due(now))
        .exec(&txn)
        .await?;
    let row = if leased.rows_affected == 1 {
        delivery::Entity::find_by_id(id).one(&txn).await?
    } else {
        None
    };
    txn.commit().await?;
    Ok(row.map(|row| Lease { row, locked_until }))
}

/// Record what sending a leased delivery gave: `sent`, or the error with
/// a retry (`pending` again, after the backoff) or `failed` (given up).
async fn record_outcome(
    ctx: &Context,
    lease: Lease,
    outcome: anyhow::Result<()>,
) -> Result<DrainReport, ServiceError> {
    let Lease { row, locked_until } = lease;
    let now = ctx.now();
    // Recorded only while the lease is still ours: a worker that took the
    // delivery over after it expired records its own outcome.
    let update = delivery::Entity::update_many()
        .filter(delivery::Column::Id.eq(row.id))
        .filter(delivery::Column::Status.eq(DeliveryStatus::Sending))
        .filter(delivery::Column::LockedUntil.eq(locked_until))
        .col_expr(
            delivery::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(delivery::Column::UpdatedAt, Expr::value(now));
    let txn = ctx.begin_write().await?;
    let mut report = DrainReport::default();
    match outcome {
        Ok(()) => {
            update
                .col_expr(delivery::Column::Status, Expr::value(DeliveryStatus::Sent))
                .col_expr(delivery::Column::SentAt, Expr::value(now))
                .col_expr(
                    delivery::Column::LastError,
                    Expr::value(Option::<String>::None),
                )
                .exec(&txn)
                .await?;
            txn.commit().await?;
            tracing::info!(
                delivery.kind = %row.kind,
                delivery.channel = %row.channel,
                delivery.id = %row.id,
                "Delivered {} {} to {}", row.kind, row.channel, shown_recipient(&row)
            );
            report.sent += 1;
        }
        Err(err) => {
            let error = format!("{err:#}");
            let gave_up = is_permanent(&err)
                || u32::try_from(row.attempts).unwrap_or(u32::MAX)
                    >= ctx.settings.jobs.max_attempts;
            let retry_at = now + backoff(ctx.settings.jobs.retry_base_seconds, row.attempts);
            let status = if gave_up {
                DeliveryStatus::Failed
            } else {
                DeliveryStatus::Pending
            };
            update
                .col_expr(delivery::Column::Status, Expr::value(status))
                .col_expr(delivery::Column::NextAttemptAt, Expr::value(retry_at))
                .col_expr(delivery::Column::LastError, Expr::value(error.clone()))
                .exec(&txn)
                .await?;
            txn.commit().await?;
            tracing::warn!(
                delivery.id = %row.id,
                delivery.attempts = row.attempts,
                error = %error,
                "Delivery of {} {} failed{}", row.kind, row.channel,
                if gave_up { "; giving up" } else { "; will retry" }
            );
            if gave_up {
                report.failed += 1;
            } else {
                report.retrying += 1;
            }
        }
    }
    Ok(report)
}

async fn deliver(
    ctx: &Context,
    mailer: &Mailer,
    webhooks: &WebhookClient,
    row: &delivery::Model,
) -> anyhow::Result<()> {
    if row.channel == ChannelKind::Webhook {
        let Some(secret) = channels::webhook_secret(&ctx.db, row).await? else {
            // Never unsigned: a receiver that checks would drop it anyway.
            return Err(Undeliverable("not sent: the channel was removed").into());
        };
        webhooks
            .post(&row.recipient, &row.payload, &secret, ctx.now())
            .await?;
        return Ok(());
    }
    let from = ctx.settings.mail.from.as_str();
    let message = match row.digest_week.as_deref() {
        Some(week) => {
            let archived = digest::Entity::find()
                .filter(digest::Column::Week.eq(week))
                .one(&ctx.db)
                .await?
                .ok_or_else(|| anyhow::anyhow!("the digest of {week} is not in the archive"))?;
            // The mail's HTML is made from the archived Markdown: the
            // archived HTML is the downloadable page, with the chart as a
            // `data:` URI that webmail clients do not show.
            let links = MailLinks::from_settings(&ctx.settings);
            let chart_cid = chart_content_id(&row.message_id);
            mailer::build(mailer::Email {
                from,
                to: &row.recipient,
                subject: &row.subject,
                message_id: &row.message_id,
                date: ctx.now(),
                text: email::digest_mail_text(week, &archived.markdown, &links),
                html: email::digest_mail_html(week, &archived.markdown, &chart_cid, &links)?,
                inline_images: vec![InlineImage {
                    content_id: chart_cid,
                    file_name: "chart.png".into(),
                    content_type: "image/png",
                    bytes: archived.chart_png,
                }],
                pdf: archived
                    .pdf
                    .map(|bytes| (format!("ops-review-{week}.pdf"), bytes)),
            })?
        }
        None => mailer::build(mailer::Email {
            from,
            to: &row.recipient,
            subject: &row.subject,
            message_id: &row.message_id,
            date: ctx.now(),
            text: row.payload.clone(),
            html: row
                .html
                .clone()
                .unwrap_or_else(|| email::text_as_html(&row.payload)),
            inline_images: Vec::new(),
            pdf: None,
        })?,
    };
    mailer.send(&message).await
}

/// The Content-ID of the digest chart in one mail: unique per message,
/// like its Message-ID (`<digest-…@domain>` → `chart.digest-…@domain`).
fn chart_content_id(message_id: &str) -> String {
    format!(
        "chart.{}",
        message_id.trim_start_matches('<').trim_end_matches('>')
    )
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_doubles_up_to_a_day() {
        assert_eq!(backoff(60, 1).num_seconds(), 60);
        assert_eq!(backoff(60, 2).num_seconds(), 120);
        assert_eq!(backoff(60, 5).num_seconds(), 960);
        assert_eq!(backoff(60, 30).num_seconds(), 86_400);
        assert_eq!(backoff(60, 0).num_seconds(), 60, "never below the base");
    }
}
