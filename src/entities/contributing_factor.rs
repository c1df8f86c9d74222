//! One contributing factor a post-mortem names, with its note, in the
//! order the post-mortem lists them.

use sea_orm::entity::prelude::*;

use crate::domain::FactorSlug;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "contributing_factors")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub postmortem_id: Uuid,
    /// The post-mortem's incident (kept for reads by incident).
    pub incident_id: Uuid,
    pub position: i32,
    /// The factor's id in the taxonomy (it may have left it since).
    pub factor: FactorSlug,
    #[sea_orm(column_type = "Text")]
    pub note: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::postmortem::Entity",
        from = "Column::PostmortemId",
        to = "super::postmortem::Column::Id",
        on_delete = "Cascade"
    )]
    Postmortem,
    #[sea_orm(
        belongs_to = "super::incident::Entity",
        from = "Column::IncidentId",
        to = "super::incident::Column::Id",
        on_delete = "Cascade"
    )]
    Incident,
}

impl Related<super::postmortem::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Postmortem.def()
    }
}

impl Related<super::incident::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Incident.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
