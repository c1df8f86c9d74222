//! An archived Ops Review digest: one per ISO week.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "digests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// ISO week, `2026-W47`.
    #[sea_orm(unique)]
    pub week: String,
    pub period_start: DateTimeUtc,
    pub period_end: DateTimeUtc,
    pub time_zone: String,
    #[sea_orm(column_type = "Text")]
    pub markdown: String,
    #[sea_orm(column_type = "Text")]
    pub html: String,
    pub chart_png: Vec<u8>,
    pub pdf: Option<Vec<u8>>,
    /// The figures, as the JSON the stats endpoint serves.
    #[sea_orm(column_type = "Text")]
    pub stats: String,
    pub generated_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
