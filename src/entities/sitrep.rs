//! An immutable version of an incident's situation report.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use super::{JsonList, StringList};

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
    /// The role holders at the time of issue.
    pub roles: JsonList<RoleSnapshot>,
    pub open_issues: StringList,
    pub resolved_issues: StringList,
    pub current_actions: StringList,
    pub next_update_due: Option<DateTimeUtc>,
    pub author: Option<String>,
    pub status_update_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// A role holder as captured in a sitrep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleSnapshot {
    pub role: String,
    pub person: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::incident::Entity",
        from = "Column::IncidentId",
        to = "super::incident::Column::Id",
        on_delete = "Cascade"
    )]
    Incident,
}

impl Related<super::incident::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Incident.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
