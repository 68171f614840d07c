//! Monitoring in the server (spec §13): every `monitoring.interval`, the figures gathered as
//! the administrator and the alert rules evaluated; the result is rendered for `/metrics` and
//! what changed is POSTed to `monitoring.webhook_url`. A receiver that is down costs at most
//! the webhook timeout and is told at a later evaluation; nothing here stops the server.

use std::time::Duration;

use maturion_cluster::Cluster;
use maturion_config::{ConnectionUrl, MonitoringSettings};
use maturion_monitor::{Alert, Inputs, Snapshot, Webhook};
use maturion_tenancy::Database;
use tokio::sync::watch;

use super::backups::{BackupOutcome, BackupStatus};
use super::ticker::Ticker;

/// The longest one evaluation may take, however short the interval.
const MIN_EVALUATION_TIMEOUT: Duration = Duration::from_secs(30);

pub struct MonitorJob {
    admin: ConnectionUrl,
    cluster: Option<Cluster>,
    pool: Database,
    backups: Option<watch::Receiver<BackupStatus>>,
    settings: MonitoringSettings,
    webhook: Option<Webhook>,
    /// The gauges of the last evaluation, in Prometheus text format.
    exposition: watch::Sender<String>,
}

impl MonitorJob {
    pub fn new(
        admin: ConnectionUrl,
        cluster: Option<Cluster>,
        pool: Database,
        backups: Option<watch::Receiver<BackupStatus>>,
        settings: &MonitoringSettings,
    ) -> anyhow::Result<Self> {
        let webhook = match &settings.webhook_url {
            Some(url) => Some(Webhook::new(url.clone(), settings.webhook_timeout)?),
            None => None,
        };
        Ok(Self {
            admin,
            cluster,
            pool,
            backups,
            settings: settings.clone(),
            webhook,
            exposition: watch::Sender::new(String::new()),
        })
    }

    pub fn exposition(&self) -> watch::Receiver<String> {
        self.exposition.subscribe()
    }

    /// Evaluates at once, then every interval, until `stop` turns true.
    pub async fn run(mut self, stop: watch::Receiver<bool>) {
        let mut ticker = Ticker::new(self.settings.interval, stop);
        while ticker.next().await {
            self.run_once().await;
        }
    }

    async fn run_once(&mut self) {
        let timeout = self.settings.interval.max(MIN_EVALUATION_TIMEOUT);
        let (snapshot, alerts) = match tokio::time::timeout(timeout, self.evaluate()).await {
            Ok(Ok(evaluation)) => evaluation,
            Ok(Err(error)) => {
                return tracing::error!(error = %format!("{error:#}"), "monitoring failed")
            }
            Err(_) => return tracing::error!(?timeout, "monitoring took too long"),
        };
        for alert in &alerts {
            tracing::warn!(rule = alert.rule.name(), subject = %alert.subject, "{}", alert.summary);
        }
        self.exposition
            .send_replace(maturion_monitor::render_prometheus(&snapshot, &alerts));
        if let Some(webhook) = &mut self.webhook {
            match webhook.deliver(&alerts).await {
                Ok(0) => {}
                Ok(changes) => tracing::info!(changes, "alerts delivered to the webhook"),
                Err(error) => tracing::warn!(%error, "alerts not delivered; tried again next time"),
            }
        }
    }

    async fn evaluate(&self) -> anyhow::Result<(Snapshot, Vec<Alert>)> {
        let mut client = maturion_config::connect_url(&self.admin).await?;
        let inputs = Inputs {
            cluster: self.cluster.as_ref(),
            pool: Some(self.pool.status()),
            backup_run_failure: self.backups.as_ref().and_then(|status| {
                match &status.borrow().outcome {
                    Some(BackupOutcome::Failed(error)) => Some(error.clone()),
                    _ => None,
                }
            }),
            ..Inputs::default()
        };
        let snapshot = maturion_monitor::gather(&mut client, inputs, &self.settings).await?;
        let alerts = maturion_monitor::evaluate(&snapshot, &self.settings);
        Ok((snapshot, alerts))
    }
}
