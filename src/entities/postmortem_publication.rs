//! One published version of a post-mortem: what the public pages list.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "postmortem_publications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub postmortem_id: Uuid,
    pub version: i32,
    pub slug: String,
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub summary: String,
    pub published_at: DateTimeUtc,
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
    #[sea_orm(has_many = "super::postmortem_snapshot::Entity")]
    Snapshots,
}

impl Related<super::postmortem::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Postmortem.def()
    }
}

impl Related<super::postmortem_snapshot::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Snapshots.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
