//! An incident: its facts, milestones and bookkeeping counters.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "incidents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub number: i64,
    pub title: String,
    pub severity: String,
    pub status: String,
    pub customer_impact: Option<String>,
    /// JSON array of strings.
    pub affected_components: String,
    pub chat_room_url: Option<String>,
    /// JSON array of strings.
    pub labels: String,
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
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
