//! Scheduled backups (spec §9.1) in the server: every `check_interval`, what `maturion backup
//! run --scheduled` does (into each repository, the backup that is due there), once `maturion
//! backup setup` has configured the embedded cluster. Until then each look finds nothing to do.

use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveTime, Utc};
use maturion_backup::Schedule;
use maturion_cluster::Cluster;
use maturion_config::BackupSchedule;
use tokio::sync::watch;

use super::ticker::Ticker;

/// The last look at the schedule, for `/readyz` and `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct BackupStatus {
    pub last_run: Option<DateTime<Utc>>,
    pub outcome: Option<BackupOutcome>,
    /// End of the newest backup in any repository, as pgBackRest lists them.
    pub last_backup: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupOutcome {
    /// Backups were taken (their labels).
    Succeeded(Vec<String>),
    NothingDue,
    /// `maturion backup setup` has not run on this cluster.
    NotSetUp,
    Failed(String),
}

impl BackupOutcome {
    pub fn label(&self) -> &'static str {
        match self {
            Self::Succeeded(_) => "succeeded",
            Self::NothingDue => "nothing_due",
            Self::NotSetUp => "not_set_up",
            Self::Failed(_) => "failed",
        }
    }
}

pub struct BackupJob {
    cluster: Cluster,
    schedule: Schedule,
    check_interval: Duration,
    status: watch::Sender<BackupStatus>,
}

impl BackupJob {
    pub fn new(cluster: Cluster, settings: &BackupSchedule) -> Self {
        let full_at = NaiveTime::from_hms_opt(
            settings.full_at.hour.into(),
            settings.full_at.minute.into(),
            0,
        )
        .expect("a TimeOfDay is a valid time");
        let incremental_every = chrono::Duration::from_std(settings.incremental_every)
            .expect("the settings bound the incremental interval to a week");
        Self {
            cluster,
            schedule: Schedule {
                full_at,
                incremental_every,
            },
            check_interval: settings.check_interval,
            status: watch::Sender::new(BackupStatus::default()),
        }
    }

    pub fn status(&self) -> watch::Receiver<BackupStatus> {
        self.status.subscribe()
    }

    /// Looks at once, then every check interval, until `stop` turns true. A backup in
    /// progress is finished first.
    pub async fn run(self, stop: watch::Receiver<bool>) {
        let mut ticker = Ticker::new(self.check_interval, stop);
        while ticker.next().await {
            self.run_once().await;
        }
    }

    async fn run_once(&self) {
        let started = Instant::now();
        let outcome = self.attempt().await;
        let duration = started.elapsed();
        match &outcome {
            BackupOutcome::Failed(error) => tracing::error!(%error, "scheduled backup failed"),
            BackupOutcome::Succeeded(labels) => {
                tracing::info!(?labels, ?duration, "scheduled backup")
            }
            _ => {}
        }
        let last_backup = self.last_backup().await;
        super::telemetry::record_backup(&outcome, duration, last_backup);
        self.status.send_replace(BackupStatus {
            last_run: Some(Utc::now()),
            outcome: Some(outcome),
            last_backup,
        });
    }

    async fn attempt(&self) -> BackupOutcome {
        if !maturion_backup::config_file(&self.cluster).exists() {
            return BackupOutcome::NotSetUp;
        }
        match maturion_backup::run_scheduled(&self.cluster, &self.schedule).await {
            Ok(made) if made.is_empty() => BackupOutcome::NothingDue,
            Ok(made) => BackupOutcome::Succeeded(made.into_iter().map(|set| set.label).collect()),
            Err(error) => BackupOutcome::Failed(error.to_string()),
        }
    }

    /// The newest backup's end, or none when the repositories cannot be read.
    async fn last_backup(&self) -> Option<DateTime<Utc>> {
        if !maturion_backup::config_file(&self.cluster).exists() {
            return None;
        }
        let info = maturion_backup::list(&self.cluster).await.ok()?;
        info.backups.iter().map(|set| set.stopped_at).max()
    }
}
