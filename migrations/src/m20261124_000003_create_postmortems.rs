//! Post-mortems: one per incident, their ordered sections, the redaction
//! rules (global and per incident) and the immutable published snapshots of
//! every document with its SHA-256 and version.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Postmortems::Table)
                    .col(pk_uuid(Postmortems::Id))
                    .col(uuid_uniq(Postmortems::IncidentId))
                    .col(string_len(Postmortems::Kind, 16))
                    .col(string_len_null(Postmortems::Owner, 200))
                    .col(date_null(Postmortems::DueDate))
                    .col(date_null(Postmortems::DueOn))
                    .col(timestamp_with_time_zone_null(Postmortems::ReviewAt))
                    .col(string_len(Postmortems::Status, 16))
                    .col(string_len_null(Postmortems::Slug, 200).unique_key())
                    .col(integer(Postmortems::PublishedVersion).default(0))
                    .col(timestamp_with_time_zone_null(Postmortems::PublishedAt))
                    .col(timestamp_with_time_zone_null(Postmortems::FirstPublishedAt))
                    .col(integer(Postmortems::Version).default(1))
                    .col(timestamp_with_time_zone(Postmortems::CreatedAt))
                    .col(timestamp_with_time_zone(Postmortems::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Postmortems::Table, Postmortems::IncidentId)
                            .to(Incidents::Table, Incidents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_postmortems_status_due")
                    .table(Postmortems::Table)
                    .col(Postmortems::Status)
                    .col(Postmortems::DueDate)
                    .to_owned(),
            )
            .await?;
        // The digest's post-mortem figures each read one index range: due
        // in a week (`due_on`), first published in a week, and overdue at
        // a week's end (not published by then, `due_on` before it).
        for (name, columns) in [
            ("idx_postmortems_due_on", vec![Postmortems::DueOn]),
            (
                "idx_postmortems_first_published_due_on",
                vec![Postmortems::FirstPublishedAt, Postmortems::DueOn],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Postmortems::Table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(PostmortemSections::Table)
                    .col(pk_uuid(PostmortemSections::Id))
                    .col(uuid(PostmortemSections::PostmortemId))
                    .col(integer(PostmortemSections::Position))
                    .col(string_len(PostmortemSections::Key, 64))
                    .col(string_len(PostmortemSections::Title, 200))
                    .col(text(PostmortemSections::Body))
                    .col(string_len(PostmortemSections::Visibility, 16))
                    .col(timestamp_with_time_zone(PostmortemSections::CreatedAt))
                    .col(timestamp_with_time_zone(PostmortemSections::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(PostmortemSections::Table, PostmortemSections::PostmortemId)
                            .to(Postmortems::Table, Postmortems::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_postmortem_sections_key")
                    .table(PostmortemSections::Table)
                    .col(PostmortemSections::PostmortemId)
                    .col(PostmortemSections::Key)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RedactionRules::Table)
                    .col(pk_uuid(RedactionRules::Id))
                    // NULL: a global rule.
                    .col(uuid_null(RedactionRules::IncidentId))
                    .col(string_len(RedactionRules::Kind, 16))
                    .col(text(RedactionRules::Value))
                    .col(timestamp_with_time_zone(RedactionRules::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(RedactionRules::Table, RedactionRules::IncidentId)
                            .to(Incidents::Table, Incidents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_redaction_rules_incident")
                    .table(RedactionRules::Table)
                    .col(RedactionRules::IncidentId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PostmortemPublications::Table)
                    .col(pk_uuid(PostmortemPublications::Id))
                    .col(uuid(PostmortemPublications::PostmortemId))
                    .col(integer(PostmortemPublications::Version))
                    .col(string_len(PostmortemPublications::Slug, 200))
                    .col(string_len(PostmortemPublications::Title, 300))
                    .col(text(PostmortemPublications::Summary))
                    .col(timestamp_with_time_zone(
                        PostmortemPublications::PublishedAt,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                PostmortemPublications::Table,
                                PostmortemPublications::PostmortemId,
                            )
                            .to(Postmortems::Table, Postmortems::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_postmortem_publications_version")
                    .table(PostmortemPublications::Table)
                    .col(PostmortemPublications::PostmortemId)
                    .col(PostmortemPublications::Version)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_postmortem_publications_published")
                    .table(PostmortemPublications::Table)
                    .col(PostmortemPublications::PublishedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PostmortemSnapshots::Table)
                    .col(pk_uuid(PostmortemSnapshots::Id))
                    .col(uuid(PostmortemSnapshots::PublicationId))
                    .col(string_len(PostmortemSnapshots::Variant, 16))
                    .col(string_len(PostmortemSnapshots::Format, 8))
                    .col(blob(PostmortemSnapshots::Content))
                    .col(string_len(PostmortemSnapshots::Sha256, 64))
                    .col(big_integer(PostmortemSnapshots::Size))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                PostmortemSnapshots::Table,
                                PostmortemSnapshots::PublicationId,
                            )
                            .to(PostmortemPublications::Table, PostmortemPublications::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_postmortem_snapshots_document")
                    .table(PostmortemSnapshots::Table)
                    .col(PostmortemSnapshots::PublicationId)
                    .col(PostmortemSnapshots::Variant)
                    .col(PostmortemSnapshots::Format)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            PostmortemSnapshots::Table.into_iden(),
            PostmortemPublications::Table.into_iden(),
            RedactionRules::Table.into_iden(),
            PostmortemSections::Table.into_iden(),
            Postmortems::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Incidents {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Postmortems {
    Table,
    Id,
    IncidentId,
    Kind,
    Owner,
    DueDate,
    DueOn,
    ReviewAt,
    Status,
    Slug,
    PublishedVersion,
    PublishedAt,
    FirstPublishedAt,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum PostmortemSections {
    Table,
    Id,
    PostmortemId,
    Position,
    Key,
    Title,
    Body,
    Visibility,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum RedactionRules {
    Table,
    Id,
    IncidentId,
    Kind,
    Value,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum PostmortemPublications {
    Table,
    Id,
    PostmortemId,
    Version,
    Slug,
    Title,
    Summary,
    PublishedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum PostmortemSnapshots {
    Table,
    Id,
    PublicationId,
    Variant,
    Format,
    Content,
    Sha256,
    Size,
}
