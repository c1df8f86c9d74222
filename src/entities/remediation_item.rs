//! A remediation item: a follow-up tracked until it is done.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "remediation_items")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub number: i64,
    pub title: String,
    pub description: Option<String>,
    pub kind: String,
    pub priority: String,
    pub owner: Option<String>,
    pub team: Option<String>,
    pub due_date: Option<Date>,
    pub status: String,
    /// Why it is `wont_do`.
    pub reason: Option<String>,
    pub tracker_url: Option<String>,
    pub closed_at: Option<DateTimeUtc>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
