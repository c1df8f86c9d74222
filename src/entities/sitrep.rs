//! An immutable version of an incident's situation report.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sitreps")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub incident_id: Uuid,
    pub version: i32,
    #[sea_orm(column_type = "Text")]
    pub summary: String,
    pub customer_impact: Option<String>,
    /// JSON array of `{role, person}` at the time of issue.
    pub roles: String,
    /// JSON array of strings.
    pub open_issues: String,
    /// JSON array of strings.
    pub resolved_issues: String,
    /// JSON array of strings.
    pub current_actions: String,
    pub next_update_due: Option<DateTimeUtc>,
    pub author: Option<String>,
    pub status_update_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
