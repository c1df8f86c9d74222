//! Several replicas on one PostgreSQL database: they start together,
//! migrate once, and agree on every read after a write.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use debrief::{clock::ManualClock, config::Settings, startup::Application};
use migration::MigratorTrait;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

use crate::helpers::{TestApp, fresh_database, spawn_app_with, t0};

/// The number of rows of a one-column count query on `url`.
async fn count(url: &str, sql: &str) -> i64 {
    let db = Database::connect(url).await.expect("database reachable");
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql,
        ))
        .await
        .expect("count")
        .expect("a row");
    db.close().await.ok();
    row.try_get_by_index::<i64>(0).expect("a number")
}

#[tokio::test]
async fn three_replicas_starting_together_migrate_the_schema_once() {
    // SQLite is one process per file: there is nothing to race.
    let Some(url) = fresh_database().await else {
        return;
    };
    let on_shared =
        |s: &mut Settings| s.database_url = Some(debrief::config::Secret::new(url.clone()));
    let (a, b, c) = tokio::join!(
        spawn_app_with(on_shared),
        spawn_app_with(on_shared),
        spawn_app_with(on_shared)
    );
    for app in [&a, &b, &c] {
        let resp = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(resp.status(), 200, "every replica is ready");
    }
    let applied = count(&url, "SELECT count(*) FROM seaql_migrations").await;
    assert_eq!(
        applied,
        migration::Migrator::migrations().len() as i64,
        "each migration recorded once"
    );
}

/// Settings of a replica that creates the bootstrap token on `url`.
fn bootstrapping(url: &str, data_dir: &std::path::Path) -> Settings {
    let mut settings = Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: data_dir.to_path_buf(),
        bootstrap_token: true,
        database_url: Some(debrief::config::Secret::new(url.to_string())),
        ..Settings::default()
    };
    settings.jobs.enabled = false;
    settings.mail.transport = debrief::config::MailTransport::Memory;
    settings
}

#[tokio::test]
async fn three_replicas_starting_together_create_one_bootstrap_token() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let build = |dir: &tempfile::TempDir| {
        Application::build_with_clock(
            bootstrapping(&url, dir.path()),
            Arc::new(ManualClock::new(t0())),
        )
    };
    let (a, b, c) = tokio::join!(build(&dirs[0]), build(&dirs[1]), build(&dirs[2]));
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    let (x, y, z) = tokio::join!(
        a.bootstrap_token(),
        b.bootstrap_token(),
        c.bootstrap_token()
    );
    let created = [x.unwrap(), y.unwrap(), z.unwrap()]
        .iter()
        .filter(|t| t.is_some())
        .count();
    assert_eq!(created, 1, "one replica creates the token");
    assert_eq!(count(&url, "SELECT count(*) FROM api_tokens").await, 1);
}

/// Three replicas on one database (PostgreSQL when `TEST_DATABASE_URL` is
/// set; on SQLite three apps cannot share one file, so `None`).
async fn three_replicas(configure: fn(&mut Settings)) -> Option<[TestApp; 3]> {
    let url = fresh_database().await?;
    let on_shared = |s: &mut Settings| {
        configure(s);
        s.database_url = Some(debrief::config::Secret::new(url.clone()));
    };
    let first = spawn_app_with(on_shared).await;
    let (second, third) = tokio::join!(spawn_app_with(on_shared), spawn_app_with(on_shared));
    Some([first, second, third])
}

/// One kind of write, checked by a read on the other replicas.
#[derive(Clone, Copy, Debug)]
enum Write {
    CreateIncident,
    AddTimelineEvent,
    CreateSitrep,
    ChangeStatus,
    CreateRemediation,
    RevokeToken,
}

const WRITES: [Write; 6] = [
    Write::CreateIncident,
    Write::AddTimelineEvent,
    Write::CreateSitrep,
    Write::ChangeStatus,
    Write::CreateRemediation,
    Write::RevokeToken,
];

/// What a reader must see after a write: a GET whose body shows `marker`,
/// or a token that must be refused.
enum Check {
    Shows { path: String, marker: String },
    Refused { secret: String },
}

/// The state one round of writes builds on: its incident.
struct Round {
    incident: String,
    n: usize,
}

impl Round {
    /// Make `write` on `writer`; return what the others must see.
    async fn write(&self, writer: &TestApp, readers: &[&TestApp], write: Write) -> Check {
        let n = self.n;
        let incident = &self.incident;
        let created = |resp: reqwest::Response| async move {
            assert!(resp.status().is_success(), "{write:?}: {}", resp.status());
            resp.json::<Value>().await.unwrap()
        };
        match write {
            Write::CreateIncident => unreachable!("each round starts with its incident"),
            Write::AddTimelineEvent => {
                let marker = format!("Rolled back deploy {n}");
                let body = json!({"events": [{"occurred_at": "2026-11-20T10:02:00Z",
                    "kind": "action", "body": marker}]});
                self.posted(writer, "timeline", body, marker).await
            }
            Write::CreateSitrep => {
                let marker = format!("Rolling back deploy {n}.");
                let body = json!({"summary": marker, "author": "Ana",
                    "status_update": {"status": "identified", "message": "Rolling back."}});
                self.posted(writer, "sitreps", body, marker).await
            }
            Write::ChangeStatus => {
                let body = json!({"status": "resolved"});
                created(writer.patch(&format!("/incidents/{incident}"), body).await).await;
                let path = format!("/incidents/{incident}");
                let marker = "\"status\":\"resolved\"".to_string();
                Check::Shows { path, marker }
            }
            Write::CreateRemediation => {
                let marker = format!("Alert on replica lag {n}");
                let body = json!({"title": marker, "kind": "detect", "priority": "p1",
                    "owner": "ana", "team": "storage", "incidents": [incident]});
                let item = created(writer.post("/remediations", body).await).await;
                let path = format!("/remediations/{}", item["ref"].as_str().unwrap());
                Check::Shows { path, marker }
            }
            Write::RevokeToken => {
                let body = json!({"name": format!("revoked-{n}"), "scope": "read"});
                let token = created(writer.post("/tokens", body).await).await;
                let secret = token["secret"].as_str().unwrap().to_string();
                // The readers have seen the token live (and cached it).
                for reader in readers {
                    assert_eq!(as_token(reader, &secret).await, 200, "token live");
                }
                let id = token["id"].as_str().unwrap();
                revoke(writer, id).await;
                Check::Refused { secret }
            }
        }
    }
}

impl Round {
    /// Post `body` to the incident's `list` on `writer`; the readers must
    /// find `marker` in that list.
    async fn posted(&self, writer: &TestApp, list: &str, body: Value, marker: String) -> Check {
        let path = format!("/incidents/{}/{list}", self.incident);
        let resp = writer.post(&path, body).await;
        assert!(resp.status().is_success(), "POST {path}: {}", resp.status());
        Check::Shows { path, marker }
    }
}

/// Revoke the token `id` on `app`.
async fn revoke(app: &TestApp, id: &str) {
    let resp = app
        .api(reqwest::Method::DELETE, &format!("/tokens/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "revoked");
}

/// The status of `GET /incidents` on `app` with `secret`.
async fn as_token(app: &TestApp, secret: &str) -> u16 {
    app.client
        .get(app.url("/api/v1/incidents"))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Whether `reader` shows what `check` asks for; the body read when not.
async fn sees(reader: &TestApp, check: &Check) -> Result<(), String> {
    match check {
        Check::Shows { path, marker } => {
            let resp = reader.get(path).await;
            let status = resp.status();
            let body = resp.text().await.unwrap();
            if status == 200 && body.contains(marker.as_str()) {
                Ok(())
            } else {
                Err(format!("GET {path}: {status} {body}"))
            }
        }
        Check::Refused { secret } => match as_token(reader, secret).await {
            401 => Ok(()),
            status => Err(format!("revoked token answered {status}")),
        },
    }
}

#[tokio::test]
async fn a_write_on_one_replica_is_read_at_once_on_the_others() {
    // The readers must refuse a revoked token at once, not within a second.
    let Some(apps) = three_replicas(|s| s.token_recheck_ms = 0).await else {
        return;
    };
    let mut reads = 0;
    let mut stale = Vec::new();
    let mut turn = 0;
    for n in 0.. {
        if reads >= 1_000 {
            break;
        }
        let mut round = Round {
            incident: String::new(),
            n,
        };
        for write in WRITES {
            let writer = &apps[turn % 3];
            let readers = [&apps[(turn + 1) % 3], &apps[(turn + 2) % 3]];
            turn += 1;
            let check = if let Write::CreateIncident = write {
                let title = format!("Checkout errors {n}");
                let created = writer
                    .create_incident(json!({"title": title, "severity": "sev2"}))
                    .await;
                round.incident = created["ref"].as_str().unwrap().to_string();
                let path = format!("/incidents/{}", round.incident);
                Check::Shows {
                    path,
                    marker: title,
                }
            } else {
                round.write(writer, &readers, write).await
            };
            for reader in readers {
                reads += 1;
                if let Err(seen) = sees(reader, &check).await {
                    stale.push(format!("{write:?}: {seen}"));
                }
            }
            // The incident's detail (its counts, current sitrep, status)
            // reads the same on every replica, though the readers have it
            // in their caches from the earlier rounds of writes.
            if !matches!(write, Write::RevokeToken) {
                let path = format!("/incidents/{}", round.incident);
                let shown = writer.get(&path).await.text().await.unwrap();
                for reader in readers {
                    reads += 1;
                    let check = Check::Shows {
                        path: path.clone(),
                        marker: shown.clone(),
                    };
                    if let Err(seen) = sees(reader, &check).await {
                        stale.push(format!("{write:?}, detail: {seen}"));
                    }
                }
            }
        }
    }
    assert!(
        stale.is_empty(),
        "{} stale reads of {reads}: {stale:#?}",
        stale.len()
    );
}

#[tokio::test]
async fn a_token_revoked_on_one_replica_is_refused_by_the_others_within_the_recheck() {
    // The default `token_recheck_ms`: 1,000 ms.
    let Some([writer, first, second]) = three_replicas(|_| {}).await else {
        return;
    };
    let recheck = Duration::from_millis(Settings::default().token_recheck_ms);
    let secret = writer.token("read").await;
    for reader in [&first, &second] {
        assert_eq!(as_token(reader, &secret).await, 200, "token live");
    }
    let tokens: Value = writer.get("/tokens").await.json().await.unwrap();
    let id = tokens["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "read-token")
        .expect("the token listed")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let revoked_at = Instant::now();
    revoke(&writer, &id).await;
    assert_eq!(
        as_token(&writer, &secret).await,
        401,
        "at once where revoked"
    );
    for reader in [&first, &second] {
        loop {
            // Measured when the request is sent: the replica checks the
            // token later, so a slow answer is not a late refusal.
            let asked = revoked_at.elapsed();
            if as_token(reader, &secret).await == 401 {
                break;
            }
            assert!(
                asked < recheck,
                "still accepted {asked:?} after the revocation"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // Past the bound, every replica refuses it.
    tokio::time::sleep(recheck.saturating_sub(revoked_at.elapsed())).await;
    for reader in [&writer, &first, &second] {
        assert_eq!(as_token(reader, &secret).await, 401);
    }
}

/// Concurrent reads of one incident on a replica share statements (one
/// statement answers a crowd), and still every read that starts after a
/// write was acknowledged, on any replica, sees it: a read joins the next
/// statement for the incident, never one already on its way.
#[tokio::test]
async fn a_crowd_of_readers_sharing_statements_sees_every_write() {
    let Some(apps) = three_replicas(|_| {}).await else {
        return;
    };
    let created = apps[0]
        .create_incident(json!({"title": "Crowd 0", "severity": "sev2"}))
        .await;
    let path = format!("/incidents/{}", created["ref"].as_str().unwrap());
    let done = std::sync::atomic::AtomicBool::new(false);
    // Eight readers per replica, each sending its next read as soon as the
    // last one is answered, for as long as the writes go on.
    let crowd = |app: &'static TestApp| {
        let (path, done) = (&path, &done);
        async move {
            let mut reads = 0_u64;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let resp = app.get(path).await;
                assert_eq!(resp.status(), 200);
                resp.bytes().await.unwrap();
                reads += 1;
            }
            reads
        }
    };
    let apps: &'static [TestApp; 3] = Box::leak(Box::new(apps));
    let crowds = futures_util::future::join_all(
        apps.iter()
            .flat_map(|app| std::iter::repeat_n(app, 8))
            .map(crowd),
    );
    let checks = async {
        let mut stale = Vec::new();
        for n in 1..=120 {
            let title = format!("Crowd {n}");
            let resp = apps[n % 3].patch(&path, json!({"title": title})).await;
            assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
            for reader in [&apps[(n + 1) % 3], &apps[(n + 2) % 3]] {
                let body = reader.get(&path).await.text().await.unwrap();
                if !body.contains(&format!("\"title\":\"{title}\"")) {
                    stale.push(format!("after write {n}: {body}"));
                }
            }
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        stale
    };
    let (stale, crowd_reads) = tokio::join!(checks, crowds);
    assert!(
        stale.is_empty(),
        "{} stale reads of 240: {stale:#?}",
        stale.len()
    );
    let route = "/api/v1/incidents/{reference}";
    let (mut sent, mut answered) = (0, 0);
    for app in apps {
        sent += crate::statements::statements(app, "GET", route).await;
        answered +=
            crate::statements::per_route(app, "debrief_http_requests_total", "GET", route).await;
    }
    let crowd_reads: u64 = crowd_reads.iter().sum();
    assert!(answered >= crowd_reads + 240);
    // Without sharing, every read sends its statement (and a token look-up
    // now and then): at least one per read.
    eprintln!("{sent} statements answered {answered} reads");
    assert!(
        sent * 10 < answered * 9,
        "{sent} statements answered {answered} reads: concurrent reads share statements"
    );
}
