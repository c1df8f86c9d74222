//! PostgreSQL: a B-tree index on `timeline_events.seq`, so that a search
//! with no filter finds the newest events matching a common word by
//! walking `seq` backwards and stops after its ranking window, instead of
//! fetching and ranking every match (docs/search.md, "Ranking"). On SQLite
//! `seq` is the rowid already, and the FTS5 index returns matches in its
//! order: nothing to do there.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "CREATE UNIQUE INDEX idx_timeline_events_seq ON timeline_events (seq)",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP INDEX idx_timeline_events_seq")
                .await?;
        }
        Ok(())
    }
}
