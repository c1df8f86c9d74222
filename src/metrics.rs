//! Prometheus metrics: request counts and latencies by route and status.
//! Each application has its own registry, so several can run in one process.

use std::time::Instant;

use std::sync::Arc;

use poem::{Endpoint, IntoResponse, PathPattern, Request, Response, Result};
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("debrief_http_requests_total", "HTTP requests answered, by route and status."),
            &["method", "route", "status"],
        )
        .expect("metric definition is valid");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "debrief_http_request_duration_seconds",
                "Time to answer HTTP requests, by route and status.",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ]),
            &["method", "route", "status"],
        )
        .expect("metric definition is valid");
        registry
            .register(Box::new(requests.clone()))
            .expect("metric registers once");
        registry
            .register(Box::new(latency.clone()))
            .expect("metric registers once");
        Self { registry, requests, latency }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding cannot fail");
        String::from_utf8(buf).unwrap_or_default()
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        let labels = [method, route, status.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.latency.with_label_values(&labels).observe(seconds);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Count and time every request. Routes are labelled by their pattern
/// (`/api/v1/incidents/:reference`), never by the raw path, so the label
/// set stays small.
pub async fn track<E: Endpoint>(metrics: Metrics, next: Arc<E>, req: Request) -> Result<Response> {
    let method = req.method().to_string();
    let start = Instant::now();
    let result = next.call(req).await.map(IntoResponse::into_response);
    let (status, route) = match &result {
        Ok(resp) => (resp.status().as_u16(), resp.data::<PathPattern>().map(|p| p.0.to_string())),
        Err(err) => (err.status().as_u16(), err.data::<PathPattern>().map(|p| p.0.to_string())),
    };
    let route = route.unwrap_or_else(|| "unmatched".to_string());
    metrics.observe(&method, &route, status, start.elapsed().as_secs_f64());
    result
}
