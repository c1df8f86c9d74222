//! Building the application: database, routes, listener; running it until a
//! shutdown signal.

use std::{future::Future, net::SocketAddr, path::Path, sync::Arc, time::Duration};

use anyhow::Context as _;
use poem::{
    Endpoint, EndpointExt, IntoResponse, Request, Response, Route, Server, get, handler,
    http::{Method, StatusCode},
    listener::{Acceptor, Listener, TcpAcceptor, TcpListener},
    post,
    web::Data,
};

use crate::{
    api::{
        self,
        problem::{Problem, problem_from_poem_error},
    },
    clock::{SharedClock, SystemClock},
    config::{MetricsAccess, Settings},
    connections::{self, LimitedAcceptor},
    db,
    domain::Scope,
    entities::delivery::DeliveryStatus,
    jobs::Jobs,
    metrics::{self, Metrics},
    notify::Mailer,
    services::{
        Context, outbox,
        read_cache::{self, RequestKind},
        tokens, upkeep,
    },
};

/// A built application: migrated database, bound port, ready to run.
pub struct Application {
    acceptor: LimitedAcceptor<TcpAcceptor>,
    addr: SocketAddr,
    ctx: Context,
    jobs: Jobs,
}

impl Application {
    /// Connect, migrate and bind, on the real clock.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// Connect, migrate and bind, on the given clock (tests set their own).
    pub async fn build_with_clock(settings: Settings, clock: SharedClock) -> anyhow::Result<Self> {
        let db = db::connect(&settings)
            .await
            .context("cannot open the database")?;
        prepare_database(&db, &settings, clock.now()).await?;
        let acceptor = TcpListener::bind(settings.listen.clone())
            .into_acceptor()
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .context("the listener has no address")?;
        let mailer = Mailer::from_settings(&settings).context("invalid mail settings")?;
        let limits = settings.limits.connections().fitted_to_process();
        let ctx = Context::new(db, clock, Arc::new(settings));
        let acceptor = LimitedAcceptor::new(acceptor, limits, ctx.metrics.connections.clone());
        let jobs = Jobs::new(ctx.clone(), mailer)?;
        Ok(Self {
            acceptor,
            addr,
            ctx,
            jobs,
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// The scheduler and outbox worker of this process.
    pub fn jobs(&self) -> &Jobs {
        &self.jobs
    }

    /// On the first start, with no token in the database, create an admin
    /// token, write it to `<data_dir>/bootstrap-token` (mode 0600) and return it.
    /// On PostgreSQL this runs under the migration lock, so replicas starting
    /// together create one bootstrap token between them.
    pub async fn bootstrap_token(&self) -> anyhow::Result<Option<String>> {
        if !self.ctx.settings.bootstrap_token {
            return Ok(None);
        }
        let created = db::under_migration_lock(&self.ctx.db, async {
            if tokens::count(&self.ctx.db).await? > 0 {
                return Ok(None);
            }
            let (_, secret) =
                tokens::create(&self.ctx.db, self.ctx.now(), "bootstrap", Scope::Admin).await?;
            Ok(Some(secret))
        })
        .await?;
        let Some(secret) = created else {
            return Ok(None);
        };
        let dir = &self.ctx.settings.data_dir;
        crate::files::private_dir(dir)?;
        write_secret_file(&dir.join("bootstrap-token"), &secret)?;
        Ok(Some(secret))
    }

    /// Serve until `shutdown` completes; in-flight requests then get the
    /// configured grace period to finish.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> std::io::Result<()> {
        let grace = Duration::from_secs(self.ctx.settings.shutdown_grace_seconds);
        // The scheduler's first pass runs at once: a run missed while the
        // service was down is caught up at start.
        let background = self
            .ctx
            .settings
            .jobs
            .enabled
            .then(|| tokio::spawn(self.jobs.run_until(std::future::pending())));
        let app = routes(self.ctx);
        let served = Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(app, shutdown, Some(grace))
            .await;
        // A delivery cut short here keeps its lease and is sent again after
        // it expires.
        if let Some(task) = background {
            task.abort();
        }
        served
    }
}

/// Apply pending migrations and bring the data up to date, under the
/// migration lock ([`db::under_migration_lock`]): what `debrief serve` does
/// at start and `debrief migrate` does alone.
pub async fn prepare_database(
    db: &sea_orm::DatabaseConnection,
    settings: &Settings,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    db::under_migration_lock(db, async {
        db::migrate(db)
            .await
            .context("cannot migrate the database")?;
        upkeep::bring_up_to_date(db, settings, now)
            .await
            .context("cannot bring the post-mortems up to date")?;
        Ok(())
    })
    .await
}

fn write_secret_file(path: &Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    writeln!(file, "{secret}")?;
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(())
}

/// Every route of the service, with the body limit, problem bodies and
/// metrics around them.
pub fn routes(ctx: Context) -> impl Endpoint<Output = Response> {
    let api = api::service();
    // The published spec (with the additions of `api::spec`), compiled into
    // the request validators now rather than on the first request.
    api::spec::prepare();
    let spec = get(poem::endpoint::make_sync(|_| {
        Response::builder()
            .content_type("application/json; charset=utf-8")
            .body(api::spec::spec_json())
    }));
    let docs = api.swagger_ui();
    let limit = ctx.settings.body_limit_bytes;
    let body_timeout = Duration::from_secs(ctx.settings.limits.body_timeout_seconds);
    let metrics_access = ctx.settings.metrics;
    let mut route = Route::new()
        .nest("/api/v1", api)
        .at("/openapi.json", spec)
        .nest("/docs", docs)
        .at("/healthz", get(healthz))
        .at("/readyz", get(readyz))
        .at("/public/postmortems", get(api::public::index))
        .at("/public/postmortems/feed.atom", get(api::public::feed))
        .at("/public/postmortems/:slug", get(api::public::page))
        .at("/hooks/:tracker", post(api::hooks::receive_hook));
    if metrics_access != MetricsAccess::Off {
        route = route.at("/metrics", get(metrics_endpoint));
    }
    Front {
        routes: route.boxed(),
        ctx,
        limit,
        body_timeout,
        allowed: AllowedMethods::from_spec(),
    }
}

/// Everything around the routes, as one layer. Outermost first: the
/// security headers, problem bodies for every error, the request metrics,
/// one database version per read-only request, the context, the answers to
/// request errors (405 with `Allow`, 422 for a parameter), and the bounds
/// of the body (its stall timeout, then its size). One layer of each moved
/// the request and its future once more per layer: a profile of
/// `GET /incidents/{ref}` put those copies at 8 % of the server's CPU.
struct Front {
    routes: poem::endpoint::BoxEndpoint<'static, Response>,
    ctx: Context,
    limit: usize,
    body_timeout: Duration,
    allowed: AllowedMethods,
}

impl Endpoint for Front {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let uri = req.uri().clone();
        let method = req.method().clone();
        let kind = if method == Method::GET || method == Method::HEAD {
            RequestKind::ReadOnly
        } else {
            RequestKind::MayWrite
        };
        // Boxed: the routes' future is large, and the task-local scopes
        // around it would move it once more per poll frame.
        let routed = Box::pin(read_cache::one_version_per_request(
            kind,
            self.route(req, &method, &uri),
        ));
        let mut response = match metrics::track(&self.ctx.metrics, &method, routed).await {
            Ok(response) => response,
            Err(err) => problem_from_poem_error(err).await,
        };
        security_headers(uri.path(), &mut response);
        Ok(response)
    }
}

impl Front {
    /// The request through the routes, with the context and the body's
    /// bounds; a 405 says which methods the resource does answer (RFC 9110
    /// `Allow`), and a parameter that cannot be read is a 422 (see
    /// [`parameter_problem`]).
    async fn route(
        &self,
        mut req: Request,
        method: &Method,
        uri: &poem::http::Uri,
    ) -> poem::Result<Response> {
        req.extensions_mut().insert(self.ctx.clone());
        req.extensions_mut().insert(self.ctx.metrics.clone());
        connections::limit_body_time(&mut req, self.body_timeout);
        limit_body(&mut req, self.limit).await?;
        match self.routes.call(req).await {
            Err(err) if err.status() == StatusCode::METHOD_NOT_ALLOWED => {
                let mut resp = Problem::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "this method is not allowed on this resource",
                )
                .into_poem_response();
                if let Some(methods) = self.allowed.for_path(uri.path())
                    && let Ok(value) = methods.parse()
                {
                    resp.headers_mut().insert(poem::http::header::ALLOW, value);
                }
                Ok(resp)
            }
            Err(err) => parameter_problem(err, method.as_str(), uri.path(), uri.query()),
            Ok(response) => Ok(response),
        }
    }
}

/// The policy of the public pages: nothing remote, no scripts, no frames,
/// no forms; inline styles (the stylesheet is in the page) and inline
/// images only.
pub const PUBLIC_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Headers on every response, errors included: no content sniffing, no
/// framing, no referrer; the public pages also get [`PUBLIC_CSP`], the API
/// a policy that allows nothing (it serves data, not pages).
fn security_headers(path: &str, response: &mut Response) {
    use poem::http::{HeaderName, HeaderValue};
    // Names and values made once, at compile time: each response only
    // inserts them.
    const NOSNIFF: (HeaderName, HeaderValue) = (
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    const NO_REFERRER: (HeaderName, HeaderValue) = (
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("no-referrer"),
    );
    const NO_FRAMES: (HeaderName, HeaderValue) = (
        HeaderName::from_static("x-frame-options"),
        HeaderValue::from_static("DENY"),
    );
    const CSP: HeaderName = HeaderName::from_static("content-security-policy");
    const PUBLIC: HeaderValue = HeaderValue::from_static(PUBLIC_CSP);
    const DOCS: HeaderValue = HeaderValue::from_static("frame-ancestors 'none'");
    const API: HeaderValue = HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'");
    const CHALLENGE: HeaderValue = HeaderValue::from_static("Bearer realm=\"debrief\"");

    let unauthorized = response.status() == StatusCode::UNAUTHORIZED;
    let headers = response.headers_mut();
    for (name, value) in [NOSNIFF, NO_REFERRER, NO_FRAMES] {
        headers.insert(name, value);
    }
    let csp = if path.starts_with("/public/") || path == "/public" {
        PUBLIC
    } else if path.starts_with("/docs") {
        // Swagger UI runs its own scripts: only framing is refused.
        DOCS
    } else {
        API
    };
    headers.insert(CSP, csp);
    if unauthorized {
        headers.insert(poem::http::header::WWW_AUTHENTICATE, CHALLENGE);
    }
}

/// A path or query parameter that does not parse (poem-openapi's own
/// message names internal types) is answered with 422 in Debrief's words,
/// from the parameter's schema in the spec.
fn parameter_problem(
    err: poem::Error,
    method: &str,
    path: &str,
    query: Option<&str>,
) -> poem::Result<Response> {
    let name = if let Some(e) = err.downcast_ref::<poem_openapi::error::ParseParamError>() {
        e.name.to_string()
    } else if let Some(e) = err.downcast_ref::<poem_openapi::error::ParsePathError>() {
        e.name.to_string()
    } else {
        return Err(err);
    };
    let value = query.and_then(|q| query_value(q, &name));
    let Some((field, detail)) = api::spec::parameter_problem(method, path, &name, value.as_deref())
    else {
        return Err(err);
    };
    Ok(Problem::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
        .with_field(Some(field))
        .into_poem_response())
}

/// The (first) value of `name` in a query string.
fn query_value(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        (decode(key) == name).then(|| decode(value))
    })
}

/// Refuse bodies over the limit with 413 before any handler reads them.
async fn limit_body(req: &mut Request, limit: usize) -> poem::Result<()> {
    // Imports are streamed and count their own bytes against
    // `import_limit_bytes` (see api/imports.rs): never buffer them here.
    if req.uri().path().starts_with("/api/v1/imports/") {
        return Ok(());
    }
    let declared = req
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > limit as u64 => return Err(too_large()),
        Some(_) => {}
        None => {
            let chunked = req
                .headers()
                .get(poem::http::header::TRANSFER_ENCODING)
                .is_some();
            if chunked {
                let bytes = req
                    .take_body()
                    .into_bytes_limit(limit)
                    .await
                    .map_err(|_| too_large())?;
                req.set_body(bytes);
            }
        }
    }
    Ok(())
}

/// The methods each route answers, for the `Allow` header of a 405.
struct AllowedMethods {
    routes: Vec<(Vec<String>, Vec<String>)>,
}

impl AllowedMethods {
    fn from_spec() -> Self {
        let spec: serde_json::Value =
            serde_json::from_str(&api::service().spec()).unwrap_or_default();
        let mut routes = Vec::new();
        for (path, item) in spec["paths"].as_object().into_iter().flatten() {
            let methods = item
                .as_object()
                .into_iter()
                .flatten()
                .map(|(method, _)| method.to_uppercase())
                .collect();
            routes.push((segments(&format!("/api/v1{path}")), methods));
        }
        for path in [
            "/healthz",
            "/readyz",
            "/metrics",
            "/openapi.json",
            "/public/postmortems",
            "/public/postmortems/feed.atom",
            "/public/postmortems/{slug}",
        ] {
            routes.push((segments(path), vec!["GET".to_string()]));
        }
        routes.push((segments("/hooks/{tracker}"), vec!["POST".to_string()]));
        Self { routes }
    }

    fn for_path(&self, path: &str) -> Option<String> {
        let wanted = segments(path);
        self.routes
            .iter()
            .find(|(pattern, _)| {
                pattern.len() == wanted.len()
                    && pattern
                        .iter()
                        .zip(&wanted)
                        .all(|(p, w)| p.starts_with('{') || p == w)
            })
            .map(|(_, methods)| methods.join(", "))
    }
}

fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn too_large() -> poem::Error {
    poem::Error::from_status(StatusCode::PAYLOAD_TOO_LARGE)
}

#[handler]
fn healthz() -> poem::web::Json<serde_json::Value> {
    poem::web::Json(serde_json::json!({ "status": "ok" }))
}

#[handler]
async fn readyz(Data(ctx): Data<&Context>) -> Response {
    match db::ping(&ctx.db).await {
        Ok(()) => poem::web::Json(serde_json::json!({ "status": "ready", "database": "ok" }))
            .into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "Readiness check failed: database unreachable");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is unreachable",
            )
            .into_poem_response()
        }
    }
}

#[handler]
async fn metrics_endpoint(
    req: &Request,
    Data(ctx): Data<&Context>,
    Data(metrics): Data<&Metrics>,
) -> Response {
    if ctx.settings.metrics == MetricsAccess::Token {
        let secret = req
            .headers()
            .get(poem::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let allowed = match secret {
            Some(secret) => {
                matches!(tokens::authenticate(ctx, secret).await, Ok(Some((_, scope))) if scope.allows(Scope::Read))
            }
            None => false,
        };
        if !allowed {
            return Problem::new(
                StatusCode::UNAUTHORIZED,
                "`/metrics` needs a token with the `read` scope",
            )
            .with_field(Some("Authorization".into()))
            .into_poem_response();
        }
    }
    match outbox::counts_by_status(&ctx.db).await {
        Ok(counts) => {
            for &status in DeliveryStatus::ALL {
                let n = counts
                    .iter()
                    .find(|(s, _)| *s == status)
                    .map_or(0, |(_, n)| *n);
                metrics
                    .deliveries
                    .with_label_values(&[status.as_str()])
                    .set(n);
            }
        }
        Err(err) => tracing::warn!(error = %err, "Cannot count outbox deliveries for /metrics"),
    }
    Response::builder()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render())
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("Shutdown signal received; finishing in-flight requests");
}
