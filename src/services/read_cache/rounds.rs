//! PostgreSQL: the incident records kept with their snapshots, and the
//! rounds in which concurrent reads of one incident share a statement (see
//! [`Rounds`]).

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
};

use futures_util::future::{BoxFuture, FutureExt, Shared};

use super::{IncidentRecord, SHELF_CAPACITY, SinceSnapshot, lock, unchanged_without_a_snapshot};
use crate::{domain::IncidentRef, services::ServiceError};

/// Incident records by reference, each with the snapshot it was read at.
type Shelf = HashMap<IncidentRef, (Arc<str>, Arc<IncidentRecord>)>;

/// PostgreSQL: incident records by reference, each with the snapshot it
/// was read at, and the reads of each incident in flight.
#[derive(Default)]
pub(super) struct Snapshots {
    shelf: Mutex<Shelf>,
    rounds: Mutex<Rounds>,
}

/// The statements in flight per incident, so that concurrent reads of one
/// incident (a dashboard on every screen of an incident room, a status
/// page polling) share one statement instead of sending one each.
///
/// An incident has at most one statement on its way (the running round)
/// and one round waiting for it to end (the next round). A read joins the
/// next round, making it if there is none: its statement is sent after the
/// read arrived, so it sees every write acknowledged before the read began,
/// on any replica, exactly as a statement of the read's own would. A read
/// never joins the running round, whose statement may predate a write the
/// reader has seen acknowledged. With no round running, a read starts one
/// at once, so a lone read waits for nothing.
#[derive(Default)]
struct Rounds {
    /// Numbers the rounds, so that one finds itself in `by_incident`.
    made: u64,
    by_incident: HashMap<IncidentRef, Flight>,
}

/// The rounds of one incident.
#[derive(Default)]
struct Flight {
    running: Option<(u64, Round)>,
    next: Option<(u64, Round)>,
}

/// One statement's read of an incident, awaited by every read that joined
/// it; the error is shared too (see [`ServiceError::replay`]).
///
/// A round runs as a task of its own, so it runs to its end (and gives its
/// pool connection back) even when every read that waited for it has gone
/// (clients that hung up), and it tells how many statements it sent: the
/// read that made it counts them as its own (see `crate::statements`).
pub(super) type Round =
    Shared<BoxFuture<'static, (Result<Arc<IncidentRecord>, Arc<ServiceError>>, u64)>>;

impl Snapshots {
    /// The round a read of `reference` joins: the next one, or one made
    /// here (with `load` as its statement) when there is none, with whether
    /// it was made here. `None` when [`SHELF_CAPACITY`] incidents are in
    /// flight already.
    pub(super) fn join<F, Fut>(
        self: &Arc<Self>,
        reference: IncidentRef,
        load: F,
    ) -> Option<(Round, bool)>
    where
        F: FnOnce(Option<Arc<str>>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<SinceSnapshot, ServiceError>> + Send + 'static,
    {
        let mut rounds = lock(&self.rounds);
        if rounds.by_incident.len() >= SHELF_CAPACITY
            && !rounds.by_incident.contains_key(&reference)
        {
            return None;
        }
        rounds.made += 1;
        let number = rounds.made;
        let flight = rounds.by_incident.entry(reference).or_default();
        if let Some((_, next)) = &flight.next {
            return Some((next.clone(), false));
        }
        let after = flight.running.as_ref().map(|(_, round)| round.clone());
        let waits = after.is_some();
        let this = self.clone();
        let task = tokio::spawn(async move {
            if let Some(running) = after {
                let _ = running.await;
                this.start(reference, number);
            }
            let (read, sent) = crate::statements::counted(this.read(reference, load)).await;
            this.end(reference, number);
            (read.map_err(Arc::new), sent)
        });
        let round = async move {
            task.await.unwrap_or_else(|err| {
                let err = anyhow::anyhow!("the read of an incident stopped: {err}");
                (Err(Arc::new(ServiceError::Internal(err))), 0)
            })
        }
        .boxed()
        .shared();
        if waits {
            flight.next = Some((number, round.clone()));
        } else {
            flight.running = Some((number, round.clone()));
        }
        Some((round, true))
    }

    /// Round `number` is about to send its statement: reads arriving from
    /// now on make the round after it.
    fn start(&self, reference: IncidentRef, number: u64) {
        let mut rounds = lock(&self.rounds);
        if let Some(flight) = rounds.by_incident.get_mut(&reference)
            && flight.next.as_ref().is_some_and(|(n, _)| *n == number)
        {
            flight.running = flight.next.take();
        }
    }

    /// Round `number` has its answer.
    fn end(&self, reference: IncidentRef, number: u64) {
        let mut rounds = lock(&self.rounds);
        if let Some(flight) = rounds.by_incident.get_mut(&reference) {
            if flight.running.as_ref().is_some_and(|(n, _)| *n == number) {
                flight.running = None;
            }
            if flight.running.is_none() && flight.next.is_none() {
                rounds.by_incident.remove(&reference);
            }
        }
    }

    /// One statement's read of the incident: `load` with the snapshot of
    /// the record kept, which then answers or is replaced.
    pub(super) async fn read<F, Fut>(
        &self,
        reference: IncidentRef,
        load: F,
    ) -> Result<Arc<IncidentRecord>, ServiceError>
    where
        F: FnOnce(Option<Arc<str>>) -> Fut,
        Fut: Future<Output = Result<SinceSnapshot, ServiceError>>,
    {
        let kept = lock(&self.shelf).get(&reference).cloned();
        let (snapshot, record) = match load(kept.as_ref().map(|(s, _)| s.clone())).await {
            Ok(SinceSnapshot::Unchanged) => {
                return kept
                    .map(|(_, record)| record)
                    .ok_or_else(unchanged_without_a_snapshot);
            }
            Ok(SinceSnapshot::Read { snapshot, record }) => {
                (snapshot, Arc::<IncidentRecord>::from(record))
            }
            Err(err) => {
                lock(&self.shelf).remove(&reference);
                return Err(err);
            }
        };
        let mut kept = lock(&self.shelf);
        if kept.len() >= SHELF_CAPACITY && !kept.contains_key(&reference) {
            kept.clear();
        }
        // Reads racing here all store a record consistent with its
        // snapshot; whichever is kept, the next read checks it.
        kept.insert(reference, (Arc::from(snapshot), record.clone()));
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        entities::incident,
        services::{incidents::IncidentCounts, read_cache::ReadCache},
    };

    /// An incident record whose title names the read that made it.
    fn record(title: &str) -> Box<IncidentRecord> {
        let now = chrono::Utc::now();
        Box::new(IncidentRecord {
            incident: incident::Model {
                id: uuid::Uuid::nil(),
                number: 1,
                title: title.to_string(),
                severity: crate::domain::Severity::Sev2,
                status: crate::domain::IncidentStatus::Investigating,
                customer_impact: None,
                affected_components: Vec::<String>::new().into(),
                chat_room_url: None,
                labels: Vec::<String>::new().into(),
                started_at: None,
                detected_at: None,
                acknowledged_at: None,
                mitigated_at: None,
                resolved_at: None,
                closed_at: None,
                last_customer_update_at: None,
                sitrep_count: 0,
                version: 1,
                created_at: now,
                updated_at: now,
            },
            current_sitrep: None,
            current_roles: Vec::new(),
            counts: IncidentCounts::default(),
            derived: Default::default(),
        })
    }

    /// A database stand-in for [`ReadCache::incident_since`]: every
    /// statement is counted, named by its number ("read 1", "read 2" …) and
    /// answers only when the test lets it (`release`), so that reads can be
    /// made to arrive while a statement is on its way.
    #[derive(Clone)]
    struct Database {
        sent: Arc<std::sync::atomic::AtomicUsize>,
        gate: Arc<tokio::sync::Semaphore>,
        missing: bool,
    }

    impl Database {
        fn new() -> Self {
            Self {
                sent: Arc::default(),
                gate: Arc::new(tokio::sync::Semaphore::new(0)),
                missing: false,
            }
        }

        fn sent(&self) -> usize {
            self.sent.load(std::sync::atomic::Ordering::SeqCst)
        }

        fn release(&self) {
            self.gate.add_permits(1);
        }

        async fn read(self, _known: Option<Arc<str>>) -> Result<SinceSnapshot, ServiceError> {
            let n = self.sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            self.gate.acquire().await.unwrap().forget();
            if self.missing {
                return Err(ServiceError::NotFound("incident INC-1".into()));
            }
            Ok(SinceSnapshot::Read {
                snapshot: format!("snapshot {n}"),
                record: record(&format!("read {n}")),
            })
        }
    }

    /// Start a read of INC-1 and let it run until it waits on the database.
    async fn start_read(
        cache: &Arc<ReadCache>,
        db: &Database,
    ) -> tokio::task::JoinHandle<Result<Arc<IncidentRecord>, ServiceError>> {
        let (cache, db) = (cache.clone(), db.clone());
        let read = tokio::spawn(async move {
            cache
                .incident_since(IncidentRef::Number(1), move |known| db.read(known))
                .await
        });
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        read
    }

    /// Reads that arrive while a statement is on its way share the next
    /// one, and get its answer, never the one already on its way.
    #[tokio::test(flavor = "current_thread")]
    async fn concurrent_reads_of_an_incident_share_the_next_statement() {
        let cache = Arc::new(ReadCache::for_postgres());
        let db = Database::new();
        let first = start_read(&cache, &db).await;
        assert_eq!(db.sent(), 1, "a lone read sends its statement at once");
        let mut later = Vec::new();
        for _ in 0..10 {
            later.push(start_read(&cache, &db).await);
        }
        assert_eq!(db.sent(), 1, "reads wait while a statement is on its way");
        db.release();
        let first = first.await.unwrap().unwrap();
        assert_eq!(first.incident.title, "read 1");
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        assert_eq!(db.sent(), 2, "the ten waiting reads sent one statement");
        db.release();
        for read in later {
            let record = read.await.unwrap().unwrap();
            assert_eq!(
                record.incident.title, "read 2",
                "a read that arrived during read 1 is answered by read 2"
            );
        }
        assert!(
            lock(&cache.snapshots.as_ref().unwrap().rounds)
                .by_incident
                .is_empty(),
            "nothing is left in flight"
        );
        // The next lone read sends its own statement at once.
        let last = start_read(&cache, &db).await;
        assert_eq!(db.sent(), 3);
        db.release();
        assert_eq!(last.await.unwrap().unwrap().incident.title, "read 3");
    }

    /// A read cancelled while it waited (its client went away) leaves the
    /// round it started to those that joined it.
    #[tokio::test(flavor = "current_thread")]
    async fn a_round_outlives_the_read_that_started_it() {
        let cache = Arc::new(ReadCache::for_postgres());
        let db = Database::new();
        let first = start_read(&cache, &db).await;
        let second = start_read(&cache, &db).await;
        let third = start_read(&cache, &db).await;
        second.abort();
        first.abort();
        db.release();
        db.release();
        let record = third.await.unwrap().unwrap();
        assert_eq!(record.incident.title, "read 2");
        assert_eq!(db.sent(), 2);
    }

    /// A round whose every read went away (their clients hung up) still
    /// runs to its end: it holds a pool connection while its statement is
    /// on its way, and nothing is left in flight afterwards.
    #[tokio::test(flavor = "current_thread")]
    async fn a_round_nobody_waits_for_still_ends() {
        let cache = Arc::new(ReadCache::for_postgres());
        let db = Database::new();
        let first = start_read(&cache, &db).await;
        let second = start_read(&cache, &db).await;
        first.abort();
        second.abort();
        db.release();
        db.release();
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        assert_eq!(db.sent(), 2, "both rounds sent their statement");
        assert!(
            lock(&cache.snapshots.as_ref().unwrap().rounds)
                .by_incident
                .is_empty(),
            "nothing is left in flight"
        );
        let record = start_read(&cache, &db).await;
        db.release();
        assert_eq!(record.await.unwrap().unwrap().incident.title, "read 3");
    }

    /// A failed read fails every read that shared it, with the same error.
    #[tokio::test(flavor = "current_thread")]
    async fn the_error_of_a_shared_statement_reaches_every_read() {
        let cache = Arc::new(ReadCache::for_postgres());
        let db = Database {
            missing: true,
            ..Database::new()
        };
        let reads = [
            start_read(&cache, &db).await,
            start_read(&cache, &db).await,
            start_read(&cache, &db).await,
        ];
        db.release();
        db.release();
        for read in reads {
            let err = read.await.unwrap().unwrap_err();
            assert!(
                matches!(&err, ServiceError::NotFound(what) if what == "incident INC-1"),
                "{err:?}"
            );
        }
        assert_eq!(db.sent(), 2);
    }
}
