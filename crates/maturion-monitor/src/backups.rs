//! Backup recency and health, from pgBackRest's own `info` (maturion-backup reads it) and the
//! outcome of the last scheduled run when the server reports one.

use chrono::{DateTime, Utc};
use maturion_cluster::Cluster;
use serde::Serialize;

use crate::figure::Figure;

/// pgBackRest's verdict on a stanza that exists but holds no backup yet: overdue, not broken.
const NO_VALID_BACKUPS: &str = "no valid backups";
const OK: &str = "ok";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backups {
    /// pgBackRest's status of the stanza and repositories (`ok`), or why they cannot be read.
    pub status: String,
    /// End of the newest backup in any repository.
    pub newest_at: Option<DateTime<Utc>>,
    pub newest_full_at: Option<DateTime<Utc>>,
    /// The server's last scheduled backup failed, with its error.
    pub last_run_failure: Option<String>,
}

impl Backups {
    pub fn failure(&self) -> Option<String> {
        if let Some(error) = &self.last_run_failure {
            return Some(format!("the last scheduled backup failed: {error}"));
        }
        (self.status != OK && self.status != NO_VALID_BACKUPS)
            .then(|| format!("pgBackRest reports {}", self.status))
    }
}

/// The embedded cluster's backups once `maturion backup setup` configured them; an external
/// server's run on its own host, out of our sight.
pub async fn backups(
    cluster: Option<&Cluster>,
    last_run_failure: Option<String>,
) -> Figure<Backups> {
    let Some(cluster) = cluster else {
        return Figure::NotAvailable(
            "an external server's backups run with pgBackRest on its own host: watch them there"
                .to_owned(),
        );
    };
    if !maturion_backup::config_file(cluster).exists() {
        return Figure::NotAvailable(
            "backups are not set up: run `maturion backup setup`".to_owned(),
        );
    }
    let backups = match maturion_backup::list(cluster).await {
        Ok(info) => {
            let status = if info.is_ok() {
                OK.to_owned()
            } else {
                first_problem(&info)
            };
            let newest = |kind| info.last(kind).map(|set| set.stopped_at);
            Backups {
                status,
                newest_at: newest(None),
                newest_full_at: newest(Some(maturion_backup::BackupKind::Full)),
                last_run_failure,
            }
        }
        Err(error) => Backups {
            status: format!("unreadable: {error}"),
            newest_at: None,
            newest_full_at: None,
            last_run_failure,
        },
    };
    Figure::Available(backups)
}

/// A repository (or the stanza) in error first; else `no valid backups` when one has none.
fn first_problem(info: &maturion_backup::RepositoryInfo) -> String {
    let statuses = info
        .repositories
        .iter()
        .map(|repo| (format!("repo{}: {}", repo.key, repo.status), &repo.status))
        .chain([(info.status.clone(), &info.status)]);
    let mut empty = None;
    for (text, status) in statuses {
        match status.as_str() {
            OK => {}
            NO_VALID_BACKUPS => empty = Some(NO_VALID_BACKUPS.to_owned()),
            _ => return text,
        }
    }
    empty.unwrap_or_else(|| OK.to_owned())
}
