//! Connecting to SQLite or PostgreSQL, migrating the schema, and the few
//! statements that must be written per backend.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};

use crate::config::Settings;

/// Open the configured database. SQLite gets WAL, full durability, foreign
/// keys and a busy timeout; its directory is created when missing.
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
