//! The routes: liveness, readiness and metrics. Every error answers `application/problem+json`
//! (RFC 9457).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Json, Router};
use serde_json::{json, Value};

use super::backups::BackupOutcome;
use super::scheduler::JobOutcome;
use super::{AppState, CHECK_TIMEOUT};

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(super::resources::router(&state.catalog))
        .merge(super::docs::router())
        .fallback(not_found)
        .layer(middleware::from_fn(super::telemetry::track))
        .with_state(state)
}

/// The process is up and answering.
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready when the application role reaches the database, every migration of this build is
/// applied, and neither the last periodic job nor the last scheduled backup failed. 503 with
/// the failing checks otherwise.
async fn readyz(State(state): State<AppState>) -> Response {
    let (database, migrations) = tokio::join!(database_check(&state), migrations_check(&state));
    let job = job_check(&state);
    let backups = backup_check(&state);
    let ready = [&database, &migrations, &job, &backups]
        .iter()
        .all(|check| check["ok"] == json!(true));
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "checks": {
            "database": database, "migrations": migrations, "maintenance": job, "backups": backups,
        },
    });
    (status, Json(body)).into_response()
}

async fn database_check(state: &AppState) -> Value {
    let reached = tokio::time::timeout(CHECK_TIMEOUT, async {
        let client = maturion_config::connect_url(&state.app).await?;
        client.simple_query("SELECT 1").await?;
        Ok::<_, anyhow::Error>(())
    })
    .await;
    match reached {
        Ok(Ok(())) => json!({ "ok": true }),
        Ok(Err(error)) => json!({ "ok": false, "error": format!("{error:#}") }),
        Err(_) => json!({ "ok": false, "error": "no answer within the check timeout" }),
    }
}

async fn migrations_check(state: &AppState) -> Value {
    let pending = tokio::time::timeout(CHECK_TIMEOUT, async {
        let mut client = maturion_config::connect_url(&state.admin).await?;
        Ok::<_, anyhow::Error>(maturion_platform::pending_migrations(&mut client).await?)
    })
    .await;
    match pending {
        Ok(Ok(pending)) if pending.is_empty() => json!({ "ok": true }),
        Ok(Ok(pending)) => json!({ "ok": false, "pending": pending }),
        Ok(Err(error)) => json!({ "ok": false, "error": format!("{error:#}") }),
        Err(_) => json!({ "ok": false, "error": "no answer within the check timeout" }),
    }
}

/// Not run yet, succeeded or skipped (another process runs it) are fine; a failure is not.
fn job_check(state: &AppState) -> Value {
    let status = state.jobs.borrow().clone();
    let last_run = status.last_finished.map(|at| at.to_rfc3339());
    let seconds = status.last_duration.map(|duration| duration.as_secs_f64());
    match status.outcome {
        Some(JobOutcome::Failed(error)) => json!({
            "ok": false, "last_run": last_run, "seconds": seconds, "outcome": "failed", "error": error,
        }),
        outcome => json!({
            "ok": true,
            "last_run": last_run,
            "seconds": seconds,
            "outcome": outcome.as_ref().map(JobOutcome::label),
        }),
    }
}

/// A backup that failed is not fine; not set up yet, or an external server's own, is.
fn backup_check(state: &AppState) -> Value {
    let Some(backups) = &state.backups else {
        return json!({ "ok": true, "outcome": "external_server" });
    };
    let status = backups.borrow().clone();
    let last_run = status.last_run.map(|at| at.to_rfc3339());
    let last_backup = status.last_backup.map(|at| at.to_rfc3339());
    match status.outcome {
        Some(BackupOutcome::Failed(error)) => json!({
            "ok": false, "last_run": last_run, "last_backup": last_backup, "outcome": "failed",
            "error": error,
        }),
        outcome => json!({
            "ok": true,
            "last_run": last_run,
            "last_backup": last_backup,
            "outcome": outcome.as_ref().map(BackupOutcome::label),
        }),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    metrics::gauge!("maturion_uptime_seconds").set(state.started.elapsed().as_secs_f64());
    let pool = state.database.status();
    metrics::gauge!("maturion_db_pool_max_connections").set(pool.max_size as f64);
    metrics::gauge!("maturion_db_pool_connections").set(pool.size as f64);
    metrics::gauge!("maturion_db_pool_connections_in_use").set(pool.in_use as f64);
    metrics::gauge!("maturion_db_pool_waiting").set(pool.waiting as f64);
    let backlog = tokio::time::timeout(CHECK_TIMEOUT, super::workers::record_backlog(&state.admin));
    match backlog.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(error = format!("{error:#}"), "no event backlog"),
        Err(_) => tracing::warn!("no event backlog within the check timeout"),
    }
    let mut body = state.metrics.render();
    body.push_str(&state.monitoring.borrow());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

async fn not_found() -> Response {
    problem(StatusCode::NOT_FOUND, "no such resource")
}

/// Errors answered by the layers or by axum itself (413 body too large, 405, 503 timeout…)
/// become problem documents like every other error; their other headers (`Allow`) stay. JSON
/// answers (problem documents, `/readyz`'s checks) are left as they are.
pub async fn problem_for_bare_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/") && value.contains("json"));
    if status.as_u16() < 400 || is_json {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let detail = status.canonical_reason().unwrap_or("error");
    let (problem_parts, body) = problem(status, detail).into_parts();
    parts.headers.extend(problem_parts.headers);
    Response::from_parts(parts, body)
}

/// An RFC 9457 problem document.
pub fn problem(status: StatusCode, detail: &str) -> Response {
    let body = json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}
