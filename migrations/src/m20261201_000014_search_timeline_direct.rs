//! Timeline events are indexed from their own rows, not through a second
//! row in `search_entries`: they are nearly all of the index (a million
//! events beside fifty thousand incidents), and the second row with its
//! two B-tree indexes cost batch ingestion nearly half its throughput.
//!
//! On SQLite one contentless FTS5 table (`contentless_delete=1`) holds
//! every entry: a timeline event under its row's `seq` (positive), the
//! other kinds under their `search_entries` id negated. `seq` is the
//! table's `INTEGER PRIMARY KEY`, so the rowid the index names stays the
//! same through `VACUUM` and `VACUUM INTO` (an implicit rowid may be
//! renumbered by both); making it explicit means rebuilding the table once
//! here (SQLite cannot add a primary key), which costs nothing on later
//! inserts: the table already had a rowid and a unique index on `id`.
//!
//! On PostgreSQL `timeline_events` gets a generated, stored `tsvector`
//! column with its own GIN index (no trigger, no second row), and an
//! identity column `seq` that search hits are ordered and paged by, as
//! on SQLite. `debrief_search_text` splits at ASCII punctuation with
//! `translate` (one pass over the text) instead of a regular expression;
//! the words it yields are the same.
//!
//! The other kinds keep their `search_entries` rows and triggers
//! (migration `m20261201_000012_search`).

use sea_orm_migration::{
    prelude::*,
    sea_orm::{DbBackend, TransactionTrait},
};

use crate::m20261201_000012_search::{self as search, Source};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// ASCII punctuation, each character replaced by a space (the set of
/// migration 12's regular expression `[!-/:-@\[-`{-~]`).
const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

fn postgres_search_text() -> String {
    let from = PUNCTUATION.replace('\'', "''");
    let to = " ".repeat(PUNCTUATION.len());
    format!(
        "CREATE OR REPLACE FUNCTION debrief_search_text(input text) RETURNS text \
         LANGUAGE sql IMMUTABLE PARALLEL SAFE \
         AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, \
                translate(input, '{from}', '{to}')) $$"
    )
}

/// The timeline's source in migration 12's list.
fn timeline() -> Source {
    search::sources()
        .into_iter()
        .find(|s| s.table == "timeline_events")
        .expect("migration 12 indexes timeline events")
}

/// `timeline_events` with `seq INTEGER PRIMARY KEY` (the rowid made
/// explicit, so stable), the same columns, constraints and indexes
/// otherwise. Rows keep their rowids.
const SQLITE_REBUILD: &[&str] = &[
    r#"CREATE TABLE "timeline_events_rebuilt" (
        "seq" integer NOT NULL PRIMARY KEY,
        "id" uuid_text NOT NULL UNIQUE,
        "incident_id" uuid_text NOT NULL,
        "occurred_at" timestamp_with_timezone_text NOT NULL,
        "kind" varchar(32) NOT NULL,
        "body" text NOT NULL,
        "author" varchar(200) NULL,
        "source" varchar(16) NOT NULL,
        "external_id" varchar(200) NULL,
        "visibility" varchar(16) NOT NULL,
        "created_at" timestamp_with_timezone_text NOT NULL,
        "updated_at" timestamp_with_timezone_text NOT NULL,
        FOREIGN KEY ("incident_id") REFERENCES "incidents" ("id") ON DELETE CASCADE
    )"#,
    r#"INSERT INTO "timeline_events_rebuilt" (seq, id, incident_id, occurred_at, kind, body,
        author, source, external_id, visibility, created_at, updated_at)
       SELECT rowid, id, incident_id, occurred_at, kind, body, author, source, external_id,
        visibility, created_at, updated_at FROM "timeline_events" ORDER BY rowid"#,
    r#"DROP TABLE "timeline_events""#,
    r#"ALTER TABLE "timeline_events_rebuilt" RENAME TO "timeline_events""#,
    r#"CREATE UNIQUE INDEX "uq_timeline_events_external" ON "timeline_events" ("incident_id", "source", "external_id")"#,
    r#"CREATE INDEX "idx_timeline_events_incident_time" ON "timeline_events" ("incident_id", "occurred_at", "id")"#,
];

/// Every entry in one FTS5 index, which keeps no copy of the texts.
const SQLITE_INDEX: &[&str] = &[
    "CREATE VIRTUAL TABLE search_fts USING fts5(title, body, facts, \
     content='', contentless_delete=1, \
     tokenize='unicode61 remove_diacritics 2')",
    "INSERT INTO search_fts (rowid, title, body, facts) \
     SELECT -id, title, body, facts FROM search_entries",
    "INSERT INTO search_fts (rowid, title, body, facts) \
     SELECT seq, '', body, '' FROM timeline_events",
    "CREATE TRIGGER search_entries_fts_insert AFTER INSERT ON search_entries BEGIN \
     INSERT INTO search_fts (rowid, title, body, facts) \
     VALUES (-new.id, new.title, new.body, new.facts); END",
    "CREATE TRIGGER search_entries_fts_delete AFTER DELETE ON search_entries BEGIN \
     DELETE FROM search_fts WHERE rowid = -old.id; END",
    // Trigger names as migration 12's, which drops them on the way down.
    "CREATE TRIGGER search_timeline_events_insert AFTER INSERT ON timeline_events BEGIN \
     INSERT INTO search_fts (rowid, title, body, facts) VALUES (new.seq, '', new.body, ''); END",
    "CREATE TRIGGER search_timeline_events_update AFTER UPDATE OF body ON timeline_events \
     WHEN old.body IS NOT new.body BEGIN \
     DELETE FROM search_fts WHERE rowid = old.seq; \
     INSERT INTO search_fts (rowid, title, body, facts) VALUES (new.seq, '', new.body, ''); END",
    "CREATE TRIGGER search_timeline_events_delete AFTER DELETE ON timeline_events BEGIN \
     DELETE FROM search_fts WHERE rowid = old.seq; END",
];

const POSTGRES_UP: &[&str] = &[
    "DROP TRIGGER search_sync ON timeline_events",
    "DROP TRIGGER search_sync_update ON timeline_events",
    "DROP FUNCTION search_sync_timeline_events()",
    "DELETE FROM search_entries WHERE kind = 'timeline_event'",
    "ALTER TABLE timeline_events ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY",
    "ALTER TABLE timeline_events ADD COLUMN search_document tsvector GENERATED ALWAYS AS ( \
       setweight(to_tsvector('simple'::regconfig, debrief_search_text(body)), 'C') \
     ) STORED",
    "CREATE INDEX idx_timeline_events_search ON timeline_events USING GIN (search_document)",
];

/// Run the statements on one connection, in one transaction: SQLite checks
/// a name against its connection's cached schema when it parses a
/// statement, so a table dropped on one pooled connection can still be in
/// the way of a rename on another; and a rebuild stopped half way must
/// leave nothing behind.
async fn run_together(
    db: &SchemaManagerConnection<'_>,
    statements: Vec<String>,
) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    for statement in statements {
        txn.execute_unprepared(&statement).await?;
    }
    txn.commit().await
}

/// SQLite: the FTS5 table and every trigger that writes to it (the same
/// names in migration 12's index and this one's).
fn drop_sqlite_index() -> Vec<String> {
    let mut statements: Vec<String> = ["insert", "update", "delete"]
        .iter()
        .map(|event| format!("DROP TRIGGER search_timeline_events_{event}"))
        .collect();
    statements.push("DROP TRIGGER search_entries_fts_insert".into());
    statements.push("DROP TRIGGER search_entries_fts_delete".into());
    statements.push("DROP TABLE search_fts".into());
    statements
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let mut statements: Vec<String> = Vec::new();
        if manager.get_database_backend() == DbBackend::Postgres {
            // The function first: the new column is computed with it.
            statements.push(postgres_search_text());
            statements.extend(POSTGRES_UP.iter().map(|s| (*s).to_owned()));
        } else {
            statements.extend(drop_sqlite_index());
            statements.push("DELETE FROM search_entries WHERE kind = 'timeline_event'".into());
            statements.extend(SQLITE_REBUILD.iter().map(|s| (*s).to_owned()));
            statements.extend(SQLITE_INDEX.iter().map(|s| (*s).to_owned()));
        }
        run_together(db, statements).await
    }

    /// Back to migration 12's index. `seq` stays on SQLite (taking it out
    /// would rebuild the table again, and nothing before this migration
    /// reads or writes it).
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let timeline = timeline();
        let mut statements: Vec<String> = Vec::new();
        if manager.get_database_backend() == DbBackend::Postgres {
            statements.push("DROP INDEX idx_timeline_events_search".into());
            statements.push("ALTER TABLE timeline_events DROP COLUMN search_document".into());
            statements.push("ALTER TABLE timeline_events DROP COLUMN seq".into());
            statements.push(timeline.fill_sql());
            statements.extend(timeline.postgres_triggers());
        } else {
            statements.extend(drop_sqlite_index());
            statements.extend(search::sqlite_index());
            statements.push("INSERT INTO search_fts (search_fts) VALUES ('rebuild')".into());
            statements.push(timeline.fill_sql());
            statements.extend(timeline.sqlite_triggers());
        }
        run_together(db, statements).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_ascii_punctuation_character_once() {
        let expected: String = (b'!'..=b'~')
            .map(char::from)
            .filter(|c| c.is_ascii_punctuation())
            .collect();
        assert_eq!(super::PUNCTUATION, expected);
    }
}
