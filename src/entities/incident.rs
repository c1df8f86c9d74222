//! An incident: its facts, milestones and bookkeeping counters.

use sea_orm::entity::prelude::*;

use super::StringList;
use crate::domain::{IncidentStatus, Severity};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "incidents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub number: i64,
    pub title: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub customer_impact: Option<String>,
    pub affected_components: StringList,
    pub chat_room_url: Option<String>,
    pub labels: StringList,
    pub started_at: Option<DateTimeUtc>,
    pub detected_at: Option<DateTimeUtc>,
    pub acknowledged_at: Option<DateTimeUtc>,
    pub mitigated_at: Option<DateTimeUtc>,
    pub resolved_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    pub last_customer_update_at: Option<DateTimeUtc>,
    /// Highest sitrep version issued; the next one is this plus one.
    pub sitrep_count: i32,
    /// Optimistic-concurrency version, bumped by every change of the
    /// incident's own fields.
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::timeline_event::Entity")]
    TimelineEvents,
    #[sea_orm(has_many = "super::sitrep::Entity")]
    Sitreps,
    #[sea_orm(has_many = "super::status_update::Entity")]
    StatusUpdates,
    #[sea_orm(has_many = "super::role_assignment::Entity")]
    RoleAssignments,
    #[sea_orm(has_many = "super::cleanup_item::Entity")]
    CleanupItems,
    #[sea_orm(has_one = "super::postmortem::Entity")]
    Postmortem,
    #[sea_orm(has_many = "super::incident_channel::Entity")]
    Channels,
    #[sea_orm(has_many = "super::incident_external_id::Entity")]
    ExternalIds,
    #[sea_orm(has_many = "super::redaction_rule::Entity")]
    RedactionRules,
    #[sea_orm(has_many = "super::remediation_incident::Entity")]
    RemediationLinks,
}

impl Related<super::timeline_event::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::TimelineEvents.def()
    }
}

impl Related<super::sitrep::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Sitreps.def()
    }
}

impl Related<super::status_update::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::StatusUpdates.def()
    }
}

impl Related<super::role_assignment::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::RoleAssignments.def()
    }
}

impl Related<super::cleanup_item::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CleanupItems.def()
    }
}

impl Related<super::postmortem::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Postmortem.def()
    }
}

impl Related<super::incident_channel::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Channels.def()
    }
}

impl Related<super::incident_external_id::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ExternalIds.def()
    }
}

impl Related<super::redaction_rule::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::RedactionRules.def()
    }
}

impl Related<super::remediation_incident::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::RemediationLinks.def()
    }
}

/// The remediation items that came out of this incident, through
/// `remediation_incidents`.
impl Related<super::remediation_item::Entity> for Entity {
    fn to() -> RelationDef {
        super::remediation_incident::Relation::RemediationItem.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::remediation_incident::Relation::Incident.def().rev())
    }
}

impl ActiveModelBehavior for ActiveModel {}
