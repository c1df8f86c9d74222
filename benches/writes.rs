//! Write benchmark: `cargo bench --bench writes` (release, `harness = false`).
//!
//! Measures, in one run:
//!
//! * (a) single-event `POST /api/v1/incidents/{ref}/timeline` from
//!   `BENCH_CONNECTIONS` (32) keep-alive connections, closed loop, durable
//!   (SQLite WAL, `synchronous=FULL`, group commit): events/s and latency
//!   percentiles; against
//! * (b) a plain rusqlite autocommit loop of the same single-row inserts into
//!   a copy of the same table (same DDL, read from the app's database), WAL,
//!   `synchronous=FULL`, for the same time: rows/s. The ratio (a)/(b) is the
//!   figure the target names;
//! * (c) with `BENCH_PG_URL` set (`postgres://postgres@127.0.0.1:5432/test`),
//!   (a) on PostgreSQL, and a raw sqlx autocommit loop (one connection, one
//!   prepared single-row INSERT) into a copy of the table (`LIKE … INCLUDING
//!   ALL`) in the same database;
//! * (e) first of all, in a `debrief serve` process of its own (the release
//!   binary cargo builds with this bench, or `BENCH_DEBRIEF_BIN`; a fresh
//!   data directory, a token from `debrief token create`), 8 concurrent
//!   `internal.pdf` requests of one incident with 30,000 timeline events
//!   (imported with `debrief import` before the server starts), then 8 at
//!   once of 8 such incidents: the server's peak RSS during each (`VmHWM`
//!   of `/proc/<pid>/status`, reset just before through
//!   `/proc/<pid>/clear_refs`). `BENCH_RENDERS=0` leaves (e) out,
//!   `BENCH_RENDERS=2` runs (e) alone;
//! * (d) mixed load on SQLite for `BENCH_MIXED_SECONDS` (60): 32 clients of
//!   single writes, 8 readers of the incident, and one 100,000-event bundle
//!   import started after 5 s: errors, and the p99 of single writes outside
//!   and inside the import request's time.
//!
//! Apart from (e), the application runs in this process
//! (`Application::build`), the load generator too (one reqwest client per
//! connection); everything goes to 127.0.0.1 only. Peak RSS (`VmHWM`) of the
//! process is printed at the end.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

#[path = "common/mod.rs"]
mod common;

use anyhow::{Context as _, ensure};
use chrono::{SecondsFormat, Utc};
use debrief::{
    config::{MailTransport, Secret, Settings},
    domain::Scope,
    services::tokens,
    startup::Application,
};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

struct App {
    base: String,
    token: String,
    db_path: Option<std::path::PathBuf>,
    _dir: tempfile::TempDir,
}

async fn start_app(database_url: Option<String>) -> anyhow::Result<App> {
    let dir = tempfile::tempdir()?;
    let mut settings = Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_path_buf(),
        bootstrap_token: false,
        ..Settings::default()
    };
    settings.jobs.enabled = false;
    settings.mail.transport = MailTransport::Memory;
    settings.database_max_connections = 16;
    let db_path = database_url
        .is_none()
        .then(|| dir.path().join("debrief.db"));
    settings.database_url = database_url.map(Secret::new);
    let app = Application::build(settings).await?;
    let (_, token) = tokens::create(&app.context().db, Utc::now(), "bench", Scope::Admin).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    Ok(App {
        base,
        token,
        db_path,
        _dir: dir,
    })
}

impl App {
    fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()
            .expect("a client")
    }

    async fn post(
        &self,
        client: &reqwest::Client,
        path: &str,
        body: &Value,
    ) -> reqwest::Result<u16> {
        let resp = client
            .post(format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await?;
        let status = resp.status().as_u16();
        resp.bytes().await?;
        Ok(status)
    }

    async fn incident(&self) -> anyhow::Result<String> {
        let client = self.client();
        let resp = client
            .post(format!("{}/api/v1/incidents", self.base))
            .bearer_auth(&self.token)
            .json(&json!({"title": "Bench: writes", "severity": "sev2"}))
            .send()
            .await?;
        ensure!(resp.status() == 201, "create incident: {}", resp.status());
        let v: Value = resp.json().await?;
        Ok(v["ref"].as_str().context("ref")?.to_string())
    }
}

/// Latencies (µs) of successful requests, with the moment each ended
/// (seconds from the start), and the failures.
#[derive(Default)]
struct Run {
    done: Vec<(f64, u32)>,
    failures: usize,
    first_failure: Option<String>,
    elapsed: Duration,
}

impl Run {
    fn rate(&self) -> f64 {
        self.done.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, q: f64, keep: impl Fn(f64) -> bool) -> f64 {
        let mut lat: Vec<u32> = self
            .done
            .iter()
            .filter(|(at, _)| keep(*at))
            .map(|(_, us)| *us)
            .collect();
        if lat.is_empty() {
            return 0.0;
        }
        lat.sort_unstable();
        let rank = ((q * lat.len() as f64).ceil() as usize).clamp(1, lat.len());
        f64::from(lat[rank - 1]) / 1000.0
    }

    fn describe(&self, name: &str) -> String {
        format!(
            "{name}: {} ok, {} failed in {:.1} s = {:.0}/s; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.done.len(),
            self.failures,
            self.elapsed.as_secs_f64(),
            self.rate(),
            self.percentile(0.50, |_| true),
            self.percentile(0.99, |_| true),
            self.percentile(1.0, |_| true),
        )
    }
}

/// `connections` closed-loop clients, each sending `request(i)` until
/// `duration` has passed.
async fn closed_loop<F, Fut>(connections: usize, duration: Duration, request: F) -> Run
where
    F: Fn(reqwest::Client, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<u16, String>> + Send,
{
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = (0..connections)
        .map(|c| {
            let request = request.clone();
            tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .pool_max_idle_per_host(1)
                    .build()
                    .expect("a client");
                let mut run = Run::default();
                let mut i = 0;
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    match request(client.clone(), c * 1_000_000 + i).await {
                        Ok(status) if (200..300).contains(&status) => run.done.push((
                            (Instant::now() - start).as_secs_f64(),
                            sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32,
                        )),
                        Ok(status) => {
                            run.failures += 1;
                            run.first_failure.get_or_insert(format!("status {status}"));
                        }
                        Err(err) => {
                            run.failures += 1;
                            run.first_failure.get_or_insert(err);
                        }
                    }
                    i += 1;
                }
                run
            })
        })
        .collect();
    let mut all = Run::default();
    for task in tasks {
        let run = task.await.expect("a load task");
        all.done.extend(run.done);
        all.failures += run.failures;
        if all.first_failure.is_none() {
            all.first_failure = run.first_failure;
        }
    }
    all.elapsed = start.elapsed();
    all
}

/// `connections` closed-loop clients posting single timeline events
/// (bodies `"{label} {i}"`) to the incident `reference` for `duration`.
fn event_writers(
    app: &Arc<App>,
    reference: &str,
    connections: usize,
    duration: Duration,
    label: &'static str,
) -> impl std::future::Future<Output = Run> + use<> {
    let path = format!("/incidents/{reference}/timeline");
    let app = app.clone();
    closed_loop(connections, duration, move |client, i| {
        let app = app.clone();
        let path = path.clone();
        async move {
            let body = json!({"kind": "note", "body": format!("{label} {i}")});
            app.post(&client, &path, &body)
                .await
                .map_err(|e| e.to_string())
        }
    })
}

async fn single_event_posts(
    app: &Arc<App>,
    connections: usize,
    seconds: u64,
) -> anyhow::Result<Run> {
    let reference = app.incident().await?;
    let label = "Single event: checked the dashboards";
    event_writers(app, &reference, connections, Duration::from_secs(1), label).await; // warm-up
    Ok(event_writers(
        app,
        &reference,
        connections,
        Duration::from_secs(seconds),
        label,
    )
    .await)
}

/// Single-row autocommit inserts into a copy of the table for `seconds`.
fn rusqlite_autocommit(ddl: &[String], seconds: u64) -> anyhow::Result<Run> {
    let raw = common::raw_timeline(ddl)?;
    let (conn, incident_id) = (&raw.conn, raw.incident_id);
    let mut stmt = conn.prepare(
        "INSERT INTO timeline_events (id, incident_id, occurred_at, kind, body, author, source, \
         external_id, visibility, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut run = Run::default();
    let mut i = 0u64;
    while Instant::now() < deadline {
        let sent = Instant::now();
        let now = Utc::now().to_rfc3339_opts(SecondsFormat::AutoSi, false);
        stmt.execute(rusqlite::params![
            uuid::Uuid::now_v7().as_bytes().as_slice(),
            incident_id.as_bytes().as_slice(),
            now,
            "note",
            format!("Single event {i}: checked the dashboards"),
            Option::<String>::None,
            "api",
            Option::<String>::None,
            "internal",
            now,
            now,
        ])?;
        run.done.push((
            start.elapsed().as_secs_f64(),
            sent.elapsed().as_micros() as u32,
        ));
        i += 1;
    }
    run.elapsed = start.elapsed();
    Ok(run)
}

/// A fresh PostgreSQL database next to `base`.
async fn fresh_pg(base: &str) -> anyhow::Result<String> {
    let name = format!("debrief_bench_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(base).await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await?;
    admin.close().await?;
    let (prefix, _) = base
        .rsplit_once('/')
        .context("BENCH_PG_URL names a database")?;
    Ok(format!("{prefix}/{name}"))
}

/// Single-row autocommit inserts over one sqlx connection (through
/// sea-orm's raw statements: prepared once, cached) into a copy of the table.
async fn pg_autocommit(url: &str, seconds: u64) -> anyhow::Result<Run> {
    let mut options = sea_orm::ConnectOptions::new(url.to_string());
    options.max_connections(1).sqlx_logging(false);
    let db = Database::connect(options).await?;
    db.execute_unprepared("CREATE TABLE raw_timeline_events (LIKE timeline_events INCLUDING ALL)")
        .await?;
    let incident_id: uuid::Uuid = db
        .query_one_raw(Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT id FROM incidents LIMIT 1",
        ))
        .await?
        .context("an incident")?
        .try_get_by_index(0)?;
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut run = Run::default();
    let mut i = 0u64;
    while Instant::now() < deadline {
        let sent = Instant::now();
        let now = Utc::now();
        db.execute_raw(Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "INSERT INTO raw_timeline_events (id, incident_id, occurred_at, kind, body, author, \
             source, external_id, visibility, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            [
                uuid::Uuid::now_v7().into(),
                incident_id.into(),
                now.into(),
                "note".into(),
                format!("Single event {i}: checked the dashboards").into(),
                Option::<String>::None.into(),
                "api".into(),
                Option::<String>::None.into(),
                "internal".into(),
                now.into(),
                now.into(),
            ],
        ))
        .await?;
        run.done.push((
            start.elapsed().as_secs_f64(),
            sent.elapsed().as_micros() as u32,
        ));
        i += 1;
    }
    run.elapsed = start.elapsed();
    db.close().await?;
    Ok(run)
}

/// A bundle of one new incident with `events` timeline events.
fn bundle(events: usize) -> Vec<u8> {
    let timeline: Vec<Value> = (0..events)
        .map(|i| {
            json!({
                "id": uuid::Uuid::now_v7(),
                "occurred_at": format!("2026-11-20T{:02}:{:02}:{:02}Z", 10 + i / 3600 % 10, (i / 60) % 60, i % 60),
                "kind": "note",
                "body": format!("Imported event {i}: a line from the incident channel"),
                "author": "importer",
                "source": "api",
                "external_id": null,
                "visibility": "internal",
            })
        })
        .collect();
    serde_json::to_vec(&json!({
        "format": "debrief-bundle",
        "version": 1,
        "incident": {
            "id": uuid::Uuid::now_v7(),
            "title": "Bench: imported incident",
            "severity": "sev2",
            "status": "resolved",
            "customer_impact": null,
            "affected_components": [],
            "chat_room_url": null,
            "labels": [],
            "started_at": "2026-11-20T10:00:00Z",
            "detected_at": null,
            "acknowledged_at": null,
            "mitigated_at": null,
            "resolved_at": "2026-11-20T23:00:00Z",
            "closed_at": null,
            "created_at": "2026-11-20T10:00:00Z"
        },
        "roles": [], "sitreps": [], "status_updates": [], "cleanup_items": [],
        "remediation_items": [],
        "timeline": timeline,
    }))
    .expect("a bundle serialises")
}

async fn mixed(app: &Arc<App>, seconds: u64) -> anyhow::Result<()> {
    let reference = app.incident().await?;
    let start = Instant::now();
    let writers = event_writers(
        app,
        &reference,
        32,
        Duration::from_secs(seconds),
        "Mixed write",
    );
    let readers = closed_loop(8, Duration::from_secs(seconds), {
        let app = app.clone();
        let url = format!("{}/api/v1/incidents/{reference}", app.base);
        move |client, _| {
            let url = url.clone();
            let token = app.token.clone();
            async move {
                let resp = client
                    .get(&url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let status = resp.status().as_u16();
                resp.bytes().await.map_err(|e| e.to_string())?;
                Ok(status)
            }
        }
    });
    let import = {
        let app = app.clone();
        async move {
            let body = bundle(100_000);
            tokio::time::sleep(Duration::from_secs(5)).await;
            let began = start.elapsed().as_secs_f64();
            let resp = app
                .client()
                .post(format!("{}/api/v1/imports/bundle", app.base))
                .bearer_auth(&app.token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await?;
            let status = resp.status().as_u16();
            let text = resp.text().await?;
            anyhow::Ok((status, began, start.elapsed().as_secs_f64(), text))
        }
    };
    let (writes, reads, imported) = tokio::join!(writers, readers, import);
    let (status, began, ended, text) = imported?;
    println!(
        "(d) mixed load, {seconds} s on SQLite: 32 single-event writers, 8 readers, one 100,000-event import"
    );
    println!("    {}", writes.describe("single writes"));
    println!("    {}", reads.describe("reads (GET incident)"));
    println!(
        "    import: status {status}, from {began:.1} s to {ended:.1} s{}",
        if status == 200 {
            String::new()
        } else {
            format!(": {text}")
        }
    );
    println!(
        "    single-write p99 outside the import request: {:.2} ms; during it: {:.2} ms",
        writes.percentile(0.99, |at| at < began || at > ended),
        writes.percentile(0.99, |at| at >= began && at <= ended),
    );
    println!(
        "    errors: {} writes, {} reads (first: {:?} / {:?})",
        writes.failures, reads.failures, writes.first_failure, reads.first_failure
    );
    Ok(())
}

/// A `debrief serve` process of its own, on a fresh data directory, with
/// an admin token made by `debrief token create` and incidents imported by
/// `debrief import` before it starts.
struct Server {
    child: std::process::Child,
    base: String,
    token: String,
    _dir: tempfile::TempDir,
}

impl Server {
    /// `BENCH_DEBRIEF_BIN`, or the release binary cargo built with this
    /// bench, serving `incidents` imported incidents of `events` timeline
    /// events each (`INC-1` …).
    fn start(incidents: usize, events: usize) -> anyhow::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let bin = std::env::var("BENCH_DEBRIEF_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_debrief").to_string());
        let dir = tempfile::tempdir()?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let command = |args: &[&str]| {
            let mut command = std::process::Command::new(&bin);
            command
                .args(args)
                .env("DEBRIEF_DATA_DIR", dir.path())
                .env("DEBRIEF_LISTEN", format!("127.0.0.1:{port}"))
                .env("DEBRIEF_BOOTSTRAP_TOKEN", "false")
                .env("DEBRIEF_JOBS__ENABLED", "false")
                .env("DEBRIEF_MAIL__TRANSPORT", "memory")
                .env("RUST_LOG", "warn");
            command
        };
        let created = command(&["token", "create", "--name", "bench", "--scope", "admin"])
            .output()
            .with_context(|| format!("run {bin}"))?;
        ensure!(
            created.status.success(),
            "token create: {}",
            String::from_utf8_lossy(&created.stderr)
        );
        let token = String::from_utf8(created.stdout)?
            .lines()
            .last()
            .context("the token's secret")?
            .trim()
            .to_string();
        let file = dir.path().join("bundle.json");
        for _ in 0..incidents {
            std::fs::write(&file, bundle(events))?;
            let path = file.to_str().context("a UTF-8 path")?;
            let imported = command(&["import", path, "--format", "bundle"])
                .stdout(std::process::Stdio::null())
                .output()?;
            ensure!(
                imported.status.success(),
                "import: {}",
                String::from_utf8_lossy(&imported.stderr)
            );
        }
        let child = command(&["serve"])
            .stdout(std::process::Stdio::null())
            .spawn()?;
        Ok(Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            token,
            _dir: dir,
        })
    }

    async fn ready(&self) -> anyhow::Result<()> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if let Ok(resp) = reqwest::get(format!("{}/healthz", self.base)).await
                && resp.status() == 200
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("debrief serve did not answer in 30 s")
    }

    /// A field of `/proc/<pid>/status`, in MB.
    fn memory_mb(&self, field: &str) -> f64 {
        status_mb(&format!("/proc/{}/status", self.child.id()), field)
    }

    /// Start the peak (`VmHWM`) again from the current RSS.
    fn reset_peak(&self) -> anyhow::Result<()> {
        std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5")
            .context("reset the server's peak RSS")
    }

    /// GET the internal PDF of each incident at once: the statuses, the
    /// sizes and how long it took.
    async fn pdfs(&self, references: &[String]) -> anyhow::Result<(Vec<u16>, Vec<usize>, f64)> {
        let start = Instant::now();
        let answers = futures_util::future::join_all(references.iter().map(|reference| {
            let request = reqwest::Client::new()
                .get(format!(
                    "{}/api/v1/incidents/{reference}/postmortem/internal.pdf",
                    self.base
                ))
                .bearer_auth(&self.token);
            async move {
                let resp = request.send().await?;
                let status = resp.status().as_u16();
                let size = resp.bytes().await?.len();
                reqwest::Result::Ok((status, size))
            }
        }))
        .await;
        let answers: Vec<(u16, usize)> = answers.into_iter().collect::<Result<_, _>>()?;
        let (statuses, sizes) = answers.into_iter().unzip();
        Ok((statuses, sizes, start.elapsed().as_secs_f64()))
    }

    /// `debrief_documents_total` by outcome, from `/metrics`.
    async fn documents(&self) -> anyhow::Result<String> {
        let text = reqwest::get(format!("{}/metrics", self.base))
            .await?
            .text()
            .await?;
        Ok(text
            .lines()
            .filter(|l| l.starts_with("debrief_documents_total{"))
            .map(|l| l.trim_start_matches("debrief_documents_total"))
            .collect::<Vec<_>>()
            .join(" "))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// (e) peak RSS of a `debrief serve` process (its own, not this one) while
/// it answers 8 concurrent `internal.pdf` requests of 30,000-event
/// incidents: 8 of the same incident, then 1 each of 8 incidents. The
/// incidents are imported with the CLI before the server starts, so that
/// its memory is that of serving them.
async fn renders() -> anyhow::Result<()> {
    let server = Server::start(8, 30_000)?;
    server.ready().await?;
    let references: Vec<String> = (1..=8).map(|n| format!("INC-{n}")).collect();
    // One render first, so that fonts and templates are loaded.
    let (statuses, sizes, _) = server.pdfs(&references[..1]).await?;
    ensure!(statuses == [200], "render: {statuses:?}");
    let size = sizes[0];
    for (name, asked) in [
        ("the same incident", vec![references[0].clone(); 8]),
        ("8 different incidents", references.clone()),
    ] {
        let before = server.memory_mb("VmRSS:");
        server.reset_peak()?;
        let (statuses, _, seconds) = server.pdfs(&asked).await?;
        println!(
            "(e) 8 concurrent internal.pdf of {name}, 30,000 events ({:.1} MB each), separate `debrief serve` (limits.renders 2): {seconds:.1} s, statuses {statuses:?}; server RSS before {before:.0} MB, peak during {:.0} MB (target < 300 MB); documents {}",
            size as f64 / 1e6,
            server.memory_mb("VmHWM:"),
            server.documents().await?,
        );
    }
    Ok(())
}

/// A field of a `/proc/…/status` file, in MB.
fn status_mb(file: &str, field: &str) -> f64 {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn peak_rss_mb() -> f64 {
    status_mb("/proc/self/status", "VmHWM:")
}

async fn run() -> anyhow::Result<()> {
    let connections = env_number("BENCH_CONNECTIONS", 32) as usize;
    let seconds = env_number("BENCH_SECONDS", 10);
    let mixed_seconds = env_number("BENCH_MIXED_SECONDS", 60);
    println!(
        "debrief write benchmark: {connections} connections, {seconds} s per run; {} logical CPUs; load average {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );

    match env_number("BENCH_RENDERS", 1) {
        0 => {}
        1 => renders().await?,
        // 2: (e) alone.
        _ => return renders().await,
    }

    let app = Arc::new(start_app(None).await?);
    let posts = single_event_posts(&app, connections, seconds).await?;
    println!(
        "{}",
        posts.describe("(a) single-event POST …/timeline, SQLite")
    );
    let ddl = common::timeline_ddl(app.db_path.as_deref().context("SQLite path")?)?;
    let raw = tokio::task::spawn_blocking(move || rusqlite_autocommit(&ddl, seconds)).await??;
    println!("{}", raw.describe("(b) raw rusqlite autocommit loop"));
    println!(
        "    ratio (a)/(b) = {:.2} (target ≥ 1.5); p99 of (a) {:.2} ms (target < 25 ms)",
        posts.rate() / raw.rate(),
        posts.percentile(0.99, |_| true)
    );
    if let Some(failure) = &posts.first_failure {
        println!("    first failure of (a): {failure}");
    }

    if let Ok(base) = std::env::var("BENCH_PG_URL") {
        let url = fresh_pg(&base).await?;
        let pg = Arc::new(start_app(Some(url.clone())).await?);
        let posts = single_event_posts(&pg, connections, seconds).await?;
        println!(
            "{}",
            posts.describe("(c) single-event POST …/timeline, PostgreSQL")
        );
        let raw = pg_autocommit(&url, seconds).await?;
        println!(
            "{}",
            raw.describe("(c) raw sqlx autocommit loop, PostgreSQL")
        );
        println!(
            "    ratio = {:.2} (target ≥ 1.5); p99 {:.2} ms (target < 25 ms)",
            posts.rate() / raw.rate(),
            posts.percentile(0.99, |_| true)
        );
    }

    if mixed_seconds > 0 {
        let app = Arc::new(start_app(None).await?);
        mixed(&app, mixed_seconds).await?;
    }
    println!(
        "peak RSS of this process (server and load generator): {:.0} MB",
        peak_rss_mb()
    );
    Ok(())
}
