//! Upkeep the writer runs when the writes pause (see the module above):
//! steps that must hold the write lock but need not delay a write.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use futures_util::future::BoxFuture;
use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};
use tokio::sync::Mutex;

use super::Batch;

/// The idle step runs once no write has come for this long after a commit:
/// a stream of writes, even with gaps between them, is never delayed by it.
pub const IDLE_AFTER: std::time::Duration = std::time::Duration::from_millis(50);

/// Upkeep run when the writes pause (see the writer module's text).
pub trait IdleStep: Send + Sync + 'static {
    /// Do one bounded step of work in `txn` (a transaction of its own);
    /// answer whether there is more to do.
    fn step<'a>(&'a self, txn: &'a DatabaseTransaction) -> BoxFuture<'a, Result<bool, DbErr>>;
}

/// Run the idle step while no writer queues and it finds work; answer
/// whether work may remain (a writer came, or a step failed: tried again
/// at the next quiet moment after a commit).
pub(super) async fn run_idle_steps(
    turn: &Arc<Mutex<Option<Batch>>>,
    queued: &AtomicUsize,
    step: &dyn IdleStep,
    db: &DatabaseConnection,
) -> bool {
    let started = std::time::Instant::now();
    let mut steps = 0_u32;
    let more = loop {
        if queued.load(Ordering::SeqCst) > 0 {
            break true;
        }
        steps += 1;
        match idle_step(turn, step, db).await {
            Ok(true) => {}
            Ok(false) => break false,
            Err(err) => {
                tracing::warn!(error = %err, "Idle upkeep step failed; tried again later");
                break false;
            }
        }
    };
    tracing::debug!(
        steps,
        ms = started.elapsed().as_millis() as u64,
        more,
        "Idle upkeep"
    );
    more
}

/// One idle step in a transaction of its own, in the turn; `false` when it
/// found nothing to do, or the turn was taken by a batch meanwhile.
async fn idle_step(
    turn: &Arc<Mutex<Option<Batch>>>,
    step: &dyn IdleStep,
    db: &DatabaseConnection,
) -> Result<bool, DbErr> {
    let guard = turn.clone().lock_owned().await;
    if guard.is_some() {
        // Writers opened a batch: the flusher commits it first.
        return Ok(false);
    }
    let txn = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?;
    let more = step.step(&txn).await?;
    txn.commit().await?;
    drop(guard);
    Ok(more)
}
