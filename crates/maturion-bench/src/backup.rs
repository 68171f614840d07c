//! Backups and recovery with pgBackRest on a cluster of the benchmark's own: a database of
//! the platform's tables (at least 1 GiB by default), a full backup against pg_basebackup of
//! the same cluster, a restore with WAL replay, the RTO extrapolated to 100 GiB, and the RPO
//! achieved when the primary is killed with `kill -9` while a writer commits.
//!
//! Everything happens in a scratch folder (a cluster initialised there, its repository, the
//! copies): never the user's cluster. The folder and its clusters are stopped and removed at
//! the end, on an error and on Ctrl-C or SIGTERM.

mod crash;
mod load;
mod report;
mod scratch;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use maturion_backup::{BackupKind, BackupSettings, Passphrase, RecoveryPoint, RestoreRequest};
use maturion_cluster::{Cluster, ServerBinaries};
use maturion_config::DatabaseTarget;
use rand::distributions::{Alphanumeric, DistString};
use tokio_postgres::Client;

pub use load::LoadSummary;
pub use report::BackupBenchReport;

use crate::bar;
use report::{BACKUP_RATIO_GOAL, EXTRAPOLATED_GIB, RPO_GOAL_SECONDS, RTO_GOAL_SECONDS};
use scratch::ScratchHome;

const DATABASE: &str = "maturion";
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
const LOAD_METHOD: &str = "the platform's write path: maturion.create_organisation, then \
    multi-row INSERTs in transactions bound with each organisation's token (stamps, RLS, \
    search vector and audit trigger all run)";
/// pgBackRest settings quoted in the report, as its configuration file has them.
const REPORTED_SETTINGS: [&str; 3] = ["compress-type=", "process-max=", "repo1-cipher-type="];

#[derive(Debug, Clone)]
pub struct Options {
    /// Size of the platform database to back up.
    pub size_gib: f64,
    /// Where the scratch folder is made (it needs about 4× the size free).
    pub scratch_parent: PathBuf,
    /// The scratch server's archive_timeout.
    pub archive_timeout_secs: u32,
    /// How long the writer commits before the primary is killed.
    pub writer_seconds: f64,
}

/// Measures and returns the figures; the caller prints them.
pub async fn run(options: &Options) -> Result<BackupBenchReport> {
    ensure!(
        options.size_gib.is_finite() && options.size_gib > 0.0 && options.size_gib <= 1024.0,
        "--size-gib must be more than 0 and at most 1024"
    );
    ensure!(
        options.writer_seconds >= 1.0,
        "the writer must run at least 1 s before the kill"
    );
    let mut scratch = ScratchHome::create(&options.scratch_parent)?;
    let outcome = tokio::select! {
        outcome = measure(&mut scratch, options) => outcome,
        signal = interrupted() => Err(anyhow!(
            "interrupted by {signal}: the scratch clusters are stopped and their folder removed"
        )),
    };
    drop(scratch);
    outcome
}

async fn measure(scratch: &mut ScratchHome, options: &Options) -> Result<BackupBenchReport> {
    let primary = scratch.cluster("primary")?;
    let target = DatabaseTarget::Embedded {
        cluster: primary.clone(),
        database: DATABASE.to_owned(),
    };
    let target_bytes = (options.size_gib * GIB) as u64;
    let progress = bar(
        target_bytes,
        "{msg:>20} [{bar:40}] {bytes}/{total_bytes} {elapsed}",
    )
    .with_message("loading");
    let load = load::load(&target, target_bytes, &progress).await?;
    progress.finish_and_clear();

    set_up_backups(&primary, options).await?;
    let admin = target.admin().await?;
    let (sets, pgbackrest_seconds) = {
        checkpoint(&admin).await?;
        timed(
            "full backup, pgBackRest",
            maturion_backup::run(&primary, BackupKind::Full),
        )
        .await?
    };
    let full = sets.first().context("pgBackRest made no backup")?;
    let (_, per_backup_seconds) = {
        checkpoint(&admin).await?;
        let step = maturion_backup::run(&primary, BackupKind::Incr);
        timed("incremental backup with nothing to copy", step).await?
    };
    let (plain_seconds, plain_bytes) = pg_basebackup(scratch, &primary, &admin, &[]).await?;
    let lz4 = ["--format=tar", "--compress=client-lz4"];
    let (lz4_seconds, lz4_bytes) = pg_basebackup(scratch, &primary, &admin, &lz4).await?;

    let lsn_before_writer: String = admin
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await?
        .get(0);
    drop(admin);
    let progress = bar(
        (options.writer_seconds * 1000.0) as u64,
        "{msg:>20} [{bar:40}] {elapsed} of writes",
    )
    .with_message("writing, then kill -9");
    let loss = crash::write_then_kill(&primary, &target, options.writer_seconds, &progress).await?;
    progress.finish_and_clear();

    let restored = restore(scratch, &primary).await?;
    let client = connect(&restored.cluster).await?;
    let recovered = crash::recovered_probes(&client).await?;
    let wal_replayed_bytes = replayed_since(&client, &lsn_before_writer).await?;

    let acknowledged = loss.acknowledged.len();
    let rpo_seconds = if recovered >= acknowledged {
        0.0
    } else {
        let last_recovered = recovered
            .checked_sub(1)
            .map_or(loss.started, |index| loss.acknowledged[index]);
        (loss.acknowledged[acknowledged - 1] - last_recovered).as_secs_f64()
    };
    let cluster_bytes = full.database_bytes;
    let mut report = BackupBenchReport {
        load_method: LOAD_METHOD,
        load,
        cluster_bytes,
        pgbackrest_settings: pgbackrest_settings(&primary)?,
        pgbackrest_full_seconds: pgbackrest_seconds,
        pgbackrest_stored_bytes: full.stored_bytes,
        pgbackrest_per_backup_seconds: per_backup_seconds,
        pg_basebackup_seconds: plain_seconds,
        pg_basebackup_bytes: plain_bytes,
        pg_basebackup_lz4_seconds: lz4_seconds,
        pg_basebackup_lz4_bytes: lz4_bytes,
        backup_ratio: pgbackrest_seconds / plain_seconds,
        backup_ratio_lz4: pgbackrest_seconds / lz4_seconds,
        backup_ratio_goal: BACKUP_RATIO_GOAL,
        wal_replayed_bytes,
        restore_seconds: restored.recovery_seconds,
        rto_100_gib_seconds: restored.recovery_seconds * EXTRAPOLATED_GIB * GIB
            / cluster_bytes.max(1) as f64,
        rto_goal_seconds: RTO_GOAL_SECONDS,
        archive_timeout_seconds: options.archive_timeout_secs,
        writer_seconds: (loss.killed_at - loss.started).as_secs_f64(),
        acknowledged_commits: acknowledged,
        recovered_commits: recovered,
        lost_commits: acknowledged.saturating_sub(recovered),
        rpo_seconds,
        rpo_goal_seconds: RPO_GOAL_SECONDS,
        goals_met: false,
    };
    report.goals_met = report.backup_ratio_met() && report.rto_met() && report.rpo_met();
    Ok(report)
}

/// WAL archiving into an encrypted repository in the scratch folder, with the production
/// settings of `maturion backup setup` and a random passphrase nobody sees.
async fn set_up_backups(primary: &Cluster, options: &Options) -> Result<()> {
    let mut settings = BackupSettings::for_home(primary.home());
    settings.archive_timeout_secs = options.archive_timeout_secs;
    let passphrase = Passphrase::new(&Alphanumeric.sample_string(&mut rand::thread_rng(), 40))?;
    let step = maturion_backup::setup(primary, &settings, &passphrase);
    timed("setting up WAL archiving", step).await?;
    Ok(())
}

/// Both tools start with a checkpoint of their own (fast); this one first writes what the
/// step before left dirty, so that no tool pays for another's writes.
async fn checkpoint(admin: &Client) -> Result<()> {
    admin.batch_execute("CHECKPOINT").await?;
    Ok(())
}

/// Time and size of a pg_basebackup of `primary` into a folder that is removed afterwards.
async fn pg_basebackup(
    scratch: &ScratchHome,
    primary: &Cluster,
    admin: &Client,
    format: &[&str],
) -> Result<(f64, u64)> {
    checkpoint(admin).await?;
    let folder = scratch.owned_folder(primary, "basebackup")?;
    let status = primary.status()?;
    let program = ServerBinaries::find(None)?.dir.join("pg_basebackup");
    let mut command = tokio::process::Command::from(primary.owner_command(program));
    command
        .arg("--pgdata")
        .arg(&folder)
        .arg("--host")
        .arg(&status.socket_dir)
        .arg(format!("--port={}", status.port.unwrap_or_default()))
        .arg(format!("--username={}", primary.superuser()))
        .args(["--wal-method=stream", "--checkpoint=fast", "--no-password"])
        .args(format)
        .kill_on_drop(true);
    let message = format!("full backup, pg_basebackup {}", format.join(" "));
    let (output, seconds) = timed(message.trim_end(), command.output()).await?;
    ensure!(
        output.status.success(),
        "pg_basebackup failed: {}",
        String::from_utf8_lossy(&output.stderr).trim_end()
    );
    let bytes = folder_bytes(&folder);
    std::fs::remove_dir_all(&folder)
        .with_context(|| format!("cannot remove {}", folder.display()))?;
    Ok((seconds, bytes))
}

/// The latest backup and every archived segment into `<scratch>/restored`, started and
/// promoted: what a recovery after the loss of the primary's host does.
async fn restore(
    scratch: &mut ScratchHome,
    primary: &Cluster,
) -> Result<maturion_backup::RestoredCluster> {
    scratch.cluster("restored")?;
    let request = RestoreRequest {
        target: scratch.path("restored"),
        point: RecoveryPoint::Latest,
        force: false,
        repository: None,
        database: DATABASE.to_owned(),
    };
    let step = maturion_backup::restore(primary, &request);
    let (restored, _) = timed("restore + WAL replay", step).await?;
    Ok(restored)
}

async fn replayed_since(client: &Client, lsn: &str) -> Result<u64> {
    let bytes: f64 = client
        .query_one(
            "SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), $1::text::pg_lsn)::float8",
            &[&lsn],
        )
        .await?
        .get(0);
    Ok(bytes.max(0.0) as u64)
}

async fn connect(cluster: &Cluster) -> Result<Client> {
    let config = cluster.config(cluster.superuser(), DATABASE);
    Ok(maturion_config::connect(&config).await?)
}

/// The lines of the scratch configuration that say how pgBackRest compressed, in how many
/// processes, and with which cipher.
fn pgbackrest_settings(primary: &Cluster) -> Result<Vec<String>> {
    let path = maturion_backup::config_file(primary);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text
        .lines()
        .filter(|line| {
            REPORTED_SETTINGS
                .iter()
                .any(|prefix| line.starts_with(prefix))
        })
        .map(str::to_owned)
        .collect())
}

fn folder_bytes(folder: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => folder_bytes(&entry.path()),
            _ => entry.metadata().map_or(0, |meta| meta.len()),
        })
        .sum()
}

/// Runs `step` under a spinner with its elapsed time; returns its output and seconds.
async fn timed<T, E>(message: &str, step: impl Future<Output = Result<T, E>>) -> Result<(T, f64)>
where
    anyhow::Error: From<E>,
{
    let spinner = ProgressBar::new_spinner().with_message(message.to_owned());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        spinner.set_style(style);
    }
    spinner.enable_steady_tick(Duration::from_millis(120));
    let started = Instant::now();
    let outcome = step.await;
    let seconds = started.elapsed().as_secs_f64();
    spinner.finish_and_clear();
    Ok((outcome?, seconds))
}

/// Ctrl-C or SIGTERM, whichever comes first.
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => tokio::select! {
            _ = tokio::signal::ctrl_c() => "Ctrl-C",
            _ = terminate.recv() => "SIGTERM",
        },
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}
