//! Search and related incidents at scale: `cargo bench --bench search`.
//!
//! For SQLite and then PostgreSQL, seeds N incidents and M timeline events
//! (N = 50,000 and M = 1,000,000 by default) with bulk SQL inserts in big
//! transactions into the real application's database, the search triggers
//! indexing them as they land; starts the application in-process on a
//! loopback port and times over HTTP, one request at a time on a
//! kept-alive connection:
//!
//! * `GET /api/v1/search?q=<one word>&limit=20`, five words of different
//!   frequencies in turn;
//! * `GET /api/v1/search?q=<three words>&limit=20`;
//! * `GET /api/v1/incidents/INC-n/related` for incidents spread over all;
//!
//! and, beside them in the same run, a plain `LIKE '%word%'` scan of the
//! same rows (incident titles and impacts, event bodies) for the one-word
//! queries, straight on the database.
//!
//! The searches have no filter: each one-word search ranks the newest
//! 2,000 matching events and 2,000 other matching records (the default
//! `search_rank_window`), each three-word search every match
//! (docs/search.md, "Ranking").
//!
//! Targets (issue 17): search median < 20 ms and p99 < 100 ms; related
//! median < 50 ms. Knobs: `BENCH_INCIDENTS`, `BENCH_EVENTS`,
//! `BENCH_REQUESTS` (timed requests per query kind, default 200),
//! `BENCH_BACKENDS` (`sqlite,postgres` by default) and
//! `BENCH_DATABASE_URL` (a PostgreSQL database to create the bench's
//! database from; default `postgres://postgres@127.0.0.1:5432/test`),
//! `BENCH_KEEP_DATABASE` (set: keep that database afterwards).

use std::{sync::Arc, time::Instant};

use chrono::{DateTime, TimeZone, Utc};
use debrief::{
    clock::ManualClock,
    config::{Secret, Settings},
    domain::Scope,
    services::tokens,
    startup::Application,
};
use rand::{Rng, SeedableRng, rngs::StdRng};
use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement, TransactionTrait, Value,
};

/// Rows per `INSERT` statement, and per transaction.
const ROWS_PER_INSERT: usize = 500;
const ROWS_PER_TRANSACTION: usize = 50_000;

/// Words every text draws from: a few common incident words, then a long
/// tail of made-up ones (`w0` … `w19999`), drawn with a Zipf-like skew so
/// that some words are in a large share of the rows and most in few.
const COMMON: &[&str] = &[
    "database",
    "timeout",
    "latency",
    "checkout",
    "deploy",
    "rollback",
    "replica",
    "queue",
    "cache",
    "dns",
    "certificate",
    "disk",
    "memory",
    "kafka",
    "payments",
    "login",
    "api",
    "errors",
    "elevated",
    "restart",
    "failover",
    "connection",
    "pool",
    "network",
    "region",
];
const TAIL_WORDS: usize = 20_000;
const COMPONENTS: &[&str] = &[
    "checkout",
    "payments-api",
    "search",
    "auth",
    "postgres",
    "redis",
    "kafka",
    "cdn",
    "dns",
    "gateway",
    "billing",
    "email",
    "web",
    "mobile-api",
    "scheduler",
];
const LABELS: &[&str] = &[
    "customer-facing",
    "internal",
    "db",
    "network",
    "security",
    "vendor",
];

struct Size {
    incidents: usize,
    events: usize,
    requests: usize,
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let size = Size {
        incidents: env("BENCH_INCIDENTS", 50_000),
        events: env("BENCH_EVENTS", 1_000_000),
        requests: env("BENCH_REQUESTS", 200),
    };
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    println!(
        "search over {} incidents and {} timeline events, {} sequential requests per kind",
        size.incidents, size.events, size.requests
    );
    println!("| database | query | median ms | p99 ms | hits (first page) |");
    println!("|---|---|---|---|---|");
    let mut missed = Vec::new();
    for backend in backends.split(',').map(str::trim) {
        match backend {
            "sqlite" => missed.extend(measure_backend(&size, None).await?),
            "postgres" => {
                let base = std::env::var("BENCH_DATABASE_URL")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
                missed.extend(measure_backend(&size, Some(base)).await?);
            }
            other => anyhow::bail!("BENCH_BACKENDS: unknown backend {other:?}"),
        }
    }
    if missed.is_empty() {
        println!("targets (search median < 20 ms, p99 < 100 ms; related median < 50 ms): met");
    } else {
        println!("targets MISSED: {}", missed.join("; "));
    }
    Ok(())
}

/// One backend: seed, serve, time. Returns the targets it missed.
async fn measure_backend(size: &Size, pg_base: Option<String>) -> anyhow::Result<Vec<String>> {
    let dir = tempfile::tempdir()?;
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
    let pg_name = "debrief_bench_search";
    let mut settings = Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_path_buf(),
        bootstrap_token: false,
        ..Settings::default()
    };
    if let Some(base) = &pg_base {
        settings.database_url = Some(Secret::new(fresh_postgres(base, pg_name).await?));
    }
    let name = if pg_base.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let app = Application::build_with_clock(settings, Arc::new(ManualClock::new(now))).await?;
    let db = app.context().db.clone();
    let (_, token) = tokens::create(&db, now, "bench", Scope::Read).await?;
    let seeded = Instant::now();
    seed(&db, size, now).await?;
    // What autovacuum does within a minute of such a load on a live
    // server: the planner's statistics of the new rows (PostgreSQL picks
    // between the GIN index and walking `seq` by a word's frequency).
    if pg_base.is_some() {
        db.execute_unprepared("VACUUM ANALYZE").await?;
    }
    eprintln!(
        "{name}: seeded and indexed {} incidents and {} events in {:.1} s",
        size.incidents,
        size.events,
        seeded.elapsed().as_secs_f64()
    );
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let client = reqwest::Client::new();
    let get = |path: String| {
        let client = client.clone();
        let token = token.clone();
        let url = format!("{base}{path}");
        async move {
            let resp = client.get(&url).bearer_auth(&token).send().await?;
            anyhow::ensure!(resp.status() == 200, "{url}: {}", resp.status());
            let body: serde_json::Value = resp.json().await?;
            Ok::<usize, anyhow::Error>(body["items"].as_array().map_or(0, Vec::len))
        }
    };
    let one_word = ["database", "failover", "w40", "w900", "w15000"];
    let three_words = [
        "database timeout replica",
        "checkout w40 errors",
        "kafka w900 w1200",
        "\"connection pool\" latency",
        "deploy* rollback w77",
    ];
    let mut missed = Vec::new();
    for (kind, queries) in [("one word", &one_word), ("three words", &three_words)] {
        let paths: Vec<String> = queries
            .iter()
            .map(|q| format!("/api/v1/search?limit=20&q={}", encode(q)))
            .collect();
        let (stats, hits) = time(size.requests, &paths, &get).await?;
        println!(
            "| {name} | search, {kind} | {:.2} | {:.2} | {hits} |",
            stats.median, stats.p99
        );
        if stats.median >= 20.0 || stats.p99 >= 100.0 {
            missed.push(format!("{name} search {kind}"));
        }
    }
    let step = (size.incidents / 50).max(1);
    let related: Vec<String> = (1..=size.incidents)
        .step_by(step)
        .map(|n| format!("/api/v1/incidents/INC-{n}/related"))
        .collect();
    let (stats, hits) = time(size.requests, &related, &get).await?;
    println!(
        "| {name} | related incidents | {:.2} | {:.2} | {hits} |",
        stats.median, stats.p99
    );
    if stats.median >= 50.0 {
        missed.push(format!("{name} related"));
    }
    let like = like_scan(&db, &one_word).await?;
    println!(
        "| {name} | LIKE '%word%' scan, one word (SQL, no HTTP) | {:.2} | {:.2} | count |",
        like.median, like.p99
    );
    db.close().await?;
    // `BENCH_KEEP_DATABASE=1` leaves the PostgreSQL database for a look at
    // the plans (`debrief_bench_search`).
    if let Some(base) = &pg_base
        && std::env::var_os("BENCH_KEEP_DATABASE").is_none()
    {
        drop_postgres(base, pg_name).await?;
    }
    Ok(missed)
}

struct Stats {
    median: f64,
    p99: f64,
}

fn stats(mut times: Vec<f64>) -> Stats {
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    Stats {
        median: at(0.5),
        p99: at(0.99),
    }
}

/// `requests` timed requests (after a warm-up of one per path), the paths
/// in turn; the largest hit count seen.
async fn time<F, Fut>(requests: usize, paths: &[String], get: &F) -> anyhow::Result<(Stats, usize)>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<usize>>,
{
    for path in paths {
        get(path.clone()).await?;
    }
    let mut times = Vec::with_capacity(requests);
    let mut hits = 0;
    for n in 0..requests.max(1) {
        let path = paths[n % paths.len()].clone();
        let start = Instant::now();
        hits = hits.max(get(path).await?);
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    Ok((stats(times), hits))
}

/// The plain scan search would be without the index: every incident title
/// and impact and every event body, `LIKE '%word%'`, counted.
async fn like_scan(db: &DatabaseConnection, words: &[&str]) -> anyhow::Result<Stats> {
    let backend = db.get_database_backend();
    let like = if backend == DbBackend::Postgres {
        "ILIKE"
    } else {
        "LIKE"
    };
    let mut times = Vec::new();
    for word in words {
        let sql = format!(
            "SELECT (SELECT count(*) FROM incidents \
                     WHERE title {like} '%{word}%' OR customer_impact {like} '%{word}%') + \
                    (SELECT count(*) FROM timeline_events WHERE body {like} '%{word}%') AS n"
        );
        let start = Instant::now();
        db.query_one_raw(Statement::from_string(backend, sql))
            .await?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(stats(times))
}

fn encode(q: &str) -> String {
    percent_encoding::utf8_percent_encode(q, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A word: common ones often, the tail with a Zipf-like skew.
fn word(rng: &mut StdRng) -> String {
    if rng.random_bool(0.2) {
        return COMMON[rng.random_range(0..COMMON.len())].to_string();
    }
    // Inverse-square-root sampling: rank r with probability ~ 1/sqrt(r).
    let u: f64 = rng.random_range(0.0..1.0);
    let rank = ((u * u) * TAIL_WORDS as f64) as usize;
    format!("w{rank}")
}

fn sentence(rng: &mut StdRng, min: usize, max: usize) -> String {
    let n = rng.random_range(min..=max);
    (0..n).map(|_| word(rng)).collect::<Vec<_>>().join(" ")
}

fn json_list(rng: &mut StdRng, names: &[&str], max: usize) -> String {
    let n = rng.random_range(0..=max);
    let mut chosen: Vec<&str> = (0..n)
        .map(|_| names[rng.random_range(0..names.len())])
        .collect();
    chosen.sort_unstable();
    chosen.dedup();
    serde_json::to_string(&chosen).expect("a list of names")
}

/// Numbered placeholders of one multi-row `INSERT`.
fn placeholders(backend: DbBackend, rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=columns)
                .map(|c| {
                    let n = r * columns + c;
                    if backend == DbBackend::Postgres {
                        format!("${n}")
                    } else {
                        format!("?{n}")
                    }
                })
                .collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn seed(db: &DatabaseConnection, size: &Size, now: DateTime<Utc>) -> anyhow::Result<()> {
    let backend = db.get_database_backend();
    let mut rng = StdRng::seed_from_u64(17);
    let ids: Vec<uuid::Uuid> = (0..size.incidents).map(|_| uuid::Uuid::new_v4()).collect();
    let severities = ["sev1", "sev2", "sev3", "sev4"];
    for (c, chunk) in ids.chunks(ROWS_PER_TRANSACTION).enumerate() {
        let txn = db.begin().await?;
        for (b, batch) in chunk.chunks(ROWS_PER_INSERT).enumerate() {
            let mut values: Vec<Value> = Vec::new();
            for (i, id) in batch.iter().enumerate() {
                let number = (c * ROWS_PER_TRANSACTION + b * ROWS_PER_INSERT + i + 1) as i64;
                let started = now - chrono::Duration::minutes(number * 7);
                values.extend([
                    (*id).into(),
                    number.into(),
                    sentence(&mut rng, 3, 7).into(),
                    severities[rng.random_range(0..4)].into(),
                    "resolved".into(),
                    sentence(&mut rng, 6, 12).into(),
                    json_list(&mut rng, COMPONENTS, 2).into(),
                    json_list(&mut rng, LABELS, 2).into(),
                    started.into(),
                    now.into(),
                    now.into(),
                ]);
            }
            let sql = format!(
                "INSERT INTO incidents (id, number, title, severity, status, customer_impact, \
                 affected_components, labels, started_at, created_at, updated_at) VALUES {}",
                placeholders(backend, batch.len(), 11)
            );
            txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
                .await?;
        }
        txn.commit().await?;
    }
    let mut written = 0;
    while written < size.events {
        let txn = db.begin().await?;
        let end = (written + ROWS_PER_TRANSACTION).min(size.events);
        while written < end {
            let rows = ROWS_PER_INSERT.min(end - written);
            let mut values: Vec<Value> = Vec::with_capacity(rows * 9);
            for _ in 0..rows {
                let at = now - chrono::Duration::seconds(written as i64);
                values.extend([
                    uuid::Uuid::new_v4().into(),
                    ids[rng.random_range(0..ids.len())].into(),
                    at.into(),
                    "note".into(),
                    sentence(&mut rng, 8, 16).into(),
                    "api".into(),
                    "internal".into(),
                    at.into(),
                    at.into(),
                ]);
                written += 1;
            }
            let sql = format!(
                "INSERT INTO timeline_events (id, incident_id, occurred_at, kind, body, source, \
                 visibility, created_at, updated_at) VALUES {}",
                placeholders(backend, rows, 9)
            );
            txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
                .await?;
        }
        txn.commit().await?;
    }
    Ok(())
}

async fn fresh_postgres(base: &str, name: &str) -> anyhow::Result<String> {
    drop_postgres(base, name).await?;
    let admin = Database::connect(base).await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await?;
    admin.close().await?;
    let (prefix, _) = base
        .rsplit_once('/')
        .ok_or_else(|| anyhow::anyhow!("BENCH_DATABASE_URL names no database"))?;
    Ok(format!("{prefix}/{name}"))
}

async fn drop_postgres(base: &str, name: &str) -> anyhow::Result<()> {
    let admin = Database::connect(base).await?;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    admin.close().await?;
    Ok(())
}
