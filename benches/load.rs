//! Load benchmark: `cargo bench --bench load` (release build, `harness = false`).
//!
//! Measures, in one run:
//!
//! * (a) a bare poem `/healthz` route (JSON), 32 keep-alive connections:
//!   requests/s and latency percentiles; served in-process and, for a fair
//!   comparison with (b), in a separate process (this binary re-executed);
//! * (b) `GET /api/v1/incidents/{ref}` of an incident with 200 timeline
//!   events against the real application, same load shape; served by the
//!   `debrief serve` binary in its own process (the primary figure) and
//!   in-process (`Application::build`) as a cross-check; plus the app's own
//!   `/healthz` and `/readyz` to show where the time goes;
//! * (c) 100,000 timeline events posted in batches of 1,000 against a raw
//!   rusqlite insert of the same rows into the same table shape;
//! * peak RSS (`VmHWM`) of each server process and of this process.
//!
//! The load generator is a plain hyper HTTP/1.1 client in this process: one
//! task per connection, each sending its next request as soon as the last
//! answer is read (closed loop), for a fixed time, with a request cap. It
//! only ever connects to 127.0.0.1.
//!
//! CPU use is read from `/proc` around every measurement: the server's, this
//! process's and the rest of the machine's. A measurement during which other
//! processes used more than 0.15 cores (a build, another test run) is
//! flagged and repeated after a pause, up to `BENCH_ATTEMPTS` times; the
//! least disturbed attempt is kept.
//!
//! Knobs (environment): `BENCH_SECONDS` (measured seconds per load run,
//! default 5), `BENCH_CONNECTIONS` (default 32), `BENCH_ATTEMPTS` (default 3),
//! `BENCH_WITHOUT_SEARCH_INDEX` (set, not empty and not `0`: (c) on SQLite in its own process
//! with the timeline's search triggers dropped, the index's cost measured
//! on the same machine).

use std::{
    collections::VecDeque,
    io::{BufRead, BufReader, Write},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, mpsc},
    time::{Duration, Instant},
};

#[path = "common/mod.rs"]
mod common;
#[path = "load/floor.rs"]
mod floor;
#[path = "load/pg.rs"]
mod pg;

use anyhow::{Context as _, anyhow, bail, ensure};
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use http_body_util::{BodyExt, Full};
use hyper::{
    Method, Request, StatusCode, Uri,
    body::Bytes,
    client::conn::http1::{self, SendRequest},
    header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue},
};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

/// Set in the environment of a re-executed copy of this binary that must
/// serve the bare poem route and nothing else.
const BARE_SERVER_ENV: &str = "DEBRIEF_BENCH_BARE_SERVER";

const WARMUP: Duration = Duration::from_secs(1);
/// Upper bound on the requests of one load run, whatever the duration.
const MAX_REQUESTS_PER_RUN: usize = 2_000_000;
const TIMELINE_EVENTS: usize = 200;
const INGEST_EVENTS: usize = 100_000;
const BATCH: usize = 1_000;

const TARGET_RPS_RATIO: f64 = 0.40;
const TARGET_P99_MS: f64 = 10.0;
const TARGET_INGEST_RATIO: f64 = 0.40;
const TARGET_RSS_MB: f64 = 100.0;

fn main() -> anyhow::Result<()> {
    if std::env::var_os(BARE_SERVER_ENV).is_some() {
        return bare_server_process();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

// ---------------------------------------------------------------------------
// The whole run
// ---------------------------------------------------------------------------

struct Config {
    seconds: u64,
    connections: usize,
    /// Measurements disturbed by other processes are repeated up to this
    /// many times in all; the least disturbed attempt is kept.
    attempts: u32,
    /// Rounds of reference-then-app measurements on SQLite.
    rounds: u32,
}

/// Above this many cores used by other processes, a measurement counts as
/// disturbed.
const QUIET_OTHER_CORES: f64 = 0.15;
const RETRY_PAUSE: Duration = Duration::from_secs(10);

/// Keep the least disturbed of the attempts so far; `true` when another
/// attempt should be made (after a pause).
fn keep_least_disturbed<T>(
    best: &mut Option<(T, f64)>,
    result: T,
    other_cores: f64,
    attempt: u32,
    cfg: &Config,
    name: &str,
) -> bool {
    let better = best.as_ref().is_none_or(|(_, o)| other_cores < *o);
    if better {
        *best = Some((result, other_cores));
    }
    let disturbed = other_cores > QUIET_OTHER_CORES;
    if disturbed && attempt < cfg.attempts {
        println!(
            "      ^ disturbed: other processes used {other_cores:.2} cores; {name}: measuring again in {} s (attempt {} of {})",
            RETRY_PAUSE.as_secs(),
            attempt + 1,
            cfg.attempts
        );
        true
    } else {
        false
    }
}

async fn run() -> anyhow::Result<()> {
    let cfg = Config {
        seconds: env_number("BENCH_SECONDS", 5),
        connections: env_number("BENCH_CONNECTIONS", 32) as usize,
        attempts: env_number("BENCH_ATTEMPTS", 3).max(1) as u32,
        rounds: env_number("BENCH_ROUNDS", 3).max(1) as u32,
    };
    ensure!(
        cfg.seconds > 0 && cfg.connections > 0,
        "BENCH_SECONDS and BENCH_CONNECTIONS must be > 0"
    );
    let clk_tck = clock_ticks_per_second();
    println!("debrief load benchmark");
    println!(
        "  {} connections, {} s warm-up + {} s measured per load run, closed loop, HTTP/1.1 keep-alive; up to {} attempts when disturbed",
        cfg.connections,
        WARMUP.as_secs(),
        cfg.seconds,
        cfg.attempts
    );
    println!(
        "  load generator: hyper client in this process (2 tokio workers = cores); target 127.0.0.1 only"
    );
    println!(
        "  cpu: {} logical CPUs; load average at start: {}\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );

    let mut report = Report::default();

    // (a) bare poem, in-process
    {
        let server = InProcessBare::start().await?;
        let r = load_phase(
            &cfg,
            "(a) bare poem /healthz, in-process",
            server.addr,
            "/healthz",
            None,
            None,
            clk_tck,
        )
        .await?;
        report.bare_inproc = Some(r);
        server.stop().await;
    }

    // (a) bare poem in its own process, kept running: on SQLite it is
    // measured again in every round, next to the app (see `sqlite_rounds`).
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.env(BARE_SERVER_ENV, "1");
    let bare = ChildServer::spawn(cmd, "bare poem server", parse_bare_listen_line)?;

    // (a) + (b), (c) raw + (c), round after round, against `debrief serve`
    // on SQLite in its own process
    {
        let data_dir = tempfile::tempdir()?;
        let mut server = ChildServer::spawn_debrief(data_dir.path(), None)?;
        let outcome =
            sqlite_rounds(&cfg, clk_tck, &mut report, &bare, &server, data_dir.path()).await;
        if let Err(err) = outcome {
            let post_mortem = server.post_mortem().await;
            return Err(err.context(post_mortem));
        }
        let db_path = data_dir.path().join("debrief.db");
        report.storage = Some(inspect_app_storage(&db_path)?);
    }
    report.bare_proc_rss = Some(proc_memory(bare.pid())?);
    drop(bare);

    // (b) + (c) on PostgreSQL, against COPY of the same rows
    match pg::base_url() {
        Some(base) => report.pg = Some(pg::measure(&cfg, clk_tck, &base).await?),
        None => println!("  PostgreSQL: skipped (BENCH_POSTGRES_URL is empty)\n"),
    }

    // (b) + (c) in-process, as a cross-check
    {
        let data_dir = tempfile::tempdir()?;
        let app = InProcessApp::start(data_dir.path()).await?;
        let auth = bearer(&app.token)?;
        let mut client = Client::connect(app.addr).await?;
        let reference = seed_incident(
            &mut client,
            &auth,
            "Bench: 200 timeline events",
            TIMELINE_EVENTS,
        )
        .await?;
        let path = format!("/api/v1/incidents/{reference}");
        report.app_get_inproc = Some(
            load_phase(
                &cfg,
                "(b) GET /api/v1/incidents/{ref}, in-process",
                app.addr,
                &path,
                Some(auth.clone()),
                None,
                clk_tck,
            )
            .await?,
        );
        // A new connection, as above: the seeding one has been idle.
        let mut client = Client::connect(app.addr).await?;
        report.ingest_inproc = Some(
            ingest_http(
                &cfg,
                &mut client,
                &auth,
                "(c) HTTP ingestion, in-process",
                None,
                clk_tck,
            )
            .await?,
        );
        drop(client);
        app.stop().await;
    }

    report.self_rss = Some(proc_memory(std::process::id())?);
    report.print(&cfg);
    Ok(())
}

/// What (b) and (c) measured against one `debrief serve` process.
#[derive(Default)]
struct AppFigures {
    healthz: Option<LoadResult>,
    readyz: Option<LoadResult>,
    get: Option<LoadResult>,
    ingest: Option<IngestResult>,
    rss_seeded: Option<Memory>,
    rss_after_b: Option<Memory>,
    rss_after_c: Option<Memory>,
}

/// (b) and (c) against `debrief serve` running in its own process, on the
/// database `db` names ("SQLite" or "PostgreSQL"), measured once each.
async fn own_process_app(
    cfg: &Config,
    clk_tck: f64,
    figures: &mut AppFigures,
    server: &ChildServer,
    data_dir: &Path,
    db: &str,
) -> anyhow::Result<()> {
    let app = start_app(cfg, clk_tck, figures, server, data_dir, db).await?;
    figures.get = Some(app.get(cfg, clk_tck, server, db).await?);
    figures.rss_after_b = Some(proc_memory(server.pid())?);
    figures.ingest = Some(app.ingest(cfg, clk_tck, server, db).await?);
    figures.rss_after_c = Some(proc_memory(server.pid())?);
    Ok(())
}

/// A `debrief serve` ready to be measured: its token and the seeded
/// incident.
struct StartedApp {
    auth: HeaderValue,
    reference: String,
}

/// Seed the incident (b) reads, and measure the app's `/healthz` and
/// `/readyz` once, for the record.
async fn start_app(
    cfg: &Config,
    clk_tck: f64,
    figures: &mut AppFigures,
    server: &ChildServer,
    data_dir: &Path,
    db: &str,
) -> anyhow::Result<StartedApp> {
    let token = std::fs::read_to_string(data_dir.join("bootstrap-token"))
        .context("reading <data_dir>/bootstrap-token")?
        .trim()
        .to_string();
    let auth = bearer(&token)?;
    let mut client = Client::connect(server.addr).await?;
    let reference = seed_incident(
        &mut client,
        &auth,
        "Bench: 200 timeline events",
        TIMELINE_EVENTS,
    )
    .await?;
    figures.rss_seeded = Some(proc_memory(server.pid())?);
    println!(
        "  debrief serve on {db} (pid {}) on {}, incident {reference} seeded with {TIMELINE_EVENTS} events\n",
        server.pid(),
        server.addr
    );

    let pid = Some(server.pid());
    figures.healthz = Some(
        load_phase(
            cfg,
            &format!("    app /healthz (middleware, no DB), own process, {db}"),
            server.addr,
            "/healthz",
            None,
            pid,
            clk_tck,
        )
        .await?,
    );
    figures.readyz = Some(
        load_phase(
            cfg,
            &format!("    app /readyz (one DB ping, no auth), own process, {db}"),
            server.addr,
            "/readyz",
            None,
            pid,
            clk_tck,
        )
        .await?,
    );
    if db == "SQLite" && without_search_index() {
        drop_timeline_search_triggers(&data_dir.join("debrief.db"))?;
    }
    Ok(StartedApp { auth, reference })
}

impl StartedApp {
    /// (b): the seeded incident under load.
    async fn get(
        &self,
        cfg: &Config,
        clk_tck: f64,
        server: &ChildServer,
        db: &str,
    ) -> anyhow::Result<LoadResult> {
        load_phase(
            cfg,
            &format!("(b) GET /api/v1/incidents/{{ref}}, own process, {db}"),
            server.addr,
            &format!("/api/v1/incidents/{}", self.reference),
            Some(self.auth.clone()),
            Some(server.pid()),
            clk_tck,
        )
        .await
    }

    /// (c): the events ingested into a new incident.
    async fn ingest(
        &self,
        cfg: &Config,
        clk_tck: f64,
        server: &ChildServer,
        db: &str,
    ) -> anyhow::Result<IngestResult> {
        // A new connection each time: an earlier one may have been idle
        // longer than the server's idle timeout.
        let mut client = Client::connect(server.addr).await?;
        ingest_http(
            cfg,
            &mut client,
            &self.auth,
            &format!("(c) HTTP ingestion, own process, {db}"),
            Some(server.pid()),
            clk_tck,
        )
        .await
    }
}

/// What one round measured: each figure next to its reference, minutes
/// apart at most, so that a drift of the machine's speed (a VM's
/// neighbours, its disk) moves both.
struct Round<T> {
    reference: T,
    app: T,
}

/// The rounds on SQLite: `cfg.rounds` times (a) bare poem then (b) GET,
/// then `cfg.rounds` times (c) raw rusqlite then (c) HTTP ingestion. The
/// verdicts take the median round's ratio; every round is printed.
async fn sqlite_rounds(
    cfg: &Config,
    clk_tck: f64,
    report: &mut Report,
    bare: &ChildServer,
    server: &ChildServer,
    data_dir: &Path,
) -> anyhow::Result<()> {
    let app = start_app(cfg, clk_tck, &mut report.app, server, data_dir, "SQLite").await?;
    report.timeline_ddl = common::timeline_ddl(&data_dir.join("debrief.db"))?;
    for round in 1..=cfg.rounds {
        println!("  round {round} of {}: (a) then (b)", cfg.rounds);
        let reference = load_phase(
            cfg,
            "(a) bare poem /healthz, own process",
            bare.addr,
            "/healthz",
            None,
            Some(bare.pid()),
            clk_tck,
        )
        .await?;
        let floor = load_phase(
            cfg,
            "(a2) poem-openapi floor, own process (bare server)",
            bare.addr,
            floor::PATH,
            Some(bearer(floor::TOKEN)?),
            Some(bare.pid()),
            clk_tck,
        )
        .await?;
        let get = app.get(cfg, clk_tck, server, "SQLite").await?;
        report.get_rounds.push(Round {
            reference,
            app: get,
        });
        report.floor_rounds.push(floor);
    }
    report.app.rss_after_b = Some(proc_memory(server.pid())?);
    for round in 1..=cfg.rounds {
        println!("  round {round} of {}: (c) raw, then (c) HTTP", cfg.rounds);
        let reference = ingest_raw(cfg, &report.timeline_ddl).await?;
        let ingest = app.ingest(cfg, clk_tck, server, "SQLite").await?;
        report.ingest_rounds.push(Round {
            reference,
            app: ingest,
        });
    }
    report.app.rss_after_c = Some(proc_memory(server.pid())?);
    Ok(())
}

/// (c) raw rusqlite into a fresh file, measured again when disturbed.
async fn ingest_raw(cfg: &Config, ddl: &[String]) -> anyhow::Result<IngestResult> {
    least_disturbed(cfg, "(c) raw rusqlite insert", || {
        let ddl = ddl.to_vec();
        async move { tokio::task::spawn_blocking(move || ingest_rusqlite(&ddl)).await? }
    })
    .await
}

/// Run `run` until it is not disturbed by other processes (up to
/// `cfg.attempts` times) and keep the least disturbed result.
pub(crate) async fn least_disturbed<F, Fut>(
    cfg: &Config,
    name: &str,
    mut run: F,
) -> anyhow::Result<IngestResult>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<IngestResult>>,
{
    let mut best = None;
    for attempt in 1..=cfg.attempts {
        let r = run().await?;
        println!("{}", r.describe(name));
        let other = r.cpu.other_cores();
        if !keep_least_disturbed(&mut best, r, other, attempt, cfg, name) {
            break;
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
    Ok(best.expect("at least one attempt").0)
}

/// The round whose ratio of app to reference is the median one (the
/// lower middle one of an even number).
fn median_round<T>(rounds: &[Round<T>], figure: impl Fn(&T) -> f64) -> Option<&Round<T>> {
    let ratio = |r: &Round<T>| figure(&r.app) / figure(&r.reference);
    let mut sorted: Vec<&Round<T>> = rounds.iter().collect();
    sorted.sort_by(|a, b| ratio(a).total_cmp(&ratio(b)));
    sorted.get(sorted.len().saturating_sub(1) / 2).copied()
}

/// Set: (c) on SQLite in its own process runs with the timeline's search
/// triggers dropped, so that the index's cost on ingestion is measured on
/// the same machine and build (issue 17).
const WITHOUT_SEARCH_INDEX_ENV: &str = "BENCH_WITHOUT_SEARCH_INDEX";

/// Whether the index is to be left out: the variable set to anything but
/// nothing or `0` (`BENCH_WITHOUT_SEARCH_INDEX= …` keeps it).
fn without_search_index() -> bool {
    std::env::var(WITHOUT_SEARCH_INDEX_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Drop the triggers that index timeline events (migration 14) in the
/// server's database, from a connection of this process: new events are
/// then stored as before the search index existed.
fn drop_timeline_search_triggers(db: &Path) -> anyhow::Result<()> {
    let conn = rusqlite::Connection::open(db)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    for event in ["insert", "update", "delete"] {
        conn.execute_batch(&format!("DROP TRIGGER search_timeline_events_{event}"))?;
    }
    println!("  (c) on SQLite without the timeline's search triggers ({WITHOUT_SEARCH_INDEX_ENV})");
    Ok(())
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------------------
// HTTP client
// ---------------------------------------------------------------------------

type ReqBody = Full<Bytes>;

/// One keep-alive HTTP/1.1 connection.
struct Client {
    sender: SendRequest<ReqBody>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> anyhow::Result<Self> {
        ensure!(
            addr.ip().is_loopback(),
            "the benchmark only targets loopback, not {addr}"
        );
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self { sender })
    }

    async fn send(&mut self, req: Request<ReqBody>) -> anyhow::Result<(StatusCode, Bytes)> {
        self.sender.ready().await?;
        let resp = self.sender.send_request(req).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}

fn request(
    method: Method,
    uri: Uri,
    auth: Option<&HeaderValue>,
    body: Option<Bytes>,
) -> Request<ReqBody> {
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header(HOST, HeaderValue::from_static("127.0.0.1"));
    if let Some(auth) = auth {
        builder = builder.header(AUTHORIZATION, auth.clone());
    }
    let body = match body {
        Some(bytes) => {
            builder = builder.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            bytes
        }
        None => Bytes::new(),
    };
    builder.body(Full::new(body)).expect("a valid request")
}

fn bearer(token: &str) -> anyhow::Result<HeaderValue> {
    Ok(HeaderValue::from_str(&format!("Bearer {token}"))?)
}

async fn get_json(client: &mut Client, auth: &HeaderValue, path: &str) -> anyhow::Result<Value> {
    let (status, body) = client
        .send(request(Method::GET, path.parse()?, Some(auth), None))
        .await?;
    ensure!(
        status == StatusCode::OK,
        "GET {path}: {status}: {}",
        String::from_utf8_lossy(&body)
    );
    Ok(serde_json::from_slice(&body)?)
}

async fn post_json(
    client: &mut Client,
    auth: &HeaderValue,
    path: &str,
    body: Bytes,
) -> anyhow::Result<(StatusCode, Value)> {
    let (status, body) = client
        .send(request(Method::POST, path.parse()?, Some(auth), Some(body)))
        .await?;
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    Ok((status, value))
}

async fn create_incident(
    client: &mut Client,
    auth: &HeaderValue,
    title: &str,
) -> anyhow::Result<String> {
    let body = json!({ "title": title, "severity": "sev2" }).to_string();
    let (status, value) = post_json(client, auth, "/api/v1/incidents", body.into()).await?;
    ensure!(
        status == StatusCode::CREATED,
        "creating an incident: {status}: {value}"
    );
    value["ref"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("no `ref` in {value}"))
}

/// An incident holding `events` timeline events (its own "opened" event
/// included), checked through the API.
async fn seed_incident(
    client: &mut Client,
    auth: &HeaderValue,
    title: &str,
    events: usize,
) -> anyhow::Result<String> {
    let reference = create_incident(client, auth, title).await?;
    let extra: Vec<Value> = (0..events - 1)
        .map(|i| {
            json!({
                "kind": "note",
                "body": format!("Seed event {i}: checked dashboards, error rate at {}.{}%", i % 7, i % 10),
                "external_id": format!("seed-{i}"),
                "source": "api",
                "occurred_at": event_time(i).to_rfc3339_opts(SecondsFormat::Secs, true),
            })
        })
        .collect();
    let body = json!({ "events": extra }).to_string();
    let (status, value) = post_json(
        client,
        auth,
        &format!("/api/v1/incidents/{reference}/timeline"),
        body.into(),
    )
    .await?;
    ensure!(
        status == StatusCode::OK,
        "seeding the timeline: {status}: {value}"
    );
    let detail = get_json(client, auth, &format!("/api/v1/incidents/{reference}")).await?;
    let stored = detail["counts"]["timeline_events"].as_u64();
    ensure!(
        stored == Some(events as u64),
        "{reference} has {stored:?} timeline events, expected {events}"
    );
    Ok(reference)
}

// ---------------------------------------------------------------------------
// Closed-loop load
// ---------------------------------------------------------------------------

struct LoadResult {
    requests: usize,
    failures: usize,
    first_failure: Option<String>,
    elapsed: Duration,
    /// Sorted, in microseconds.
    latencies_us: Vec<u32>,
    cpu: CpuUsage,
    response_bytes: usize,
}

impl LoadResult {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile_ms(&self, q: f64) -> f64 {
        percentile(&self.latencies_us, q) as f64 / 1000.0
    }

    fn describe(&self, name: &str) -> String {
        let mut s = format!(
            "{name}\n      {:>9.0} req/s  p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  p99.9 {:.3} ms  max {:.3} ms  ({} requests in {:.2} s, {} failed, {} B/response)",
            self.rps(),
            self.percentile_ms(0.50),
            self.percentile_ms(0.90),
            self.percentile_ms(0.99),
            self.percentile_ms(0.999),
            self.percentile_ms(1.0),
            self.requests,
            self.elapsed.as_secs_f64(),
            self.failures,
            self.response_bytes,
        );
        s.push_str(&self.cpu.describe(self.requests, "request"));
        if let Some(f) = &self.first_failure {
            s.push_str(&format!("\n      first failure: {f}"));
        }
        s
    }
}

fn percentile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Warm up, then measure; print the result.
async fn load_phase(
    cfg: &Config,
    name: &str,
    addr: SocketAddr,
    path: &str,
    auth: Option<HeaderValue>,
    server_pid: Option<u32>,
    clk_tck: f64,
) -> anyhow::Result<LoadResult> {
    // Check the answer once before loading it.
    let mut probe = Client::connect(addr).await?;
    let (status, body) = probe
        .send(request(Method::GET, path.parse()?, auth.as_ref(), None))
        .await?;
    ensure!(
        status == StatusCode::OK,
        "{name}: GET {path} answered {status}: {}",
        String::from_utf8_lossy(&body)
    );
    drop(probe);

    let mut best = None;
    for attempt in 1..=cfg.attempts {
        load(addr, path, auth.clone(), cfg.connections, WARMUP).await?;
        let meter = CpuMeter::start(server_pid, clk_tck)?;
        let mut result = load(
            addr,
            path,
            auth.clone(),
            cfg.connections,
            Duration::from_secs(cfg.seconds),
        )
        .await?;
        result.cpu = meter.stop()?;
        println!("{}", result.describe(name));
        ensure!(
            result.failures * 100 <= result.requests.max(1),
            "{name}: {} of {} requests failed (first: {:?})",
            result.failures,
            result.requests + result.failures,
            result.first_failure
        );
        let other = result.cpu.other_cores();
        if !keep_least_disturbed(&mut best, result, other, attempt, cfg, name) {
            break;
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
    Ok(best.expect("at least one attempt").0)
}

async fn load(
    addr: SocketAddr,
    path: &str,
    auth: Option<HeaderValue>,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<LoadResult> {
    let uri: Uri = path.parse()?;
    let mut clients = Vec::with_capacity(connections);
    for _ in 0..connections {
        clients.push(Client::connect(addr).await?);
    }
    let cap = MAX_REQUESTS_PER_RUN / connections;
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            let uri = uri.clone();
            let auth = auth.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(64 * 1024);
                let mut failures = 0usize;
                let mut first_failure = None;
                let mut bytes = 0usize;
                while latencies.len() + failures < cap {
                    let sent = Instant::now();
                    if sent >= deadline {
                        break;
                    }
                    let req = request(Method::GET, uri.clone(), auth.as_ref(), None);
                    match client.send(req).await {
                        Ok((StatusCode::OK, body)) => {
                            let us = sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                            latencies.push(us);
                            bytes = body.len();
                        }
                        Ok((status, body)) => {
                            failures += 1;
                            first_failure.get_or_insert_with(|| {
                                format!("{status}: {}", String::from_utf8_lossy(&body))
                            });
                        }
                        Err(err) => {
                            failures += 1;
                            first_failure.get_or_insert_with(|| format!("{err:#}"));
                            break;
                        }
                    }
                }
                (latencies, failures, first_failure, bytes, Instant::now())
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut failures = 0;
    let mut first_failure = None;
    let mut end = start;
    let mut response_bytes = 0;
    for task in tasks {
        let (lat, f, ff, bytes, done) = task.await?;
        all.extend_from_slice(&lat);
        failures += f;
        if first_failure.is_none() {
            first_failure = ff;
        }
        response_bytes = response_bytes.max(bytes);
        end = end.max(done);
    }
    all.sort_unstable();
    Ok(LoadResult {
        requests: all.len(),
        failures,
        first_failure,
        elapsed: end - start,
        latencies_us: all,
        cpu: CpuUsage::default(),
        response_bytes,
    })
}

// ---------------------------------------------------------------------------
// (c) ingestion
// ---------------------------------------------------------------------------

/// The events to ingest, the same for the app and raw SQLite.
struct Event {
    external_id: String,
    body: String,
    occurred_at: DateTime<Utc>,
}

fn event_time(i: usize) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap()
        + chrono::Duration::milliseconds(i as i64 * 250)
}

fn events() -> Vec<Event> {
    (0..INGEST_EVENTS)
        .map(|i| Event {
            external_id: format!("e-{i}"),
            body: format!(
                "Event {i}: rolled back deploy {} on web-{:02}; error rate back under 0.{}%",
                1000 + i / 50,
                i % 40,
                i % 10
            ),
            occurred_at: event_time(i),
        })
        .collect()
}

struct IngestResult {
    events: usize,
    elapsed: Duration,
    /// Per batch, sorted, microseconds.
    batch_us: Vec<u32>,
    cpu: CpuUsage,
    request_bytes: usize,
}

impl IngestResult {
    fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }

    fn describe(&self, name: &str) -> String {
        let mut s = format!(
            "{name}\n      {:>9.0} events/s  ({} events in {:.3} s, {} batches of {BATCH}; per batch p50 {:.2} ms p99 {:.2} ms max {:.2} ms)",
            self.events_per_second(),
            self.events,
            self.elapsed.as_secs_f64(),
            self.batch_us.len(),
            percentile(&self.batch_us, 0.5) as f64 / 1000.0,
            percentile(&self.batch_us, 0.99) as f64 / 1000.0,
            percentile(&self.batch_us, 1.0) as f64 / 1000.0,
        );
        if self.request_bytes > 0 {
            s.push_str(&format!(
                "\n      request body {} KiB per batch",
                self.request_bytes / 1024
            ));
        }
        s.push_str(&self.cpu.describe(self.events, "event"));
        s
    }
}

/// Ingest the events into a new incident, measuring again when disturbed;
/// check that every event was stored.
async fn ingest_http(
    cfg: &Config,
    client: &mut Client,
    auth: &HeaderValue,
    name: &str,
    server_pid: Option<u32>,
    clk_tck: f64,
) -> anyhow::Result<IngestResult> {
    let mut best = None;
    for attempt in 1..=cfg.attempts {
        let reference = create_incident(client, auth, "Bench: ingestion").await?;
        let result = ingest_http_once(client, auth, &reference, name, server_pid, clk_tck).await?;
        println!("{}", result.describe(name));
        let detail = get_json(client, auth, &format!("/api/v1/incidents/{reference}")).await?;
        let stored = detail["counts"]["timeline_events"].as_u64().unwrap_or(0);
        // One system event ("opened") plus the ingested ones.
        ensure!(
            stored == INGEST_EVENTS as u64 + 1,
            "the app holds {stored} events for {reference}, expected {}",
            INGEST_EVENTS + 1
        );
        let other = result.cpu.other_cores();
        if !keep_least_disturbed(&mut best, result, other, attempt, cfg, name) {
            break;
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
    Ok(best.expect("at least one attempt").0)
}

async fn ingest_http_once(
    client: &mut Client,
    auth: &HeaderValue,
    reference: &str,
    name: &str,
    server_pid: Option<u32>,
    clk_tck: f64,
) -> anyhow::Result<IngestResult> {
    // Request bodies are serialised before the clock starts: the client's
    // JSON encoding is not the server's cost.
    let bodies: Vec<Bytes> = events()
        .chunks(BATCH)
        .map(|chunk| {
            let events: Vec<Value> = chunk
                .iter()
                .map(|e| {
                    json!({
                        "kind": "note",
                        "body": e.body,
                        "external_id": e.external_id,
                        "source": "api",
                        "occurred_at": e.occurred_at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
                    })
                })
                .collect();
            Bytes::from(json!({ "events": events }).to_string())
        })
        .collect();
    let request_bytes = bodies[0].len();
    let uri: Uri = format!("/api/v1/incidents/{reference}/timeline").parse()?;
    let meter = CpuMeter::start(server_pid, clk_tck)?;
    let mut batch_us = Vec::with_capacity(bodies.len());
    let start = Instant::now();
    for body in bodies {
        let sent = Instant::now();
        let (status, answer) = client
            .send(request(Method::POST, uri.clone(), Some(auth), Some(body)))
            .await?;
        batch_us.push(sent.elapsed().as_micros() as u32);
        ensure!(
            status == StatusCode::OK,
            "{name}: batch answered {status}: {}",
            String::from_utf8_lossy(&answer)
        );
        let summary: Value = serde_json::from_slice(&answer)?;
        ensure!(
            summary["created"] == json!(BATCH),
            "{name}: batch not fully stored: {summary}"
        );
    }
    let elapsed = start.elapsed();
    let cpu = meter.stop()?;
    batch_us.sort_unstable();
    Ok(IngestResult {
        events: INGEST_EVENTS,
        elapsed,
        batch_us,
        cpu,
        request_bytes,
    })
}

/// How the app stored a row: value types and the time format.
fn inspect_app_storage(db: &Path) -> anyhow::Result<String> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let row = conn.query_row(
        "SELECT typeof(id), length(id), typeof(incident_id), occurred_at, created_at FROM timeline_events \
         WHERE source = 'api' LIMIT 1",
        [],
        |r| {
            Ok(format!(
                "id {} ({} bytes), incident_id {}, occurred_at {:?}, created_at {:?}",
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        },
    )?;
    Ok(row)
}

/// The same rows into the same table shape with rusqlite: WAL,
/// synchronous=FULL, foreign keys on, one prepared single-row INSERT
/// executed 1,000 times per `BEGIN IMMEDIATE` transaction.
fn ingest_rusqlite(ddl: &[String]) -> anyhow::Result<IngestResult> {
    let mut raw = common::raw_timeline(ddl)?;
    let incident_id = raw.incident_id;
    let conn = &mut raw.conn;

    let events = events();
    let clk_tck = clock_ticks_per_second();
    let meter = CpuMeter::start(None, clk_tck)?;
    let mut batch_us = Vec::new();
    let start = Instant::now();
    for chunk in events.chunks(BATCH) {
        let sent = Instant::now();
        let now = to_sqlite_time(Utc::now());
        let txn = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut stmt = txn.prepare_cached(
                "INSERT INTO timeline_events (id, incident_id, occurred_at, kind, body, author, source, \
                 external_id, visibility, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
                 ON CONFLICT (incident_id, source, external_id) DO NOTHING",
            )?;
            for e in chunk {
                let id = uuid::Uuid::now_v7();
                let inserted = stmt.execute(rusqlite::params![
                    id.as_bytes().as_slice(),
                    incident_id.as_bytes().as_slice(),
                    to_sqlite_time(e.occurred_at),
                    "note",
                    e.body,
                    Option::<String>::None,
                    "api",
                    e.external_id,
                    "internal",
                    now,
                    now,
                ])?;
                ensure!(inserted == 1, "row not inserted");
            }
        }
        txn.commit()?;
        batch_us.push(sent.elapsed().as_micros() as u32);
    }
    let elapsed = start.elapsed();
    let cpu = meter.stop()?;
    let count: i64 = conn.query_row("SELECT count(*) FROM timeline_events", [], |r| r.get(0))?;
    ensure!(
        count == INGEST_EVENTS as i64,
        "raw table holds {count} rows"
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

/// A time as sqlx writes `DateTime<Utc>` to SQLite.
fn to_sqlite_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

// ---------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------

#[poem::handler]
fn bare_healthz() -> poem::web::Json<Value> {
    poem::web::Json(json!({ "status": "ok" }))
}

fn bare_route() -> poem::Route {
    poem::Route::new()
        .at("/healthz", poem::get(bare_healthz))
        .nest("/floor", floor::route())
}

async fn bind_loopback() -> anyhow::Result<(poem::listener::TcpAcceptor, SocketAddr)> {
    use poem::listener::{Acceptor, Listener, TcpListener};
    let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await?;
    let addr = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .context("the listener has no address")?;
    Ok((acceptor, addr))
}

/// The bare route served by this process.
struct InProcessBare {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl InProcessBare {
    async fn start() -> anyhow::Result<Self> {
        let (acceptor, addr) = bind_loopback().await?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(
            poem::Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
                bare_route(),
                async move {
                    let _ = stopped.await;
                },
                Some(Duration::from_secs(1)),
            ),
        );
        Ok(Self { addr, stop, task })
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

/// The re-executed binary: serve the bare route until killed.
fn bare_server_process() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (acceptor, addr) = bind_loopback().await?;
        println!("BARE-LISTENING {addr}");
        std::io::stdout().flush()?;
        poem::Server::new_with_acceptor(acceptor)
            .run(bare_route())
            .await?;
        Ok(())
    })
}

fn parse_bare_listen_line(line: &str) -> Option<SocketAddr> {
    line.strip_prefix("BARE-LISTENING ")?.trim().parse().ok()
}

/// `Debrief listening on http://127.0.0.1:PORT` in the server's log.
fn parse_debrief_listen_line(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find("listening on http://")? + "listening on http://".len()..];
    let addr: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
        .collect();
    addr.parse().ok()
}

/// The real application built by this process, as the integration tests do.
struct InProcessApp {
    addr: SocketAddr,
    token: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl InProcessApp {
    async fn start(data_dir: &Path) -> anyhow::Result<Self> {
        use debrief::{config::Settings, domain::Scope, services::tokens, startup::Application};
        let settings = Settings {
            listen: "127.0.0.1:0".into(),
            data_dir: data_dir.to_path_buf(),
            bootstrap_token: false,
            shutdown_grace_seconds: 1,
            ..Settings::default()
        };
        let app = Application::build(settings).await?;
        let (_, token) = tokens::create(&app.context().db, Utc::now(), "bench", Scope::Admin)
            .await
            .map_err(|e| anyhow!("creating the bench token: {e}"))?;
        let addr = app.addr();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        Ok(Self {
            addr,
            token,
            stop,
            task,
        })
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

/// A server in its own process, killed when dropped.
struct ChildServer {
    child: Child,
    addr: SocketAddr,
    /// The last lines of its stdout and stderr.
    tail: Arc<Mutex<VecDeque<String>>>,
}

impl ChildServer {
    /// `debrief serve` on a free loopback port with `data_dir`; its
    /// bootstrap token is in `<data_dir>/bootstrap-token` once it listens.
    fn spawn_debrief(data_dir: &Path, database_url: Option<&str>) -> anyhow::Result<Self> {
        let exe = PathBuf::from(env!("CARGO_BIN_EXE_debrief"));
        let mut cmd = Command::new(&exe);
        cmd.arg("serve");
        // Nothing from the caller's environment may redirect the server
        // (another database, another config file).
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("DEBRIEF_") {
                cmd.env_remove(key);
            }
        }
        cmd.env("DEBRIEF_LISTEN", "127.0.0.1:0")
            .env("DEBRIEF_DATA_DIR", data_dir)
            .env("RUST_LOG", "info,sqlx=warn,sea_orm=warn,poem=warn")
            .env("NO_COLOR", "1");
        if let Some(url) = database_url {
            cmd.env("DEBRIEF_DATABASE_URL", url);
        }
        Self::spawn(
            cmd,
            &format!("{}", exe.display()),
            parse_debrief_listen_line,
        )
    }

    fn spawn(
        mut cmd: Command,
        what: &str,
        parse: fn(&str) -> Option<SocketAddr>,
    ) -> anyhow::Result<Self> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {what}"))?;
        let (tx, rx) = mpsc::channel::<String>();
        let tail = Arc::new(Mutex::new(VecDeque::<String>::new()));
        // Keep draining both pipes so the server never blocks on a full one.
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            let tail = tail.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    {
                        let mut tail = tail.lock().expect("tail lock");
                        tail.push_back(line.clone());
                        if tail.len() > 40 {
                            tail.pop_front();
                        }
                    }
                    let _ = tx.send(line);
                }
            });
        }
        drop(tx);
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(addr) = parse(&line) {
                        break addr;
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait().ok();
                    let tail: Vec<String> =
                        tail.lock().expect("tail lock").iter().cloned().collect();
                    bail!(
                        "{what} did not report its address (exit: {status:?}); its last output:\n{}",
                        tail.join("\n")
                    );
                }
            }
        };
        ensure!(
            addr.ip().is_loopback(),
            "{what} listens on {addr}, not loopback"
        );
        Ok(Self { child, addr, tail })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the server is still running, and its last output: for the
    /// error message when a measurement against it fails.
    async fn post_mortem(&mut self) -> String {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let state = match self.child.try_wait() {
            Ok(Some(status)) => {
                use std::os::unix::process::ExitStatusExt;
                match status.signal() {
                    Some(signal) => format!(
                        "the server (pid {}) was killed by signal {signal}",
                        self.pid()
                    ),
                    None => format!("the server (pid {}) exited: {status}", self.pid()),
                }
            }
            Ok(None) => format!("the server (pid {}) is still running", self.pid()),
            Err(err) => format!("the server's state is unknown: {err}"),
        };
        let tail: Vec<String> = self
            .tail
            .lock()
            .expect("tail lock")
            .iter()
            .cloned()
            .collect();
        format!("{state}; its last output:\n{}", tail.join("\n"))
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// /proc
// ---------------------------------------------------------------------------

#[derive(Clone, Copy)]
struct Memory {
    hwm_kb: u64,
    rss_kb: u64,
}

impl Memory {
    fn describe(&self) -> String {
        format!(
            "peak {:.1} MB (VmHWM), now {:.1} MB (VmRSS)",
            mb(self.hwm_kb),
            mb(self.rss_kb)
        )
    }
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn proc_memory(pid: u32) -> anyhow::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| anyhow!("no {name} in /proc/{pid}/status"))
    };
    Ok(Memory {
        hwm_kb: field("VmHWM:")?,
        rss_kb: field("VmRSS:")?,
    })
}

/// User + system CPU seconds of a process (all its threads).
fn cpu_seconds(pid: u32, clk_tck: f64) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after_name = &stat[stat.rfind(')').context("malformed stat")? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `after_name` starts at field 3.
    let utime: f64 = fields.get(11).context("no utime")?.parse()?;
    let stime: f64 = fields.get(12).context("no stime")?.parse()?;
    Ok((utime + stime) / clk_tck)
}

/// Busy CPU seconds of the whole machine (all CPUs), from `/proc/stat`.
fn machine_busy_seconds(clk_tck: f64) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let line = stat.lines().next().context("empty /proc/stat")?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is
    // already counted in user).
    let busy: u64 = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&i| fields.get(i))
        .sum();
    Ok(busy as f64 / clk_tck)
}

/// CPU used during one measurement: by the server process, by this
/// process, and by everything else on the machine.
#[derive(Clone, Copy, Default)]
struct CpuUsage {
    elapsed: f64,
    /// CPU seconds of the server process (`None` when it is in-process).
    server: Option<f64>,
    /// CPU seconds of this process (load generator; the server too when
    /// in-process).
    own: f64,
    /// CPU seconds of the PostgreSQL processes serving the measured
    /// databases (`None` on SQLite).
    database: Option<f64>,
    /// CPU seconds used by other processes on the machine meanwhile.
    other: f64,
}

impl CpuUsage {
    fn other_cores(&self) -> f64 {
        (self.other / self.elapsed.max(1e-9)).max(0.0)
    }

    fn describe(&self, units: usize, unit: &str) -> String {
        let per = |cpu: f64| cpu * 1e6 / units.max(1) as f64;
        let cores = |cpu: f64| cpu / self.elapsed.max(1e-9);
        let mut s = match self.server {
            Some(server) => format!(
                "\n      cpu: server {:.1} µs/{unit}, this process (client) {:.1} µs/{unit}; cores busy: server {:.2}, client {:.2}",
                per(server),
                per(self.own),
                cores(server),
                cores(self.own),
            ),
            None => format!(
                "\n      cpu: this process (server + client) {:.1} µs/{unit}; cores busy: {:.2}",
                per(self.own),
                cores(self.own),
            ),
        };
        if let Some(database) = self.database {
            s.push_str(&format!(
                "\n      cpu: PostgreSQL {:.1} µs/{unit}, {:.2} cores busy",
                per(database),
                cores(database)
            ));
        }
        s.push_str(&format!(
            ", other processes {:.2}",
            cores(self.other).max(0.0)
        ));
        if cores(self.other) > 0.15 {
            s.push_str("  <- machine not quiet: figures disturbed");
        }
        s
    }
}

struct CpuMeter {
    clk_tck: f64,
    server_pid: Option<u32>,
    server: f64,
    own: f64,
    machine: f64,
    /// PostgreSQL's CPU seconds at the start, when a database is measured.
    database: Option<f64>,
    start: Instant,
}

impl CpuMeter {
    fn start(server_pid: Option<u32>, clk_tck: f64) -> anyhow::Result<Self> {
        Ok(Self {
            clk_tck,
            server_pid,
            server: server_pid
                .map(|pid| cpu_seconds(pid, clk_tck))
                .transpose()?
                .unwrap_or(0.0),
            own: cpu_seconds(std::process::id(), clk_tck)?,
            machine: machine_busy_seconds(clk_tck)?,
            database: pg::measured_cpu_seconds(clk_tck),
            start: Instant::now(),
        })
    }

    fn stop(&self) -> anyhow::Result<CpuUsage> {
        let elapsed = self.start.elapsed().as_secs_f64();
        let own = cpu_seconds(std::process::id(), self.clk_tck)? - self.own;
        let server = self
            .server_pid
            .map(|pid| cpu_seconds(pid, self.clk_tck).map(|s| s - self.server))
            .transpose()?;
        let machine = machine_busy_seconds(self.clk_tck)? - self.machine;
        let database = self
            .database
            .zip(pg::measured_cpu_seconds(self.clk_tck))
            .map(|(start, end)| (end - start).max(0.0));
        Ok(CpuUsage {
            elapsed,
            server,
            own,
            database,
            other: machine - own - server.unwrap_or(0.0) - database.unwrap_or(0.0),
        })
    }
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

// ---------------------------------------------------------------------------
// Summary
// ---------------------------------------------------------------------------

#[derive(Default)]
struct Report {
    bare_inproc: Option<LoadResult>,
    bare_proc_rss: Option<Memory>,
    /// `debrief serve` on SQLite, own process: `/healthz`, `/readyz` and
    /// memory (its (b) and (c) are in the rounds).
    app: AppFigures,
    /// (a) bare poem in its own process, then (b) on SQLite.
    get_rounds: Vec<Round<LoadResult>>,
    /// (c) raw rusqlite, then (c) HTTP ingestion on SQLite.
    ingest_rounds: Vec<Round<IngestResult>>,
    /// The stack's floor, in the rounds of (a) and (b).
    floor_rounds: Vec<LoadResult>,
    app_get_inproc: Option<LoadResult>,
    /// `debrief serve` on PostgreSQL, and COPY of the same rows.
    pg: Option<pg::PgFigures>,
    ingest_inproc: Option<IngestResult>,
    storage: Option<String>,
    timeline_ddl: Vec<String>,
    self_rss: Option<Memory>,
}

/// One line of the summary table.
fn row(name: &str, r: &LoadResult) {
    let server = match r.cpu.server {
        Some(cpu) => format!("{:>6.0}", cpu * 1e6 / r.requests.max(1) as f64),
        None => "     -".to_string(),
    };
    println!(
        "{name:<44} {:>9.0} req/s  p50 {:>7.3} ms  p99 {:>7.3} ms  server cpu {server} µs/req  other load {:.2} cores",
        r.rps(),
        r.percentile_ms(0.5),
        r.percentile_ms(0.99),
        (r.cpu.other / r.cpu.elapsed.max(1e-9)).max(0.0),
    )
}

fn verdict(ok: bool) -> &'static str {
    if ok { "MET" } else { "MISSED" }
}

impl Report {
    fn print(&self, cfg: &Config) {
        let (Some(a_in), Some(b_in), Some(c_in)) =
            (&self.bare_inproc, &self.app_get_inproc, &self.ingest_inproc)
        else {
            return;
        };
        let (Some(get), Some(ingest)) = (
            median_round(&self.get_rounds, LoadResult::rps),
            median_round(&self.ingest_rounds, IngestResult::events_per_second),
        ) else {
            return;
        };
        let (a_proc, b_proc) = (&get.reference, &get.app);
        println!(
            "\n================ summary ({} connections, {} s per load run, {} rounds) ================",
            cfg.connections, cfg.seconds, cfg.rounds
        );
        println!(
            "app storage check: {}",
            self.storage.as_deref().unwrap_or("?")
        );
        println!("raw table DDL copied from the app's database:");
        for s in &self.timeline_ddl {
            println!("    {s}");
        }
        println!();
        row("(a) bare poem /healthz, in-process", a_in);
        if let Some(r) = &self.app.healthz {
            row("    app /healthz, own process", r);
        }
        if let Some(r) = &self.app.readyz {
            row("    app /readyz, own process", r);
        }
        for (i, (round, floor)) in self.get_rounds.iter().zip(&self.floor_rounds).enumerate() {
            row(
                &format!("(a) bare poem /healthz, own, round {}", i + 1),
                &round.reference,
            );
            row(
                &format!("(a2) poem-openapi floor, own, round {}", i + 1),
                floor,
            );
            row(
                &format!("(b) GET incident, own, round {}", i + 1),
                &round.app,
            );
        }
        row("(b) GET incident, in-process", b_in);
        println!();
        let rounds: Vec<String> = self
            .get_rounds
            .iter()
            .map(|r| format!("{:.1} %", 100.0 * r.app.rps() / r.reference.rps()))
            .collect();
        println!("(b)/(a) own process, by round: {}", rounds.join(", "));
        let floors: Vec<String> = self
            .get_rounds
            .iter()
            .zip(&self.floor_rounds)
            .map(|(r, f)| {
                format!(
                    "floor {:.1} % of bare, (b) {:.1} % of floor",
                    100.0 * f.rps() / r.reference.rps(),
                    100.0 * r.app.rps() / f.rps()
                )
            })
            .collect();
        println!(
            "(a2) the stack's floor (poem-openapi, no database), by round: {}",
            floors.join("; ")
        );
        for (label, b, a) in [
            ("own process, median round", b_proc, a_proc),
            ("in-process ", b_in, a_in),
        ] {
            let ratio = b.rps() / a.rps();
            let p99 = b.percentile_ms(0.99);
            println!(
                "(b)/(a) {label}: {:.1} % of bare rps (target >= {:.0} %: {}), p99 {:.3} ms (target < {TARGET_P99_MS} ms: {})",
                ratio * 100.0,
                TARGET_RPS_RATIO * 100.0,
                verdict(ratio >= TARGET_RPS_RATIO),
                p99,
                verdict(p99 < TARGET_P99_MS)
            );
        }
        println!();
        for (i, round) in self.ingest_rounds.iter().enumerate() {
            println!(
                "(c) round {}: {:.0} events/s vs raw rusqlite {:.0} events/s = {:.1} % (batch p50 {:.2} ms vs {:.2} ms)",
                i + 1,
                round.app.events_per_second(),
                round.reference.events_per_second(),
                100.0 * round.app.events_per_second() / round.reference.events_per_second(),
                percentile(&round.app.batch_us, 0.5) as f64 / 1000.0,
                percentile(&round.reference.batch_us, 0.5) as f64 / 1000.0,
            );
        }
        let c_raw = &ingest.reference;
        for (label, c) in [
            ("own process, median round", &ingest.app),
            ("in-process (vs that round's raw)", c_in),
        ] {
            let ratio = c.events_per_second() / c_raw.events_per_second();
            println!(
                "(c) {label}: {:.0} events/s vs raw rusqlite {:.0} events/s = {:.1} % (target >= {:.0} %: {})",
                c.events_per_second(),
                c_raw.events_per_second(),
                ratio * 100.0,
                TARGET_INGEST_RATIO * 100.0,
                verdict(ratio >= TARGET_INGEST_RATIO)
            );
        }
        println!();
        if let Some(pg) = &self.pg {
            pg.print(a_proc, b_proc);
            println!();
        }
        if let Some(m) = self.bare_proc_rss {
            println!("RSS bare poem server process:            {}", m.describe());
        }
        if let (Some(s), Some(b), Some(c)) = (
            self.app.rss_seeded,
            self.app.rss_after_b,
            self.app.rss_after_c,
        ) {
            println!("RSS debrief serve process, after seeding: {}", s.describe());
            println!("RSS debrief serve process, after (b):     {}", b.describe());
            println!(
                "RSS debrief serve process, after (c):     {}  (target peak < {TARGET_RSS_MB} MB: {})",
                c.describe(),
                verdict(mb(c.hwm_kb) < TARGET_RSS_MB)
            );
        }
        if let Some(m) = self.self_rss {
            println!(
                "RSS this bench process (load generator + in-process servers + rusqlite): {}",
                m.describe()
            );
        }
    }
}
