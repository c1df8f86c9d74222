//! The tracker push queue: one row per remediation item whose issue must be
//! created or brought in step, leased by a worker like an outbox delivery.

use sea_orm::entity::prelude::*;

use crate::domain::{TrackerKind, text_enum};

text_enum! {
    /// Where an item's push stands.
    pub enum TrackerPushStatus {
        /// Waiting for its next attempt.
        Pending = "pending",
        /// Leased by a worker until `locked_until`.
        Sending = "sending",
        /// The issue matches the item as of request `wanted`.
        Done = "done",
        /// Given up (`jobs.max_attempts`, or refused by the tracker); the
        /// next change of the item tries again.
        Failed = "failed",
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tracker_pushes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub remediation_id: Uuid,
    pub tracker: TrackerKind,
    pub status: TrackerPushStatus,
    /// Counts the requests: each change of the item adds one. A worker
    /// finishes the row only if no request came while it pushed.
    pub wanted: i32,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub locked_until: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::remediation_item::Entity",
        from = "Column::RemediationId",
        to = "super::remediation_item::Column::Id",
        on_delete = "Cascade"
    )]
    RemediationItem,
}

impl Related<super::remediation_item::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::RemediationItem.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
