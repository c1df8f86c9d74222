//! What the load and write benchmarks share: the app's DDL of
//! `timeline_events`, and a raw SQLite copy of that table to compare with.

use std::path::Path;

use anyhow::ensure;

/// The app's DDL of `timeline_events`: the table and its two indexes. The
/// search index's triggers on the table are left out: they write to tables
/// the raw copy does not have (what they cost is the app's, measured
/// against this bare table).
pub fn timeline_ddl(db: &Path) -> anyhow::Result<Vec<String>> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut stmt = conn.prepare(
        "SELECT sql FROM sqlite_master WHERE tbl_name = 'timeline_events' AND sql IS NOT NULL \
         AND type IN ('table', 'index') ORDER BY type = 'table' DESC, name",
    )?;
    let ddl = stmt
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    ensure!(
        ddl.len() == 3,
        "expected the table and two indexes, got {ddl:?}"
    );
    Ok(ddl)
}

/// A fresh SQLite file holding a copy of the table (WAL, `synchronous=FULL`,
/// foreign keys on) and one incident for its rows to belong to.
pub struct RawTimeline {
    pub conn: rusqlite::Connection,
    pub incident_id: uuid::Uuid,
    _dir: tempfile::TempDir,
}

pub fn raw_timeline(ddl: &[String]) -> anyhow::Result<RawTimeline> {
    let dir = tempfile::tempdir()?;
    let conn = rusqlite::Connection::open(dir.path().join("raw.db"))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    ensure!(mode == "wal", "journal_mode is {mode}");
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    // The parent table the foreign key names; only its key matters here.
    conn.execute_batch(r#"CREATE TABLE "incidents" ("id" uuid_text NOT NULL PRIMARY KEY)"#)?;
    for statement in ddl {
        conn.execute_batch(statement)?;
    }
    let incident_id = uuid::Uuid::now_v7();
    conn.execute(
        "INSERT INTO incidents (id) VALUES (?1)",
        [incident_id.as_bytes().as_slice()],
    )?;
    Ok(RawTimeline {
        conn,
        incident_id,
        _dir: dir,
    })
}
