//! `maturion serve`: the platform as a running service. An axum server (health, readiness,
//! metrics) with the platform's periodic job and event workers in-process.
//!
//! Requests run on the application role's own login (`maturion_app`), never an owner or a
//! BYPASSRLS role; the periodic job runs on the administrator's connection, which its DDL
//! needs.

mod auth;
mod backups;
mod docs;
mod events;
mod monitoring;
mod openapi;
mod patterns;
mod problem;
mod resources;
mod routes;
mod scheduler;
mod telemetry;
mod ticker;
mod tls;
mod tokens;
mod workers;

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::http::StatusCode;
use axum::serve::ListenerExt;
use axum::Router;
use maturion_api::Catalog;
use maturion_config::{
    ClientTls, ConnectionUrl, DatabaseTarget, PlatformRole, ServerSettings, Settings,
};
use maturion_tenancy::Database;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;

pub use backups::BackupStatus;
pub use scheduler::JobStatus;

/// What every handler may read.
#[derive(Clone)]
pub struct AppState {
    /// The application role's URL (its TLS included).
    pub app: ConnectionUrl,
    /// The pool of the application role's connections that requests run on.
    pub database: Database,
    /// The resources served under `/v1`, read from the catalog at start.
    pub catalog: Arc<Catalog>,
    /// The administrator's URL, for checks that read the migration ledger.
    pub admin: ConnectionUrl,
    pub jobs: watch::Receiver<JobStatus>,
    /// `None` on an external server, whose backups run on its own host.
    pub backups: Option<watch::Receiver<BackupStatus>>,
    pub metrics: Arc<metrics_exporter_prometheus::PrometheusHandle>,
    pub started: Instant,
    /// Becomes true when the server starts shutting down: live streams end then, so that
    /// in-flight requests can finish.
    pub shutdown: watch::Receiver<bool>,
    /// The gauges of the monitoring's last evaluation (spec §13), appended to `/metrics`.
    pub monitoring: watch::Receiver<String>,
}

/// A bound, not yet serving, server: its address is known (port 0 picks a free one).
pub struct Server {
    listener: Listening,
    router: Router,
    scheduler: scheduler::Scheduler,
    backups: Option<backups::BackupJob>,
    workers: workers::EventWorkers,
    shutting_down: watch::Sender<bool>,
    monitoring: monitoring::MonitorJob,
}

impl Server {
    /// Binds `listen` and prepares the routes. Fails when the application role has no URL
    /// of its own (an external server): the service never runs requests as the administrator.
    pub async fn bind(
        settings: &Settings,
        target: &DatabaseTarget,
        listen: SocketAddr,
    ) -> Result<Self> {
        let app = target
            .url_for(PlatformRole::App.name())
            .context("the server runs requests as maturion_app")?;
        let database = app_pool(&app, settings.server.pool_size)?;
        let catalog = Arc::new(served_resources(&app, &target.admin_url()).await?);
        let metrics = Arc::new(telemetry::install_recorder()?);
        let scheduler =
            scheduler::Scheduler::new(target.admin_url(), settings.jobs.maintenance_interval);
        let backups = match target {
            DatabaseTarget::Embedded { cluster, .. } => Some(backups::BackupJob::new(
                cluster.clone(),
                &settings.jobs.backup,
            )),
            DatabaseTarget::External(_) => None,
        };
        let workers = workers::EventWorkers::new(target, &app)?;
        let (shutting_down, shutdown) = watch::channel(false);
        let monitoring = monitoring::MonitorJob::new(
            target.admin_url(),
            match target {
                DatabaseTarget::Embedded { cluster, .. } => Some(cluster.clone()),
                DatabaseTarget::External(_) => None,
            },
            database.clone(),
            backups.as_ref().map(backups::BackupJob::status),
            &settings.monitoring,
        )?;
        let state = AppState {
            app,
            database,
            catalog,
            admin: target.admin_url(),
            jobs: scheduler.status(),
            backups: backups.as_ref().map(backups::BackupJob::status),
            metrics,
            started: Instant::now(),
            shutdown,
            monitoring: monitoring.exposition(),
        };
        let router = with_limits(routes::router(state), &settings.server);
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let listener = match &settings.server.tls {
            None => Listening::Plain(listener),
            Some(tls) => {
                let config = tls.server_config().context(
                    "cannot serve HTTPS with server.tls_certificate and server.tls_private_key",
                )?;
                Listening::Tls(tls::TlsListener::new(listener, config)?)
            }
        };
        Ok(Server {
            listener,
            router,
            scheduler,
            backups,
            workers,
            shutting_down,
            monitoring,
        })
    }

    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(match &self.listener {
            Listening::Plain(listener) => listener.local_addr()?,
            Listening::Tls(listener) => axum::serve::Listener::local_addr(listener)?,
        })
    }

    /// The URL it serves: `https://` with a certificate, else `http://`.
    pub fn url(&self) -> Result<String> {
        let scheme = match self.listener {
            Listening::Plain(_) => "http",
            Listening::Tls(_) => "https",
        };
        Ok(format!("{scheme}://{}", self.local_addr()?))
    }

    /// Serves until `shutdown` completes: then stops accepting, lets in-flight requests
    /// finish, and stops the periodic job between runs (never in the middle of one).
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let (stop, stopped) = watch::channel(false);
        let jobs = tokio::spawn(self.scheduler.run(stopped.clone()));
        let workers = tokio::spawn(self.workers.run(stopped.clone()));
        let monitoring = tokio::spawn(self.monitoring.run(stopped.clone()));
        let backups = self.backups.map(|job| tokio::spawn(job.run(stopped)));
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let shutting_down = self.shutting_down;
        let graceful = async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            shutting_down.send_replace(true);
        };
        let serving = async move {
            match self.listener {
                Listening::Plain(listener) => {
                    axum::serve(listener, service)
                        .with_graceful_shutdown(graceful)
                        .await
                }
                Listening::Tls(listener) => {
                    // tap_io: axum gives connection info (the client's address) to listeners
                    // of its own types, and to any listener so wrapped.
                    axum::serve(listener.tap_io(|_| ()), service)
                        .with_graceful_shutdown(graceful)
                        .await
                }
            }
        };
        let served = serving.await;
        let _ = stop.send(true);
        jobs.await.context("the periodic job task failed")?;
        workers.await.context("the event workers' task failed")?;
        monitoring.await.context("the monitoring task failed")?;
        if let Some(backups) = backups {
            backups.await.context("the backup task failed")?;
        }
        served.context("the server failed")
    }
}

/// Where connections come from: plain TCP, or TCP that has passed a TLS 1.3 handshake.
enum Listening {
    Plain(TcpListener),
    Tls(tls::TlsListener),
}

/// The pool requests run on (`server.pool_size` connections; more requests wait for one), with
/// the TLS the application role's URL asks for.
pub(super) fn app_pool(app: &ConnectionUrl, size: NonZeroUsize) -> Result<Database> {
    let pool = match app.tls() {
        ClientTls::Off => Database::new(app.config().clone(), size.get()),
        ClientTls::Verified { root_certificate } => Database::with_tls(
            app.config().clone(),
            size.get(),
            ClientTls::connector(root_certificate)?,
        ),
    };
    pool.context("cannot make the application role's connection pool")
}

/// The resources of the live catalog, as the application role sees them, less the tables that
/// `maturion check` finds fault with: a table that breaks the architecture is not served.
async fn served_resources(app: &ConnectionUrl, admin: &ConnectionUrl) -> Result<Catalog> {
    let client = maturion_config::connect_url(app).await?;
    let mut catalog = maturion_api::load(&client).await?;
    let admin = maturion_config::connect_url(admin).await?;
    let report = maturion_check::check(&admin, &maturion_check::CheckOptions::default()).await?;
    catalog.resources.retain(|resource| {
        let table = format!("public.{}", resource.name);
        let faulty = report.violations.iter().find(|violation| {
            violation.object == table || violation.object.starts_with(&format!("{table}."))
        });
        if let Some(violation) = faulty {
            tracing::warn!(
                table,
                rule = violation.rule,
                "not served: maturion check finds fault with it"
            );
        }
        faulty.is_none()
    });
    for skipped in &catalog.skipped {
        tracing::info!(table = skipped.table, reason = skipped.reason, "not served");
    }
    Ok(catalog)
}

/// Body limit, per-request timeout, a request id on every request and response, and at most
/// `concurrency_limit` requests at once (more wait their turn).
fn with_limits(router: Router, limits: &ServerSettings) -> Router {
    router
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(telemetry::trace_layer())
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(RequestBodyLimitLayer::new(limits.body_limit_bytes.get()))
                .layer(GlobalConcurrencyLimitLayer::new(
                    limits.concurrency_limit.get(),
                ))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::SERVICE_UNAVAILABLE,
                    limits.request_timeout,
                )),
        )
        .layer(axum::middleware::map_response(
            routes::problem_for_bare_errors,
        ))
}

/// Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
}

/// How long readiness checks may take before the server is called not ready.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);
