//! A post-mortem that is not needed: `status = 'not_required'` (the column
//! already holds any status name) and the reason given for it.

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
                    .add_column(text_null(Postmortems::NotRequiredReason))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Postmortems::Table)
                    .drop_column(Postmortems::NotRequiredReason)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Postmortems {
    Table,
    NotRequiredReason,
}
