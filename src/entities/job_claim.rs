//! A claim on one scheduled run of a job, taken before the run starts.

use sea_orm::entity::prelude::*;

use crate::domain::text_enum;

text_enum! {
    /// A job the scheduler runs at its cron schedule, claimed per run.
    pub enum ScheduledJob {
        /// The weekly digest (`digest.schedule`).
        Digest = "digest",
        /// Reminders of overdue remediation items (`reminders.schedule`).
        Reminders = "reminders",
        /// Reconciliation of linked tracker issues (`trackers.reconcile_schedule`).
        TrackerSync = "tracker_sync",
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "job_claims")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub job: ScheduledJob,
    pub scheduled_for: DateTimeUtc,
    pub claimed_by: String,
    pub claimed_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
    pub attempts: i32,
    pub last_error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
