//! The link between a remediation item and an incident it came out of.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "remediation_incidents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub remediation_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub incident_id: Uuid,
    pub created_at: DateTimeUtc,
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
    #[sea_orm(
        belongs_to = "super::incident::Entity",
        from = "Column::IncidentId",
        to = "super::incident::Column::Id",
        on_delete = "Cascade"
    )]
    Incident,
}

impl Related<super::remediation_item::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::RemediationItem.def()
    }
}

impl Related<super::incident::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Incident.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
