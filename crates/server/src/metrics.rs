//! `GET /metrics`: the server's and the engine's measurements in the Prometheus text format
//! (version 0.0.4), through the Prometheus project's `prometheus-client` crate.
//!
//! Who may read it: like every other route but `/healthz`, `/readyz` and the API's
//! documentation, it needs a bearer token (any user's; a scraper is given one with
//! `authorization` in its scrape configuration). It shows counts by process id and route,
//! which every user may list anyway, and nothing of any instance's data.
//!
//! What it shows (each name starts with `baton_`):
//! - `instances_started_total{process}`, `instances_ended_total{process, status}` (`status`:
//!   `completed`, `failed`, `aborted`): since the server started; a ForEach iteration
//!   counts under its body, `PROCESS/TASK`;
//! - `engine_steps_total`, `engine_step_duration_seconds`, `engine_commit_duration_seconds`;
//! - `jobs_queued{topic}`, `jobs_locked{topic}` (leased to a worker), `timers_due`: read from
//!   the store at each scrape. Jobs that run a command have no topic: they are `topic=""`;
//! - `http_requests_total{method, route, status}`, `http_request_duration_seconds{method,
//!   route}`: `route` is the route's template (`/api/instances/{id}`), never the path asked
//!   for, so the labels stay few; a request no route matched is `route="unmatched"`.
//!
//! The HTTP measurements are kept in the app's registry as they happen; the engine's and the
//! queues' are read when scraped into a registry made for that scrape.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use baton_engine::metrics::{HistogramSnapshot, LATENCY_BUCKETS};
use baton_engine::EngineMetrics;
use baton_store::QueueDepths;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::Acting;
use crate::state::AppState;

/// The labels of one HTTP request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

/// The labels of an HTTP latency.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ProcessLabels {
    process: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct EndedLabels {
    process: String,
    status: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TopicLabels {
    topic: String,
}

type LatencyFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The HTTP measurements of one app.
#[derive(Debug)]
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
        }
    }
}

/// The methods the API answers to; any other is counted as `other`, so a client cannot add
/// label values by making methods up.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware: counts each request by its route's template and status, and times it (until
/// its answer's head is ready; an event stream's body is not counted in its time).
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(request.method());
    let began = Instant::now();
    let response = next.run(request).await;
    let http = &state.metrics;
    http.latency
        .get_or_create(&RouteLabels {
            method,
            route: route.clone(),
        })
        .observe(began.elapsed().as_secs_f64());
    http.requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

/// The server's and the engine's measurements, in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "metrics",
    responses((status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain", body = String), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn metrics(State(state): State<AppState>, Acting(_): Acting) -> ApiResult<Response> {
    let queues = state.service.queue_depths().await?;
    let text = render(&state.metrics, state.service.engine().metrics(), &queues);
    Ok((
        [(
            header::CONTENT_TYPE,
            prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        )],
        text,
    )
        .into_response())
}

/// Every measurement as the text `/metrics` answers with.
fn render(http: &HttpMetrics, engine: &EngineMetrics, queues: &QueueDepths) -> String {
    let mut registry = Registry::with_prefix("baton");

    let started = Family::<ProcessLabels, Counter>::default();
    let ended = Family::<EndedLabels, Counter>::default();
    for (process, counts) in engine.processes() {
        started
            .get_or_create(&ProcessLabels {
                process: process.clone(),
            })
            .inc_by(counts.started);
        for (status, n) in [
            ("completed", counts.completed),
            ("failed", counts.failed),
            ("aborted", counts.aborted),
        ] {
            ended
                .get_or_create(&EndedLabels {
                    process: process.clone(),
                    status,
                })
                .inc_by(n);
        }
    }
    registry.register(
        "instances_started",
        "Instances started, by process",
        started,
    );
    registry.register(
        "instances_ended",
        "Instances that ended, by process and end status (completed, failed, aborted)",
        ended,
    );

    let steps = Counter::<u64>::default();
    steps.inc_by(engine.steps());
    registry.register("engine_steps", "Instance steps the engine committed", steps);
    registry.register(
        "engine_step_duration_seconds",
        "Time from a command to its step's commit, waiting for the instance included",
        Latencies(engine.step_latency()),
    );
    registry.register(
        "engine_commit_duration_seconds",
        "Time the store took to commit steps",
        Latencies(engine.commit_latency()),
    );

    let queued = Family::<TopicLabels, Gauge>::default();
    let locked = Family::<TopicLabels, Gauge>::default();
    // Command jobs (topic "") always have a series, at 0 when none waits.
    queued
        .get_or_create(&TopicLabels {
            topic: String::new(),
        })
        .set(0);
    locked
        .get_or_create(&TopicLabels {
            topic: String::new(),
        })
        .set(0);
    for jobs in &queues.jobs {
        let topic = TopicLabels {
            topic: jobs.topic.clone(),
        };
        queued.get_or_create(&topic).set(gauge(jobs.queued));
        locked.get_or_create(&topic).set(gauge(jobs.leased));
    }
    registry.register(
        "jobs_queued",
        "Jobs waiting for a worker, by topic (\"\": jobs that run a command)",
        queued,
    );
    registry.register(
        "jobs_locked",
        "Jobs leased to a worker now, by topic (\"\": jobs that run a command)",
        locked,
    );
    let timers_due = Gauge::<i64>::default();
    timers_due.set(gauge(queues.timers_due));
    registry.register(
        "timers_due",
        "Timers that are due and not fired yet",
        timers_due,
    );

    registry.register(
        "http_requests",
        "HTTP requests, by method, route template and status",
        http.requests.clone(),
    );
    registry.register(
        "http_request_duration_seconds",
        "Time to answer an HTTP request (to the head of its answer), by method and route template",
        http.latency.clone(),
    );

    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &registry);
    text
}

fn gauge(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// An engine latency histogram as read at the scrape.
#[derive(Debug)]
struct Latencies(HistogramSnapshot);

impl EncodeMetric for Latencies {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_histogram::<NoLabelSet>(self.0.sum, self.0.count, &self.0.buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}
