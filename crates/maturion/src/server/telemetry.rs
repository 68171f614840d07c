//! Metrics in Prometheus text format and the request log: every line of a request carries its
//! request id, and every request counts under its route template (never its raw path, whose
//! ids would make one series per row).

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{MakeSpan, TraceLayer};

use super::backups::BackupOutcome;
use super::scheduler::JobOutcome;

const REQUEST_SECONDS: &str = "http_request_duration_seconds";
/// From 1 ms to 10 s: the range where a request's latency tells something.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The process-wide recorder. A second server in the same process (tests) shares the first's.
pub fn install_recorder() -> Result<PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(REQUEST_SECONDS.to_owned()), &LATENCY_BUCKETS)
        .context("invalid latency buckets")?
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    Ok(HANDLE.get_or_init(|| handle).clone())
}

/// Counts and times each request under its route template and status.
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |path| path.as_str())
        .to_owned();
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let labels = [
        ("method", method),
        ("route", route),
        ("status", response.status().as_u16().to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!(REQUEST_SECONDS, &labels).record(started.elapsed().as_secs_f64());
    response
}

/// A span per request named with its method, path and request id, so that every log line
/// written while serving it carries them.
pub fn trace_layer() -> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, RequestSpan> {
    TraceLayer::new_for_http().make_span_with(RequestSpan)
}

#[derive(Clone, Copy)]
pub struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &axum::http::Request<B>) -> tracing::Span {
        let request_id = request
            .headers()
            .get("x-request-id")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        tracing::info_span!(
            "request",
            method = %request.method(),
            path = %request.uri().path(),
            request_id,
        )
    }
}

pub fn record_job(outcome: &JobOutcome, duration: Duration) {
    metrics::counter!("maturion_job_runs_total", "job" => "maintenance", "outcome" => outcome.label())
        .increment(1);
    metrics::gauge!("maturion_job_last_run_seconds", "job" => "maintenance")
        .set(duration.as_secs_f64());
    metrics::gauge!("maturion_job_last_run_timestamp_seconds", "job" => "maintenance")
        .set(chrono::Utc::now().timestamp() as f64);
    metrics::gauge!("maturion_job_last_run_failed", "job" => "maintenance").set(f64::from(
        u8::from(matches!(outcome, JobOutcome::Failed(_))),
    ));
}

pub fn record_backup(
    outcome: &BackupOutcome,
    duration: Duration,
    last_backup: Option<chrono::DateTime<chrono::Utc>>,
) {
    metrics::counter!("maturion_backup_runs_total", "outcome" => outcome.label()).increment(1);
    metrics::gauge!("maturion_backup_last_run_seconds").set(duration.as_secs_f64());
    metrics::gauge!("maturion_backup_last_run_timestamp_seconds")
        .set(chrono::Utc::now().timestamp() as f64);
    metrics::gauge!("maturion_backup_last_run_failed").set(f64::from(u8::from(matches!(
        outcome,
        BackupOutcome::Failed(_)
    ))));
    if let Some(at) = last_backup {
        metrics::gauge!("maturion_backup_last_success_timestamp_seconds")
            .set(at.timestamp() as f64);
    }
}
