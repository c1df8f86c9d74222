//! SQLite: the FTS5 index no longer merges its segments inside the write
//! that adds one (`automerge` 0); the service merges them when no write
//! waits (`services::search::merge`), sixteen segments of a level together
//! (`usermerge` 16, as migration 17's `automerge`). A level that reaches
//! 32 segments (`crisismerge`) is still merged at once by the write that
//! brings it there, so a query reads at most that many per level even if
//! the writer is never idle.
//!
//! PostgreSQL's GIN index has no such setting here; nothing to do there.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

use crate::m20261202_000017_search_automerge::AUTOMERGE;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Segments of one level merged together by the service's `merge` steps.
pub const USERMERGE: u32 = AUTOMERGE;

/// Segments of one level at which a write merges them itself.
pub const CRISISMERGE: u32 = 2 * USERMERGE;

/// FTS5's defaults of `usermerge` and `crisismerge`, restored on the way down.
const FTS5_USERMERGE: u32 = 4;
const FTS5_CRISISMERGE: u32 = 16;

fn set(option: &str, value: u32) -> String {
    format!("INSERT INTO search_fts (search_fts, rank) VALUES ('{option}', {value})")
}

async fn set_all(manager: &SchemaManager<'_>, options: [(&str, u32); 3]) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Sqlite {
        return Ok(());
    }
    for (option, value) in options {
        manager
            .get_connection()
            .execute_unprepared(&set(option, value))
            .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_all(
            manager,
            [
                ("automerge", 0),
                ("usermerge", USERMERGE),
                ("crisismerge", CRISISMERGE),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_all(
            manager,
            [
                ("automerge", AUTOMERGE),
                ("usermerge", FTS5_USERMERGE),
                ("crisismerge", FTS5_CRISISMERGE),
            ],
        )
        .await
    }
}
