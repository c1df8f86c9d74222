//! Remediation items: the follow-ups that outlive the incident, their links
//! to incidents and the history of every change.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RemediationItems::Table)
                    .col(pk_uuid(RemediationItems::Id))
                    .col(big_integer_uniq(RemediationItems::Number))
                    .col(string_len(RemediationItems::Title, 300))
                    .col(text_null(RemediationItems::Description))
                    .col(string_len(RemediationItems::Kind, 16))
                    .col(string_len(RemediationItems::Priority, 4))
                    .col(string_len_null(RemediationItems::Owner, 200))
                    .col(string_len_null(RemediationItems::Team, 200))
                    .col(date_null(RemediationItems::DueDate))
                    .col(string_len(RemediationItems::Status, 16))
                    .col(text_null(RemediationItems::Reason))
                    .col(text_null(RemediationItems::TrackerUrl))
                    .col(timestamp_with_time_zone_null(RemediationItems::ClosedAt))
                    .col(integer(RemediationItems::Version).default(1))
                    .col(timestamp_with_time_zone(RemediationItems::CreatedAt))
                    .col(timestamp_with_time_zone(RemediationItems::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // Each list filter and each summary query is an index range scan, and
        // the summary's are covering: their cost follows the rows they count,
        // not the table.
        for (name, columns) in [
            (
                "idx_remediation_items_team_status_due",
                vec![
                    RemediationItems::Team,
                    RemediationItems::Status,
                    RemediationItems::DueDate,
                ],
            ),
            (
                "idx_remediation_items_owner_status_due",
                vec![
                    RemediationItems::Owner,
                    RemediationItems::Status,
                    RemediationItems::DueDate,
                ],
            ),
            (
                "idx_remediation_items_due_number",
                vec![RemediationItems::DueDate, RemediationItems::Number],
            ),
            (
                crate::indexes::REMEDIATION_ITEMS_OVERDUE,
                vec![
                    RemediationItems::Status,
                    RemediationItems::DueDate,
                    RemediationItems::Team,
                    RemediationItems::Priority,
                ],
            ),
            (
                crate::indexes::REMEDIATION_ITEMS_DUE_STATUS_CLOSED,
                vec![
                    RemediationItems::DueDate,
                    RemediationItems::Status,
                    RemediationItems::ClosedAt,
                ],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(RemediationItems::Table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        // Open items by age, for the median: a partial index (SQLite and
        // PostgreSQL both have them) that the summary's query matches word
        // for word.
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "CREATE INDEX {} ON remediation_items (created_at) \
                 WHERE status IN ('open', 'in_progress', 'blocked')",
                crate::indexes::REMEDIATION_ITEMS_OPEN_CREATED
            ))
            .await?;

        // Item counts per (team, priority, status), kept in step with the
        // items in the same transactions, so the summary reads a few hundred
        // rows however long the history grows. An item without a team is
        // counted under team '' (a team name can never be blank).
        manager
            .create_table(
                Table::create()
                    .table(RemediationCounts::Table)
                    .col(string_len(RemediationCounts::Team, 200))
                    .col(string_len(RemediationCounts::Priority, 4))
                    .col(string_len(RemediationCounts::Status, 16))
                    .col(big_integer(RemediationCounts::Count).default(0))
                    .primary_key(
                        Index::create()
                            .col(RemediationCounts::Team)
                            .col(RemediationCounts::Priority)
                            .col(RemediationCounts::Status),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RemediationIncidents::Table)
                    .col(uuid(RemediationIncidents::RemediationId))
                    .col(uuid(RemediationIncidents::IncidentId))
                    .col(timestamp_with_time_zone(RemediationIncidents::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(RemediationIncidents::RemediationId)
                            .col(RemediationIncidents::IncidentId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                RemediationIncidents::Table,
                                RemediationIncidents::RemediationId,
                            )
                            .to(RemediationItems::Table, RemediationItems::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                RemediationIncidents::Table,
                                RemediationIncidents::IncidentId,
                            )
                            .to(Incidents::Table, Incidents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_remediation_incidents_incident")
                    .table(RemediationIncidents::Table)
                    .col(RemediationIncidents::IncidentId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RemediationHistory::Table)
                    .col(pk_uuid(RemediationHistory::Id))
                    .col(uuid(RemediationHistory::RemediationId))
                    .col(timestamp_with_time_zone(RemediationHistory::ChangedAt))
                    .col(string_len(RemediationHistory::Actor, 200))
                    .col(string_len(RemediationHistory::Field, 64))
                    .col(text_null(RemediationHistory::OldValue))
                    .col(text_null(RemediationHistory::NewValue))
                    .foreign_key(
                        ForeignKey::create()
                            .from(RemediationHistory::Table, RemediationHistory::RemediationId)
                            .to(RemediationItems::Table, RemediationItems::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_remediation_history_item")
                    .table(RemediationHistory::Table)
                    .col(RemediationHistory::RemediationId)
                    .col(RemediationHistory::ChangedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RemediationCounts::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(RemediationHistory::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(RemediationIncidents::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(RemediationItems::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Incidents {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum RemediationItems {
    Table,
    Id,
    Number,
    Title,
    Description,
    Kind,
    Priority,
    Owner,
    Team,
    DueDate,
    Status,
    Reason,
    TrackerUrl,
    ClosedAt,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum RemediationCounts {
    Table,
    Team,
    Priority,
    Status,
    Count,
}

#[derive(DeriveIden, Clone, Copy)]
enum RemediationIncidents {
    Table,
    RemediationId,
    IncidentId,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum RemediationHistory {
    Table,
    Id,
    RemediationId,
    ChangedAt,
    Actor,
    Field,
    OldValue,
    NewValue,
}
