//! A reminder sent to the owner of overdue remediation items, once per
//! owner and period.

use sea_orm::entity::prelude::*;

use super::StringList;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reminders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub owner: String,
    /// The period the reminder covers (the run's scheduled time, RFC 3339).
    pub period: String,
    pub address: String,
    /// JSON array of the `REM-n` references listed.
    #[sea_orm(column_type = "Text")]
    pub items: StringList,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
