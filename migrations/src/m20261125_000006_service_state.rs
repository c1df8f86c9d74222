//! A small key–value table for what the service must remember about itself
//! between starts (for example which post-mortem due periods the stored due
//! dates were computed with).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ServiceState::Table)
                    .col(string_len(ServiceState::Key, 100).primary_key())
                    .col(text(ServiceState::Value))
                    .col(timestamp_with_time_zone(ServiceState::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ServiceState::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum ServiceState {
    Table,
    Key,
    Value,
    UpdatedAt,
}
