//! Imports: which foreign record (a Statuspage incident, say) each incident
//! was imported from, so that importing the same file again updates that
//! incident instead of opening a new one.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IncidentExternalIds::Table)
                    .col(string_len(IncidentExternalIds::Source, 16))
                    .col(string_len(IncidentExternalIds::ExternalId, 200))
                    .col(uuid(IncidentExternalIds::IncidentId))
                    .col(timestamp_with_time_zone(IncidentExternalIds::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(IncidentExternalIds::Source)
                            .col(IncidentExternalIds::ExternalId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(IncidentExternalIds::Table, IncidentExternalIds::IncidentId)
                            .to(Incidents::Table, Incidents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_incident_external_ids_incident")
                    .table(IncidentExternalIds::Table)
                    .col(IncidentExternalIds::IncidentId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(IncidentExternalIds::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum IncidentExternalIds {
    Table,
    Source,
    ExternalId,
    IncidentId,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Incidents {
    Table,
    Id,
}
