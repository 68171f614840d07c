//! The platform's periodic job (`maturion maintain`: partitions, retention, rollups, the audit
//! seal) on an interval. Several server processes may run it: the job's own advisory lock lets
//! one run at a time, and the others skip their turn.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use maturion_config::ConnectionUrl;
use maturion_maintenance::{MaintenanceError, Policy};
use maturion_platform::{PlatformError, RuntimeGuard};
use tokio::sync::watch;

use super::ticker::Ticker;

/// The last run of the periodic job, for `/readyz` and `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct JobStatus {
    pub last_finished: Option<DateTime<Utc>>,
    pub last_duration: Option<Duration>,
    pub outcome: Option<JobOutcome>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    Succeeded,
    /// Another process was running the job.
    Skipped,
    Failed(String),
}

impl JobOutcome {
    pub fn label(&self) -> &'static str {
        match self {
            JobOutcome::Succeeded => "succeeded",
            JobOutcome::Skipped => "skipped",
            JobOutcome::Failed(_) => "failed",
        }
    }
}

pub struct Scheduler {
    admin: ConnectionUrl,
    interval: Duration,
    status: watch::Sender<JobStatus>,
}

impl Scheduler {
    pub fn new(admin: ConnectionUrl, interval: Duration) -> Self {
        Self {
            admin,
            interval,
            status: watch::Sender::new(JobStatus::default()),
        }
    }

    pub fn status(&self) -> watch::Receiver<JobStatus> {
        self.status.subscribe()
    }

    /// Runs the job at once, then every interval, until `stop` turns true. A run in progress
    /// is finished first: each of its steps is a transaction, but a run cut short would be
    /// reported as failed for no reason.
    pub async fn run(self, stop: watch::Receiver<bool>) {
        let mut ticker = Ticker::new(self.interval, stop);
        while ticker.next().await {
            self.run_once().await;
        }
    }

    async fn run_once(&self) {
        let started = Instant::now();
        let outcome = self.attempt().await;
        let duration = started.elapsed();
        match &outcome {
            JobOutcome::Failed(error) => tracing::error!(%error, "periodic job failed"),
            outcome => tracing::info!(outcome = outcome.label(), ?duration, "periodic job"),
        }
        super::telemetry::record_job(&outcome, duration);
        self.status.send_replace(JobStatus {
            last_finished: Some(Utc::now()),
            last_duration: Some(duration),
            outcome: Some(outcome),
        });
    }

    async fn attempt(&self) -> JobOutcome {
        let mut client = match maturion_config::connect_url(&self.admin).await {
            Ok(client) => client,
            Err(error) => return JobOutcome::Failed(error.to_string()),
        };
        let guard = RuntimeGuard::default();
        match maturion_platform::maintain(&mut client, &Policy::default(), &guard, |_| {}).await {
            Ok(_) => JobOutcome::Succeeded,
            Err(PlatformError::Maintenance(MaintenanceError::Busy { .. })) => JobOutcome::Skipped,
            Err(error) => JobOutcome::Failed(error.to_string()),
        }
    }
}
