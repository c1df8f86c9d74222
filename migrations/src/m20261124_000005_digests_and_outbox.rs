//! The Ops Review digest and everything that delivers mail: job claims for
//! the scheduler, the durable outbox (one row per delivery to one
//! recipient), the digest archive and its sends, incident notification
//! channels and remediation reminder records.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // A scheduled run is claimed by inserting its (job, scheduled_for)
        // row: the unique key lets one replica win. A claim whose holder
        // died is taken over once `expires_at` has passed.
        manager
            .create_table(
                Table::create()
                    .table(JobClaims::Table)
                    .col(pk_uuid(JobClaims::Id))
                    .col(string_len(JobClaims::Job, 64))
                    .col(timestamp_with_time_zone(JobClaims::ScheduledFor))
                    .col(string_len(JobClaims::ClaimedBy, 100))
                    .col(timestamp_with_time_zone(JobClaims::ClaimedAt))
                    .col(timestamp_with_time_zone(JobClaims::ExpiresAt))
                    .col(timestamp_with_time_zone_null(JobClaims::CompletedAt))
                    .col(integer(JobClaims::Attempts).default(1))
                    .col(text_null(JobClaims::LastError))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_job_claims_job_scheduled_for")
                    .table(JobClaims::Table)
                    .col(JobClaims::Job)
                    .col(JobClaims::ScheduledFor)
                    .unique()
                    .to_owned(),
            )
            .await?;

        // The digest archive: one row per ISO week, holding what was (or
        // will be) mailed.
        manager
            .create_table(
                Table::create()
                    .table(Digests::Table)
                    .col(pk_uuid(Digests::Id))
                    .col(string_len_uniq(Digests::Week, 8))
                    .col(timestamp_with_time_zone(Digests::PeriodStart))
                    .col(timestamp_with_time_zone(Digests::PeriodEnd))
                    .col(string_len(Digests::TimeZone, 64))
                    .col(text(Digests::Markdown))
                    .col(text(Digests::Html))
                    .col(blob(Digests::ChartPng))
                    .col(blob_null(Digests::Pdf))
                    .col(text(Digests::Stats))
                    .col(timestamp_with_time_zone(Digests::GeneratedAt))
                    .col(timestamp_with_time_zone(Digests::CreatedAt))
                    .col(timestamp_with_time_zone(Digests::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        // Every send of a week: the scheduled one is send 1; each explicit
        // re-send adds the next number, so it is recorded and its mails get
        // their own delivery keys.
        manager
            .create_table(
                Table::create()
                    .table(DigestSends::Table)
                    .col(pk_uuid(DigestSends::Id))
                    .col(string_len(DigestSends::Week, 8))
                    .col(integer(DigestSends::SendNumber))
                    .col(string_len(DigestSends::Trigger, 16))
                    .col(string_len_null(DigestSends::RequestedBy, 200))
                    .col(integer(DigestSends::Recipients))
                    .col(timestamp_with_time_zone(DigestSends::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_digest_sends_week_number")
                    .table(DigestSends::Table)
                    .col(DigestSends::Week)
                    .col(DigestSends::SendNumber)
                    .unique()
                    .to_owned(),
            )
            .await?;

        // The outbox: one row per delivery to one recipient (an e-mail
        // address or a webhook URL). `delivery_key` is unique, so the same
        // mail can never be enqueued twice; a worker leases a row
        // (`sending` + `locked_until`) before it sends.
        manager
            .create_table(
                Table::create()
                    .table(Deliveries::Table)
                    .col(pk_uuid(Deliveries::Id))
                    .col(string_len_uniq(Deliveries::DeliveryKey, 600))
                    .col(string_len(Deliveries::Kind, 32))
                    .col(string_len(Deliveries::Channel, 16))
                    .col(string_len(Deliveries::Recipient, 2000))
                    .col(string_len(Deliveries::Subject, 500))
                    .col(text(Deliveries::Payload))
                    .col(string_len(Deliveries::MessageId, 300))
                    .col(string_len_null(Deliveries::DigestWeek, 8))
                    .col(integer_null(Deliveries::SendNumber))
                    .col(uuid_null(Deliveries::SitrepId))
                    .col(string_len(Deliveries::Status, 16))
                    .col(integer(Deliveries::Attempts).default(0))
                    .col(timestamp_with_time_zone(Deliveries::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(Deliveries::LockedUntil))
                    .col(text_null(Deliveries::LastError))
                    .col(timestamp_with_time_zone_null(Deliveries::SentAt))
                    .col(timestamp_with_time_zone(Deliveries::CreatedAt))
                    .col(timestamp_with_time_zone(Deliveries::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            (
                "idx_deliveries_status_next",
                vec![Deliveries::Status, Deliveries::NextAttemptAt],
            ),
            (
                "idx_deliveries_digest",
                vec![Deliveries::DigestWeek, Deliveries::SendNumber],
            ),
            ("idx_deliveries_sitrep", vec![Deliveries::SitrepId]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Deliveries::Table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }

        // Where an incident's sitreps go: e-mail addresses and webhooks.
        manager
            .create_table(
                Table::create()
                    .table(IncidentChannels::Table)
                    .col(pk_uuid(IncidentChannels::Id))
                    .col(uuid(IncidentChannels::IncidentId))
                    .col(string_len(IncidentChannels::Kind, 16))
                    .col(string_len(IncidentChannels::Target, 2000))
                    .col(timestamp_with_time_zone(IncidentChannels::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(IncidentChannels::Table, IncidentChannels::IncidentId)
                            .to(Incidents::Table, Incidents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_incident_channels_target")
                    .table(IncidentChannels::Table)
                    .col(IncidentChannels::IncidentId)
                    .col(IncidentChannels::Kind)
                    .col(IncidentChannels::Target)
                    .unique()
                    .to_owned(),
            )
            .await?;

        // One reminder per owner and period: the unique key is the guard.
        manager
            .create_table(
                Table::create()
                    .table(Reminders::Table)
                    .col(pk_uuid(Reminders::Id))
                    .col(string_len(Reminders::Owner, 200))
                    .col(string_len(Reminders::Period, 32))
                    .col(string_len(Reminders::Address, 320))
                    .col(text(Reminders::Items))
                    .col(timestamp_with_time_zone(Reminders::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_reminders_owner_period")
                    .table(Reminders::Table)
                    .col(Reminders::Owner)
                    .col(Reminders::Period)
                    .unique()
                    .to_owned(),
            )
            .await?;

        // The digest looks incidents up by when they started and resolved.
        for (name, column) in [
            ("idx_incidents_started_at", Incidents::StartedAt),
            ("idx_incidents_resolved_at", Incidents::ResolvedAt),
            ("idx_incidents_mitigated_at", Incidents::MitigatedAt),
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
        for (name, column) in [
            (
                "idx_remediation_items_created_at",
                RemediationItems::CreatedAt,
            ),
            (
                "idx_remediation_items_closed_at",
                RemediationItems::ClosedAt,
            ),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(RemediationItems::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Reminders::Table.into_iden(),
            IncidentChannels::Table.into_iden(),
            Deliveries::Table.into_iden(),
            DigestSends::Table.into_iden(),
            Digests::Table.into_iden(),
            JobClaims::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum JobClaims {
    Table,
    Id,
    Job,
    ScheduledFor,
    ClaimedBy,
    ClaimedAt,
    ExpiresAt,
    CompletedAt,
    Attempts,
    LastError,
}

#[derive(DeriveIden)]
enum Digests {
    Table,
    Id,
    Week,
    PeriodStart,
    PeriodEnd,
    TimeZone,
    Markdown,
    Html,
    ChartPng,
    Pdf,
    Stats,
    GeneratedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DigestSends {
    Table,
    Id,
    Week,
    SendNumber,
    Trigger,
    RequestedBy,
    Recipients,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    Id,
    DeliveryKey,
    Kind,
    Channel,
    Recipient,
    Subject,
    Payload,
    MessageId,
    DigestWeek,
    SendNumber,
    SitrepId,
    Status,
    Attempts,
    NextAttemptAt,
    LockedUntil,
    LastError,
    SentAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum IncidentChannels {
    Table,
    Id,
    IncidentId,
    Kind,
    Target,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Reminders {
    Table,
    Id,
    Owner,
    Period,
    Address,
    Items,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Incidents {
    Table,
    Id,
    StartedAt,
    MitigatedAt,
    ResolvedAt,
}

#[derive(DeriveIden)]
enum RemediationItems {
    Table,
    CreatedAt,
    ClosedAt,
}
