//! Prometheus metrics: request counts and latencies by route and status,
//! open connections, the write queue, the outbox and the scheduled jobs.
//! Each application has its own registry, so several can run in one process.
//! Every label takes a value from a closed set, so the series stay bounded
//! whatever clients send.

use std::time::Instant;

use std::{collections::HashMap, sync::Arc};

use poem::{PathPattern, Response, Result};
use poem_openapi::OperationId;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// The metrics of one application; a clone shares them.
#[derive(Clone)]
pub struct Metrics(Arc<MetricSet>);

impl std::ops::Deref for Metrics {
    type Target = MetricSet;

    fn deref(&self) -> &MetricSet {
        &self.0
    }
}

/// A request's counter, latency histogram and statement counter, for one
/// method and status of a route.
struct RouteSeries {
    method: &'static str,
    status: u16,
    requests: prometheus::IntCounter,
    latency: Histogram,
    statements: prometheus::IntCounter,
}

pub struct MetricSet {
    /// Operation id → the path template it serves, from the OpenAPI spec.
    routes: Arc<HashMap<String, String>>,
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    statements: IntCounterVec,
    /// The three per-route series of each `(method, route, status)` seen,
    /// found once: a request then costs one look-up, not three label
    /// look-ups and the status formatted anew. Bounded as the series are:
    /// methods are folded ([`method_label`]), routes are the spec's and the
    /// router's patterns.
    series: std::sync::RwLock<HashMap<String, Vec<RouteSeries>>>,
    /// Client connections open now.
    pub connections: IntGauge,
    /// Write transactions waiting for the SQLite writer.
    pub write_queue: IntGauge,
    /// Requests committed together by one SQLite commit.
    pub commit_batch: Histogram,
    /// Outbox deliveries by status, read from the database at each scrape.
    pub deliveries: IntGaugeVec,
    /// Unix time of the last successful run of each scheduled job by this
    /// process.
    pub job_last_success: IntGaugeVec,
    /// Renders running or waiting for a turn; document requests reading
    /// what their document is made from, or waiting for an identical
    /// request's render.
    pub renders: IntGaugeVec,
    /// Post-mortem documents answered: rendered for the request, or shared
    /// with an identical request whose render was in flight.
    pub documents: IntCounterVec,
}

/// Defines metrics and registers them with one registry. The definitions
/// are constants of this file, so a bad one is a bug caught by any test.
struct Registering<'a>(&'a Registry);

impl Registering<'_> {
    fn add<M: prometheus::core::Collector + Clone + 'static>(&self, metric: M) -> M {
        self.0
            .register(Box::new(metric.clone()))
            .expect("metric registers once");
        metric
    }

    fn gauge(&self, name: &str, help: &str) -> IntGauge {
        self.add(IntGauge::new(name, help).expect("metric definition is valid"))
    }

    fn gauge_vec(&self, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
        self.add(
            IntGaugeVec::new(Opts::new(name, help), labels).expect("metric definition is valid"),
        )
    }

    fn counter_vec(&self, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
        self.add(
            IntCounterVec::new(Opts::new(name, help), labels).expect("metric definition is valid"),
        )
    }

    fn histogram(&self, opts: HistogramOpts) -> Histogram {
        self.add(Histogram::with_opts(opts).expect("metric definition is valid"))
    }

    fn histogram_vec(&self, opts: HistogramOpts, labels: &[&str]) -> HistogramVec {
        self.add(HistogramVec::new(opts, labels).expect("metric definition is valid"))
    }
}

/// The methods a request is labelled with; anything else is `other`.
const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT",
];

fn method_label(method: &poem::http::Method) -> &'static str {
    METHODS
        .iter()
        .find(|m| **m == method.as_str())
        .copied()
        .unwrap_or("other")
}

impl Metrics {
    pub fn new() -> Self {
        Self(Arc::new(MetricSet::new()))
    }
}

impl MetricSet {
    fn new() -> Self {
        let registry = Registry::new();
        let reg = Registering(&registry);
        let connections = reg.gauge(
            "debrief_http_connections_open",
            "Client connections open now.",
        );
        let write_queue = reg.gauge(
            "debrief_write_queue_depth",
            "Write transactions waiting for their turn at the SQLite writer.",
        );
        let commit_batch = reg.histogram(
            HistogramOpts::new(
                "debrief_write_commit_batch_size",
                "Requests made durable by one SQLite commit (group commit).",
            )
            .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]),
        );
        let deliveries = reg.gauge_vec(
            "debrief_outbox_deliveries",
            "Outbox deliveries by status (pending, sending, sent, failed).",
            &["status"],
        );
        let job_last_success = reg.gauge_vec(
            "debrief_job_last_success_timestamp_seconds",
            "Unix time of the last successful run of each scheduled job in this process.",
            &["job"],
        );
        let renders = reg.gauge_vec(
            "debrief_renders",
            "Document and digest renders, running or waiting for a turn; document requests reading what their document is made from, or sharing an identical request's render.",
            &["state"],
        );
        // Shown at 0 from the start, so a dashboard has a series before
        // the first render.
        for state in ["running", "waiting", "reading", "sharing"] {
            renders.with_label_values(&[state]);
        }
        let documents = reg.counter_vec(
            "debrief_documents_total",
            "Post-mortem documents answered: rendered, or shared with an identical request's render in flight.",
            &["outcome"],
        );
        for outcome in ["rendered", "shared"] {
            documents.with_label_values(&[outcome]);
        }
        let (requests, latency, statements) = per_route(&reg);
        Self {
            routes: Arc::new(operation_routes()),
            registry,
            requests,
            latency,
            statements,
            series: std::sync::RwLock::new(HashMap::new()),
            connections,
            write_queue,
            commit_batch,
            deliveries,
            job_last_success,
            renders,
            documents,
        }
    }

    /// The route label of a response: the OpenAPI path template for API
    /// operations, the router pattern otherwise.
    fn route<'a>(
        &'a self,
        operation: Option<&OperationId>,
        pattern: Option<&'a PathPattern>,
    ) -> &'a str {
        operation
            .and_then(|op| self.routes.get(op.0))
            .map(String::as_str)
            .or_else(|| pattern.map(|p| &*p.0))
            .unwrap_or("unmatched")
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding cannot fail");
        String::from_utf8(buf).unwrap_or_default()
    }

    fn observe(
        &self,
        method: &'static str,
        route: &str,
        status: u16,
        seconds: f64,
        statements: u64,
    ) {
        let record = |series: &RouteSeries| {
            series.requests.inc();
            series.latency.observe(seconds);
            series.statements.inc_by(statements);
        };
        let of_this_request = |s: &&RouteSeries| s.method == method && s.status == status;
        {
            let all = self.series.read().unwrap_or_else(|e| e.into_inner());
            if let Some(series) = all.get(route).and_then(|v| v.iter().find(of_this_request)) {
                return record(series);
            }
        }
        // The first of its kind: its series are made once, under the lock.
        let mut all = self.series.write().unwrap_or_else(|e| e.into_inner());
        let kinds = all.entry(route.to_owned()).or_default();
        if let Some(series) = kinds.iter().find(of_this_request) {
            return record(series);
        }
        let code = status.to_string();
        let labels = [method, route, code.as_str()];
        let series = RouteSeries {
            method,
            status,
            requests: self.requests.with_label_values(&labels),
            latency: self.latency.with_label_values(&labels),
            statements: self.statements.with_label_values(&labels),
        };
        record(&series);
        kinds.push(series);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The per-route metrics: requests, their latency and the SQL statements
/// they send, labelled by method, route and status.
fn per_route(reg: &Registering<'_>) -> (IntCounterVec, HistogramVec, IntCounterVec) {
    let requests = reg.counter_vec(
        "debrief_http_requests_total",
        "HTTP requests answered, by route and status.",
        &["method", "route", "status"],
    );
    let latency = reg.histogram_vec(
        HistogramOpts::new(
            "debrief_http_request_duration_seconds",
            "Time to answer HTTP requests, by route and status.",
        )
        .buckets(vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
        ]),
        &["method", "route", "status"],
    );
    let statements = reg.counter_vec(
            "debrief_sql_statements_total",
            "SQL statements sent by HTTP requests, by route and status (divide by debrief_http_requests_total for the cost of one request).",
            &["method", "route", "status"],
        );
    (requests, latency, statements)
}

/// Count and time every request, and count the SQL statements it sends.
/// Routes are labelled by their pattern (`/api/v1/incidents/:reference`),
/// never by the raw path, so the label set stays small.
pub async fn track<F>(metrics: &Metrics, method: &poem::http::Method, call: F) -> Result<Response>
where
    F: Future<Output = Result<Response>>,
{
    let method = method_label(method);
    let start = Instant::now();
    let (result, statements) = crate::statements::counted(call).await;
    let (status, route) = match &result {
        Ok(resp) => (
            resp.status().as_u16(),
            metrics.route(resp.data(), resp.data()),
        ),
        Err(err) => (err.status().as_u16(), metrics.route(err.data(), err.data())),
    };
    metrics.observe(
        method,
        route,
        status,
        start.elapsed().as_secs_f64(),
        statements,
    );
    result
}

/// Map each operation id to `/api/v1` + its path template.
fn operation_routes() -> HashMap<String, String> {
    let spec: serde_json::Value =
        serde_json::from_str(&crate::api::service().spec()).unwrap_or_default();
    let mut routes = HashMap::new();
    for (path, item) in spec["paths"].as_object().into_iter().flatten() {
        for op in item.as_object().into_iter().flatten().map(|(_, op)| op) {
            if let Some(id) = op["operationId"].as_str() {
                routes.insert(id.to_string(), format!("/api/v1{path}"));
            }
        }
    }
    routes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each request counts in its own series, found again for the next
    /// request of the same method, route and status.
    #[test]
    fn requests_of_one_kind_share_their_series() {
        let metrics = Metrics::new();
        metrics.observe("GET", "/api/v1/incidents/{reference}", 200, 0.25, 1);
        metrics.observe("GET", "/api/v1/incidents/{reference}", 200, 0.5, 2);
        metrics.observe("GET", "/api/v1/incidents/{reference}", 404, 0.001, 1);
        metrics.observe("PATCH", "/api/v1/incidents/{reference}", 200, 0.003, 4);
        let text = metrics.render();
        let route = r#"route="/api/v1/incidents/{reference}""#;
        for line in [
            format!(r#"debrief_http_requests_total{{method="GET",{route},status="200"}} 2"#),
            format!(r#"debrief_http_requests_total{{method="GET",{route},status="404"}} 1"#),
            format!(r#"debrief_http_requests_total{{method="PATCH",{route},status="200"}} 1"#),
            format!(r#"debrief_sql_statements_total{{method="GET",{route},status="200"}} 3"#),
            format!(r#"debrief_sql_statements_total{{method="PATCH",{route},status="200"}} 4"#),
            format!(
                r#"debrief_http_request_duration_seconds_count{{method="GET",{route},status="200"}} 2"#
            ),
            format!(
                r#"debrief_http_request_duration_seconds_sum{{method="GET",{route},status="200"}} 0.75"#
            ),
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }
}
