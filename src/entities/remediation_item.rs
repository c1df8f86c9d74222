//! A remediation item: a follow-up tracked until it is done.

use sea_orm::entity::prelude::*;

use crate::domain::{Priority, RemediationKind, RemediationStatus, RemoteState, TrackerKind};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "remediation_items")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub number: i64,
    pub title: String,
    pub description: Option<String>,
    pub kind: RemediationKind,
    pub priority: Priority,
    pub owner: Option<String>,
    pub team: Option<String>,
    pub due_date: Option<Date>,
    pub status: RemediationStatus,
    /// Why it is `wont_do`.
    pub reason: Option<String>,
    pub tracker_url: Option<String>,
    /// The tracker the item is synced with; none: not synced.
    pub tracker: Option<TrackerKind>,
    /// The key in that tracker (`acme/ops#12`, `OPS-12`); none
    /// until the issue is created.
    pub tracker_key: Option<String>,
    /// When the item and its issue were last known to be in step.
    pub tracker_synced_at: Option<DateTimeUtc>,
    /// Why the last push or fetch failed; cleared by the next success.
    pub tracker_error: Option<String>,
    /// The issue as Debrief last saw it (the base of the three-way
    /// comparison: a field that differs from it changed on that side).
    /// `tracker_seen_state` is set whenever the issue has been seen.
    pub tracker_seen_title: Option<String>,
    pub tracker_seen_state: Option<RemoteState>,
    pub tracker_seen_due: Option<Date>,
    pub tracker_seen_assignee: Option<String>,
    /// The issue's own `updated_at` when it was last seen: older webhook
    /// deliveries are not applied over newer news.
    pub tracker_seen_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::remediation_incident::Entity")]
    IncidentLinks,
    #[sea_orm(has_many = "super::remediation_history::Entity")]
    History,
}

impl Related<super::remediation_incident::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::IncidentLinks.def()
    }
}

impl Related<super::remediation_history::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::History.def()
    }
}

/// The incidents this item came out of, through `remediation_incidents`.
impl Related<super::incident::Entity> for Entity {
    fn to() -> RelationDef {
        super::remediation_incident::Relation::Incident.def()
    }

    fn via() -> Option<RelationDef> {
        Some(
            super::remediation_incident::Relation::RemediationItem
                .def()
                .rev(),
        )
    }
}

impl ActiveModelBehavior for ActiveModel {}
