//! Bundle import at scale: `cargo bench --bench import`.
//!
//! Writes a bundle with N timeline events (N = 1,000,000 by default,
//! `BENCH_EVENTS` to change it; about 270 bytes an event) to a temporary
//! file, then in the same run:
//!
//! * SQLite (WAL, `synchronous=FULL`): `debrief`'s import of the file
//!   (streamed, one transaction) against a raw rusqlite insert of the same
//!   rows (one prepared statement, one transaction) into the same schema;
//! * PostgreSQL (`BENCH_DATABASE_URL`, default
//!   `postgres://postgres@127.0.0.1:5432/test`; a fresh database per run):
//!   the import against `COPY … FROM STDIN` of the same rows.
//!
//! It prints rows/s for each, the ratios (target ≥ 40 %), and the peak RSS
//! of the process during each import (target < 200 MB), read from
//! `/proc/self/status` after resetting the peak with `/proc/self/clear_refs`.

use std::{
    io::{BufWriter, Write},
    path::Path,
    sync::Arc,
    time::Instant,
};

use chrono::{DateTime, Duration, TimeZone, Utc};
use debrief::{
    clock::SystemClock,
    config::{Secret, Settings},
    db,
    domain::{EventSource, IncidentStatus, Severity, TimelineKind, Visibility},
    ingest::{
        ImportFormat,
        bundle::{BUNDLE_FORMAT, BUNDLE_VERSION, BundleEvent, BundleIncident},
    },
    services::{
        Context,
        imports::{self, ImportRequest},
        upkeep,
    },
};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, sqlx::postgres::PgPoolCopyExt};
use uuid::Uuid;

const INCIDENT: Uuid = Uuid::from_u128(0x0193_a5b2_7c00_7000_8000_0000_0000_0001);

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap()
}

/// Event `i`: the same values for the bundle, rusqlite and COPY.
fn event(i: u64) -> BundleEvent {
    let at = t0() + Duration::milliseconds(i as i64 * 10);
    // A UUIDv7 layout: milliseconds first, so ids sort by time, as Debrief's do.
    let ms = at.timestamp_millis() as u128;
    let id = Uuid::from_u128((ms << 80) | (0x7 << 76) | (0x2 << 62) | i as u128);
    let kinds = [
        TimelineKind::Note,
        TimelineKind::Action,
        TimelineKind::Communication,
        TimelineKind::Decision,
    ];
    BundleEvent {
        id,
        occurred_at: at,
        kind: kinds[(i % 4) as usize],
        body: format!(
            "Event {i}: checked the payments-api error rate on the dashboard and posted it"
        ),
        author: Some(format!("responder-{}", i % 50)),
        source: EventSource::Import,
        external_id: Some(format!("evt-{i}")),
        visibility: if i.is_multiple_of(10) {
            Visibility::Public
        } else {
            Visibility::Internal
        },
    }
}

fn incident() -> BundleIncident {
    BundleIncident {
        id: INCIDENT,
        title: "Benchmark incident".into(),
        severity: Severity::Sev2,
        status: IncidentStatus::Resolved,
        customer_impact: None,
        affected_components: vec!["payments-api".into()],
        chat_room_url: None,
        labels: vec![],
        started_at: Some(t0()),
        detected_at: None,
        acknowledged_at: None,
        mitigated_at: None,
        resolved_at: None,
        closed_at: None,
        created_at: t0(),
    }
}

/// Stream the bundle to `path` (never held in memory).
fn write_bundle(path: &Path, events: u64) -> anyhow::Result<u64> {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    write!(
        out,
        r#"{{"format":"{BUNDLE_FORMAT}","version":{BUNDLE_VERSION},"incident":"#
    )?;
    serde_json::to_writer(&mut out, &incident())?;
    out.write_all(br#","timeline":["#)?;
    for i in 0..events {
        if i > 0 {
            out.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut out, &event(i))?;
    }
    out.write_all(b"]}\n")?;
    out.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// Reset the process's peak RSS, so the next reading covers one phase.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak RSS since the last reset, in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn context(db: DatabaseConnection, settings: Settings) -> Context {
    Context::new(db, Arc::new(SystemClock), Arc::new(settings))
}

/// Import the file; returns (seconds, peak RSS MiB).
async fn import(ctx: &Context, file: &Path, events: u64) -> anyhow::Result<(f64, f64)> {
    reset_peak_rss();
    let started = Instant::now();
    let report = imports::import(
        ctx,
        ImportRequest {
            format: ImportFormat::Bundle,
            incident: None,
            dry_run: false,
            channel: None,
            history_before: None,
        },
        std::fs::File::open(file)?,
    )
    .await
    .map_err(|e| anyhow::anyhow!("import failed: {e}"))?;
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        report.counts.timeline_events.created == events,
        "imported {:?}",
        report.counts
    );
    Ok((seconds, peak_rss_mib()))
}

/// What a start does to the database: the schema migrations, then the data
/// brought up to date.
async fn migrate_and_bring_up_to_date(
    conn: &DatabaseConnection,
    settings: &Settings,
) -> anyhow::Result<()> {
    db::migrate(conn).await?;
    upkeep::bring_up_to_date(conn, settings, Utc::now()).await?;
    Ok(())
}

/// An empty, migrated database holding the incident row (for the raw
/// inserts' foreign key).
async fn schema_with_incident(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    let conn = db::connect(settings).await?;
    migrate_and_bring_up_to_date(&conn, settings).await?;
    let backend = conn.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            "INSERT INTO incidents (id, number, title, severity, status, affected_components, labels, \
             sitrep_count, version, created_at, updated_at) \
             VALUES ($1, 1, 'Benchmark incident', 'sev2', 'resolved', '[]', '[]', 0, 1, $2, $2)"
        }
        _ => {
            "INSERT INTO incidents (id, number, title, severity, status, affected_components, labels, \
             sitrep_count, version, created_at, updated_at) \
             VALUES (?, 1, 'Benchmark incident', 'sev2', 'resolved', '[]', '[]', 0, 1, ?, ?)"
        }
    };
    let mut values: Vec<sea_orm::Value> = vec![INCIDENT.into(), t0().into()];
    if backend != sea_orm::DbBackend::Postgres {
        values.push(t0().into());
    }
    conn.execute_raw(sea_orm::Statement::from_sql_and_values(
        backend, sql, values,
    ))
    .await?;
    Ok(conn)
}

fn sqlite_time(t: DateTime<Utc>) -> String {
    // As sqlx stores a DateTime<Utc> in SQLite.
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
}

/// The same rows through rusqlite: one prepared statement, one transaction.
fn raw_sqlite(path: &Path, events: u64) -> anyhow::Result<f64> {
    let mut conn = rusqlite::Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "wal")?;
    conn.pragma_update(None, "synchronous", "full")?;
    conn.pragma_update(None, "foreign_keys", "on")?;
    let started = Instant::now();
    let now = sqlite_time(Utc::now());
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare(
            "INSERT INTO timeline_events (id, incident_id, occurred_at, kind, body, author, \
             source, external_id, visibility, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )?;
        for i in 0..events {
            let e = event(i);
            insert.execute(rusqlite::params![
                e.id.as_bytes().as_slice(),
                INCIDENT.as_bytes().as_slice(),
                sqlite_time(e.occurred_at),
                e.kind.as_str(),
                e.body,
                e.author,
                e.source.as_str(),
                e.external_id,
                e.visibility.as_str(),
                now,
                now,
            ])?;
        }
    }
    tx.commit()?;
    Ok(started.elapsed().as_secs_f64())
}

/// Check that rusqlite wrote the values the way the import did.
fn same_sqlite_encoding(imported: &Path, raw: &Path) -> anyhow::Result<()> {
    let sample = |path: &Path| -> anyhow::Result<(String, String, String)> {
        let conn = rusqlite::Connection::open(path)?;
        Ok(conn.query_row(
            "SELECT typeof(id), typeof(incident_id), occurred_at FROM timeline_events \
             ORDER BY occurred_at LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?)
    };
    let (a, b) = (sample(imported)?, sample(raw)?);
    anyhow::ensure!(a == b, "the raw insert stores {b:?}, the import {a:?}");
    Ok(())
}

fn csv_field(out: &mut String, value: Option<&str>) {
    if let Some(v) = value {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    }
}

/// The same rows through `COPY … FROM STDIN (FORMAT csv)`, sent in 1 MiB chunks.
async fn copy_postgres(conn: &DatabaseConnection, events: u64) -> anyhow::Result<f64> {
    let pool = conn.get_postgres_connection_pool();
    let started = Instant::now();
    let now = Utc::now().to_rfc3339();
    let mut copy = pool
        .copy_in_raw(
            "COPY timeline_events (id, incident_id, occurred_at, kind, body, author, source, \
             external_id, visibility, created_at, updated_at) FROM STDIN WITH (FORMAT csv)",
        )
        .await?;
    let mut chunk = String::with_capacity(1 << 20);
    for i in 0..events {
        let e = event(i);
        chunk.push_str(&format!(
            "{},{},{},{},",
            e.id,
            INCIDENT,
            e.occurred_at.to_rfc3339(),
            e.kind.as_str()
        ));
        csv_field(&mut chunk, Some(&e.body));
        chunk.push(',');
        csv_field(&mut chunk, e.author.as_deref());
        chunk.push_str(&format!(",{},", e.source.as_str()));
        csv_field(&mut chunk, e.external_id.as_deref());
        chunk.push_str(&format!(",{},{now},{now}\n", e.visibility.as_str()));
        if chunk.len() >= 1 << 20 {
            copy.send(std::mem::take(&mut chunk).into_bytes()).await?;
            chunk.reserve(1 << 20);
        }
    }
    if !chunk.is_empty() {
        copy.send(chunk.into_bytes()).await?;
    }
    let rows = copy.finish().await?;
    anyhow::ensure!(rows == events, "COPY stored {rows} rows");
    Ok(started.elapsed().as_secs_f64())
}

async fn fresh_postgres(base: &str, name: &str) -> anyhow::Result<String> {
    let admin = Database::connect(base).await?;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
        .await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await?;
    admin.close().await?;
    let (prefix, _) = base.rsplit_once('/').expect("the URL names a database");
    Ok(format!("{prefix}/{name}"))
}

async fn drop_postgres(base: &str, name: &str) -> anyhow::Result<()> {
    let admin = Database::connect(base).await?;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
        .await?;
    admin.close().await?;
    Ok(())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string()
}

async fn run() -> anyhow::Result<()> {
    let events: u64 = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let pg_base = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("bundle.json");
    let bytes = write_bundle(&file, events)?;
    println!(
        "bundle: {events} timeline events, {:.1} MB; load average before: {}",
        bytes as f64 / 1e6,
        loadavg()
    );
    let rate = |s: f64| events as f64 / s;

    // SQLite: the import, then the raw insert into the same schema.
    let sqlite_dir = dir.path().join("sqlite-import");
    let settings = Settings {
        data_dir: sqlite_dir.clone(),
        ..Settings::default()
    };
    let conn = db::connect(&settings).await?;
    migrate_and_bring_up_to_date(&conn, &settings).await?;
    let ctx = context(conn, settings);
    let (import_s, import_rss) = import(&ctx, &file, events).await?;
    ctx.db.clone().close().await?;
    println!(
        "sqlite import: {import_s:.2} s, {:.0} rows/s, peak RSS {import_rss:.0} MiB (load {})",
        rate(import_s),
        loadavg()
    );
    let raw_dir = dir.path().join("sqlite-raw");
    let raw_settings = Settings {
        data_dir: raw_dir.clone(),
        ..Settings::default()
    };
    schema_with_incident(&raw_settings).await?.close().await?;
    let raw_s = raw_sqlite(&raw_dir.join("debrief.db"), events)?;
    same_sqlite_encoding(&sqlite_dir.join("debrief.db"), &raw_dir.join("debrief.db"))?;
    println!(
        "sqlite raw rusqlite insert: {raw_s:.2} s, {:.0} rows/s (load {})",
        rate(raw_s),
        loadavg()
    );
    println!(
        "sqlite ratio: import = {:.0} % of the raw insert (target ≥ 40 %)",
        100.0 * raw_s / import_s
    );

    // PostgreSQL: the import, then COPY into the same schema.
    let import_db = "debrief_bench_import";
    let copy_db = "debrief_bench_copy";
    let url = fresh_postgres(&pg_base, import_db).await?;
    let settings = Settings {
        data_dir: dir.path().join("pg"),
        database_url: Some(Secret::new(url)),
        ..Settings::default()
    };
    let conn = db::connect(&settings).await?;
    migrate_and_bring_up_to_date(&conn, &settings).await?;
    let ctx = context(conn, settings);
    let (pg_import_s, pg_rss) = import(&ctx, &file, events).await?;
    ctx.db.clone().close().await?;
    println!(
        "postgres import: {pg_import_s:.2} s, {:.0} rows/s, peak RSS {pg_rss:.0} MiB (load {})",
        rate(pg_import_s),
        loadavg()
    );
    let url = fresh_postgres(&pg_base, copy_db).await?;
    let copy_settings = Settings {
        data_dir: dir.path().join("pg-copy"),
        database_url: Some(Secret::new(url)),
        ..Settings::default()
    };
    let conn = schema_with_incident(&copy_settings).await?;
    let copy_s = copy_postgres(&conn, events).await?;
    conn.close().await?;
    println!(
        "postgres COPY: {copy_s:.2} s, {:.0} rows/s (load {})",
        rate(copy_s),
        loadavg()
    );
    println!(
        "postgres ratio: import = {:.0} % of COPY (target ≥ 40 %)",
        100.0 * copy_s / pg_import_s
    );
    drop_postgres(&pg_base, import_db).await?;
    drop_postgres(&pg_base, copy_db).await?;
    Ok(())
}
