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
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
