//! Operations: liveness (`/healthz`), readiness (`/readyz`), Prometheus metrics (`/metrics`), and the
//! per-request middleware that feeds them and the access log (request id, route, status, latency, user).
//!
//! Metrics live in a registry per [`crate::AppState`] (no process-wide globals), so several servers in one
//! process (tests, benchmarks) keep separate figures.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::AppState;

/// The labels of the HTTP metrics. `route` is the matched route template (`/api/v1/leads/{id}`), never
/// the raw path, so ids don't explode the label space and no PII reaches the metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    /// `leadline_http_requests_total{method,route,status}`
    pub requests: Family<HttpLabels, Counter>,
    /// `leadline_http_request_duration_seconds{method,route}`
    pub latency: Family<RouteLabels, Histogram>,
    /// `leadline_http_requests_in_flight`
    pub in_flight: Gauge,
    /// `leadline_events_delivered_total`: real-time events sent to clients.
    pub events_delivered: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn latency_histogram() -> Histogram {
    // 0.5 ms … ~4 s: the API's targets are p99 < 50 ms, so resolution matters below 100 ms.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.0005, 2.0, 14,
    ))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("leadline");
        let requests = Family::<HttpLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> _);
        let in_flight = Gauge::default();
        let events_delivered = Counter::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request",
            latency.clone(),
        );
        registry.register(
            "http_requests_in_flight",
            "HTTP requests being answered",
            in_flight.clone(),
        );
        registry.register(
            "events_delivered",
            "Real-time events sent to connected clients",
            events_delivered.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            in_flight,
            events_delivered,
        }
    }
}

impl Metrics {
    /// The registry in Prometheus' text exposition format.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// The request id header set on every request (kept when the client or a proxy sent one) and echoed on
/// the response.
pub const REQUEST_ID: &str = "x-request-id";

/// Access log and metrics for one request: runs inside the request's span (see [`crate::router`]), which
/// carries the request id; handlers record the user id on it once they know who is asking.
pub async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let metrics: Arc<Metrics> = state.metrics().clone();
    metrics.in_flight.inc();
    let response = next.run(req).await;
    metrics.in_flight.dec();
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    metrics
        .requests
        .get_or_create(&HttpLabels {
            method: method.clone(),
            route: route.clone(),
            status,
        })
        .inc();
    metrics
        .latency
        .get_or_create(&RouteLabels {
            method: method.clone(),
            route: route.clone(),
        })
        .observe(elapsed.as_secs_f64());
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::error!(%method, %route, status, latency_ms, "request");
    } else {
        tracing::info!(%method, %route, status, latency_ms, "request");
    }
    response
}

/// `GET /healthz`: the process is up and serving (no database access: a load balancer's liveness probe
/// must not restart a healthy process because the database is slow).
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "ops",
    responses((status = 200, description = "The process is up", body = crate::openapi::Health))
)]
pub async fn healthz() -> Response {
    Json(serde_json::json!({"status": "ok"})).into_response()
}

/// `GET /api/v1/version`: who answers (always `leadline`), the release and the sync protocol spoken. No
/// sign-in: a desktop's first-run setup asks it to tell a Leadline server from anything else at the address
/// typed, and an incompatible one from a good one.
#[utoipa::path(
    get,
    path = "/api/v1/version",
    tag = "ops",
    responses((status = 200, description = "This server's identity", body = leadline_model::setup::ServerInfo))
)]
pub async fn version() -> Response {
    Json(leadline_model::setup::ServerInfo::current(env!(
        "CARGO_PKG_VERSION"
    )))
    .into_response()
}

/// `GET /readyz`: the database answers and its schema is at the version this binary expects; 503
/// otherwise (take the node out of rotation).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "ops",
    responses(
        (status = 200, description = "Ready: the database answers at the expected schema version",
         body = crate::openapi::Readiness),
        (status = 503, description = "Not ready (`schema_version_mismatch` or `database_unreachable`)",
         body = crate::openapi::Readiness),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let repo = state.repo();
    match repo.schema_status().await {
        Ok(status) if status.current == status.expected => Json(serde_json::json!({
            "status": "ready",
            "database": format!("{:?}", repo.backend()).to_lowercase(),
            "schema_version": status.current,
        }))
        .into_response(),
        Ok(status) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({
                "status": "unavailable",
                "reason": "schema_version_mismatch",
                "schema_version": status.current,
                "expected_schema_version": status.expected,
            })),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "unavailable", "reason": "database_unreachable"})),
            )
                .into_response()
        }
    }
}

/// `GET /metrics`: Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "ops",
    responses(
        (status = 200, description = "The metrics in OpenMetrics text format",
         content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String),
        (status = 500, description = "Encoding the metrics failed"),
    )
)]
pub async fn metrics(State(state): State<AppState>) -> Response {
    match state.metrics().encode() {
        Ok(text) => {
            let mut response = text.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            );
            response
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
