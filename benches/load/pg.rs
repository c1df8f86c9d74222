//! The load bench's PostgreSQL half (issue 15): (b) and (c) against
//! `debrief serve` on PostgreSQL in its own process, and `COPY` of the same
//! 100,000 rows into the same schema as the reference for (c).
//!
//! The server is the default configuration with `DEBRIEF_DATABASE_URL` set
//! (a pool of `database_max_connections` = 8 connections). PostgreSQL runs
//! on the same 2 cores; the CPU of the backends serving the bench's
//! databases (found by their process title, which names the database) and
//! of PostgreSQL's WAL writer and checkpointer is counted as "PostgreSQL",
//! not as a disturbance. `BENCH_POSTGRES_URL` names the server (default
//! `postgres://postgres@127.0.0.1:5432/test`; empty skips this half).

use std::{sync::Mutex, time::Instant};

use anyhow::{Context as _, ensure};
use chrono::Utc;
use debrief::{
    config::{Secret, Settings},
    db,
    services::upkeep,
};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, sqlx::postgres::PgPoolCopyExt};

use super::{
    AppFigures, BATCH, ChildServer, Config, CpuMeter, INGEST_EVENTS, IngestResult, LoadResult,
    events, least_disturbed, own_process_app, percentile, row, verdict,
};

/// GET of an incident on PostgreSQL, as a share of bare poem's rate.
const TARGET_RPS_RATIO: f64 = 0.10;
const TARGET_P99_MS: f64 = 10.0;
/// Batch ingestion over HTTP, as a share of `COPY` of the same rows.
const TARGET_INGEST_RATIO: f64 = 0.60;

const APP_DATABASE: &str = "debrief_bench_load";
const COPY_DATABASE: &str = "debrief_bench_load_copy";

/// The databases whose PostgreSQL backends count as "PostgreSQL" in the
/// CPU figures (empty: none measured now).
static MEASURED: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

/// What the PostgreSQL half measured.
pub struct PgFigures {
    app: AppFigures,
    /// `COPY` in batches of 1,000 rows, one transaction each (as the HTTP
    /// ingestion commits each batch).
    copy_batched: IngestResult,
    /// One `COPY` of all 100,000 rows in one transaction.
    copy_single: IngestResult,
}

pub fn base_url() -> Option<String> {
    let url = std::env::var("BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    (!url.trim().is_empty()).then_some(url)
}

pub async fn measure(cfg: &Config, clk_tck: f64, base: &str) -> anyhow::Result<PgFigures> {
    let url = fresh_database(base, APP_DATABASE)
        .await
        .with_context(|| format!("PostgreSQL at {base} (set BENCH_POSTGRES_URL=\"\" to skip)"))?;
    set_measured(&[APP_DATABASE]);
    let mut app = AppFigures::default();
    {
        let data_dir = tempfile::tempdir()?;
        let mut server = ChildServer::spawn_debrief(data_dir.path(), Some(&url))?;
        let outcome = own_process_app(
            cfg,
            clk_tck,
            &mut app,
            &server,
            data_dir.path(),
            "PostgreSQL",
        )
        .await;
        if let Err(err) = outcome {
            let post_mortem = server.post_mortem().await;
            set_measured(&[]);
            return Err(err.context(post_mortem));
        }
    }

    let copy_url = fresh_database(base, COPY_DATABASE).await?;
    set_measured(&[COPY_DATABASE]);
    let conn = schema_with_incident(&copy_url).await?;
    let copy_batched = least_disturbed(cfg, "(c) COPY, batches of 1,000, PostgreSQL", || {
        copy(&conn, BATCH, clk_tck)
    })
    .await?;
    let copy_single = least_disturbed(cfg, "(c) COPY, all rows at once, PostgreSQL", || {
        copy(&conn, INGEST_EVENTS, clk_tck)
    })
    .await?;
    conn.close().await?;
    set_measured(&[]);
    drop_database(base, APP_DATABASE).await?;
    drop_database(base, COPY_DATABASE).await?;
    Ok(PgFigures {
        app,
        copy_batched,
        copy_single,
    })
}

/// The bench's 100,000 rows through `COPY … FROM STDIN (FORMAT csv)`, in
/// `batch` rows per `COPY` (each its own transaction), into an emptied
/// `timeline_events`.
async fn copy(
    conn: &DatabaseConnection,
    batch: usize,
    clk_tck: f64,
) -> anyhow::Result<IngestResult> {
    conn.execute_unprepared("TRUNCATE timeline_events").await?;
    let pool = conn.get_postgres_connection_pool();
    let events = events();
    let meter = CpuMeter::start(None, clk_tck)?;
    let mut batch_us = Vec::new();
    let start = Instant::now();
    for chunk in events.chunks(batch) {
        let sent = Instant::now();
        // Rows are formatted inside the clock: `COPY` needs its text as the
        // app needs its JSON, and both are cheap beside the database.
        let now = Utc::now().to_rfc3339();
        let mut text = String::with_capacity(chunk.len() * 192);
        for e in chunk {
            text.push_str(&format!(
                "{},{INCIDENT},{},note,\"{}\",,api,{},internal,{now},{now}\n",
                uuid::Uuid::now_v7(),
                e.occurred_at.to_rfc3339(),
                e.body.replace('"', "\"\""),
                e.external_id,
            ));
        }
        let mut copy = pool
            .copy_in_raw(
                "COPY timeline_events (id, incident_id, occurred_at, kind, body, author, source, \
                 external_id, visibility, created_at, updated_at) FROM STDIN WITH (FORMAT csv)",
            )
            .await?;
        copy.send(text.into_bytes()).await?;
        let rows = copy.finish().await?;
        ensure!(rows == chunk.len() as u64, "COPY stored {rows} rows");
        batch_us.push(sent.elapsed().as_micros() as u32);
    }
    let elapsed = start.elapsed();
    let cpu = meter.stop()?;
    let stored = conn
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*) AS n FROM timeline_events",
        ))
        .await?
        .context("count")?
        .try_get::<i64>("", "n")?;
    ensure!(
        stored == INGEST_EVENTS as i64,
        "COPY table holds {stored} rows"
    );
    batch_us.sort_unstable();
    Ok(IngestResult {
        events: INGEST_EVENTS,
        elapsed,
        batch_us,
        cpu,
        request_bytes: 0,
    })
}

const INCIDENT: uuid::Uuid = uuid::Uuid::from_u128(0x0193_a5b2_7c00_7000_8000_0000_0000_0001);

/// A migrated database (the app's own migrations and data step) holding
/// one incident, the parent of the copied rows.
async fn schema_with_incident(url: &str) -> anyhow::Result<DatabaseConnection> {
    let dir = tempfile::tempdir()?;
    let settings = Settings {
        data_dir: dir.path().to_path_buf(),
        database_url: Some(Secret::new(url.to_string())),
        ..Settings::default()
    };
    let conn = db::connect(&settings).await?;
    db::migrate(&conn).await?;
    upkeep::bring_up_to_date(&conn, &settings, Utc::now()).await?;
    conn.execute_raw(sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        "INSERT INTO incidents (id, number, title, severity, status, affected_components, labels, \
         sitrep_count, version, created_at, updated_at) \
         VALUES ($1, 1, 'Benchmark incident', 'sev2', 'resolved', '[]', '[]', 0, 1, $2, $2)",
        [INCIDENT.into(), Utc::now().into()],
    ))
    .await?;
    Ok(conn)
}

async fn fresh_database(base: &str, name: &str) -> anyhow::Result<String> {
    drop_database(base, name).await?;
    let admin = Database::connect(base).await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await?;
    admin.close().await?;
    let (prefix, _) = base
        .rsplit_once('/')
        .context("BENCH_POSTGRES_URL names no database")?;
    Ok(format!("{prefix}/{name}"))
}

async fn drop_database(base: &str, name: &str) -> anyhow::Result<()> {
    let admin = Database::connect(base).await?;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    admin.close().await?;
    Ok(())
}

fn set_measured(names: &[&'static str]) {
    *MEASURED.lock().expect("not poisoned") = names.to_vec();
}

/// CPU seconds of the PostgreSQL processes serving the measured databases
/// (process title `postgres: [15/main: ]<user> <database> …`) plus the WAL writer and
/// checkpointer; `None` when no database is measured.
pub fn measured_cpu_seconds(clk_tck: f64) -> Option<f64> {
    let names = MEASURED.lock().expect("not poisoned").clone();
    if names.is_empty() {
        return None;
    }
    let mut total = 0.0;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(title) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let title = String::from_utf8_lossy(&title);
        let Some(rest) = title.strip_prefix("postgres: ") else {
            continue;
        };
        // `postgres: [cluster: ]user database host(port) activity`.
        let serves_ours = rest.split_whitespace().any(|word| names.contains(&word));
        let shared = ["walwriter", "checkpointer", "background writer"]
            .iter()
            .any(|p| rest.contains(p));
        if serves_ours || shared {
            total += super::cpu_seconds(pid, clk_tck).unwrap_or(0.0);
        }
    }
    Some(total)
}

impl PgFigures {
    /// The PostgreSQL lines of the summary, against bare poem (`bare`, own
    /// process) and the SQLite GET (`sqlite_get`).
    pub fn print(&self, bare: &LoadResult, sqlite_get: &LoadResult) {
        if let Some(r) = &self.app.readyz {
            row("    app /readyz, own process, PostgreSQL", r);
        }
        let Some(get) = &self.app.get else {
            return;
        };
        row("(b) GET incident, own process, PostgreSQL", get);
        let ratio = get.rps() / bare.rps();
        let p99 = get.percentile_ms(0.99);
        println!(
            "(b)/(a) PostgreSQL: {:.1} % of bare rps (target >= {:.0} %: {}), {:.1} % of SQLite's, p99 {:.3} ms (target < {TARGET_P99_MS} ms: {})",
            ratio * 100.0,
            TARGET_RPS_RATIO * 100.0,
            verdict(ratio >= TARGET_RPS_RATIO),
            100.0 * get.rps() / sqlite_get.rps(),
            p99,
            verdict(p99 < TARGET_P99_MS)
        );
        let Some(ingest) = &self.app.ingest else {
            return;
        };
        for (label, copy) in [
            ("COPY in batches of 1,000", &self.copy_batched),
            ("one COPY of all rows     ", &self.copy_single),
        ] {
            let ratio = ingest.events_per_second() / copy.events_per_second();
            println!(
                "(c) PostgreSQL: {:.0} events/s vs {label} {:.0} rows/s = {:.1} % (target >= {:.0} %: {})",
                ingest.events_per_second(),
                copy.events_per_second(),
                ratio * 100.0,
                TARGET_INGEST_RATIO * 100.0,
                verdict(ratio >= TARGET_INGEST_RATIO)
            );
        }
        println!(
            "    per batch of 1,000: HTTP p50 {:.2} ms, COPY p50 {:.2} ms",
            percentile(&ingest.batch_us, 0.5) as f64 / 1000.0,
            percentile(&self.copy_batched.batch_us, 0.5) as f64 / 1000.0,
        );
        if let (Some(s), Some(c)) = (self.app.rss_seeded, self.app.rss_after_c) {
            println!(
                "RSS debrief serve on PostgreSQL, after seeding: {}; after (c): {}",
                s.describe(),
                c.describe()
            );
        }
    }
}
