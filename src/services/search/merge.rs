//! SQLite: the search index's merges, off the write path.
//!
//! FTS5 writes the terms each write transaction adds as a new segment of
//! its index and merges segments, level by level, so that a query reads
//! few of them. Left to itself (`automerge`) it merges inside the write
//! that flushed the segment: a timeline batch then waits for merge work
//! that is proportional to everything indexed before it, about an eighth
//! of the writer's time on batch ingestion and, every sixteenth batch,
//! many times more than the batch's own (benches/RESULTS.md, "Batch
//! ingestion against a fast reference").
//!
//! Migration 18 turns that off (`automerge` 0) and leaves the merging to
//! [`MergeIndex`], which the [writer](crate::services::writer) runs once
//! no write has come for `writer::IDLE_AFTER` (50 ms): one FTS5 `merge`
//! command of at most [`MERGE_STEP_PAGES`] pages per step, each step a
//! transaction of its own, for as long as there is work and no writer.
//! Sixteen segments of a level are merged together (`usermerge` 16), as
//! before. While writes keep coming, FTS5 merges a level in the write that
//! brings it to 32 segments (`crisismerge`), all of them in one pass, so a
//! query never reads more than that per level; an incident's tooling
//! writes in bursts, and the quiet after one brings every level back under
//! sixteen. A write's own terms are indexed in its own transaction either
//! way: only the reorganisation waits.

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, Statement};

use crate::services::writer::IdleStep;

/// Leaf pages (of about 4 KB) one step writes at most. A step with its
/// commit took about 4 ms on the load bench's machine (eleven steps
/// merged the segments of 25 batches of 1,000 events in 40–45 ms): the
/// longest a write that arrives during a step waits for it.
pub const MERGE_STEP_PAGES: u32 = 32;

/// The idle step that merges the search index's segments.
pub struct MergeIndex;

impl IdleStep for MergeIndex {
    fn step<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
    ) -> futures_util::future::BoxFuture<'a, Result<bool, DbErr>> {
        Box::pin(async move {
            let before = total_changes(txn).await?;
            txn.execute_unprepared(&format!(
                "INSERT INTO search_fts (search_fts, rank) VALUES ('merge', {MERGE_STEP_PAGES})"
            ))
            .await?;
            // FTS5's documented test: a `merge` that did work moves the
            // connection's change count by two or more.
            Ok(total_changes(txn).await? - before >= 2)
        })
    }
}

async fn total_changes(txn: &DatabaseTransaction) -> Result<i64, DbErr> {
    txn.query_one_raw(Statement::from_string(
        DbBackend::Sqlite,
        "SELECT total_changes()",
    ))
    .await?
    .ok_or_else(|| DbErr::Custom("total_changes() answered no row".into()))?
    .try_get_by_index(0)
}
