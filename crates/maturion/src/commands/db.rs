use std::process::ExitCode;

use anyhow::{bail, Result};
use maturion_cluster::{StartOutcome, StopMode};

use crate::cli::DbCommand;
use crate::configuration::Target;

pub async fn run(target: &Target, command: DbCommand) -> Result<ExitCode> {
    match command {
        DbCommand::Url { role } => {
            println!("{}", target.url(&role));
            return Ok(ExitCode::SUCCESS);
        }
        DbCommand::Status => return status(target).await,
        DbCommand::Start | DbCommand::Stop => {}
    }
    let Target::Embedded { cluster, .. } = target else {
        bail!("DATABASE_URL is set: that server is managed elsewhere, not by `maturion db`");
    };
    let cluster = cluster.clone();
    match command {
        DbCommand::Start => {
            let outcome = tokio::task::spawn_blocking(move || cluster.start()).await??;
            target.ensure_running().await?;
            let said = match outcome {
                StartOutcome::Initialised => "initialised and started",
                StartOutcome::Started => "started",
                StartOutcome::RecoveredFromCrash => "recovered from a crash and started",
                StartOutcome::AlreadyRunning => "already running",
            };
            println!("embedded cluster {said}: {}", target.url("postgres"));
        }
        DbCommand::Stop => {
            let was_running =
                tokio::task::spawn_blocking(move || cluster.stop(StopMode::Fast)).await??;
            println!(
                "{}",
                if was_running {
                    "embedded cluster stopped"
                } else {
                    "embedded cluster was not running"
                }
            );
        }
        DbCommand::Status | DbCommand::Url { .. } => unreachable!("handled above"),
    }
    Ok(ExitCode::SUCCESS)
}

async fn status(target: &Target) -> Result<ExitCode> {
    match target {
        Target::External { .. } => {
            let client = target.admin().await?;
            let version: String = client.query_one("SHOW server_version", &[]).await?.get(0);
            println!("external server reachable (PostgreSQL {version})");
            Ok(ExitCode::SUCCESS)
        }
        Target::Embedded { cluster, .. } => {
            let status = cluster.status()?;
            println!("home:        {}", cluster.home().display());
            println!("initialised: {}", status.initialised);
            println!("running:     {}", status.running);
            if let Some(pid) = status.pid {
                println!("pid:         {pid}");
            }
            if let Some(pid) = status.crashed_pid {
                println!("crashed:     pid {pid} ended without shutting down; the next start recovers it");
            }
            if let Some(port) = status.port {
                println!("port:        {port}");
            }
            println!("data:        {}", status.data_dir.display());
            println!("socket dir:  {}", status.socket_dir.display());
            if status.running {
                println!("url:         {}", target.url("postgres"));
            }
            // Scripts test `maturion db status` for "running".
            Ok(if status.running {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(3)
            })
        }
    }
}
