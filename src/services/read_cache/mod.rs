//! A cache of the hottest reads (token lookups, incident details) that is
//! never stale.
//!
//! On SQLite, every use first takes a reading of the database's change
//! marker: the header of the WAL-index (the `-shm` file every connection of
//! every process shares in WAL mode), read with one `pread` and no lock, or,
//! when that cannot be read, `PRAGMA data_version` on a connection of the
//! cache's own. Either changes whenever any connection commits: this
//! process's pool, a `debrief import` run, a second process on the same
//! file. When it has changed, the cache is emptied before it is consulted, so
//! an answer from the cache is exactly what the database would answer. The
//! header read costs well under a microsecond and takes no lock (the pragma
//! takes SQLite's shared lock, and with it a process-wide mutex that
//! requests on two threads queue on); a query through the pool costs about a
//! hundred microseconds (see `benches/RESULTS.md`). The one assumption: every
//! writer uses the shared WAL-index, as SQLite does by default (a connection
//! set to `locking_mode=EXCLUSIVE` keeps its own in memory); Debrief never
//! sets that mode, and nothing else should write to a live service's file.
//!
//! Tokens are the exception: a token row only ever changes by being revoked,
//! so a cached token outlives commits and is only checked again (see
//! [`ReadCache::token`]).
//!
//! On PostgreSQL replicas share the database, and a commit on one is not
//! visible to the others without a round trip, so every incident read still
//! sends its one statement; what the cache saves there is the work of that
//! statement and of the answer. A record is filed with the snapshot
//! (`pg_current_snapshot()`: the transactions then complete and in progress)
//! of the statement that read it, and the next read of that incident sends
//! that snapshot along: when the statement's own snapshot is the same, no
//! transaction has ended in between, on any connection of any replica, so
//! the database holds exactly what was read, and the statement answers
//! "unchanged" without reading the incident (see [`ReadCache::incident_since`]).
//! A write acknowledged before the read started has ended, so it is always
//! seen. Reads of one incident that arrive together share one statement:
//! each waits for the next statement sent for that incident, never one
//! already on its way (see `Rounds`), so under a crowd of readers the
//! database answers one statement per round trip instead of one per read,
//! and no answer is older than its read. A token found live is trusted there for [`TOKEN_TTL`] (one
//! second): a revocation made on another replica is refused everywhere
//! within it.

use std::{
    any::Any,
    cell::Cell,
    collections::HashMap,
    future::Future,
    hash::Hash,
    path::Path,
    sync::{Arc, Mutex, MutexGuard, OnceLock},
    time::Duration,
};

use super::{ServiceError, incidents::IncidentCounts};
use crate::{
    domain::IncidentRef,
    entities::{api_token, incident, role_assignment, sitrep},
};

/// How many entries a shelf holds before it is emptied: a bound on memory
/// (an attacker cannot grow it: only live tokens and existing incidents are
/// kept), far above the working set of any one week's incidents.
const SHELF_CAPACITY: usize = 2_000;

/// An incident with what its detail view shows, as read from the database.
#[derive(Debug)]
pub struct IncidentRecord {
    pub incident: incident::Model,
    pub current_sitrep: Option<sitrep::Model>,
    pub current_roles: Vec<role_assignment::Model>,
    pub counts: IncidentCounts,
    /// What a reader derives from this record (the API keeps its serialised
    /// view here), made once by the first request that needs it: one per
    /// value of the clock-dependent `customer_update_overdue`, the only part
    /// of a view that is not read from the database. The service layer holds
    /// it without knowing what it is; see [`IncidentRecord::derived`].
    pub(crate) derived: [OnceLock<Box<dyn Any + Send + Sync>>; 2],
}

impl IncidentRecord {
    /// The value `make` derives from this record for `overdue`, made once
    /// and then shared by every reader of this cached record (a record read
    /// afresh starts empty).
    pub fn derived<T>(&self, overdue: bool, make: impl FnOnce() -> T) -> T
    where
        T: Clone + Send + Sync + 'static,
    {
        let slot = &self.derived[usize::from(overdue)];
        if let Some(value) = slot.get().and_then(|v| v.downcast_ref::<T>()) {
            return value.clone();
        }
        let value = make();
        let stored = slot.get_or_init(|| Box::new(value.clone()));
        stored.downcast_ref::<T>().cloned().unwrap_or(value)
    }
}

pub struct ReadCache {
    probe: Option<Mutex<rusqlite::Connection>>,
    /// The WAL-index (`-shm` file) of the database: its header changes with
    /// every commit and is read without a lock.
    wal_index: Option<std::fs::File>,
    /// Live tokens by the hash of their secret, with when they were last
    /// found live.
    tokens: Mutex<HashMap<String, (api_token::Model, Checked)>>,
    /// How long a token found live is trusted on PostgreSQL.
    token_recheck: Duration,
    incidents: Shelf<IncidentRef, Arc<IncidentRecord>>,
    /// PostgreSQL: incident records with the snapshot they were read at
    /// (`None`: not kept, every read is a full read).
    snapshots: Option<Arc<Snapshots>>,
}

mod rounds;

use rounds::Snapshots;

/// What a read of an incident sent with a snapshot
/// ([`ReadCache::incident_since`]) found.
pub enum SinceSnapshot {
    /// The database's snapshot is the one sent: the record read at it holds.
    Unchanged,
    /// The record, read at `snapshot`.
    Read {
        snapshot: String,
        record: Box<IncidentRecord>,
    },
}

impl ReadCache {
    /// No caching: every read goes to the database.
    pub fn disabled() -> Self {
        Self {
            probe: None,
            wal_index: None,
            tokens: Mutex::default(),
            token_recheck: TOKEN_TTL,
            incidents: Shelf::default(),
            snapshots: None,
        }
    }

    /// A cache for PostgreSQL: incident records kept with the snapshot they
    /// were read at (see [`Self::incident_since`]), tokens for
    /// `token_recheck_ms`.
    pub fn for_postgres() -> Self {
        Self {
            snapshots: Some(Arc::default()),
            ..Self::disabled()
        }
    }

    /// Trust a token found live for `recheck` on PostgreSQL (the setting
    /// `token_recheck_ms`; [`TOKEN_TTL`] unless set).
    pub fn with_token_recheck(mut self, recheck: Duration) -> Self {
        self.token_recheck = recheck;
        self
    }

    /// A cache checked against the SQLite file at `path` (opened read-write
    /// so that it works whatever state the WAL files are in; it never writes).
    pub fn for_sqlite_file(path: &Path) -> anyhow::Result<Self> {
        let probe = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // A probe that would have to wait answers "unknown" instead: the read
        // then goes to the database, and no request thread blocks here.
        probe.busy_timeout(Duration::ZERO)?;
        let mut cache = Self {
            probe: Some(Mutex::new(probe)),
            ..Self::disabled()
        };
        // The probe's first read transaction opens the WAL-index; the probe
        // stays open, so the file is neither truncated nor removed while the
        // cache lives (SQLite does that only for the last connection).
        cache.data_version()?;
        cache.wal_index = open_wal_index(path);
        if cache.wal_index.is_some() && cache.header().is_none() {
            cache.wal_index = None;
        }
        Ok(cache)
    }

    /// The live token whose secret hashes to `hash`, from the cache or `load`.
    ///
    /// A token row changes only when it is revoked (and when its use is
    /// noted, which [`Self::token_used`] follows), so a cached token stays
    /// cached across commits: on SQLite it is checked again after every
    /// commit with one indexed read on the probe connection ("still
    /// live?", a few microseconds, no pool connection); on PostgreSQL it is
    /// trusted for `token_recheck_ms` ([`TOKEN_TTL`] by default), so a revocation on any replica is seen
    /// within that time (and at once on the replica that made it).
    pub async fn token<F, Fut>(
        &self,
        hash: &str,
        load: F,
    ) -> Result<Option<api_token::Model>, ServiceError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<api_token::Model>, ServiceError>>,
    {
        let checked = match self.probe {
            Some(_) => match self.version() {
                Some(version) => Checked::Version(version),
                None => return load().await,
            },
            None => Checked::At(std::time::Instant::now()),
        };
        let cached = lock(&self.tokens).get(hash).cloned();
        if let Some((token, at)) = cached {
            if at.still_holds(checked, self.token_recheck) {
                return Ok(Some(token));
            }
            if let Checked::Version(_) = checked {
                match self.token_is_live(hash) {
                    Ok(true) => {
                        self.keep_token(hash, token.clone(), checked);
                        return Ok(Some(token));
                    }
                    Ok(false) => {
                        lock(&self.tokens).remove(hash);
                        return Ok(None);
                    }
                    Err(err) => {
                        tracing::debug!(error = %err, "Token check on the probe failed; reading it");
                    }
                }
            }
        }
        let token = load().await?;
        // Unknown secrets are not kept: they would let anyone fill the shelf.
        match &token {
            Some(token) => self.keep_token(hash, token.clone(), checked),
            None => {
                lock(&self.tokens).remove(hash);
            }
        }
        Ok(token)
    }

    /// Note that the token was used at `at` and that this was stored.
    pub fn token_used(&self, hash: &str, at: chrono::DateTime<chrono::Utc>) {
        if let Some((token, _)) = lock(&self.tokens).get_mut(hash) {
            token.last_used_at = Some(at);
        }
    }

    /// Forget every cached token (after a revocation by this process).
    pub fn forget_tokens(&self) {
        lock(&self.tokens).clear();
    }

    fn keep_token(&self, hash: &str, token: api_token::Model, checked: Checked) {
        let mut tokens = lock(&self.tokens);
        if tokens.len() >= SHELF_CAPACITY && !tokens.contains_key(hash) {
            tokens.clear();
        }
        tokens.insert(hash.to_string(), (token, checked));
    }

    /// Whether a live token has this hash, read on the probe connection.
    fn token_is_live(&self, hash: &str) -> rusqlite::Result<bool> {
        let Some(probe) = &self.probe else {
            return Err(rusqlite::Error::InvalidQuery);
        };
        let conn = lock(probe);
        let mut stmt = conn.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM api_tokens WHERE token_hash = ?1 AND revoked_at IS NULL)",
        )?;
        stmt.query_row([hash], |row| row.get(0))
    }

    /// The incident named by `reference`, from the cache or `load`.
    pub async fn incident<F, Fut>(
        &self,
        reference: IncidentRef,
        load: F,
    ) -> Result<Arc<IncidentRecord>, ServiceError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<IncidentRecord, ServiceError>>,
    {
        let Some(version) = self.version() else {
            return load().await.map(Arc::new);
        };
        if let Some(record) = self.incidents.get(version, &reference) {
            return Ok(record);
        }
        let record = Arc::new(load().await?);
        self.incidents.put(version, reference, record.clone());
        Ok(record)
    }

    /// The incident named by `reference`, read by `load` (PostgreSQL), which
    /// is given the snapshot of the record kept for it, if any, and answers
    /// [`SinceSnapshot::Unchanged`] when the database's snapshot is still
    /// that one (the kept record is then the answer) or the record read
    /// afresh with its snapshot (kept for the next read).
    ///
    /// Concurrent reads of one incident share a statement (see [`Rounds`]):
    /// a read joins the next statement to be sent for the incident, never
    /// one already on its way, so its answer is never older than the read.
    pub async fn incident_since<F, Fut>(
        &self,
        reference: IncidentRef,
        load: F,
    ) -> Result<Arc<IncidentRecord>, ServiceError>
    where
        F: FnOnce(Option<Arc<str>>) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = Result<SinceSnapshot, ServiceError>> + Send + 'static,
    {
        let Some(snapshots) = &self.snapshots else {
            return match load(None).await? {
                SinceSnapshot::Read { record, .. } => Ok(Arc::<IncidentRecord>::from(record)),
                SinceSnapshot::Unchanged => Err(unchanged_without_a_snapshot()),
            };
        };
        match snapshots.join(reference, load.clone()) {
            Some((round, made_here)) => {
                let (read, sent) = round.await;
                if made_here {
                    (0..sent).for_each(|_| crate::statements::record_shared());
                }
                read.map_err(|err| ServiceError::replay(&err))
            }
            // Too many incidents in flight to track: read alone.
            None => snapshots.read(reference, load).await,
        }
    }

    /// The database's change marker, read before a load so that what the
    /// load sees is at least as new as the reading it is filed under. Inside
    /// [`one_version_per_request`], the first reading is used for the whole
    /// request.
    fn version(&self) -> Option<Version> {
        if let Ok(Some(version)) = REQUEST_VERSION.try_with(Cell::get) {
            return Some(version);
        }
        let version = match self.header() {
            Some(header) => Some(Version::Header(header)),
            None => match self.data_version() {
                Ok(version) => version.map(Version::Counter),
                Err(err) => {
                    tracing::debug!(error = %err, "Read cache bypassed: data_version unavailable");
                    None
                }
            },
        };
        let _ = REQUEST_VERSION.try_with(|memo| memo.set(version));
        version
    }

    /// The WAL-index header (see [`wal_index_header`]), when the file is
    /// open and the header is not being rewritten.
    fn header(&self) -> Option<[u32; WAL_HEADER_WORDS]> {
        wal_index_header(self.wal_index.as_ref()?)
    }

    fn data_version(&self) -> rusqlite::Result<Option<i64>> {
        let Some(probe) = &self.probe else {
            return Ok(None);
        };
        let conn = lock(probe);
        let mut stmt = conn.prepare_cached("PRAGMA data_version")?;
        stmt.query_row([], |row| row.get(0)).map(Some)
    }
}

fn unchanged_without_a_snapshot() -> ServiceError {
    ServiceError::Internal(anyhow::anyhow!(
        "an incident read answered \"unchanged\" though no snapshot was sent"
    ))
}

/// Words in one copy of the WAL-index header.
const WAL_HEADER_WORDS: usize = 12;
/// Bytes in one copy of the WAL-index header.
pub(crate) const WAL_HEADER_BYTES: usize = 4 * WAL_HEADER_WORDS;
/// The WAL-index format version SQLite writes in the header's first word.
const WAL_INDEX_VERSION: u32 = 3_007_000;

/// The header of a WAL-index, when it is not being rewritten.
///
/// SQLite keeps two copies of the header at the start of the `-shm` file
/// and writes the second, then (after a memory barrier) the first; a
/// reader reads the first, then the second, and a difference means a
/// writer is between the two (SQLite's `walIndexTryHdr` does the same).
/// Every commit changes the header (`iChange` counts transactions;
/// `mxFrame`, the salts and the checksums follow the log), so two equal
/// readings mean no commit in between, by any connection or process.
pub(crate) fn wal_index_header(file: &std::fs::File) -> Option<[u32; WAL_HEADER_WORDS]> {
    use std::os::unix::fs::FileExt;
    // One read of both copies: the page cache is what SQLite's mappings of
    // the file share, and the copy runs from low to high addresses.
    let mut bytes = [0u8; 2 * WAL_HEADER_BYTES];
    file.read_exact_at(&mut bytes, 0).ok()?;
    let (first, second) = bytes.split_at(WAL_HEADER_BYTES);
    let word = |i: usize| u32::from_ne_bytes([first[i], first[i + 1], first[i + 2], first[i + 3]]);
    // iVersion 3007000 and isInit (byte 12) set.
    if first != second || word(0) != WAL_INDEX_VERSION || first[12] != 1 {
        return None;
    }
    Some(std::array::from_fn(|i| word(4 * i)))
}

/// The WAL-index of the database at `path` (`<path>-shm`), opened for
/// reading; `None` when there is none (not in WAL mode), and the cache then
/// uses the pragma alone.
pub(crate) fn open_wal_index(path: &Path) -> Option<std::fs::File> {
    let mut shm = path.as_os_str().to_owned();
    shm.push("-shm");
    std::fs::File::open(shm).ok()
}

/// A reading of the database's change marker: the WAL-index header, or,
/// when that cannot be read, the probe connection's `data_version`.
/// Readings of the two kinds never compare equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    Header([u32; WAL_HEADER_WORDS]),
    Counter(i64),
}

tokio::task_local! {
    /// The reading a read-only request took first.
    static REQUEST_VERSION: Cell<Option<Version>>;
}

/// Whether a request may write (the HTTP edge tells it from the method).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// It only reads (GET, HEAD).
    ReadOnly,
    /// It may write.
    MayWrite,
}

/// Run a request with one reading of the change marker for all its uses of
/// the cache when it only reads: a token lookup and an incident read then
/// cost one probe, not two. The answer is the database as it was when the
/// request's first reading was taken, which is after the request arrived,
/// so every write acknowledged before it is seen. Requests that may write
/// probe before every use, so they always see their own writes.
pub async fn one_version_per_request<F: Future>(kind: RequestKind, request: F) -> F::Output {
    match kind {
        RequestKind::ReadOnly => REQUEST_VERSION.scope(Cell::new(None), request).await,
        RequestKind::MayWrite => request.await,
    }
}

/// How long a cached token is trusted on PostgreSQL by default (the
/// setting `token_recheck_ms`), where no reading of the database's change
/// marker comes for free: a revocation by another replica is seen within
/// this time.
pub const TOKEN_TTL: Duration = Duration::from_secs(1);

/// When a cached token was last found live.
#[derive(Debug, Clone, Copy)]
enum Checked {
    /// At this reading of the SQLite change marker.
    Version(Version),
    /// At this moment (PostgreSQL).
    At(std::time::Instant),
}

impl Checked {
    /// Whether a token found live at `self` is still known live at `now`.
    fn still_holds(self, now: Checked, recheck: Duration) -> bool {
        match (self, now) {
            (Checked::Version(then), Checked::Version(now)) => then == now,
            (Checked::At(then), Checked::At(now)) => now.saturating_duration_since(then) < recheck,
            _ => false,
        }
    }
}

/// Entries filed under the reading they were loaded after.
struct Shelf<K, V> {
    inner: Mutex<(Option<Version>, HashMap<K, V>)>,
}

impl<K, V> Default for Shelf<K, V> {
    fn default() -> Self {
        Self {
            inner: Mutex::new((None, HashMap::new())),
        }
    }
}

impl<K: Hash + Eq, V: Clone> Shelf<K, V> {
    fn get<Q>(&self, version: Version, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut inner = lock(&self.inner);
        if inner.0 != Some(version) {
            // Something was committed since these were read.
            inner.1.clear();
            inner.0 = Some(version);
            return None;
        }
        inner.1.get(key).cloned()
    }

    fn put(&self, version: Version, key: K, value: V) {
        let mut inner = lock(&self.inner);
        // A newer version was seen while loading: this value may be stale.
        if inner.0 != Some(version) {
            return;
        }
        if inner.1.len() >= SHELF_CAPACITY {
            inner.1.clear();
        }
        inner.1.insert(key, value);
    }
}

/// A poisoned lock only means another request panicked while holding it;
/// the data (a cache, or a connection used for one pragma) is still sound.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The premise of the cache: another connection's commit changes the
    /// reading, and nothing else does; in WAL mode (the service's) the
    /// reading is the WAL-index header, otherwise the pragma.
    #[test]
    fn the_reading_moves_with_every_commit_by_another_connection() {
        for wal in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("probe.db");
            let writer = rusqlite::Connection::open(&path).unwrap();
            let mode = if wal { "WAL" } else { "DELETE" };
            writer
                .execute_batch(&format!(
                    "PRAGMA journal_mode = {mode}; CREATE TABLE t (x INTEGER);"
                ))
                .unwrap();
            let cache = ReadCache::for_sqlite_file(&path).unwrap();
            let first = cache.version().expect("SQLite has a data version");
            assert_eq!(matches!(first, Version::Header(_)), wal, "{first:?}");
            moves_with_commits_only(&cache, &writer, first);
        }
    }

    /// Commits of a connection that opens, writes and closes (as a
    /// `debrief import` run in another process does) are seen.
    #[test]
    fn commits_of_a_connection_that_comes_and_goes_are_seen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("probe.db");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER);")
            .unwrap();
        let cache = ReadCache::for_sqlite_file(&path).unwrap();
        let mut seen = vec![cache.version().unwrap()];
        for i in 0..5 {
            let writer = rusqlite::Connection::open(&path).unwrap();
            writer.execute("INSERT INTO t VALUES (?1)", [i]).unwrap();
            drop(writer);
            let now = cache.version().unwrap();
            assert!(!seen.contains(&now), "commit {i} is seen");
            seen.push(now);
        }
    }

    fn moves_with_commits_only(cache: &ReadCache, writer: &rusqlite::Connection, first: Version) {
        {
            assert_eq!(cache.version(), Some(first), "no commit, no change");
            writer.execute("INSERT INTO t VALUES (1)", []).unwrap();
            let second = cache.version().unwrap();
            assert_ne!(second, first, "a commit is seen");
            writer
                .execute_batch("BEGIN; INSERT INTO t VALUES (2); ROLLBACK;")
                .unwrap();
            assert_eq!(cache.version(), Some(second), "a rollback is not a change");
        }
    }

    /// A read-only request takes one reading for all its uses; a request
    /// that may write reads again before every use.
    #[tokio::test]
    async fn a_read_only_request_reads_the_version_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("probe.db");
        let writer = rusqlite::Connection::open(&path).unwrap();
        writer
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER);")
            .unwrap();
        let cache = ReadCache::for_sqlite_file(&path).unwrap();
        let request = |kind: RequestKind| {
            let (cache, writer) = (&cache, &writer);
            async move {
                one_version_per_request(kind, async {
                    let first = cache.version();
                    writer.execute("INSERT INTO t VALUES (1)", []).unwrap();
                    (first, cache.version())
                })
                .await
            }
        };
        let (first, second) = request(RequestKind::ReadOnly).await;
        assert_eq!(
            first, second,
            "a read-only request answers from one reading"
        );
        let (first, second) = request(RequestKind::MayWrite).await;
        assert_ne!(first, second, "a request that may write sees every commit");
        let (_, seen) = request(RequestKind::ReadOnly).await;
        assert_ne!(
            cache.version(),
            seen,
            "after the request, the commit made during it is seen"
        );
    }

    #[test]
    fn a_shelf_forgets_everything_when_the_version_moves() {
        let shelf: Shelf<&str, i32> = Shelf::default();
        assert_eq!(shelf.get(Version::Counter(1), "a"), None);
        shelf.put(Version::Counter(1), "a", 10);
        assert_eq!(shelf.get(Version::Counter(1), "a"), Some(10));
        assert_eq!(
            shelf.get(Version::Counter(2), "a"),
            None,
            "version 2 empties the shelf"
        );
        // A value loaded at version 1 and stored after version 2 was seen may
        // be stale: it is not kept.
        shelf.put(Version::Counter(1), "a", 10);
        assert_eq!(shelf.get(Version::Counter(2), "a"), None);
    }

    #[test]
    fn a_disabled_cache_always_loads() {
        assert_eq!(ReadCache::disabled().version(), None);
    }
}
