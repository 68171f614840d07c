use std::path::PathBuf;
use std::process::ExitStatus;

use maturion_cluster::ClusterError;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "no backup passphrase: set MATURION_BACKUP_PASSPHRASE_FILE to a key file, or \
         MATURION_BACKUP_PASSPHRASE"
    )]
    NoPassphrase,
    #[error("the backup passphrase {0}")]
    BadPassphrase(&'static str),
    #[error(
        "no new backup passphrase: set MATURION_BACKUP_NEW_PASSPHRASE_FILE to a key file, or \
         MATURION_BACKUP_NEW_PASSPHRASE"
    )]
    NoNewPassphrase,
    #[error("the new passphrase is the current one: a rotation needs another")]
    SamePassphrase,
    #[error("the pgBackRest configuration cannot be read back: {0}")]
    BadConfig(&'static str),
    #[error(
        "a rotation is under way: the previous passphrase's repositories ({paths}) must be \
         retired first (`maturion backup rotate-passphrase --retire`)"
    )]
    RotationPending { paths: String },
    #[error(
        "the configuration has {live} repositories (repo1 and the cross-region repo2 are \
         rotated together): give {live} new ones, not {given}"
    )]
    RepositoryCount { live: usize, given: usize },
    #[error(
        "{path} cannot hold a new repository: give a new or empty folder that is none of the \
         current repositories"
    )]
    RepositoryInUse { path: PathBuf },
    #[error("there is no previous passphrase's repository to retire")]
    NothingToRetire,
    #[error(
        "the previous passphrase's repositories still hold the only backups for restores to \
         before {oldest}: retire them after {until} (or pass --force)"
    )]
    PreviousStillNeeded {
        oldest: chrono::DateTime<chrono::Utc>,
        until: chrono::DateTime<chrono::Utc>,
    },
    #[error("backups are not set up for {home}: run `maturion backup setup` first")]
    NotConfigured { home: PathBuf },
    #[error("cannot {action}")]
    Io {
        action: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("pgbackrest {command} failed ({status}): {output}")]
    Pgbackrest {
        command: String,
        status: ExitStatus,
        output: String,
    },
    #[error("cannot read what `pgbackrest info` printed")]
    Info(#[source] serde_json::Error),
    #[error("database error while {action}")]
    Database {
        action: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error(
        "{target} is not empty: restore into a new folder, or pass --force to replace the \
         cluster there (it is stopped first)"
    )]
    TargetNotEmpty { target: PathBuf },
    #[error("`{0}` is not a recovery point: give `latest` or a timestamp such as '2026-12-03 01:30:00+00'")]
    BadRecoveryPoint(String),
    #[error("the restored cluster did not finish recovery within {seconds} s")]
    RecoveryTimeout { seconds: u64 },
    #[error("a background task ended abnormally")]
    Task(#[from] tokio::task::JoinError),
    #[error(transparent)]
    Check(#[from] maturion_check::CheckError),
    #[error(transparent)]
    Audit(#[from] maturion_audit::AuditError),
}

pub(crate) fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackupError {
    let action = action.into();
    move |source| BackupError::Io { action, source }
}

pub(crate) fn db(action: &'static str) -> impl FnOnce(tokio_postgres::Error) -> BackupError {
    move |source| BackupError::Database { action, source }
}
