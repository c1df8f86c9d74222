//! `spawn_app()`: the application on a random port with its own database.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use debrief::{
    clock::ManualClock, config::Settings, domain::Scope, services::tokens, startup::Application,
};
use reqwest::{Method, RequestBuilder, Response};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub admin_token: String,
    pub clock: ManualClock,
    pub backend: &'static str,
    /// The app's scheduler and outbox worker: tests drive `run_once()`.
    pub jobs: debrief::jobs::Jobs,
    /// The app's service context (its writer, render queue, metrics).
    pub context: debrief::services::Context,
    /// The database this app runs on (another app can share it).
    pub database_url: String,
    /// Send to stop the server gracefully.
    pub shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// Completes when the server has stopped.
    pub stopped: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _data_dir: tempfile::TempDir,
}

/// The moment every test starts at.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap()
}

/// A fresh, empty database URL: a new PostgreSQL database when
/// `TEST_DATABASE_URL` is set, otherwise `None` (SQLite in the data dir).
pub async fn fresh_database() -> Option<String> {
    let base = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())?;
    let name = format!("debrief_test_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(&base)
        .await
        .expect("TEST_DATABASE_URL is reachable");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("can create a test database");
    admin.close().await.ok();
    let (prefix, _) = base
        .rsplit_once('/')
        .expect("TEST_DATABASE_URL names a database");
    Some(format!("{prefix}/{name}"))
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: data_dir.path().to_path_buf(),
        bootstrap_token: false,
        shutdown_grace_seconds: 1,
        ..Settings::default()
    };
    // Tests drive the scheduler themselves and read mail from memory.
    settings.jobs.enabled = false;
    settings.mail.transport = debrief::config::MailTransport::Memory;
    // Webhook receivers in tests listen on loopback; a test that needs the
    // production default clears this list.
    settings.webhooks.allow_addresses = vec![
        "127.0.0.0/8".parse().expect("a range"),
        "::1/128".parse().expect("a range"),
    ];
    let backend = match fresh_database().await {
        Some(url) => {
            settings.database_url = Some(debrief::config::Secret::new(url));
            "postgres"
        }
        None => "sqlite",
    };
    configure(&mut settings);
    let database_url = settings.database_url();
    let clock = ManualClock::new(t0());
    let app = Application::build_with_clock(settings, Arc::new(clock.clone()))
        .await
        .expect("app builds");
    let (_, admin_token) = tokens::create(&app.context().db, t0(), "test-admin", Scope::Admin)
        .await
        .expect("token");
    let base = format!("http://127.0.0.1:{}", app.port());
    let jobs = app.jobs().clone();
    let context = app.context().clone();
    let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
    let stopped = tokio::spawn(app.run_until_stopped(async {
        let _ = stop.await;
    }));
    TestApp {
        base,
        client: reqwest::Client::new(),
        admin_token,
        clock,
        backend,
        jobs,
        context,
        database_url,
        shutdown: Some(shutdown),
        stopped: Some(stopped),
        _data_dir: data_dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A request to `/api/v1{path}` with the admin token.
    pub fn api(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(&format!("/api/v1{path}")))
            .bearer_auth(&self.admin_token)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.api(Method::GET, path).send().await.expect("request")
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.api(Method::POST, path)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn patch(&self, path: &str, body: Value) -> Response {
        self.api(Method::PATCH, path)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// Create an incident and return its JSON.
    pub async fn create_incident(&self, body: Value) -> Value {
        let resp = self.post("/incidents", body).await;
        assert_eq!(resp.status(), 201, "create incident");
        resp.json().await.unwrap()
    }

    pub async fn simple_incident(&self) -> Value {
        self.create_incident(json!({"title": "Checkout errors", "severity": "sev2"}))
            .await
    }

    /// A token with the given scope.
    pub async fn token(&self, scope: &str) -> String {
        let resp = self
            .post(
                "/tokens",
                json!({"name": format!("{scope}-token"), "scope": scope}),
            )
            .await;
        assert_eq!(resp.status(), 201);
        resp.json::<Value>().await.unwrap()["secret"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// Assert a problem body: status, content type, and the field named.
pub async fn assert_problem(resp: Response, status: u16, field: Option<&str>) -> Value {
    assert_eq!(resp.status(), status, "status");
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("application/problem+json"),
        "content type was {content_type:?}"
    );
    let body: Value = resp.json().await.expect("problem body is JSON");
    assert_eq!(body["status"], status);
    assert!(
        body["type"].is_string() && body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    if let Some(field) = field {
        assert_eq!(body["field"], field, "field at fault in {body}");
    }
    body
}
