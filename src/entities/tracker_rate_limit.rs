//! A tracker that answered "rate limited": no push or reconciliation call
//! goes to it before `retry_at`, on any replica.

use sea_orm::entity::prelude::*;

use crate::domain::TrackerKind;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tracker_rate_limits")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tracker: TrackerKind,
    pub retry_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
