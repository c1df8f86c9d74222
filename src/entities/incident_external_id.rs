//! The foreign record an incident was imported from (`statuspage`, id), so
//! that a second import of the same file finds it again.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "incident_external_ids")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub source: crate::domain::EventSource,
    #[sea_orm(primary_key, auto_increment = false)]
    pub external_id: String,
    pub incident_id: Uuid,
    pub created_at: DateTimeUtc,
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
