//! Two-way sync of remediation items with issue trackers (GitHub, Jira):
//! on each item, which tracker and issue it is linked to, when it was last
//! in step and why not, and the issue as Debrief last saw it (the base of
//! the three-way comparison that tells a change made in the tracker from
//! one made in Debrief); the push queue (one row per item, leased like the
//! outbox's deliveries); the webhook deliveries already applied (replays
//! change nothing); and the rate-limit pause of each tracker.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns added to `remediation_items`, one `ALTER TABLE` each (SQLite
/// adds one column per statement).
fn item_columns() -> Vec<ColumnDef> {
    vec![
        string_len_null(RemediationItems::Tracker, 16),
        string_len_null(RemediationItems::TrackerKey, 300),
        timestamp_with_time_zone_null(RemediationItems::TrackerSyncedAt),
        text_null(RemediationItems::TrackerError),
        string_len_null(RemediationItems::TrackerSeenTitle, 1000),
        string_len_null(RemediationItems::TrackerSeenState, 16),
        date_null(RemediationItems::TrackerSeenDue),
        string_len_null(RemediationItems::TrackerSeenAssignee, 300),
        timestamp_with_time_zone_null(RemediationItems::TrackerSeenAt),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for mut column in item_columns() {
            manager
                .alter_table(
                    Table::alter()
                        .table(RemediationItems::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        // One item per issue: a webhook finds its item by (tracker, key).
        manager
            .create_index(
                Index::create()
                    .name("idx_remediation_items_tracker_key")
                    .table(RemediationItems::Table)
                    .col(RemediationItems::Tracker)
                    .col(RemediationItems::TrackerKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TrackerPushes::Table)
                    .col(pk_uuid(TrackerPushes::RemediationId))
                    .col(string_len(TrackerPushes::Tracker, 16))
                    .col(string_len(TrackerPushes::Status, 16))
                    .col(integer(TrackerPushes::Wanted).default(1))
                    .col(integer(TrackerPushes::Attempts).default(0))
                    .col(timestamp_with_time_zone(TrackerPushes::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(TrackerPushes::LockedUntil))
                    .col(text_null(TrackerPushes::LastError))
                    .col(timestamp_with_time_zone(TrackerPushes::CreatedAt))
                    .col(timestamp_with_time_zone(TrackerPushes::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_tracker_pushes_remediation")
                            .from(TrackerPushes::Table, TrackerPushes::RemediationId)
                            .to(RemediationItems::Table, RemediationItems::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_tracker_pushes_due")
                    .table(TrackerPushes::Table)
                    .col(TrackerPushes::Status)
                    .col(TrackerPushes::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TrackerWebhookDeliveries::Table)
                    .col(string_len(TrackerWebhookDeliveries::Tracker, 16))
                    .col(string_len(TrackerWebhookDeliveries::DeliveryId, 300))
                    .col(timestamp_with_time_zone(
                        TrackerWebhookDeliveries::ReceivedAt,
                    ))
                    .primary_key(
                        Index::create()
                            .col(TrackerWebhookDeliveries::Tracker)
                            .col(TrackerWebhookDeliveries::DeliveryId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TrackerRateLimits::Table)
                    .col(string_len(TrackerRateLimits::Tracker, 16).primary_key())
                    .col(timestamp_with_time_zone(TrackerRateLimits::RetryAt))
                    .col(timestamp_with_time_zone(TrackerRateLimits::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            TrackerRateLimits::Table.into_iden(),
            TrackerWebhookDeliveries::Table.into_iden(),
            TrackerPushes::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name("idx_remediation_items_tracker_key")
                    .table(RemediationItems::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            RemediationItems::Tracker,
            RemediationItems::TrackerKey,
            RemediationItems::TrackerSyncedAt,
            RemediationItems::TrackerError,
            RemediationItems::TrackerSeenTitle,
            RemediationItems::TrackerSeenState,
            RemediationItems::TrackerSeenDue,
            RemediationItems::TrackerSeenAssignee,
            RemediationItems::TrackerSeenAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(RemediationItems::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum RemediationItems {
    Table,
    Id,
    Tracker,
    TrackerKey,
    TrackerSyncedAt,
    TrackerError,
    TrackerSeenTitle,
    TrackerSeenState,
    TrackerSeenDue,
    TrackerSeenAssignee,
    TrackerSeenAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum TrackerPushes {
    Table,
    RemediationId,
    Tracker,
    Status,
    Wanted,
    Attempts,
    NextAttemptAt,
    LockedUntil,
    LastError,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum TrackerWebhookDeliveries {
    Table,
    Tracker,
    DeliveryId,
    ReceivedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum TrackerRateLimits {
    Table,
    Tracker,
    RetryAt,
    UpdatedAt,
}
