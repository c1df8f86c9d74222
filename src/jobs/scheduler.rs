//! Scheduled runs, claimed in the database before they start: the first
//! replica to insert `(job, scheduled_for)` runs it; a claim whose holder
//! died is taken over once it expires.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    sea_query::ExprTrait,
    sea_query::{Expr, OnConflict},
};

use crate::{
    entities::job_claim::{self, ScheduledJob},
    services::{ServiceError, new_id},
};

/// How a claim attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This process holds the run now (fresh, or taken over after expiry).
    Won,
    /// The run is done, or another live process holds it.
    Taken,
}

/// Try to claim the run of `job` scheduled for `at`, for `ttl`.
pub async fn claim<C: ConnectionTrait>(
    db: &C,
    job: ScheduledJob,
    at: DateTime<Utc>,
    holder: &str,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<Claim, ServiceError> {
    let inserted = job_claim::Entity::insert(
        job_claim::Model {
            id: new_id(),
            job,
            scheduled_for: at,
            claimed_by: holder.into(),
            claimed_at: now,
            expires_at: now + ttl,
            completed_at: None,
            attempts: 1,
            last_error: None,
        }
        .into_active_model(),
    )
    .on_conflict(
        OnConflict::columns([job_claim::Column::Job, job_claim::Column::ScheduledFor])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    if inserted == 1 {
        return Ok(Claim::Won);
    }
    // Someone claimed it before: take it over only if it never completed
    // and its claim has expired (the holder crashed or hung).
    let taken_over = job_claim::Entity::update_many()
        .col_expr(job_claim::Column::ClaimedBy, Expr::value(holder))
        .col_expr(job_claim::Column::ClaimedAt, Expr::value(now))
        .col_expr(job_claim::Column::ExpiresAt, Expr::value(now + ttl))
        .col_expr(
            job_claim::Column::Attempts,
            Expr::col(job_claim::Column::Attempts).add(Expr::value(1)),
        )
        .filter(job_claim::Column::Job.eq(job))
        .filter(job_claim::Column::ScheduledFor.eq(at))
        .filter(job_claim::Column::CompletedAt.is_null())
        .filter(job_claim::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?;
    Ok(if taken_over.rows_affected == 1 {
        Claim::Won
    } else {
        Claim::Taken
    })
}

/// Mark a claimed run done.
pub async fn complete<C: ConnectionTrait>(
    db: &C,
    job: ScheduledJob,
    at: DateTime<Utc>,
    holder: &str,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    job_claim::Entity::update_many()
        .col_expr(job_claim::Column::CompletedAt, Expr::value(now))
        .col_expr(
            job_claim::Column::LastError,
            Expr::value(Option::<String>::None),
        )
        .filter(job_claim::Column::Job.eq(job))
        .filter(job_claim::Column::ScheduledFor.eq(at))
        .filter(job_claim::Column::ClaimedBy.eq(holder))
        .exec(db)
        .await?;
    Ok(())
}

/// Record why a claimed run failed; it is retried once the claim expires.
pub async fn record_failure<C: ConnectionTrait>(
    db: &C,
    job: ScheduledJob,
    at: DateTime<Utc>,
    error: &str,
) -> Result<(), ServiceError> {
    job_claim::Entity::update_many()
        .col_expr(job_claim::Column::LastError, Expr::value(error))
        .filter(job_claim::Column::Job.eq(job))
        .filter(job_claim::Column::ScheduledFor.eq(at))
        .exec(db)
        .await?;
    Ok(())
}
