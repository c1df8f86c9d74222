//! SQLite: the FTS5 index merges its segments sixteen at a time instead of
//! four (`automerge`, FTS5's default 4, its largest allowed value 16).
//!
//! Every write transaction (every savepoint of a group commit) flushes the
//! terms it added as a new segment, and FTS5 merges segments of a level
//! once `automerge` of them are there. Merging four at a time rewrites
//! every entry about once per four-fold growth of the index; on batch
//! ingestion of timeline events that merging was about a third of the
//! index's cost (benches/RESULTS.md, "FTS5 merges sixteen at a time").
//! Sixteen at a time halves the number of levels an entry is rewritten
//! through; a query reads at most sixteen segments per level instead of
//! four, over half as many levels.
//!
//! PostgreSQL's GIN index has no such setting here; nothing to do there.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Segments of one level merged together.
pub const AUTOMERGE: u32 = 16;

/// FTS5's default, restored on the way down.
const FTS5_DEFAULT: u32 = 4;

fn set_automerge(segments: u32) -> String {
    format!("INSERT INTO search_fts (search_fts, rank) VALUES ('automerge', {segments})")
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Sqlite {
            manager
                .get_connection()
                .execute_unprepared(&set_automerge(AUTOMERGE))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Sqlite {
            manager
                .get_connection()
                .execute_unprepared(&set_automerge(FTS5_DEFAULT))
                .await?;
        }
        Ok(())
    }
}
