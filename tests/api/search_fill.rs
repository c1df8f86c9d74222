//! The search migration indexes rows written before it: the schema is
//! migrated up to the migration before it, rows are written by hand, then
//! the search migration runs and the rows are found in the index.

use chrono::Utc;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement, Value};

use crate::helpers::fresh_database;

async fn exec(db: &DatabaseConnection, sql: &str, values: Vec<Value>) {
    let backend = db.get_database_backend();
    let sql = if backend == DbBackend::Postgres {
        // `?` placeholders as PostgreSQL's `$n`.
        let mut n = 0;
        sql.chars()
            .map(|c| {
                if c == '?' {
                    n += 1;
                    format!("${n}")
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        sql.to_string()
    };
    db.execute_raw(Statement::from_sql_and_values(backend, sql.clone(), values))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// How many entries of `kind` match `word` in the index.
async fn matches(db: &DatabaseConnection, kind: &str, word: &str) -> i64 {
    let backend = db.get_database_backend();
    // Timeline events are indexed from their own rows (migration 14), the
    // other kinds through `search_entries`.
    let events = kind == "timeline_event";
    let sql = match (backend == DbBackend::Postgres, events) {
        (true, true) => format!(
            "SELECT count(*) AS n FROM timeline_events \
             WHERE search_document @@ to_tsquery('simple', '{word}')"
        ),
        (true, false) => format!(
            "SELECT count(*) AS n FROM search_entries \
             WHERE kind = '{kind}' AND document @@ to_tsquery('simple', '{word}')"
        ),
        (false, true) => format!(
            "SELECT count(*) AS n FROM search_fts JOIN timeline_events t ON t.seq = search_fts.rowid \
             WHERE search_fts MATCH '{word}'"
        ),
        (false, false) => format!(
            "SELECT count(*) AS n FROM search_fts JOIN search_entries e ON e.id = -search_fts.rowid \
             WHERE search_fts MATCH '{word}' AND e.kind = '{kind}'"
        ),
    };
    let row = db
        .query_one_raw(Statement::from_string(backend, sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}

/// SQLite: the FTS5 index's settings of merging (`automerge`,
/// `usermerge`, `crisismerge`; `None` when not set).
async fn merging(db: &DatabaseConnection) -> [Option<i64>; 3] {
    let mut settings = [None; 3];
    for (at, option) in ["automerge", "usermerge", "crisismerge"].iter().enumerate() {
        settings[at] = fts_option(db, option).await;
    }
    settings
}

async fn fts_option(db: &DatabaseConnection, option: &str) -> Option<i64> {
    db.query_one_raw(Statement::from_string(
        DbBackend::Sqlite,
        format!("SELECT v FROM search_fts_config WHERE k = '{option}'"),
    ))
    .await
    .unwrap()
    .map(|row| row.try_get_by_index::<i64>(0).unwrap())
}

pub async fn migration_fills_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let url = match fresh_database().await {
        Some(url) => url,
        None => format!("sqlite://{}/fill.db?mode=rwc", dir.path().display()),
    };
    let db = Database::connect(&url).await.unwrap();
    let search = Migrator::migrations()
        .iter()
        .position(|m| m.name() == "m20261201_000012_search")
        .expect("the search migration is listed");
    Migrator::up(&db, Some(u32::try_from(search).unwrap()))
        .await
        .unwrap();

    let now = Utc::now();
    let incident = uuid::Uuid::new_v4();
    exec(
        &db,
        "INSERT INTO incidents (id, number, title, severity, status, customer_impact, \
         affected_components, labels, sitrep_count, version, created_at, updated_at) \
         VALUES (?, 7, 'Ledger failover', 'sev2', 'resolved', 'Refunds were late', \
         '[\"ledger-db\"]', '[]', 0, 1, ?, ?)",
        vec![incident.into(), now.into(), now.into()],
    )
    .await;
    exec(
        &db,
        "INSERT INTO timeline_events (id, incident_id, occurred_at, kind, body, source, \
         visibility, created_at, updated_at) \
         VALUES (?, ?, ?, 'note', 'Vacuum stalled the replica', 'api', 'internal', ?, ?)",
        vec![
            uuid::Uuid::new_v4().into(),
            incident.into(),
            now.into(),
            now.into(),
            now.into(),
        ],
    )
    .await;
    exec(
        &db,
        "INSERT INTO remediation_items (id, number, title, kind, priority, status, version, \
         created_at, updated_at) \
         VALUES (?, 3, 'Tune autovacuum', 'prevent', 'p2', 'open', 1, ?, ?)",
        vec![uuid::Uuid::new_v4().into(), now.into(), now.into()],
    )
    .await;

    Migrator::up(&db, None).await.unwrap();
    assert_eq!(matches(&db, "incident", "ledger").await, 1);
    assert_eq!(matches(&db, "incident", "refunds").await, 1);
    assert_eq!(matches(&db, "timeline_event", "vacuum").await, 1);
    assert_eq!(matches(&db, "remediation_item", "autovacuum").await, 1);
    assert_eq!(matches(&db, "timeline_event", "ledger").await, 0);
    let backend = db.get_database_backend();
    if backend == DbBackend::Sqlite {
        assert_eq!(
            merging(&db).await,
            [Some(0), Some(16), Some(32)],
            "no merging in a write; the service's merges take 16 segments, a write 32"
        );
        Migrator::down(&db, Some(1)).await.unwrap();
        assert_eq!(
            merging(&db).await,
            [Some(16), Some(4), Some(16)],
            "one down: FTS5 merges 16 segments at a time in the write"
        );
        Migrator::down(&db, Some(1)).await.unwrap();
        assert_eq!(
            fts_option(&db, "automerge").await,
            Some(4),
            "two down: FTS5's default again"
        );
        Migrator::up(&db, None).await.unwrap();
    }
    // And down again: the index goes, the rows stay.
    let after = Migrator::migrations().len() - search;
    Migrator::down(&db, Some(u32::try_from(after).unwrap()))
        .await
        .unwrap();
    let row = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT count(*) AS n FROM incidents".to_string(),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 1);
    db.close().await.ok();
}
