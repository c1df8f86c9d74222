//! Withdrawing a publication: when a post-mortem's public page was taken
//! down (`POST …/postmortem/unpublish`), and an index to answer `410 Gone`
//! for the addresses a post-mortem has left.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Postmortems::Table)
                    .add_column(timestamp_with_time_zone_null(Postmortems::WithdrawnAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_postmortem_publications_slug")
                    .table(PostmortemPublications::Table)
                    .col(PostmortemPublications::Slug)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_postmortem_publications_slug")
                    .table(PostmortemPublications::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Postmortems::Table)
                    .drop_column(Postmortems::WithdrawnAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Postmortems {
    Table,
    WithdrawnAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum PostmortemPublications {
    Table,
    Slug,
}
