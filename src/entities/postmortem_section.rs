//! One section of a post-mortem, in its place in the document.

use sea_orm::entity::prelude::*;

use crate::domain::Visibility;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "postmortem_sections")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub postmortem_id: Uuid,
    pub position: i32,
    pub key: String,
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    pub visibility: Visibility,
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
}

impl Related<super::postmortem::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Postmortem.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
