//! Remediation queries at scale: `cargo bench --bench remediations`.
//!
//! Seeds 5,000 incidents and N remediation items (N = 10,000, then
//! 100,000) straight into the application's SQLite database, starts the
//! real application in-process on a loopback port, and times over HTTP,
//! one request at a time on a kept-alive connection:
//!
//! * `GET /api/v1/remediations?overdue=true&team=<one of 20 teams>`
//! * `GET /api/v1/remediations/summary`
//!
//! Target: median under 20 ms for both at 100,000 items, and a time that
//! does not grow in proportion to the item count (indexes, not scans).
//! Knob: `BENCH_REQUESTS` (timed requests per query, default 200).

use std::{sync::Arc, time::Instant};

use chrono::{Days, Duration, TimeZone, Utc};
use debrief::{
    clock::ManualClock,
    config::Settings,
    domain::{IncidentStatus, Priority, RemediationKind, RemediationStatus, Scope, Severity},
    entities::{StringList, incident, remediation_incident, remediation_item},
    services::tokens,
    startup::Application,
};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, Statement,
    TransactionTrait,
};

const INCIDENTS: usize = 5_000;
const TEAMS: usize = 20;
const ROWS_PER_INSERT: usize = 1_000;

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let requests: usize = std::env::var("BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    println!("remediation queries over HTTP, {requests} sequential requests each");
    println!("| items | query | median ms | p90 ms | rows |");
    println!("|---|---|---|---|---|");
    let mut medians = Vec::new();
    for items in [10_000, 100_000] {
        let m = measure(items, requests).await?;
        medians.push((items, m));
    }
    let (small, large) = (&medians[0].1, &medians[1].1);
    for (i, name) in ["overdue=true&team", "summary"].iter().enumerate() {
        println!(
            "growth {name}: {:.2} ms at 10k → {:.2} ms at 100k ({:.1}× for 10× the items)",
            small[i],
            large[i],
            large[i] / small[i]
        );
    }
    let pass = large.iter().all(|&m| m < 20.0);
    println!(
        "target (median < 20 ms at 100,000 items): {}",
        if pass { "met" } else { "MISSED" }
    );
    Ok(())
}

async fn measure(items: usize, requests: usize) -> anyhow::Result<[f64; 2]> {
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
    let seeded = Instant::now();
    seed(&db, items, now).await?;
    eprintln!(
        "seeded {items} items in {:.1} s",
        seeded.elapsed().as_secs_f64()
    );
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped(std::future::pending()));

    let client = reqwest::Client::new();
    let mut medians = [0.0; 2];
    let queries = [
        (
            "overdue=true&team",
            format!("{base}/api/v1/remediations?overdue=true&team=team-7&limit=50"),
        ),
        ("summary", format!("{base}/api/v1/remediations/summary")),
    ];
    for (i, (name, url)) in queries.iter().enumerate() {
        let mut times = Vec::with_capacity(requests);
        let mut rows = 0;
        for n in 0..requests + 10 {
            let start = Instant::now();
            let resp = client.get(url).bearer_auth(&token).send().await?;
            anyhow::ensure!(resp.status() == 200, "{url}: {}", resp.status());
            let body: serde_json::Value = resp.json().await?;
            let elapsed = start.elapsed().as_secs_f64() * 1000.0;
            if n >= 10 {
                times.push(elapsed);
            }
            rows = body["items"].as_array().map_or(1, Vec::len);
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        let p90 = times[times.len() * 9 / 10];
        println!("| {items} | {name} | {median:.2} | {p90:.2} | {rows} |");
        medians[i] = median;
    }
    Ok(medians)
}

/// 5,000 incidents and `items` remediation items created over the last two
/// years: 20 teams, four priorities, due 1 to 18 weeks after creation;
/// items more than a month past due are 95 % closed, recent ones about
/// 70 % open; one or two incident links each.
async fn seed(
    db: &DatabaseConnection,
    items: usize,
    now: chrono::DateTime<Utc>,
) -> anyhow::Result<()> {
    let txn = db.begin().await?;
    let incidents: Vec<incident::Model> = (0..INCIDENTS)
        .map(|i| {
            let at = now - Duration::hours(i as i64 * 3);
            incident::Model {
                id: uuid::Uuid::now_v7(),
                number: i as i64 + 1,
                title: format!("Incident {i}"),
                severity: Severity::ALL[i % 4],
                status: IncidentStatus::Closed,
                customer_impact: None,
                affected_components: StringList::default(),
                chat_room_url: None,
                labels: StringList::default(),
                started_at: Some(at),
                detected_at: None,
                acknowledged_at: None,
                mitigated_at: None,
                resolved_at: Some(at + Duration::hours(1)),
                closed_at: Some(at + Duration::hours(2)),
                last_customer_update_at: None,
                sitrep_count: 0,
                version: 1,
                created_at: at,
                updated_at: at,
            }
        })
        .collect();
    for chunk in incidents.chunks(ROWS_PER_INSERT) {
        incident::Entity::insert_many(
            chunk
                .iter()
                .map(|m| m.clone().into_active_model().reset_all()),
        )
        .exec_without_returning(&txn)
        .await?;
    }
    let mut batch = Vec::with_capacity(ROWS_PER_INSERT);
    let mut links = Vec::with_capacity(ROWS_PER_INSERT * 2);
    for i in 0..items {
        let created = now - Duration::minutes((i as i64 * 7919) % (730 * 24 * 60));
        let due = created
            .date_naive()
            .checked_add_days(Days::new(7 + (i as u64 * 13) % 120));
        // As teams work: items whose due date is more than a month behind
        // us are nearly all closed (1 in 20 slips and stays open); recent
        // ones are a mix of open work and done.
        let settled = due.is_some_and(|d| d + Days::new(30) < now.date_naive());
        let status = match (settled, i % 20) {
            (true, 0) => RemediationStatus::Open,
            (true, 1..=3) => RemediationStatus::WontDo,
            (true, _) => RemediationStatus::Done,
            (false, 0..=5) => RemediationStatus::Done,
            (false, 6 | 7) => RemediationStatus::InProgress,
            (false, 8) => RemediationStatus::Blocked,
            (false, _) => RemediationStatus::Open,
        };
        let closed = status.is_closed();
        let item = remediation_item::Model {
            id: uuid::Uuid::now_v7(),
            number: i as i64 + 1,
            title: format!("Remediation {i}"),
            description: None,
            kind: RemediationKind::ALL[i % 5],
            priority: Priority::ALL[i % 4],
            owner: Some(format!("owner-{}", i % 400)),
            team: Some(format!("team-{}", i % TEAMS)),
            due_date: due,
            status,
            reason: (status == RemediationStatus::WontDo).then(|| "Not worth it".to_string()),
            tracker_url: None,
            tracker: None,
            tracker_key: None,
            tracker_synced_at: None,
            tracker_error: None,
            tracker_seen_title: None,
            tracker_seen_state: None,
            tracker_seen_due: None,
            tracker_seen_assignee: None,
            tracker_seen_at: None,
            closed_at: closed.then_some(created + Duration::days(5)),
            version: 1,
            created_at: created,
            updated_at: created,
        };
        let first = &incidents[i % INCIDENTS];
        links.push(remediation_incident::Model {
            remediation_id: item.id,
            incident_id: first.id,
            created_at: created,
        });
        if i % 3 == 0 {
            let second = &incidents[(i * 7 + 1) % INCIDENTS];
            if second.id != first.id {
                links.push(remediation_incident::Model {
                    remediation_id: item.id,
                    incident_id: second.id,
                    created_at: created,
                });
            }
        }
        batch.push(item);
        if batch.len() == ROWS_PER_INSERT || i + 1 == items {
            remediation_item::Entity::insert_many(
                batch.drain(..).map(|m| m.into_active_model().reset_all()),
            )
            .exec_without_returning(&txn)
            .await?;
            remediation_incident::Entity::insert_many(
                links.drain(..).map(|m| m.into_active_model().reset_all()),
            )
            .exec_without_returning(&txn)
            .await?;
        }
    }
    debrief::services::remediations::rebuild_counts(&txn)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let backend = txn.get_database_backend();
    txn.execute_raw(Statement::from_string(
        backend,
        format!("UPDATE counters SET value = {items} WHERE name = 'remediation'"),
    ))
    .await?;
    txn.execute_raw(Statement::from_string(
        backend,
        format!("UPDATE counters SET value = {INCIDENTS} WHERE name = 'incident'"),
    ))
    .await?;
    txn.commit().await?;
    db.execute_unprepared("ANALYZE").await?;
    Ok(())
}
