//! A post-mortem: one per incident, with its owner, due date and status.

use sea_orm::entity::prelude::*;

use crate::domain::{PostmortemKind, PostmortemStatus};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "postmortems")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub incident_id: Uuid,
    pub kind: PostmortemKind,
    pub owner: Option<String>,
    /// The due date set on it; `None` follows the severity.
    pub due_date: Option<Date>,
    /// The due date in force: `due_date`, else the one the incident's
    /// severity gives (kept in step by `services::postmortems`).
    pub due_on: Option<Date>,
    pub review_at: Option<DateTimeUtc>,
    pub status: PostmortemStatus,
    /// Where the public page is served: set at the first publication, and
    /// changed only when a redaction rule comes to match it.
    pub slug: Option<String>,
    /// The latest published version (0: never published).
    pub published_version: i32,
    /// The latest publication.
    pub published_at: Option<DateTimeUtc>,
    /// The first publication; stable after.
    pub first_published_at: Option<DateTimeUtc>,
    /// When the publication was withdrawn (`None`: public, or never
    /// published); publishing again clears it.
    pub withdrawn_at: Option<DateTimeUtc>,
    /// Why no post-mortem is needed: set exactly when `status` is
    /// `not_required`.
    pub not_required_reason: Option<String>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
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
    #[sea_orm(has_many = "super::postmortem_section::Entity")]
    Sections,
    #[sea_orm(has_many = "super::postmortem_publication::Entity")]
    Publications,
    #[sea_orm(has_many = "super::contributing_factor::Entity")]
    ContributingFactors,
}

impl Related<super::contributing_factor::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ContributingFactors.def()
    }
}

impl Related<super::postmortem_section::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Sections.def()
    }
}

impl Related<super::postmortem_publication::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Publications.def()
    }
}

impl Related<super::incident::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Incident.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
