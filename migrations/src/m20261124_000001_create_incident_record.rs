//! The incident record: tokens, reference counters, incidents, roles,
//! timeline events, sitreps, status updates and cleanup items.
//!
//! Lists (labels, components, open issues …) are stored as JSON text so the
//! schema reads the same on SQLite and PostgreSQL.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiTokens::Table)
                    .col(pk_uuid(ApiTokens::Id))
                    .col(string_len(ApiTokens::Name, 200))
                    .col(string_len(ApiTokens::Scope, 16))
                    .col(string_len_uniq(ApiTokens::TokenHash, 64))
                    .col(timestamp_with_time_zone_null(ApiTokens::LastUsedAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::RevokedAt))
                    .col(timestamp_with_time_zone(ApiTokens::CreatedAt))
                    .col(timestamp_with_time_zone(ApiTokens::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Counters::Table)
                    .col(string_len(Counters::Name, 64).primary_key())
                    .col(big_integer(Counters::Value))
                    .to_owned(),
            )
            .await?;
        let seed = Query::insert()
            .into_table(Counters::Table)
            .columns([Counters::Name, Counters::Value])
            .values_panic(["incident".into(), 0i64.into()])
            .values_panic(["remediation".into(), 0i64.into()])
            .to_owned();
        manager.exec_stmt(seed).await?;

        manager
            .create_table(
                Table::create()
                    .table(Incidents::Table)
                    .col(pk_uuid(Incidents::Id))
                    .col(big_integer_uniq(Incidents::Number))
                    .col(string_len(Incidents::Title, 300))
                    .col(string_len(Incidents::Severity, 8))
                    .col(string_len(Incidents::Status, 16))
                    .col(text_null(Incidents::CustomerImpact))
                    .col(text(Incidents::AffectedComponents))
                    .col(text_null(Incidents::ChatRoomUrl))
                    .col(text(Incidents::Labels))
                    .col(timestamp_with_time_zone_null(Incidents::StartedAt))
                    .col(timestamp_with_time_zone_null(Incidents::DetectedAt))
                    .col(timestamp_with_time_zone_null(Incidents::AcknowledgedAt))
                    .col(timestamp_with_time_zone_null(Incidents::MitigatedAt))
                    .col(timestamp_with_time_zone_null(Incidents::ResolvedAt))
                    .col(timestamp_with_time_zone_null(Incidents::ClosedAt))
                    .col(timestamp_with_time_zone_null(
                        Incidents::LastCustomerUpdateAt,
                    ))
                    .col(integer(Incidents::SitrepCount).default(0))
                    .col(integer(Incidents::Version).default(1))
                    .col(timestamp_with_time_zone(Incidents::CreatedAt))
                    .col(timestamp_with_time_zone(Incidents::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_incidents_status", Incidents::Status),
            ("idx_incidents_severity", Incidents::Severity),
            ("idx_incidents_created_at", Incidents::CreatedAt),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Incidents::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(RoleAssignments::Table)
                    .col(pk_uuid(RoleAssignments::Id))
                    .col(uuid(RoleAssignments::IncidentId))
                    .col(string_len(RoleAssignments::Role, 64))
                    .col(string_len(RoleAssignments::Person, 200))
                    .col(timestamp_with_time_zone(RoleAssignments::AssignedAt))
                    .col(timestamp_with_time_zone_null(RoleAssignments::RelievedAt))
                    .col(timestamp_with_time_zone(RoleAssignments::CreatedAt))
                    .col(timestamp_with_time_zone(RoleAssignments::UpdatedAt))
                    .foreign_key(&mut incident_fk(
                        RoleAssignments::Table,
                        RoleAssignments::IncidentId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_role_assignments_incident")
                    .table(RoleAssignments::Table)
                    .col(RoleAssignments::IncidentId)
                    .col(RoleAssignments::AssignedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TimelineEvents::Table)
                    .col(pk_uuid(TimelineEvents::Id))
                    .col(uuid(TimelineEvents::IncidentId))
                    .col(timestamp_with_time_zone(TimelineEvents::OccurredAt))
                    .col(string_len(TimelineEvents::Kind, 32))
                    .col(text(TimelineEvents::Body))
                    .col(string_len_null(TimelineEvents::Author, 200))
                    .col(string_len(TimelineEvents::Source, 16))
                    .col(string_len_null(TimelineEvents::ExternalId, 200))
                    .col(string_len(TimelineEvents::Visibility, 16))
                    .col(timestamp_with_time_zone(TimelineEvents::CreatedAt))
                    .col(timestamp_with_time_zone(TimelineEvents::UpdatedAt))
                    .foreign_key(&mut incident_fk(
                        TimelineEvents::Table,
                        TimelineEvents::IncidentId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_timeline_events_external")
                    .table(TimelineEvents::Table)
                    .col(TimelineEvents::IncidentId)
                    .col(TimelineEvents::Source)
                    .col(TimelineEvents::ExternalId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_timeline_events_incident_time")
                    .table(TimelineEvents::Table)
                    .col(TimelineEvents::IncidentId)
                    .col(TimelineEvents::OccurredAt)
                    .col(TimelineEvents::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(StatusUpdates::Table)
                    .col(pk_uuid(StatusUpdates::Id))
                    .col(uuid(StatusUpdates::IncidentId))
                    .col(string_len(StatusUpdates::Status, 16))
                    .col(text(StatusUpdates::Message))
                    .col(text(StatusUpdates::AffectedComponents))
                    .col(timestamp_with_time_zone(StatusUpdates::PostedAt))
                    .col(string_len_null(StatusUpdates::Source, 16))
                    .col(string_len_null(StatusUpdates::ExternalId, 200))
                    .col(timestamp_with_time_zone(StatusUpdates::CreatedAt))
                    .col(timestamp_with_time_zone(StatusUpdates::UpdatedAt))
                    .foreign_key(&mut incident_fk(
                        StatusUpdates::Table,
                        StatusUpdates::IncidentId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_status_updates_incident_time")
                    .table(StatusUpdates::Table)
                    .col(StatusUpdates::IncidentId)
                    .col(StatusUpdates::PostedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_status_updates_external")
                    .table(StatusUpdates::Table)
                    .col(StatusUpdates::IncidentId)
                    .col(StatusUpdates::Source)
                    .col(StatusUpdates::ExternalId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sitreps::Table)
                    .col(pk_uuid(Sitreps::Id))
                    .col(uuid(Sitreps::IncidentId))
                    .col(integer(Sitreps::Version))
                    .col(text(Sitreps::Summary))
                    .col(text_null(Sitreps::CustomerImpact))
                    .col(text(Sitreps::Roles))
                    .col(text(Sitreps::OpenIssues))
                    .col(text(Sitreps::ResolvedIssues))
                    .col(text(Sitreps::CurrentActions))
                    .col(timestamp_with_time_zone_null(Sitreps::NextUpdateDue))
                    .col(string_len_null(Sitreps::Author, 200))
                    .col(uuid_null(Sitreps::StatusUpdateId))
                    .col(timestamp_with_time_zone(Sitreps::CreatedAt))
                    .col(timestamp_with_time_zone(Sitreps::UpdatedAt))
                    .foreign_key(&mut incident_fk(Sitreps::Table, Sitreps::IncidentId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_sitreps_incident_version")
                    .table(Sitreps::Table)
                    .col(Sitreps::IncidentId)
                    .col(Sitreps::Version)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CleanupItems::Table)
                    .col(pk_uuid(CleanupItems::Id))
                    .col(uuid(CleanupItems::IncidentId))
                    .col(string_len(CleanupItems::Kind, 32))
                    .col(text(CleanupItems::Description))
                    .col(string_len_null(CleanupItems::Owner, 200))
                    .col(string_len(CleanupItems::Status, 16))
                    .col(text_null(CleanupItems::Reason))
                    .col(integer(CleanupItems::Version).default(1))
                    .col(timestamp_with_time_zone(CleanupItems::CreatedAt))
                    .col(timestamp_with_time_zone(CleanupItems::UpdatedAt))
                    .foreign_key(&mut incident_fk(
                        CleanupItems::Table,
                        CleanupItems::IncidentId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_cleanup_items_incident")
                    .table(CleanupItems::Table)
                    .col(CleanupItems::IncidentId)
                    .col(CleanupItems::Status)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            CleanupItems::Table.into_iden(),
            Sitreps::Table.into_iden(),
            StatusUpdates::Table.into_iden(),
            TimelineEvents::Table.into_iden(),
            RoleAssignments::Table.into_iden(),
            Incidents::Table.into_iden(),
            Counters::Table.into_iden(),
            ApiTokens::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// A child row belongs to its incident and goes with it.
fn incident_fk<T: IntoIden + Copy + 'static, C: IntoIden + Copy + 'static>(
    table: T,
    column: C,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Incidents::Table, Incidents::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[derive(DeriveIden, Clone, Copy)]
enum ApiTokens {
    Table,
    Id,
    Name,
    Scope,
    TokenHash,
    LastUsedAt,
    RevokedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Counters {
    Table,
    Name,
    Value,
}

#[derive(DeriveIden, Clone, Copy)]
enum Incidents {
    Table,
    Id,
    Number,
    Title,
    Severity,
    Status,
    CustomerImpact,
    AffectedComponents,
    ChatRoomUrl,
    Labels,
    StartedAt,
    DetectedAt,
    AcknowledgedAt,
    MitigatedAt,
    ResolvedAt,
    ClosedAt,
    LastCustomerUpdateAt,
    SitrepCount,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum RoleAssignments {
    Table,
    Id,
    IncidentId,
    Role,
    Person,
    AssignedAt,
    RelievedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum TimelineEvents {
    Table,
    Id,
    IncidentId,
    OccurredAt,
    Kind,
    Body,
    Author,
    Source,
    ExternalId,
    Visibility,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum StatusUpdates {
    Table,
    Id,
    IncidentId,
    Status,
    Message,
    AffectedComponents,
    PostedAt,
    Source,
    ExternalId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Sitreps {
    Table,
    Id,
    IncidentId,
    Version,
    Summary,
    CustomerImpact,
    Roles,
    OpenIssues,
    ResolvedIssues,
    CurrentActions,
    NextUpdateDue,
    Author,
    StatusUpdateId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CleanupItems {
    Table,
    Id,
    IncidentId,
    Kind,
    Description,
    Owner,
    Status,
    Reason,
    Version,
    CreatedAt,
    UpdatedAt,
}
