//! The immutable bytes of one document of a publication, with its SHA-256.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "postmortem_snapshots")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub publication_id: Uuid,
    pub variant: crate::reports::Variant,
    /// Stored as its extension: `md`, `html` or `pdf`.
    pub format: crate::reports::Format,
    #[sea_orm(column_type = "Blob")]
    pub content: Vec<u8>,
    pub sha256: String,
    pub size: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::postmortem_publication::Entity",
        from = "Column::PublicationId",
        to = "super::postmortem_publication::Column::Id",
        on_delete = "Cascade"
    )]
    Publication,
}

impl Related<super::postmortem_publication::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Publication.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
