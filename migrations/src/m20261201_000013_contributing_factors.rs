//! Contributing factors: the factors of the configured taxonomy a
//! post-mortem names (its id, stable across label changes), each with a
//! note, at most once per post-mortem. The incident's id is kept beside
//! the post-mortem's so that statistics and related-incident queries read
//! factors by incident without a join.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ContributingFactors::Table)
                    .col(pk_uuid(ContributingFactors::Id))
                    .col(uuid(ContributingFactors::PostmortemId))
                    .col(uuid(ContributingFactors::IncidentId))
                    .col(integer(ContributingFactors::Position))
                    .col(string_len(ContributingFactors::Factor, 64))
                    .col(text(ContributingFactors::Note))
                    .col(timestamp_with_time_zone(ContributingFactors::CreatedAt))
                    .col(timestamp_with_time_zone(ContributingFactors::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                ContributingFactors::Table,
                                ContributingFactors::PostmortemId,
                            )
                            .to(Postmortems::Table, Postmortems::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ContributingFactors::Table, ContributingFactors::IncidentId)
                            .to(Incidents::Table, Incidents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // One row per factor and post-mortem; the incident's factors (the
        // figures of a period, an incident's related incidents); the
        // incidents that share a factor.
        for (name, columns, unique) in [
            (
                "idx_contributing_factors_postmortem_factor",
                vec![
                    ContributingFactors::PostmortemId,
                    ContributingFactors::Factor,
                ],
                true,
            ),
            (
                "idx_contributing_factors_incident",
                vec![ContributingFactors::IncidentId],
                false,
            ),
            (
                "idx_contributing_factors_factor_incident",
                vec![ContributingFactors::Factor, ContributingFactors::IncidentId],
                false,
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(ContributingFactors::Table);
            for column in columns {
                index.col(column);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ContributingFactors::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum ContributingFactors {
    Table,
    Id,
    PostmortemId,
    IncidentId,
    Position,
    Factor,
    Note,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Postmortems {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Incidents {
    Table,
    Id,
}
