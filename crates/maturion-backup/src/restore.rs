//! Point-in-time recovery into a data folder of its own, then the recovered cluster is
//! started on a free port and checked.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, Utc};
use maturion_cluster::{Cluster, ClusterOptions, StopMode};
use tracing::info;

use crate::error::{db, BackupError};
use crate::{connect, pgbackrest};

const RECOVERY_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecoveryPoint {
    /// The end of the archived WAL.
    Latest,
    /// Transactions committed up to this moment, none after.
    Time(DateTime<Utc>),
}

impl std::str::FromStr for RecoveryPoint {
    type Err = BackupError;

    /// `latest`, RFC 3339, or `YYYY-MM-DD HH:MM:SS[.ffffff]` with an optional offset (UTC
    /// when absent).
    fn from_str(text: &str) -> Result<Self, BackupError> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("latest") {
            return Ok(Self::Latest);
        }
        let with_offset = DateTime::parse_from_rfc3339(text)
            .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%#z"));
        if let Ok(moment) = with_offset {
            return Ok(Self::Time(moment.with_timezone(&Utc)));
        }
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
            .map(|moment| Self::Time(moment.and_utc()))
            .map_err(|_| BackupError::BadRecoveryPoint(text.to_owned()))
    }
}

#[derive(Debug, Clone)]
pub struct RestoreRequest {
    /// The home of the recovered cluster (its data goes to `pgdata/` inside).
    pub target: PathBuf,
    pub point: RecoveryPoint,
    /// Replace a cluster already in `target` (stopped first).
    pub force: bool,
    /// Restore from this repository only; default: the first that has a backup.
    pub repository: Option<u32>,
    /// The database counted after the start.
    pub database: String,
}

#[derive(Debug, Clone)]
pub struct RestoredCluster {
    pub cluster: Cluster,
    pub port: u16,
    /// The database that was checked.
    pub database: String,
    /// Tables in the checked database.
    pub tables: i64,
    /// The commit time of the last transaction replayed from the WAL, if any was.
    pub last_replayed_commit: Option<DateTime<Utc>>,
    pub recovery_seconds: f64,
}

/// Restores `source`'s backups as `request` says, starts the recovered cluster, waits for
/// it to leave recovery and counts its tables. A restore into the source's own home
/// keeps WAL archiving on (it becomes the primary); anywhere else archiving is off, so
/// the copy never writes into the source's repositories.
pub async fn restore(
    source: &Cluster,
    request: &RestoreRequest,
) -> Result<RestoredCluster, BackupError> {
    let started = Instant::now();
    let in_place = same_folder(source.home(), &request.target);
    let restored = Cluster::new(&request.target, ClusterOptions::default())?;
    prepare_target(&restored, request.force).await?;
    let args = restore_args(&restored, request, in_place);
    info!(target = %request.target.display(), point = ?request.point, "restoring");
    pgbackrest::run(source, "restore", &args).await?;
    restored.adopt_restored()?;
    let starting = restored.clone();
    tokio::task::spawn_blocking(move || starting.start()).await??;
    let client = connect(&restored, &request.database).await?;
    wait_for_promotion(&client).await?;
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE c.relkind IN ('r', 'p')
                        AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                        AND n.nspname NOT LIKE 'pg_toast%'),
                    pg_last_xact_replay_timestamp()",
            &[],
        )
        .await
        .map_err(db("counting the restored tables"))?;
    Ok(RestoredCluster {
        port: restored.status()?.port.unwrap_or_default(),
        cluster: restored,
        database: request.database.clone(),
        tables: row.get(0),
        last_replayed_commit: row.get(1),
        recovery_seconds: started.elapsed().as_secs_f64(),
    })
}

async fn prepare_target(restored: &Cluster, force: bool) -> Result<(), BackupError> {
    let data_dir = restored.data_dir();
    let occupied = std::fs::read_dir(&data_dir).is_ok_and(|mut entries| entries.next().is_some());
    if occupied && !force {
        return Err(BackupError::TargetNotEmpty {
            target: restored.home().to_path_buf(),
        });
    }
    if occupied {
        let stopping = restored.clone();
        tokio::task::spawn_blocking(move || stopping.stop(StopMode::Fast)).await??;
    }
    restored.prepare_restore()?;
    Ok(())
}

fn restore_args(restored: &Cluster, request: &RestoreRequest, in_place: bool) -> Vec<String> {
    let mut args = vec![
        format!("--pg1-path={}", restored.data_dir().display()),
        format!(
            "--archive-mode={}",
            if in_place { "preserve" } else { "off" }
        ),
    ];
    if request.force {
        args.extend(["--delta".to_owned(), "--force".to_owned()]);
    }
    if let Some(key) = request.repository {
        args.push(format!("--repo={key}"));
    }
    match request.point {
        RecoveryPoint::Latest => args.push("--type=default".to_owned()),
        RecoveryPoint::Time(moment) => args.extend([
            "--type=time".to_owned(),
            format!("--target={}", moment.format("%Y-%m-%d %H:%M:%S%.6f+00")),
            "--target-action=promote".to_owned(),
        ]),
    }
    args
}

async fn wait_for_promotion(client: &tokio_postgres::Client) -> Result<(), BackupError> {
    let deadline = Instant::now() + RECOVERY_TIMEOUT;
    loop {
        let in_recovery: bool = client
            .query_one("SELECT pg_is_in_recovery()", &[])
            .await
            .map_err(db("waiting for the end of recovery"))?
            .get(0);
        if !in_recovery {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(BackupError::RecoveryTimeout {
                seconds: RECOVERY_TIMEOUT.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn same_folder(a: &Path, b: &Path) -> bool {
    let resolve = |path: &Path| std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    resolve(a) == resolve(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_points_parse() {
        assert_eq!(
            "latest".parse::<RecoveryPoint>().unwrap(),
            RecoveryPoint::Latest
        );
        let expected = RecoveryPoint::Time(
            DateTime::parse_from_rfc3339("2026-12-03T01:30:00Z")
                .unwrap()
                .with_timezone(&Utc),
        );
        for text in [
            "2026-12-03T01:30:00Z",
            "2026-12-03 02:30:00+01",
            "2026-12-03 01:30:00",
            "2026-12-03 01:30:00.000+00:00",
        ] {
            assert_eq!(text.parse::<RecoveryPoint>().unwrap(), expected, "{text}");
        }
        assert!("yesterday".parse::<RecoveryPoint>().is_err());
        assert!("2026-12-03 01:30:00'; DROP"
            .parse::<RecoveryPoint>()
            .is_err());
    }
}
