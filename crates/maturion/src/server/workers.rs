//! The event bus's workers in the server. A handler is Rust code, so the server runs the
//! subscriptions whose handlers it holds: the platform's own (`platform.permission_log`, the
//! permission log checked against `user_permissions`), registered at start. Other
//! subscriptions in the database are their modules' to run (`maturion_events::Worker` in the
//! module's process); the server only reports their backlog on `/metrics`.
//!
//! Roles: each worker's own connections log in as the administrator and become
//! `maturion_maintenance` (claims for every organisation, BYPASSRLS, no handler code on them);
//! handlers write through tenant transactions of `maturion_app` bound to the event's
//! organisation as the platform service, on a pool of their own.

use std::num::NonZeroUsize;
use std::time::Duration;

use anyhow::{Context, Result};
use maturion_config::{ConnectionUrl, DatabaseTarget};
use maturion_events::permissions::{self, LogCheck};
use maturion_events::{Worker, WorkerOptions};
use maturion_tenancy::Database;
use tokio::sync::watch;

/// How long a failed worker waits before it connects again.
const RESTART_AFTER: Duration = Duration::from_secs(5);
/// Connections of the handlers' pool: one per stream a claim may lease.
const HANDLER_POOL_SIZE: NonZeroUsize = NonZeroUsize::new(4).unwrap();

/// The platform's event workers.
pub struct EventWorkers {
    admin: ConnectionUrl,
    handlers: Database,
}

impl EventWorkers {
    pub fn new(target: &DatabaseTarget, app: &ConnectionUrl) -> Result<Self> {
        let handlers = super::app_pool(app, HANDLER_POOL_SIZE)
            .context("cannot make the event handlers' connection pool")?;
        Ok(EventWorkers {
            admin: target.admin_url(),
            handlers,
        })
    }

    /// Registers the platform's subscriptions, then runs their workers until `stopped` turns
    /// true (a round in progress finishes first). A failure (the database unreachable, or
    /// behind this build) is logged and tried again a little later.
    pub async fn run(self, mut stopped: watch::Receiver<bool>) {
        let subscription = permissions::LOG_CHECK_SUBSCRIPTION;
        while !*stopped.borrow() {
            let mut until = stopped.clone();
            let shutdown = async move {
                let _ = until.wait_for(|stop| *stop).await;
            };
            match self.register_and_run(shutdown).await {
                Ok(()) => break,
                Err(error) => {
                    tracing::warn!(
                        subscription,
                        error = format!("{error:#}"),
                        "event worker stopped; restarting"
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(RESTART_AFTER) => {}
                        _ = stopped.wait_for(|stop| *stop) => {}
                    }
                }
            }
        }
    }

    /// Registers the platform's subscriptions (or updates them; their cursors stay), names the
    /// registered ones this server does not run, and runs the worker.
    async fn register_and_run(
        &self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<()> {
        let maintenance = maintenance(&self.admin).await?;
        maturion_events::subscribe(&maintenance, &permissions::log_check_subscription())
            .await
            .context("cannot register the platform's event subscriptions")?;
        for name in maturion_events::subscriptions(&maintenance).await? {
            if name != permissions::LOG_CHECK_SUBSCRIPTION {
                tracing::info!(
                    subscription = name,
                    "no handler in this server; its module's own process consumes it"
                );
            }
        }
        let worker = Worker::new(
            &self.admin,
            self.handlers.clone(),
            permissions::LOG_CHECK_SUBSCRIPTION,
            LogCheck,
            WorkerOptions::default(),
        )
        .await?;
        Ok(worker.run(shutdown).await?)
    }
}

/// An administrator connection that has become maturion_maintenance.
async fn maintenance(admin: &ConnectionUrl) -> Result<tokio_postgres::Client> {
    let client = maturion_config::connect_url(admin).await?;
    client
        .batch_execute(&format!("SET ROLE {}", maturion_events::MAINTENANCE_ROLE))
        .await?;
    Ok(client)
}

/// `maturion_event_backlog_commits{subscription}` and `maturion_event_dead_letters` of every
/// registered subscription, read at scrape time.
pub async fn record_backlog(admin: &ConnectionUrl) -> Result<()> {
    let client = maintenance(admin).await?;
    for backlog in maturion_events::backlog(&client).await? {
        let subscription = backlog.subscription;
        metrics::gauge!("maturion_event_backlog_commits", "subscription" => subscription.clone())
            .set(backlog.commits as f64);
        metrics::gauge!("maturion_event_dead_letters", "subscription" => subscription)
            .set(backlog.dead_letters as f64);
    }
    Ok(())
}
