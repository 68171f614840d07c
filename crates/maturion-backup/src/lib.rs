//! Backups and point-in-time recovery of the embedded cluster with pgBackRest (spec §9):
//! WAL archiving into one or two encrypted repositories, full/diff/incr backups on the
//! §9.1 schedule, restores to a moment into a new data folder, and drills that prove a
//! restore works and measure RPO and RTO.
//!
//! pgBackRest runs as the server's user with `--config <home>/pgbackrest/pgbackrest.conf`
//! (mode 0600); the repository passphrase lives only in that file, so it is never in a
//! process list or a log.

mod config;
mod drill;
mod error;
mod info;
mod passphrase;
mod pgbackrest;
mod restore;
mod rotation;
mod schedule;

use maturion_cluster::{Cluster, StopMode};
use tokio_postgres::{Client, NoTls};
use tracing::info;

pub use config::{config_file, BackupSettings, LAST_LIVE_KEY, STANZA};
pub use drill::{drill, DrillReport, TableComparison};
pub use error::BackupError;
pub use info::{BackupKind, BackupSet, RepositoryInfo, RepositoryStatus};
pub use passphrase::{
    Passphrase, NEW_PASSPHRASE_FILE_VARIABLE, NEW_PASSPHRASE_VARIABLE, PASSPHRASE_FILE_VARIABLE,
    PASSPHRASE_VARIABLE,
};
pub use restore::{restore, RecoveryPoint, RestoreRequest, RestoredCluster};
pub use rotation::{retire_previous, rotate_passphrase, Rotation};
pub use schedule::Schedule;

use error::db;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetupOutcome {
    /// `archive_mode` changed, which needs a restart of the server.
    pub restarted: bool,
}

/// Writes the configuration, turns WAL archiving on (restarting the cluster when
/// `archive_mode` was off), creates the stanza in every repository and checks that WAL
/// reaches them. Running it again rewrites the configuration (a new repo2, a new
/// passphrase for new repositories).
pub async fn setup(
    cluster: &Cluster,
    settings: &BackupSettings,
    passphrase: &Passphrase,
) -> Result<SetupOutcome, BackupError> {
    start(cluster).await?;
    config::write(cluster, settings, passphrase)?;
    let client = connect(cluster, "postgres").await?;
    let archive_mode: String = client
        .query_one("SHOW archive_mode", &[])
        .await
        .map_err(db("reading archive_mode"))?
        .get(0);
    drop(client);
    let restarted = archive_mode != "on";
    if restarted {
        info!("restarting the cluster to turn WAL archiving on");
        let stopping = cluster.clone();
        tokio::task::spawn_blocking(move || stopping.stop(StopMode::Fast)).await??;
        start(cluster).await?;
    } else {
        connect(cluster, "postgres")
            .await?
            .execute("SELECT pg_reload_conf()", &[])
            .await
            .map_err(db("reloading the configuration"))?;
    }
    pgbackrest::run(cluster, "stanza-create", &[]).await?;
    pgbackrest::run(cluster, "check", &[]).await?;
    Ok(SetupOutcome { restarted })
}

/// One backup of `kind` into every live repository (not a previous passphrase's), repo1
/// first. pgBackRest waits for the WAL the backup needs to be archived, so broken
/// archiving fails the backup.
pub async fn run(cluster: &Cluster, kind: BackupKind) -> Result<Vec<BackupSet>, BackupError> {
    let before = list(cluster).await?;
    let plan: Vec<(u32, BackupKind)> = before
        .repositories
        .iter()
        .filter(|repo| !repo.retiring)
        .map(|repo| (repo.key, kind))
        .collect();
    back_up(cluster, &before, &plan).await
}

/// Into each repository, what `schedule` says is due there (so a repository that missed
/// a backup catches up on its own); empty when nothing is due.
pub async fn run_scheduled(
    cluster: &Cluster,
    schedule: &Schedule,
) -> Result<Vec<BackupSet>, BackupError> {
    let before = list(cluster).await?;
    let now = chrono::Utc::now();
    let plan: Vec<(u32, BackupKind)> = before
        .repositories
        .iter()
        .filter(|repo| !repo.retiring)
        .filter_map(|repo| {
            schedule
                .due(&before, repo.key, now)
                .map(|kind| (repo.key, kind))
        })
        .collect();
    back_up(cluster, &before, &plan).await
}

async fn back_up(
    cluster: &Cluster,
    before: &RepositoryInfo,
    plan: &[(u32, BackupKind)],
) -> Result<Vec<BackupSet>, BackupError> {
    if plan.is_empty() {
        return Ok(Vec::new());
    }
    for (key, kind) in plan {
        info!(repository = key, kind = kind.as_str(), "backing up");
        let args = [format!("--type={}", kind.as_str()), format!("--repo={key}")];
        pgbackrest::run(cluster, "backup", &args).await?;
    }
    let after = list(cluster).await?;
    Ok(after
        .backups
        .into_iter()
        .filter(|set| !before.backups.contains(set))
        .collect())
}

pub async fn list(cluster: &Cluster) -> Result<RepositoryInfo, BackupError> {
    let json = pgbackrest::run(cluster, "info", &["--output=json".to_owned()]).await?;
    info::parse(&json)
}

/// `pgbackrest verify`: every file in the repositories against its recorded checksum.
/// A read of the repository, not a restore: the drill is the proof that restores work.
pub async fn verify(cluster: &Cluster) -> Result<String, BackupError> {
    pgbackrest::run(cluster, "verify", &[]).await
}

async fn start(cluster: &Cluster) -> Result<(), BackupError> {
    let starting = cluster.clone();
    tokio::task::spawn_blocking(move || starting.start()).await??;
    Ok(())
}

pub(crate) async fn connect(cluster: &Cluster, database: &str) -> Result<Client, BackupError> {
    let (client, connection) = cluster
        .config(cluster.superuser(), database)
        .connect(NoTls)
        .await
        .map_err(db("connecting"))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(%error, "database connection closed");
        }
    });
    Ok(client)
}
