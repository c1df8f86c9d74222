//! One send of a week's digest: the scheduled one, or a recorded re-send.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "digest_sends")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub week: String,
    /// 1 for the first send, then 2, 3 … for each re-send.
    pub send_number: i32,
    pub trigger: crate::domain::SendTrigger,
    pub requested_by: Option<String>,
    pub recipients: i32,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
