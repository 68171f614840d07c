//! Rotating the repository passphrase. pgBackRest cannot re-encrypt a repository: its
//! files are encrypted with keys that its info files keep under the repository passphrase.
//! So a rotation starts new repositories with the new passphrase (repo1, and repo2 when
//! there is a cross-region copy), takes a full backup into each, and keeps the previous
//! ones (now from repo3) readable for restores, written no more: no backup and no WAL
//! reaches them, so nothing new is encrypted with the old passphrase. Once the new
//! repositories' own backups cover the whole retention window, `retire` drops the previous
//! ones from the configuration.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use maturion_cluster::Cluster;
use tracing::info;

use crate::config::{self, Layout, LAST_LIVE_KEY};
use crate::error::{io, BackupError};
use crate::info::{BackupKind, BackupSet};
use crate::passphrase::Passphrase;
use crate::{back_up, list, pgbackrest, start};

#[derive(Debug, Clone)]
pub struct Rotation {
    /// The full backups taken into the new repositories.
    pub backups: Vec<BackupSet>,
    /// The previous passphrase's repositories, from repo3 on.
    pub retiring: Vec<PathBuf>,
    /// From then on the new repositories cover the whole retention window.
    pub retire_after: DateTime<Utc>,
}

/// Moves the backups to `new_repositories` under `passphrase`. Nothing changes unless every
/// step works: on a failure the previous configuration is put back.
pub async fn rotate_passphrase(
    cluster: &Cluster,
    new_repositories: &[PathBuf],
    passphrase: &Passphrase,
) -> Result<Rotation, BackupError> {
    let current = config::read(cluster)?;
    refuse_bad_rotation(&current, new_repositories, passphrase)?;
    start(cluster).await?;
    // The previous repositories' WAL reaches up to now before archive-push leaves them.
    pgbackrest::run(cluster, "check", &[]).await?;
    let previous_text = std::fs::read_to_string(config::config_file(cluster))
        .map_err(io("read the pgBackRest configuration"))?;
    let rotated = current.rotated(new_repositories, passphrase);
    config::write_layout(cluster, &rotated)?;
    match first_backups(cluster, &rotated).await {
        Ok(backups) => Ok(Rotation {
            backups,
            retiring: rotated.retiring,
            retire_after: Utc::now() + Duration::days(rotated.retention_full_days.into()),
        }),
        Err(error) => {
            config::restore_text(cluster, &previous_text)?;
            Err(error)
        }
    }
}

/// Drops the previous passphrase's repositories from the configuration (their files stay
/// for the operator to delete). Refused while they still hold the only backups of part of
/// the retention window, unless `force`.
pub async fn retire_previous(cluster: &Cluster, force: bool) -> Result<Vec<PathBuf>, BackupError> {
    let current = config::read(cluster)?;
    if current.retiring.is_empty() {
        return Err(BackupError::NothingToRetire);
    }
    if !force {
        let info = list(cluster).await?;
        let oldest = info
            .backups
            .iter()
            .filter(|set| set.repository <= LAST_LIVE_KEY && set.kind == BackupKind::Full)
            .map(|set| set.started_at)
            .min()
            .unwrap_or_else(Utc::now);
        let until = oldest + Duration::days(current.retention_full_days.into());
        if Utc::now() < until {
            return Err(BackupError::PreviousStillNeeded { oldest, until });
        }
    }
    config::write_layout(cluster, &current.retired())?;
    info!(retired = ?current.retiring, "previous backup repositories retired");
    Ok(current.retiring)
}

fn refuse_bad_rotation(
    current: &Layout,
    new_repositories: &[PathBuf],
    passphrase: &Passphrase,
) -> Result<(), BackupError> {
    if !current.retiring.is_empty() {
        let paths: Vec<String> = current
            .retiring
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        return Err(BackupError::RotationPending {
            paths: paths.join(", "),
        });
    }
    if new_repositories.len() != current.live.len() {
        return Err(BackupError::RepositoryCount {
            live: current.live.len(),
            given: new_repositories.len(),
        });
    }
    if passphrase.same_as(&current.passphrase) {
        return Err(BackupError::SamePassphrase);
    }
    for path in new_repositories {
        let reused = current.live.iter().any(|live| same_place(live, path));
        if reused || !is_new_or_empty(path) {
            return Err(BackupError::RepositoryInUse { path: path.clone() });
        }
    }
    Ok(())
}

/// The stanza in the new repositories, a check that WAL reaches them, then a full backup
/// into each.
async fn first_backups(cluster: &Cluster, rotated: &Layout) -> Result<Vec<BackupSet>, BackupError> {
    pgbackrest::run(cluster, "stanza-create", &[]).await?;
    pgbackrest::run(cluster, "check", &[]).await?;
    let before = list(cluster).await?;
    let plan: Vec<(u32, BackupKind)> = (1..)
        .take(rotated.live.len())
        .map(|key| (key, BackupKind::Full))
        .collect();
    back_up(cluster, &before, &plan).await
}

fn is_new_or_empty(path: &Path) -> bool {
    match std::fs::read_dir(path) {
        Ok(mut entries) => entries.next().is_none(),
        Err(error) => error.kind() == std::io::ErrorKind::NotFound,
    }
}

fn same_place(a: &Path, b: &Path) -> bool {
    let resolve = |path: &Path| std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    resolve(a) == resolve(b)
}
