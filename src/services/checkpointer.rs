//! SQLite: WAL checkpoints off the commit path.
//!
//! In WAL mode a commit appends pages to the `-wal` file; a checkpoint
//! copies them into the database file and syncs it, so that the log can
//! start over. Left to itself, SQLite runs that checkpoint inside the commit
//! that grows the log past 1,000 pages: that commit (on the
//! [`writer`](super::writer), a group commit answering every request in its
//! batch) then waits while some 4 MB are copied and the database file is
//! synced, and every request in the batch waits with it.
//!
//! Here a thread of its own watches the WAL-index header (the `-shm` file,
//! read with one `pread` and no lock, as the [read cache](super::read_cache)
//! does) and runs a `PASSIVE` checkpoint on a connection of its own once
//! the log holds [`CHECKPOINT_FRAMES`] frames not yet copied. A `PASSIVE`
//! checkpoint waits for no reader and no writer: commits go on while it
//! copies. The pool's connections keep SQLite's automatic checkpoint as a
//! backstop at [`BACKSTOP_FRAMES`], ten times as far, so the log stays
//! bounded should this thread fall behind or be gone.
//!
//! Durability is unchanged: a commit is durable once the log is synced
//! (`synchronous=FULL`), before any checkpoint.

use std::{path::Path, sync::mpsc, time::Duration};

use super::read_cache::{open_wal_index, wal_index_header};

/// Frames in the log not yet copied at which the thread checkpoints:
/// SQLite's own default for its automatic checkpoint.
pub const CHECKPOINT_FRAMES: u32 = 1_000;

/// `wal_autocheckpoint` of the pool's connections: the backstop.
pub const BACKSTOP_FRAMES: u32 = 10 * CHECKPOINT_FRAMES;

/// How often the thread reads the WAL-index header.
const POLL: Duration = Duration::from_millis(10);

/// Byte offset of `nBackfill` (the frames already copied) in the
/// WAL-index: the first field after the two copies of the header.
const BACKFILL_OFFSET: u64 = 2 * super::read_cache::WAL_HEADER_BYTES as u64;

/// The checkpointing thread of one SQLite file; it stops when this is
/// dropped.
pub struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Start checkpointing the SQLite database at `path`.
    pub fn start(path: &Path) -> anyhow::Result<Self> {
        let conn = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // The connection checkpoints on demand only, and never waits for a
        // lock: a checkpoint that finds one taken is tried again later.
        conn.busy_timeout(Duration::ZERO)?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let (stop, stopped) = mpsc::channel();
        let path = path.to_path_buf();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || watch(&conn, &path, &stopped))?;
        Ok(Self { _stop: stop })
    }
}

/// Frames in the log not yet copied into the database file, from the
/// WAL-index; `None` when it cannot be read (no WAL yet, or a header being
/// rewritten).
fn pending_frames(wal_index: &std::fs::File) -> Option<u32> {
    use std::os::unix::fs::FileExt;
    // mxFrame: the fifth word of the header.
    let max_frame = wal_index_header(wal_index)?[4];
    let mut backfill = [0u8; 4];
    wal_index
        .read_exact_at(&mut backfill, BACKFILL_OFFSET)
        .ok()?;
    Some(max_frame.saturating_sub(u32::from_ne_bytes(backfill)))
}

fn watch(conn: &rusqlite::Connection, path: &Path, stopped: &mpsc::Receiver<()>) {
    let mut wal_index = None;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(POLL) {
        if wal_index.is_none() {
            wal_index = open_wal_index(path);
        }
        let Some(pending) = wal_index.as_ref().and_then(pending_frames) else {
            continue;
        };
        if pending < CHECKPOINT_FRAMES {
            continue;
        }
        match checkpoint(conn) {
            Ok((log, copied)) => {
                tracing::trace!(log, copied, "WAL checkpoint");
            }
            Err(err) => {
                tracing::debug!(error = %err, "WAL checkpoint not run; trying again");
            }
        }
    }
}

/// A `PASSIVE` checkpoint: the frames in the log and how many of them are
/// now copied.
fn checkpoint(conn: &rusqlite::Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((row.get(1)?, row.get(2)?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Commits that never checkpoint themselves (as the pool's connections
    /// do not, below the backstop) see their log copied and restarted by
    /// the thread, and every row stays.
    /// A database in WAL mode whose connection checkpoints only at the
    /// backstop, as the pool's do.
    fn wal_database(dir: &tempfile::TempDir) -> (rusqlite::Connection, std::path::PathBuf) {
        let path = dir.path().join("c.db");
        let writer = rusqlite::Connection::open(&path).unwrap();
        writer
            .execute_batch(&format!(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = {BACKSTOP_FRAMES}; \
                 CREATE TABLE t (x BLOB);"
            ))
            .unwrap();
        (writer, path)
    }

    /// 3,000 commits of a row each.
    fn commit_rows(writer: &rusqlite::Connection) {
        for i in 0..3_000 {
            writer
                .execute("INSERT INTO t VALUES (zeroblob(2000 + ?1))", [i % 7])
                .unwrap();
        }
    }

    #[test]
    fn the_thread_copies_the_log_that_commits_leave() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, path) = wal_database(&dir);
        let wal_index = open_wal_index(&path).unwrap();
        let _checkpointer = Checkpointer::start(&path).unwrap();
        commit_rows(&writer);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while pending_frames(&wal_index).unwrap_or(u32::MAX) >= CHECKPOINT_FRAMES {
            assert!(std::time::Instant::now() < deadline, "the log was copied");
            std::thread::sleep(POLL);
        }
        let wal = std::fs::metadata(dir.path().join("c.db-wal"))
            .unwrap()
            .len();
        assert!(
            wal < u64::from(BACKSTOP_FRAMES) * 4096,
            "the log restarts instead of growing: {wal} bytes"
        );
        let rows: i64 = writer
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 3_000);
    }

    /// Without the thread, the same commits grow the log past the point
    /// where it would have run: the test above measures the thread, not
    /// the writer.
    #[test]
    fn without_the_thread_the_log_grows_to_the_backstop() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, path) = wal_database(&dir);
        let wal_index = open_wal_index(&path).unwrap();
        commit_rows(&writer);
        assert!(pending_frames(&wal_index).unwrap() >= 2 * CHECKPOINT_FRAMES);
    }
}
