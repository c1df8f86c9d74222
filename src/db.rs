//! Connecting to SQLite or PostgreSQL, migrating the schema, and the few
//! statements that must be written per backend.

use std::{future::Future, time::Duration};

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};

use crate::config::Settings;

/// Open the configured database. SQLite gets WAL, full durability, foreign
/// keys, a busy timeout and its automatic checkpoint only as a backstop; its directory is created when missing.
pub async fn connect(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    let url = settings.database_url();
    let mut options = ConnectOptions::new(url.clone());
    options
        .max_connections(settings.database_max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        // The check costs a round trip per query; a broken connection
        // surfaces as an error on use and is replaced by the pool.
        .test_before_acquire(false);
    if url.starts_with("sqlite:") {
        if let Some(path) = sqlite_path(&url) {
            crate::files::private_database(std::path::Path::new(&path))?;
        }
        options.map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                // Checkpoints run on a thread of their own
                // (`services::checkpointer`); SQLite's own, in the commit
                // that grows the log this far, is the backstop.
                .pragma(
                    "wal_autocheckpoint",
                    crate::services::checkpointer::BACKSTOP_FRAMES.to_string(),
                )
                .create_if_missing(true)
        });
    }
    let mut db = Database::connect(options).await?;
    db.set_metric_callback(crate::statements::record);
    Ok(db)
}

/// The file of a `sqlite:` URL (none for an in-memory database).
pub fn sqlite_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| path.to_string())
}

/// Apply every pending schema migration. The data is brought up to date
/// afterwards, by the service layer (`services::upkeep::bring_up_to_date`):
/// migrations call no service.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// The key of the PostgreSQL advisory lock under which a process migrates
/// the schema, brings the data up to date and creates the bootstrap token:
/// the bytes of "debrief" (0x64 65 62 72 69 65 66).
pub const MIGRATION_LOCK_KEY: i64 = 0x0064_6562_7269_6566;

/// Run `work` while holding the migration lock, so replicas starting
/// together on one PostgreSQL database migrate it one after the other
/// (the later ones find nothing left to do).
///
/// The lock is a session-level advisory lock on a connection of its own,
/// opened with the pool's options but outside the pool: `work` uses the pool
/// meanwhile, which may hold a single connection. A process that dies
/// releases the lock with its session. SQLite needs no lock: one process
/// owns the file, and its writer serialises.
pub async fn under_migration_lock<T>(
    db: &DatabaseConnection,
    work: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    use sea_orm::sqlx::{ConnectOptions as _, Connection as _};
    if db.get_database_backend() != DbBackend::Postgres {
        return work.await;
    }
    let options = db.get_postgres_connection_pool().connect_options();
    let mut lock = options.connect().await?;
    sea_orm::sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK_KEY)
        .execute(&mut lock)
        .await?;
    let result = work.await;
    // Closing the session would release the lock too; unlocking first says
    // so, and frees it even if the close is slow.
    let unlocked = sea_orm::sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK_KEY)
        .execute(&mut lock)
        .await;
    lock.close().await.ok();
    let value = result?;
    unlocked?;
    Ok(value)
}

/// Begin a transaction that will write. On SQLite it takes the write lock at
/// once (`BEGIN IMMEDIATE`), so two writers queue on the busy timeout instead
/// of failing when a reader upgrades.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Take the next number of a named sequence (`incident`, `remediation`)
/// inside the caller's transaction. The row is locked until commit, so
/// numbers are handed out without gaps or duplicates.
pub async fn next_counter<C: ConnectionTrait>(txn: &C, name: &str) -> Result<i64, DbErr> {
    let backend = txn.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "UPDATE counters SET value = value + 1 WHERE name = $1 RETURNING value"
        }
        _ => "UPDATE counters SET value = value + 1 WHERE name = ? RETURNING value",
    };
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [name.into()]))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("counter {name}")))?;
    row.try_get_by_index::<i64>(0)
}

/// Reserve the next sitrep version of an incident inside the caller's
/// transaction (the incident row stays locked until commit).
pub async fn next_sitrep_version<C: ConnectionTrait>(
    txn: &C,
    incident_id: uuid::Uuid,
) -> Result<i32, DbErr> {
    let backend = txn.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "UPDATE incidents SET sitrep_count = sitrep_count + 1 WHERE id = $1 RETURNING sitrep_count"
        }
        _ => {
            "UPDATE incidents SET sitrep_count = sitrep_count + 1 WHERE id = ? RETURNING sitrep_count"
        }
    };
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [incident_id.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("incident {incident_id}")))?;
    row.try_get_by_index::<i32>(0)
}

/// Is the database answering?
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.ping().await
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};

    /// The bundled SQLite is built with `.cargo/config.toml`'s flags
    /// (docs/decisions.md, "The bundled SQLite's build flags"). Among them,
    /// a savepoint's journal stays in memory up to 124 KiB: every request
    /// of a group commit is a savepoint, and with SQLite's 64 KiB a batch
    /// of 1,000 events wrote its journal to a temporary file.
    #[tokio::test]
    async fn the_bundled_sqlite_is_built_with_our_flags() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        let rows = db
            .query_all_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA compile_options",
            ))
            .await
            .unwrap();
        let options: Vec<String> = rows
            .iter()
            .map(|row| row.try_get_by_index::<String>(0).unwrap())
            .collect();
        for option in ["DEFAULT_MEMSTATUS=0", "STMTJRNL_SPILL=126976"] {
            assert!(
                options.iter().any(|o| o == option),
                "{option} not in {options:?}"
            );
        }
        assert!(!options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"));
    }

    /// A savepoint whose journal outgrows the in-memory limit spills it to
    /// a file and commits. (SQLite's unix VFS writes at most 0x1ffff bytes
    /// per call and the spill writes its buffer in one: built with a limit
    /// of 4 MiB, this write failed with "database or disk is full".)
    #[tokio::test]
    async fn a_savepoint_journal_past_the_memory_limit_spills_and_commits() {
        use sea_orm::TransactionTrait;

        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = Database::connect(url).await.unwrap();
        db.execute_unprepared(
            "CREATE TABLE t (x BLOB); \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
             INSERT INTO t SELECT randomblob(3000) FROM n",
        )
        .await
        .unwrap();
        let txn = db.begin().await.unwrap();
        let savepoint = txn.begin().await.unwrap();
        // Every page of the table existed before the savepoint: all 2,000
        // (about 6 MB, past the 4 MiB that failed) go to its journal.
        savepoint
            .execute_unprepared("UPDATE t SET x = randomblob(3000)")
            .await
            .unwrap();
        savepoint.commit().await.unwrap();
        txn.commit().await.unwrap();
        let rows = db
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT count(*) FROM t",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap();
        assert_eq!(rows, 2000);
    }
}
