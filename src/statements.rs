//! Counting the SQL statements each request sends.
//!
//! Every statement sea-orm runs passes through the connection's metric
//! callback ([`record`]), on the task that awaits it. A request's handler runs
//! inside [`counted`], which gives its task a counter of its own; the metrics
//! middleware adds the count to `debrief_sql_statements_total` by route, and
//! the statement-count test (`tests/api/statements.rs`) reads it per
//! operation. Statements outside a request (scheduled jobs, the outbox, a
//! task a handler spawns, such as a token's `last_used_at`) are not counted
//! against one; `BEGIN`, `COMMIT` and savepoints never pass the callback.

use std::{cell::Cell, future::Future};

tokio::task_local! {
    static SENT: Cell<u64>;
}

/// The metric callback: one more statement for the request this task serves.
pub fn record(_: &sea_orm::metric::Info<'_>) {
    let _ = SENT.try_with(|sent| sent.set(sent.get() + 1));
}

/// One more statement for the request this task serves, sent for it (and
/// for others) by another task: a write combined with those of concurrent
/// requests (see `services::writer::Writer::write_combined`).
pub fn record_shared() {
    let _ = SENT.try_with(|sent| sent.set(sent.get() + 1));
}

/// Run `work` and count the statements it sends.
pub async fn counted<F: Future>(work: F) -> (F::Output, u64) {
    SENT.scope(Cell::new(0), async move {
        let output = work.await;
        (output, SENT.with(Cell::get))
    })
    .await
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};

    use super::*;

    #[tokio::test]
    async fn counts_the_statements_of_its_own_task_only() {
        let mut db = Database::connect("sqlite::memory:").await.unwrap();
        db.set_metric_callback(record);
        let select = || Statement::from_string(DbBackend::Sqlite, "SELECT 1");
        db.execute_raw(select()).await.unwrap();
        let (_, sent) = counted(async {
            db.execute_raw(select()).await.unwrap();
            db.query_one_raw(select()).await.unwrap();
            let other = db.clone();
            tokio::spawn(async move { other.execute_raw(select()).await.unwrap() })
                .await
                .unwrap();
        })
        .await;
        assert_eq!(sent, 2);
        let (_, none) = counted(async {}).await;
        assert_eq!(none, 0);
    }
}
