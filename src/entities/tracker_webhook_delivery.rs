//! A webhook delivery from a tracker that was applied: a replay of the same
//! delivery id changes nothing.

use sea_orm::entity::prelude::*;

use crate::domain::TrackerKind;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tracker_webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tracker: TrackerKind,
    /// GitHub's `X-GitHub-Delivery`, or what the tracker gives instead.
    #[sea_orm(primary_key, auto_increment = false)]
    pub delivery_id: String,
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
