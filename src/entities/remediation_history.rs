//! One change of one field of a remediation item: who, when, old → new.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "remediation_history")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub remediation_id: Uuid,
    pub changed_at: DateTimeUtc,
    pub actor: String,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
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
}

impl Related<super::remediation_item::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::RemediationItem.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
