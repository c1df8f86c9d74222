//! CSV exports at scale: `cargo bench --bench exports`.
//!
//! Seeds N incidents (N/10, then N; `BENCH_ROWS`, default 100,000) straight
//! into the application's SQLite database, each with two contributing
//! factors, starts the real application in-process on a loopback port and
//! downloads `GET /api/v1/incidents.csv`, reading the body chunk by chunk
//! and throwing it away. It reports the rows, bytes, chunks, time, and the
//! process's peak resident memory during the download over what it was
//! before (`VmHWM` from `/proc/self/status`, the peak reset through
//! `/proc/self/clear_refs` just before): streamed a page at a time, the
//! growth must not follow the row count.
//!
//! Target: the growth at N rows within 2× that at N/10 (and under 64 MB):
//! memory that does not grow with the export.

use std::{sync::Arc, time::Instant};

use chrono::{Duration, TimeZone, Utc};
use debrief::{
    clock::ManualClock,
    config::Settings,
    domain::{FactorSlug, IncidentStatus, PostmortemKind, PostmortemStatus, Scope, Severity},
    entities::{StringList, contributing_factor, incident, postmortem},
    services::tokens,
    startup::Application,
};
use sea_orm::{DatabaseConnection, EntityTrait, IntoActiveModel, TransactionTrait};

const ROWS_PER_INSERT: usize = 1_000;

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let rows: usize = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    println!("GET /api/v1/incidents.csv, the whole body read and dropped");
    println!("| rows | bytes | chunks | seconds | rows/s | peak RSS growth MB |");
    println!("|---|---|---|---|---|---|");
    let small = measure(rows / 10).await?;
    let large = measure(rows).await?;
    let pass = large <= (small * 2.0).max(8.0) && large < 64.0;
    println!(
        "memory: +{small:.1} MB at {} rows, +{large:.1} MB at {rows} rows; target (growth at N within 2× N/10, under 64 MB): {}",
        rows / 10,
        if pass { "met" } else { "MISSED" }
    );
    Ok(())
}

/// `VmHWM` (peak) and `VmRSS` of this process, in MB.
fn memory() -> anyhow::Result<(f64, f64)> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let field = |name: &str| -> anyhow::Result<f64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .ok_or_else(|| anyhow::anyhow!("no {name} in /proc/self/status"))?;
        let kb: f64 = line
            .split_whitespace()
            .nth(1)
            .ok_or_else(|| anyhow::anyhow!("{line}"))?
            .parse()?;
        Ok(kb / 1024.0)
    };
    Ok((field("VmHWM:")?, field("VmRSS:")?))
}

/// The peak RSS growth (MB) while exporting `rows` incidents.
async fn measure(rows: usize) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
    let settings = Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_path_buf(),
        bootstrap_token: false,
        ..Settings::default()
    };
    let app = Application::build_with_clock(settings, Arc::new(ManualClock::new(now))).await?;
    let db = app.context().db.clone();
    let (_, token) = tokens::create(&db, now, "bench", Scope::Read).await?;
    seed(&db, rows, now).await?;
    let url = format!("http://127.0.0.1:{}/api/v1/incidents.csv", app.port());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let client = reqwest::Client::new();
    // A first small request warms the connection and the token cache.
    let warm = client
        .get(format!("{url}?severity=sev1&since=2030-01-01"))
        .bearer_auth(&token)
        .send()
        .await?;
    anyhow::ensure!(warm.status() == 200, "warm-up: {}", warm.status());
    warm.bytes().await?;
    // Reset the peak to the current size (Linux: "5" clears VmHWM).
    std::fs::write("/proc/self/clear_refs", "5")?;
    let (_, before) = memory()?;
    let start = Instant::now();
    let mut resp = client.get(&url).bearer_auth(&token).send().await?;
    anyhow::ensure!(resp.status() == 200, "{}", resp.status());
    let (mut bytes, mut chunks, mut lines) = (0usize, 0usize, 0usize);
    while let Some(chunk) = resp.chunk().await? {
        bytes += chunk.len();
        chunks += 1;
        lines += chunk.windows(2).filter(|w| w == b"\r\n").count();
    }
    let seconds = start.elapsed().as_secs_f64();
    let (peak, _) = memory()?;
    anyhow::ensure!(lines == rows + 1, "{lines} lines for {rows} rows");
    let growth = peak - before;
    println!(
        "| {rows} | {bytes} | {chunks} | {seconds:.2} | {:.0} | {growth:.1} |",
        rows as f64 / seconds
    );
    Ok(growth)
}

/// `rows` incidents with a post-mortem each, naming two factors.
async fn seed(
    db: &DatabaseConnection,
    rows: usize,
    now: chrono::DateTime<Utc>,
) -> anyhow::Result<()> {
    let txn = db.begin().await?;
    for first in (0..rows).step_by(ROWS_PER_INSERT) {
        let range = first..(first + ROWS_PER_INSERT).min(rows);
        let mut incidents = Vec::with_capacity(range.len());
        let mut postmortems = Vec::with_capacity(range.len());
        let mut named = Vec::with_capacity(range.len() * 2);
        for i in range {
            let (incident, postmortem, factors) = records(i, now);
            incidents.push(incident.into_active_model());
            postmortems.push(postmortem.into_active_model());
            named.extend(factors.into_iter().map(IntoActiveModel::into_active_model));
        }
        incident::Entity::insert_many(incidents)
            .exec_without_returning(&txn)
            .await?;
        postmortem::Entity::insert_many(postmortems)
            .exec_without_returning(&txn)
            .await?;
        contributing_factor::Entity::insert_many(named)
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// The `i`-th incident, its post-mortem and the two factors it names.
fn records(
    i: usize,
    now: chrono::DateTime<Utc>,
) -> (
    incident::Model,
    postmortem::Model,
    Vec<contributing_factor::Model>,
) {
    let at = now - Duration::minutes(i as i64 * 7);
    let id = uuid::Uuid::now_v7();
    let pm = uuid::Uuid::now_v7();
    let incident = incident::Model {
        id,
        number: i as i64 + 1,
        title: format!("Checkout errors, \"payments\" {i}"),
        severity: Severity::ALL[i % 4],
        status: IncidentStatus::Closed,
        customer_impact: Some("Some card payments failed.".into()),
        affected_components: StringList::from(vec!["checkout".to_string()]),
        chat_room_url: None,
        labels: StringList::default(),
        started_at: Some(at),
        detected_at: Some(at + Duration::minutes(3)),
        acknowledged_at: None,
        mitigated_at: None,
        resolved_at: Some(at + Duration::hours(1)),
        closed_at: Some(at + Duration::hours(2)),
        last_customer_update_at: None,
        sitrep_count: 0,
        version: 1,
        created_at: at,
        updated_at: at,
    };
    let postmortem = postmortem::Model {
        id: pm,
        incident_id: id,
        kind: PostmortemKind::Dedicated,
        owner: None,
        due_date: None,
        due_on: None,
        review_at: None,
        status: PostmortemStatus::Draft,
        slug: None,
        published_version: 0,
        published_at: None,
        first_published_at: None,
        withdrawn_at: None,
        not_required_reason: None,
        version: 1,
        created_at: at,
        updated_at: at,
    };
    let factors = ["change_deploy", "monitoring_gap"]
        .iter()
        .enumerate()
        .map(|(position, factor)| contributing_factor::Model {
            id: uuid::Uuid::now_v7(),
            postmortem_id: pm,
            incident_id: id,
            position: position as i32,
            factor: factor.parse::<FactorSlug>().expect("a factor id"),
            note: String::new(),
            created_at: at,
            updated_at: at,
        })
        .collect();
    (incident, postmortem, factors)
}
