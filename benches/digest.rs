//! Digest generation at scale: `cargo bench --bench digest`.
//!
//! Seeds one year of history (5,000 incidents, 100,000 timeline events,
//! 25,000 remediation items, 10,000 status updates), then ten years (ten
//! times each), straight into the application's SQLite database, and times
//! `digests::generate` for the last week (2026-W47): every figure for the
//! week and the four before, the twelve-week trend chart (PNG), Markdown
//! and HTML.
//!
//! Targets: median under 1 s with one year, and ten years under 1.2× the
//! one-year time (issue 10; it was 1.5× before): the cost follows the
//! week's data, not the history.
//! Knob: `BENCH_RUNS` (timed generations per size, default 20).

use std::{sync::Arc, time::Instant};

use chrono::{DateTime, Days, Duration, TimeZone, Utc};
use debrief::{
    clock::ManualClock,
    config::{PostmortemDue, Settings},
    domain::{
        EventSource, IncidentStatus, IsoWeek, PostmortemKind, PostmortemStatus, Priority,
        PublicStatus, RemediationKind, RemediationStatus, Severity, TimelineKind, Visibility,
    },
    entities::{StringList, incident, postmortem, remediation_item, status_update, timeline_event},
    services::{
        digests, postmortems,
        stats::{self, Lists},
    },
    startup::Application,
};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel,
    TransactionTrait,
};

const INCIDENTS_PER_YEAR: usize = 5_000;
const EVENTS_PER_INCIDENT: usize = 20;
const UPDATES_PER_INCIDENT: usize = 2;
const ITEMS_PER_YEAR: usize = 25_000;
const ROWS_PER_INSERT: usize = 1_000;

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    println!(
        "digest generation for 2026-W47 (all figures, chart PNG, Markdown, HTML, PDF), {runs} runs"
    );
    println!("| history | incidents | timeline events | remediation items | median ms | p90 ms |");
    println!("|---|---|---|---|---|---|");
    let one = measure(1, runs).await?;
    let ten = measure(10, runs).await?;
    let ratio = ten / one;
    println!("ten years / one year: {ratio:.2}×");
    println!(
        "targets (one year < 1000 ms; ten years < 1.2× one year): {}",
        if one < 1000.0 && ratio < 1.2 {
            "met"
        } else {
            "MISSED"
        }
    );
    Ok(())
}

async fn measure(years: usize, runs: usize) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
    let settings = Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_path_buf(),
        bootstrap_token: false,
        ..Settings::default()
    };
    let app = Application::build_with_clock(settings, Arc::new(ManualClock::new(now))).await?;
    let ctx = app.context().clone();
    let seeded = Instant::now();
    let counts = seed(&ctx.db, years, now).await?;
    eprintln!(
        "seeded {years} year(s) in {:.1} s",
        seeded.elapsed().as_secs_f64()
    );
    let week: IsoWeek = "2026-W47".parse().map_err(anyhow::Error::msg)?;
    let mut times = Vec::with_capacity(runs);
    let mut size = 0;
    for n in 0..runs + 3 {
        let start = Instant::now();
        let digest = digests::generate(&ctx.db, &ctx.settings, week)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let elapsed = start.elapsed().as_secs_f64() * 1000.0;
        size = digest.markdown.len()
            + digest.html.len()
            + digest.chart_png.len()
            + digest.pdf.as_ref().map_or(0, Vec::len);
        if n >= 3 {
            times.push(elapsed);
        }
    }
    // The figures alone (the five weeks' queries, as `generate` makes
    // them), to tell what follows the history from the documents' layout.
    let tz = digests::time_zone(&ctx.settings);
    let mut figures = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        for back in 0..=digests::COMPARISON_WEEKS {
            let (from, to) = week.minus(back).bounds(tz);
            let lists = if back == 0 {
                Lists::Most(digests::DIGEST_LIST_LIMIT)
            } else {
                Lists::CountsOnly
            };
            let definitions = stats::Definitions {
                tz,
                intervals: &ctx.settings.customer_update_minutes,
                taxonomy: &ctx.settings.factors,
            };
            stats::period_stats(&ctx.db, from, to, definitions, lists)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        figures.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    figures.sort_by(f64::total_cmp);
    eprintln!(
        "figures of the five weeks alone: median {:.1} ms",
        figures[figures.len() / 2]
    );
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let p90 = times[times.len() * 9 / 10];
    println!(
        "| {years} year(s) | {} | {} | {} | {median:.1} | {p90:.1} |",
        counts.0, counts.1, counts.2
    );
    eprintln!("digest output: {size} bytes");
    Ok(median)
}

/// Spread `years` of history evenly up to `now`: incidents every
/// ~1.75 hours (severities 5/15/40/40 %), lasting 10 min to 8 h, each with
/// 20 timeline events and 2 public updates; remediation items created
/// evenly, due 1 to 13 weeks later, nearly all closed once more than a
/// month past due (1 in 200 stays open and overdue); every incident has its
/// post-mortem, nearly all published.
async fn seed(
    db: &DatabaseConnection,
    years: usize,
    now: DateTime<Utc>,
) -> anyhow::Result<(usize, usize, usize)> {
    let span = Duration::days(365 * years as i64);
    let start = now - span;
    let incidents = INCIDENTS_PER_YEAR * years;
    let items = ITEMS_PER_YEAR * years;
    let txn = db.begin().await?;
    let step = span.num_seconds() / incidents as i64;
    let mut batch = Vec::with_capacity(ROWS_PER_INSERT);
    let mut events = Vec::with_capacity(ROWS_PER_INSERT);
    let mut updates = Vec::with_capacity(ROWS_PER_INSERT);
    let mut postmortems = Vec::with_capacity(ROWS_PER_INSERT);
    for i in 0..incidents {
        let started = start + Duration::seconds(step * i as i64);
        let minutes = 10 + (i as i64 * 37) % 470;
        let resolved = started + Duration::minutes(minutes);
        let id = uuid::Uuid::now_v7();
        let severity = match i % 20 {
            0 => Severity::Sev1,
            1..=3 => Severity::Sev2,
            4..=11 => Severity::Sev3,
            _ => Severity::Sev4,
        };
        batch.push(incident::Model {
            id,
            number: i as i64 + 1,
            title: format!("Incident {i}: elevated errors on service {}", i % 50),
            severity,
            status: IncidentStatus::Closed,
            customer_impact: None,
            affected_components: StringList::default(),
            chat_room_url: None,
            labels: StringList::default(),
            started_at: Some(started),
            detected_at: Some(started + Duration::minutes(1 + i as i64 % 9)),
            acknowledged_at: Some(started + Duration::minutes(3 + i as i64 % 9)),
            mitigated_at: Some(started + Duration::minutes(minutes / 2)),
            resolved_at: Some(resolved),
            closed_at: Some(resolved + Duration::hours(4)),
            last_customer_update_at: Some(started + Duration::minutes(20)),
            sitrep_count: 0,
            version: 1,
            created_at: started,
            updated_at: resolved,
        });
        for e in 0..EVENTS_PER_INCIDENT {
            let at =
                started + Duration::seconds(minutes * 60 * e as i64 / EVENTS_PER_INCIDENT as i64);
            events.push(timeline_event::Model {
                id: uuid::Uuid::now_v7(),
                incident_id: id,
                occurred_at: at,
                kind: TimelineKind::Action,
                body: format!("Step {e} of the response"),
                author: Some("responder".into()),
                source: EventSource::Api,
                external_id: None,
                visibility: Visibility::Internal,
                created_at: at,
                updated_at: at,
            });
        }
        for u in 0..UPDATES_PER_INCIDENT {
            let at = started + Duration::minutes(20 + 40 * u as i64);
            updates.push(status_update::Model {
                id: uuid::Uuid::now_v7(),
                incident_id: id,
                status: if u == 0 {
                    PublicStatus::Investigating
                } else {
                    PublicStatus::Resolved
                },
                message: "We are looking into it.".into(),
                affected_components: StringList::default(),
                posted_at: at,
                source: None,
                external_id: None,
                created_at: at,
                updated_at: at,
            });
        }
        // Its post-mortem: sev1–3 published two days after the start, but
        // 1 in 200 never (overdue forever) and the last two weeks' still in
        // draft; sev4 ones stay drafts without a due date.
        let published =
            (severity != Severity::Sev4 && i % 200 != 7 && started + Duration::days(14) < now)
                .then(|| started + Duration::days(2));
        postmortems.push(postmortem::Model {
            id: uuid::Uuid::now_v7(),
            incident_id: id,
            kind: PostmortemKind::Dedicated,
            owner: Some(format!("owner-{}@example.com", i % 400)),
            due_date: None,
            due_on: postmortems::due_by_severity(
                &PostmortemDue::default(),
                batch.last().expect("the incident was just pushed"),
            ),
            review_at: None,
            status: if published.is_some() {
                PostmortemStatus::Published
            } else {
                PostmortemStatus::Draft
            },
            slug: published.map(|_| format!("inc-{}", i + 1)),
            published_version: i32::from(published.is_some()),
            published_at: published,
            first_published_at: published,
            withdrawn_at: None,
            not_required_reason: None,
            version: 1,
            created_at: started,
            updated_at: published.unwrap_or(started),
        });
        // Incidents first: the events, updates and post-mortems refer to them.
        if batch.len() >= ROWS_PER_INSERT / EVENTS_PER_INCIDENT {
            flush(&txn, &mut batch).await?;
            flush(&txn, &mut events).await?;
            flush(&txn, &mut updates).await?;
            flush(&txn, &mut postmortems).await?;
        }
    }
    flush(&txn, &mut batch).await?;
    flush(&txn, &mut events).await?;
    flush(&txn, &mut updates).await?;
    flush(&txn, &mut postmortems).await?;

    let item_step = span.num_seconds() / items as i64;
    let mut rows = Vec::with_capacity(ROWS_PER_INSERT);
    for i in 0..items {
        let created = start + Duration::seconds(item_step * i as i64);
        let due = created
            .date_naive()
            .checked_add_days(Days::new(7 + (i as u64 * 13) % 84))
            .expect("a due date");
        let settled = due + Days::new(30) < now.date_naive();
        let status = match (settled, i % 200) {
            (true, 0) => RemediationStatus::Open,
            (true, 1..=9) => RemediationStatus::WontDo,
            (true, _) => RemediationStatus::Done,
            (false, n) if n % 3 == 0 => RemediationStatus::Done,
            (false, _) => RemediationStatus::Open,
        };
        let closed_at = status.is_closed().then(|| {
            due.and_hms_opt(12, 0, 0).expect("noon").and_utc() - Duration::days((i % 5) as i64 - 1)
        });
        rows.push(remediation_item::Model {
            id: uuid::Uuid::now_v7(),
            number: i as i64 + 1,
            title: format!("Remediation {i}"),
            description: None,
            kind: RemediationKind::ALL[i % 5],
            priority: Priority::ALL[i % 4],
            owner: Some(format!("owner-{}@example.com", i % 400)),
            team: Some(format!("team-{}", i % 20)),
            due_date: Some(due),
            status,
            reason: (status == RemediationStatus::WontDo).then(|| "superseded".into()),
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
            closed_at: closed_at.map(|c| c.max(created)),
            version: 1,
            created_at: created,
            updated_at: created,
        });
        if rows.len() >= ROWS_PER_INSERT {
            flush(&txn, &mut rows).await?;
        }
    }
    flush(&txn, &mut rows).await?;
    txn.commit().await?;
    db.execute_unprepared("ANALYZE").await?;
    Ok((incidents, incidents * EVENTS_PER_INCIDENT, items))
}

async fn flush<M, C>(txn: &C, rows: &mut Vec<M>) -> anyhow::Result<()>
where
    C: ConnectionTrait,
    M: IntoActiveModel<<<M as sea_orm::ModelTrait>::Entity as EntityTrait>::ActiveModel>
        + sea_orm::ModelTrait
        + Clone,
    <<M as sea_orm::ModelTrait>::Entity as EntityTrait>::ActiveModel: ActiveModelTrait + Send,
{
    if rows.is_empty() {
        return Ok(());
    }
    <<M as sea_orm::ModelTrait>::Entity as EntityTrait>::insert_many(
        rows.drain(..).map(|m| m.into_active_model().reset_all()),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(())
}
