//! The SQLite writer: write transactions of this process take their turn one
//! at a time, in arrival order, and the requests that wait together share
//! one commit (group commit).
//!
//! SQLite has one write lock per file. Left to itself, every writer that
//! finds it taken sleeps in SQLite's busy handler and, past the busy
//! timeout, fails with "database is locked". Here the lock is queued for
//! in the process instead, on a fair (FIFO) mutex: no write ever waits on
//! SQLite's lock for another write of this process.
//!
//! The turn holds the *batch*: one outer transaction (`BEGIN IMMEDIATE`).
//! Each writer's transaction is a savepoint inside it, so a writer that
//! fails (a 409, a 422, an error) rolls back only its own savepoint and
//! never the others'. When a writer is done it asks the flusher to commit;
//! the flusher queues for the turn like everyone else, so by the time it
//! gets it, every writer that was already waiting has added its savepoint
//! to the batch: one `COMMIT`, one fsync, for all of them. Each writer's
//! `commit()` returns only once the batch holding its data is durable
//! (`synchronous=FULL`); if that commit fails, every writer in the batch
//! gets the error, so nothing is reported stored that was not.
//!
//! Every batch is written on one connection of the writer's own
//! ([`Writer::connection`]), so its page cache stays warm from one batch
//! to the next.
//!
//! Once no write has come for [`IDLE_AFTER`] after a commit, the flusher
//! gives the turn to upkeep that must hold the write lock but need not
//! delay a write: one bounded [`IdleStep`] at a time, each committed on its
//! own, for as long as no writer queues and the step finds work (the
//! search index's merges, see `search::merge`). A writer that arrives
//! meanwhile waits for at most the step in progress.
//!
//! On PostgreSQL the server takes row locks and groups commits itself: a
//! write transaction there is a plain transaction.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, QueryResult,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use tokio::sync::{Mutex, Notify, OwnedMutexGuard, oneshot};

use crate::metrics::Metrics;

mod idle;

use idle::run_idle_steps;
pub use idle::{IDLE_AFTER, IdleStep};

/// A batch commits as soon as no writer is waiting, and at the latest after
/// this many writers, so that the WAL grows in bounded steps …
const MAX_BATCH: usize = 128;

/// … or once the batch has been open this long.
const MAX_BATCH_AGE: std::time::Duration = std::time::Duration::from_millis(25);

/// The outcome of a batch's commit, shared by its writers.
type Durable = Result<(), Arc<DbErr>>;

/// The open batch: the outer transaction and the writers waiting for it to
/// be committed.
struct Batch {
    txn: DatabaseTransaction,
    waiting: Vec<oneshot::Sender<Durable>>,
    opened: Instant,
}

/// The turn at the SQLite write lock, and the flusher that commits batches.
pub struct Writer {
    backend: DbBackend,
    turn: Arc<Mutex<Option<Batch>>>,
    queued: Arc<AtomicUsize>,
    flush: Arc<Notify>,
    /// Started with the first write, on the runtime that makes it.
    flusher: std::sync::Once,
    metrics: Metrics,
    /// Run by the flusher once the writes pause.
    idle: Option<Arc<dyn IdleStep>>,
    /// SQLite: the connection every batch is written on (see
    /// [`Writer::connection`]), opened with the first write.
    own: tokio::sync::OnceCell<DatabaseConnection>,
}

impl Writer {
    pub fn new(backend: DbBackend, metrics: Metrics) -> Self {
        Self {
            backend,
            turn: Arc::new(Mutex::new(None)),
            queued: Arc::new(AtomicUsize::new(0)),
            flush: Arc::new(Notify::new()),
            flusher: std::sync::Once::new(),
            metrics,
            idle: None,
            own: tokio::sync::OnceCell::new(),
        }
    }

    /// The connection batches are written on. On SQLite a pool of one
    /// connection of the writer's own, to the same file with the same
    /// settings and a larger page cache ([`WRITER_CACHE_KIB`]): SQLite
    /// empties a connection's page cache whenever another connection has
    /// committed since its last transaction, so batches spread over the
    /// shared pool each began with a cold cache and read the pages of the
    /// table, its indexes and the search index back from the file. Only
    /// the turn's holder uses it, so one connection is all it needs.
    /// `db` itself when no file of its own can be opened (an in-memory
    /// database, which another connection would not share).
    async fn connection<'a>(&'a self, db: &'a DatabaseConnection) -> &'a DatabaseConnection {
        if self.backend != DbBackend::Sqlite {
            return db;
        }
        self.own
            .get_or_init(|| async {
                own_connection(db).await.unwrap_or_else(|err| {
                    tracing::warn!(error = %err, "Writes use the shared pool: no connection of their own");
                    db.clone()
                })
            })
            .await
    }

    /// Run `step` once the writes pause (see the module's text; SQLite
    /// only).
    pub fn with_idle_step(mut self, step: Arc<dyn IdleStep>) -> Self {
        self.idle = Some(step);
        self
    }

    /// Begin a write transaction: on SQLite, wait for the turn and open a
    /// savepoint in the current batch.
    pub async fn begin(&self, db: &DatabaseConnection) -> Result<WriteTransaction, DbErr> {
        if self.backend != DbBackend::Sqlite {
            return Ok(WriteTransaction {
                txn: Some(db.begin().await?),
                turn: None,
            });
        }
        let mut turn = self.take_turn(db).await?;
        let batch = turn.as_ref().expect("the turn holds an open batch");
        let savepoint = match batch.txn.begin().await {
            Ok(savepoint) => savepoint,
            Err(err) => {
                // The batch's connection is unusable: end it, so the next
                // writer starts afresh (its earlier writers learn of it).
                fail_batch(turn.take(), &err).await;
                return Err(err);
            }
        };
        Ok(WriteTransaction {
            txn: Some(savepoint),
            turn: Some(Turn {
                guard: turn,
                flush: self.flush.clone(),
            }),
        })
    }

    /// Run one write statement on its own and return the rows it returns
    /// (`RETURNING`), once they are durable: on SQLite in the current batch
    /// with no savepoint of its own (a statement that fails leaves no trace:
    /// SQLite undoes a failed statement by itself, and the batch goes on),
    /// on PostgreSQL in autocommit, one round trip. For the hot single-row
    /// writes; anything of more than one statement takes [`Self::begin`].
    pub async fn write_statement(
        &self,
        db: &DatabaseConnection,
        statement: Statement,
    ) -> Result<Vec<QueryResult>, DbErr> {
        if self.backend != DbBackend::Sqlite {
            return db.query_all_raw(statement).await;
        }
        let mut turn = self.take_turn(db).await?;
        let batch = turn.as_mut().expect("the turn holds an open batch");
        let rows = match batch.txn.query_all_raw(statement).await {
            Ok(rows) => rows,
            Err(err) => {
                self.flush.notify_one();
                return Err(err);
            }
        };
        let (tx, rx) = oneshot::channel();
        batch.waiting.push(tx);
        self.flush.notify_one();
        drop(turn);
        durable(rx).await?;
        Ok(rows)
    }

    /// Write `item` with the others of its kind that are waiting, in one
    /// statement (see [`Combine`]), and return the row it returned, once
    /// durable; `None` when the statement stored nothing for it.
    ///
    /// On SQLite the item joins a queue: one task takes the turn for every
    /// item queued at that moment, writes them all with one statement into
    /// the current batch (or, if that statement fails, each with a statement
    /// of its own, so one item's error is its own), and the group commit
    /// then makes them durable together. Concurrent requests so cost the
    /// writer one statement and one turn between them instead of one each.
    /// On PostgreSQL the item is written alone, in autocommit.
    pub async fn write_combined<C: Combine>(
        self: &Arc<Self>,
        combined: &Arc<Combined<C>>,
        db: &DatabaseConnection,
        item: C::Item,
    ) -> Result<Option<QueryResult>, DbErr> {
        if self.backend != DbBackend::Sqlite {
            let statement = combined.combine.statement(self.backend, &[item])?;
            return Ok(db.query_all_raw(statement).await?.into_iter().next());
        }
        let (tx, rx) = oneshot::channel();
        let drain = {
            let mut queue = lock(&combined.queue);
            queue.items.push((item, tx));
            !std::mem::replace(&mut queue.draining, true)
        };
        if drain {
            // A task of its own: a request that goes away must not take the
            // other requests' writes with it.
            tokio::spawn(drain_combined(self.clone(), combined.clone(), db.clone()));
        }
        let stored = rx
            .await
            .map_err(|_| DbErr::Custom("the combined write ended without an answer".into()))??;
        // The shared statement counts once for each request it wrote for.
        crate::statements::record_shared();
        if let Some(committed) = stored.durable {
            durable(committed).await?;
        }
        Ok(stored.row)
    }

    /// Wait for the turn at the write lock, and open a batch if none is.
    async fn take_turn(
        &self,
        db: &DatabaseConnection,
    ) -> Result<OwnedMutexGuard<Option<Batch>>, DbErr> {
        let conn = self.connection(db).await;
        self.flusher.call_once(|| {
            tokio::spawn(flusher(
                Arc::downgrade(&self.turn),
                self.flush.clone(),
                self.queued.clone(),
                self.metrics.clone(),
                self.idle.clone().map(|step| (step, conn.clone())),
            ));
        });
        self.queued.fetch_add(1, Ordering::SeqCst);
        self.metrics.write_queue.inc();
        let mut turn = self.turn.clone().lock_owned().await;
        self.queued.fetch_sub(1, Ordering::SeqCst);
        self.metrics.write_queue.dec();
        if turn.is_none() {
            let txn = conn
                .begin_with_options(TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..Default::default()
                })
                .await?;
            *turn = Some(Batch {
                txn,
                waiting: Vec::new(),
                opened: Instant::now(),
            });
        }
        Ok(turn)
    }
}

/// The page cache of the writer's connection, in KiB (SQLite's default is
/// 2,000): a timeline batch of 1,000 events touches more than that.
const WRITER_CACHE_KIB: u32 = 8_000;

/// A pool of one connection to the SQLite file of `db`, with its settings
/// and the writer's page cache (see [`Writer::connection`]).
async fn own_connection(db: &DatabaseConnection) -> Result<DatabaseConnection, DbErr> {
    use sea_orm::{SqlxSqliteConnector, sqlx::sqlite::SqlitePoolOptions};
    let pool = db.get_sqlite_connection_pool();
    let options = pool.connect_options();
    if options.get_filename() == std::path::Path::new(":memory:") {
        return Ok(db.clone());
    }
    let options = (*options)
        .clone()
        .pragma("cache_size", format!("-{WRITER_CACHE_KIB}"));
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .map_err(|err| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(err.into())))?;
    let mut own = SqlxSqliteConnector::from_sqlx_sqlite_pool(pool);
    own.set_metric_callback(crate::statements::record);
    Ok(own)
}

/// Wait until the batch a writer joined is committed. A batch that failed
/// gives each of its writers the error itself (logged once, where it
/// happened), so its kind and cause reach every one of them.
async fn durable(committed: oneshot::Receiver<Durable>) -> Result<(), DbErr> {
    match committed.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(DbErr::clone(&err)),
        Err(_) => Err(DbErr::Custom(
            "the write batch ended without a commit".into(),
        )),
    }
}

/// Commit the open batch whenever a writer asks for it; once no write has
/// come for [`IDLE_AFTER`] after a commit, run the idle step.
async fn flusher(
    turn: std::sync::Weak<Mutex<Option<Batch>>>,
    flush: Arc<Notify>,
    queued: Arc<AtomicUsize>,
    metrics: Metrics,
    idle: Option<(Arc<dyn IdleStep>, DatabaseConnection)>,
) {
    // Whether the idle step may have work: after any commit, until it
    // says it has none.
    let mut upkeep = false;
    loop {
        if upkeep && let Some((step, db)) = &idle {
            if tokio::time::timeout(IDLE_AFTER, flush.notified())
                .await
                .is_err()
            {
                let Some(turn) = turn.upgrade() else { return };
                upkeep = run_idle_steps(&turn, &queued, step.as_ref(), db).await;
                continue;
            }
        } else {
            flush.notified().await;
        }
        let Some(turn) = turn.upgrade() else { return };
        // Queue behind every writer already waiting: they join the batch.
        let mut guard = turn.clone().lock_owned().await;
        let Some(batch) = guard.take() else { continue };
        if batch.waiting.is_empty() {
            // Only rolled-back writers: nothing to make durable.
            drop(batch.txn.rollback().await);
            continue;
        }
        if queued.load(Ordering::SeqCst) > 0
            && batch.waiting.len() < MAX_BATCH
            && batch.opened.elapsed() < MAX_BATCH_AGE
        {
            // Writers arrived meanwhile: let them join, commit after them.
            *guard = Some(batch);
            flush.notify_one();
            continue;
        }
        metrics.commit_batch.observe(batch.waiting.len() as f64);
        let started = batch.opened;
        let outcome = batch.txn.commit().await.map_err(Arc::new);
        drop(guard);
        if let Err(err) = &outcome {
            tracing::error!(error = %err, "Group commit failed; its writers are told");
        }
        tracing::trace!(
            writers = batch.waiting.len(),
            held_ms = started.elapsed().as_millis() as u64,
            "Group commit"
        );
        for writer in batch.waiting {
            let _ = writer.send(outcome.clone());
        }
        upkeep = true;
    }
}

/// Single-row writes of one kind that can share one statement when they
/// arrive together (see [`Writer::write_combined`]).
pub trait Combine: Send + Sync + Sized + 'static {
    /// One write.
    type Item: Send + 'static;

    /// One statement writing `items` (one or more, at most [`MAX_BATCH`]),
    /// returning a row for each item it stored; a statement that fails
    /// stores nothing (SQLite undoes a failed statement by itself).
    fn statement(&self, backend: DbBackend, items: &[Self::Item]) -> Result<Statement, DbErr>;

    /// The position in `items` of the item that `row` was returned for.
    fn stored_item(&self, items: &[Self::Item], row: &QueryResult) -> Result<usize, DbErr>;
}

/// The queue of one kind of combinable write.
pub struct Combined<C: Combine> {
    combine: C,
    queue: std::sync::Mutex<Pending<C::Item>>,
}

impl<C: Combine> Combined<C> {
    pub fn new(combine: C) -> Self {
        Self {
            combine,
            queue: std::sync::Mutex::new(Pending {
                items: Vec::new(),
                draining: false,
            }),
        }
    }
}

/// Where one combined item's outcome goes.
type Reply = oneshot::Sender<Result<Stored, DbErr>>;

/// Items waiting for the draining task, and whether one is running.
struct Pending<I> {
    items: Vec<(I, Reply)>,
    draining: bool,
}

/// What became of one combined item: the row returned for it, if it was
/// stored, and the commit that makes it durable.
struct Stored {
    row: Option<QueryResult>,
    durable: Option<oneshot::Receiver<Durable>>,
}

/// A lock whose holder panicked still guards a sound queue.
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Write what is queued, in turns, until the queue is empty.
async fn drain_combined<C: Combine>(
    writer: Arc<Writer>,
    combined: Arc<Combined<C>>,
    db: DatabaseConnection,
) {
    // Should this task end early (a panic), the next write starts another,
    // and the items it held are answered with an error (their senders drop).
    struct Draining<'a, C: Combine>(&'a Combined<C>);
    impl<C: Combine> Drop for Draining<'_, C> {
        fn drop(&mut self) {
            lock(&self.0.queue).draining = false;
        }
    }
    let _draining = Draining(&combined);
    loop {
        let mut items = {
            let mut queue = lock(&combined.queue);
            if queue.items.is_empty() {
                queue.draining = false;
                drop(queue);
                // Done: a write queued from now on starts a task of its own.
                std::mem::forget(_draining);
                return;
            }
            std::mem::take(&mut queue.items)
        };
        let mut turn = match writer.take_turn(&db).await {
            Ok(turn) => turn,
            Err(err) => {
                for (_, reply) in items {
                    let _ = reply.send(Err(err.clone()));
                }
                continue;
            }
        };
        while !items.is_empty() {
            let rest = items.split_off(items.len().min(MAX_BATCH));
            let batch = turn.as_mut().expect("the turn holds an open batch");
            write_group(&combined.combine, batch, items).await;
            items = rest;
        }
        drop(turn);
        writer.flush.notify_one();
    }
}

/// Write one group of items into the batch with one statement; if that
/// fails, each item alone.
async fn write_group<C: Combine>(combine: &C, batch: &mut Batch, items: Vec<(C::Item, Reply)>) {
    let (values, replies): (Vec<_>, Vec<_>) = items.into_iter().unzip();
    let backend = batch.txn.get_database_backend();
    let written = match combine.statement(backend, &values) {
        Ok(statement) => batch.txn.query_all_raw(statement).await,
        Err(err) => Err(err),
    };
    match written {
        Ok(rows) => answer(combine, batch, &values, rows, replies),
        Err(err) if values.len() == 1 => {
            for reply in replies {
                let _ = reply.send(Err(err.clone()));
            }
        }
        Err(_) => {
            // One item's error (a constraint) fails the shared statement:
            // each is written alone, and only the failing one fails.
            for (value, reply) in values.into_iter().zip(replies) {
                let one = [value];
                let written = match combine.statement(backend, &one) {
                    Ok(statement) => batch.txn.query_all_raw(statement).await,
                    Err(err) => Err(err),
                };
                match written {
                    Ok(rows) => answer(combine, batch, &one, rows, vec![reply]),
                    Err(err) => {
                        let _ = reply.send(Err(err));
                    }
                }
            }
        }
    }
}

/// Tell each item's writer what was stored for it; the stored ones wait
/// for the batch's commit.
fn answer<C: Combine>(
    combine: &C,
    batch: &mut Batch,
    values: &[C::Item],
    rows: Vec<QueryResult>,
    replies: Vec<Reply>,
) {
    let mut found: Vec<Option<QueryResult>> = values.iter().map(|_| None).collect();
    for row in rows {
        match combine.stored_item(values, &row) {
            Ok(at) => found[at] = Some(row),
            Err(err) => {
                // Which item a row belongs to is unknown: none is told
                // that it was stored, nor that it was not.
                for reply in replies {
                    let _ = reply.send(Err(err.clone()));
                }
                return;
            }
        }
    }
    for (row, reply) in found.into_iter().zip(replies) {
        let durable = row.is_some().then(|| {
            let (tx, rx) = oneshot::channel();
            batch.waiting.push(tx);
            rx
        });
        let _ = reply.send(Ok(Stored { row, durable }));
    }
}

async fn fail_batch(batch: Option<Batch>, err: &DbErr) {
    if let Some(batch) = batch {
        drop(batch.txn.rollback().await);
        tracing::error!(error = %err, "The write batch failed before commit; its writers are told");
        let shared = Arc::new(err.clone());
        for writer in batch.waiting {
            let _ = writer.send(Err(shared.clone()));
        }
    }
}

/// A writer's turn: the batch it writes into.
struct Turn {
    guard: OwnedMutexGuard<Option<Batch>>,
    flush: Arc<Notify>,
}

/// A transaction that writes: a savepoint in the SQLite batch, or a plain
/// PostgreSQL transaction. Use it as a [`DatabaseTransaction`]; end it with
/// [`commit`](Self::commit) or [`rollback`](Self::rollback) (dropping it
/// rolls back).
pub struct WriteTransaction {
    txn: Option<DatabaseTransaction>,
    turn: Option<Turn>,
}

impl std::ops::Deref for WriteTransaction {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        self.txn
            .as_ref()
            .expect("a write transaction is used until it ends")
    }
}

impl WriteTransaction {
    /// Commit, and return once the data is durable.
    pub async fn commit(mut self) -> Result<(), DbErr> {
        let txn = self.txn.take().expect("a write transaction ends once");
        let Some(mut turn) = self.turn.take() else {
            return txn.commit().await;
        };
        if let Err(err) = txn.commit().await {
            turn.flush.notify_one();
            return Err(err);
        }
        let (tx, rx) = oneshot::channel();
        if let Some(batch) = turn.guard.as_mut() {
            batch.waiting.push(tx);
        }
        turn.flush.notify_one();
        drop(turn);
        durable(rx).await
    }

    /// Undo this transaction's writes (only its own).
    pub async fn rollback(mut self) -> Result<(), DbErr> {
        let txn = self.txn.take().expect("a write transaction ends once");
        let result = txn.rollback().await;
        if let Some(turn) = self.turn.take() {
            turn.flush.notify_one();
        }
        result
    }
}

impl Drop for WriteTransaction {
    fn drop(&mut self) {
        // The savepoint's own drop queues its rollback on the connection,
        // ahead of anything the next writer sends.
        drop(self.txn.take());
        if let Some(turn) = self.turn.take() {
            turn.flush.notify_one();
        }
    }
}

#[async_trait::async_trait]
impl sea_orm::ConnectionTrait for WriteTransaction {
    fn get_database_backend(&self) -> DbBackend {
        (**self).get_database_backend()
    }

    async fn execute_raw(&self, stmt: sea_orm::Statement) -> Result<sea_orm::ExecResult, DbErr> {
        (**self).execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<sea_orm::ExecResult, DbErr> {
        (**self).execute_unprepared(sql).await
    }

    async fn query_one_raw(
        &self,
        stmt: sea_orm::Statement,
    ) -> Result<Option<sea_orm::QueryResult>, DbErr> {
        (**self).query_one_raw(stmt).await
    }

    async fn query_all_raw(
        &self,
        stmt: sea_orm::Statement,
    ) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
        (**self).query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        (**self).support_returning()
    }

    fn is_mock_connection(&self) -> bool {
        (**self).is_mock_connection()
    }
}
#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Database, DbBackend, QueryResult, Statement};

    use super::*;

    /// Rows `(n)` of a table whose `CHECK` refuses negative numbers.
    struct Numbers;

    impl Combine for Numbers {
        type Item = i64;

        fn statement(&self, backend: DbBackend, items: &[i64]) -> Result<Statement, DbErr> {
            let rows = vec!["(?)"; items.len()].join(", ");
            Ok(Statement::from_sql_and_values(
                backend,
                format!("INSERT INTO numbers (n) VALUES {rows} ON CONFLICT DO NOTHING RETURNING n"),
                items.iter().map(|n| (*n).into()),
            ))
        }

        fn stored_item(&self, items: &[i64], row: &QueryResult) -> Result<usize, DbErr> {
            let n: i64 = row.try_get_by_index(0)?;
            items
                .iter()
                .position(|i| *i == n)
                .ok_or_else(|| DbErr::Custom(format!("{n} was not asked for")))
        }
    }

    /// Concurrent writes share statements; one that breaks a constraint
    /// fails alone, a duplicate stores nothing, and every other write is
    /// stored and committed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn combined_writes_fail_alone() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("w.db").display());
        let db = Database::connect(&url).await.unwrap();
        db.execute_unprepared(
            "PRAGMA journal_mode = WAL; \
             CREATE TABLE numbers (n INTEGER PRIMARY KEY CHECK (n >= 0));",
        )
        .await
        .unwrap();
        let writer = Arc::new(Writer::new(DbBackend::Sqlite, Metrics::new()));
        let combined = Arc::new(Combined::new(Numbers));
        let mut tasks = Vec::new();
        for n in [1_i64, 2, -3, 4, 2, 5, 6, 7, 8, 9] {
            let (writer, combined, db) = (writer.clone(), combined.clone(), db.clone());
            tasks.push(tokio::spawn(async move {
                (n, writer.write_combined(&combined, &db, n).await)
            }));
        }
        let mut stored = Vec::new();
        let (mut failed, mut not_stored) = (0, 0);
        for task in tasks {
            match task.await.unwrap() {
                (n, Ok(Some(row))) => {
                    assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), n);
                    stored.push(n);
                }
                (2, Ok(None)) => not_stored += 1,
                (-3, Err(_)) => failed += 1,
                other => panic!(
                    "unexpected outcome {:?}",
                    (other.0, other.1.map(|r| r.is_some()))
                ),
            }
        }
        stored.sort_unstable();
        assert_eq!(stored, [1, 2, 4, 5, 6, 7, 8, 9], "every valid number once");
        assert_eq!((failed, not_stored), (1, 1));
        // Committed: another connection sees them.
        let other = Database::connect(&url).await.unwrap();
        let count = other
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT COUNT(*) FROM numbers",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap();
        assert_eq!(count, 8);
    }
}
