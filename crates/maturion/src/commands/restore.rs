//! `maturion restore`: point-in-time recovery of the embedded cluster into a new folder.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use maturion_backup::{RecoveryPoint, RestoreRequest};
use maturion_config::DatabaseTarget;

use crate::commands::backup::{embedded, with_spinner};

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// `latest` (the end of the archived WAL) or a moment: '2026-12-03 01:30:00+00'
    /// (UTC when no offset is given).
    #[arg(long, value_parser = parse_point)]
    pub to: RecoveryPoint,
    /// Home of the recovered cluster (default: <home>/restored/<UTC time>). Its data goes
    /// to pgdata/ inside; it must be empty unless --force.
    #[arg(long, value_name = "DIR")]
    pub target: Option<PathBuf>,
    /// Replace the cluster in --target (stopped first), even the embedded cluster itself.
    #[arg(long)]
    pub force: bool,
    /// Restore from this repository only (e.g. 2 when repo1 is lost, 3 for a previous
    /// passphrase's); default: the first one holding a backup.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=4))]
    pub repo: Option<u32>,
}

pub async fn run(target: &DatabaseTarget, args: RestoreArgs) -> Result<ExitCode> {
    let (cluster, database) = embedded(target)?;
    let folder = args.target.unwrap_or_else(|| {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        cluster.home().join("restored").join(stamp.to_string())
    });
    let request = RestoreRequest {
        target: folder,
        point: args.to,
        force: args.force,
        repository: args.repo,
        database: database.to_owned(),
    };
    let step = maturion_backup::restore(cluster, &request);
    let restored = with_spinner("restoring and replaying WAL", step).await?;
    println!(
        "restored into {} in {:.1} s; running on port {} with {} table(s) in {database}",
        restored.cluster.home().display(),
        restored.recovery_seconds,
        restored.port,
        restored.tables
    );
    if let Some(commit) = restored.last_replayed_commit {
        println!("last transaction recovered: committed at {commit}");
    }
    println!(
        "connect: psql \"{}\"",
        restored.cluster.url(restored.cluster.superuser(), database)
    );
    println!(
        "stop it: maturion --home {} db stop",
        restored.cluster.home().display()
    );
    Ok(ExitCode::SUCCESS)
}

fn parse_point(text: &str) -> Result<RecoveryPoint, String> {
    text.parse()
        .map_err(|error: maturion_backup::BackupError| error.to_string())
}
