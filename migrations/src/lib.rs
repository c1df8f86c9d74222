//! Debrief's database schema, as sea-orm-migration migrations.
//!
//! This crate never imports the service's entities: a migration describes the
//! schema as it was when it was written, so it keeps working after the
//! entities change.

pub use sea_orm_migration::prelude::*;

/// Names of the indexes that queries name too (SQLite's `INDEXED BY`, where
/// its planner would otherwise pick a worse one): one definition, used by
/// the migration that creates the index and by the query that relies on it,
/// so that neither can be renamed alone.
pub mod indexes {
    /// Open items by status, due date, team and priority (the overdue
    /// counts of the remediation summary; covering).
    pub const REMEDIATION_ITEMS_OVERDUE: &str = "idx_remediation_items_overdue";
    /// Items by due date, status and closing time (the on-time share of
    /// the summary; covering).
    pub const REMEDIATION_ITEMS_DUE_STATUS_CLOSED: &str = "idx_remediation_items_due_status_closed";
    /// Open items by age (partial index; the median age of open items).
    pub const REMEDIATION_ITEMS_OPEN_CREATED: &str = "idx_remediation_items_open_created";
}

mod m20261124_000001_create_incident_record;
mod m20261124_000002_create_remediation_items;
mod m20261124_000003_create_postmortems;
mod m20261124_000004_imports;
mod m20261124_000005_digests_and_outbox;
mod m20261125_000006_service_state;
mod m20261130_000007_channel_signing_secret;
mod m20261130_000008_postmortem_withdrawal;
mod m20261130_000009_postmortem_not_required;
mod m20261201_000010_delivery_html;
mod m20261201_000011_tracker_sync;
mod m20261201_000012_search;
mod m20261201_000013_contributing_factors;
mod m20261201_000014_search_timeline_direct;
mod m20261201_000015_timeline_seq_index;
mod m20261201_000016_search_query_function;
mod m20261202_000017_search_automerge;
mod m20261202_000018_search_merge_when_idle;

/// Every migration, in the order it is applied.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_incident_record::Migration),
            Box::new(m20261124_000002_create_remediation_items::Migration),
            Box::new(m20261124_000003_create_postmortems::Migration),
            Box::new(m20261124_000004_imports::Migration),
            Box::new(m20261124_000005_digests_and_outbox::Migration),
            Box::new(m20261125_000006_service_state::Migration),
            Box::new(m20261130_000007_channel_signing_secret::Migration),
            Box::new(m20261130_000008_postmortem_withdrawal::Migration),
            Box::new(m20261130_000009_postmortem_not_required::Migration),
            Box::new(m20261201_000010_delivery_html::Migration),
            Box::new(m20261201_000011_tracker_sync::Migration),
            Box::new(m20261201_000012_search::Migration),
            Box::new(m20261201_000013_contributing_factors::Migration),
            Box::new(m20261201_000014_search_timeline_direct::Migration),
            Box::new(m20261201_000015_timeline_seq_index::Migration),
            Box::new(m20261201_000016_search_query_function::Migration),
            Box::new(m20261202_000017_search_automerge::Migration),
            Box::new(m20261202_000018_search_merge_when_idle::Migration),
        ]
    }
}
