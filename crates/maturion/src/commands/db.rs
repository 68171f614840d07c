use std::process::ExitCode;

use anyhow::{bail, Result};
use maturion_cluster::{Cluster, StopMode};
use maturion_config::{DatabaseTarget, StartOutcome};

use crate::cli::DbCommand;

pub async fn run(target: &DatabaseTarget, command: DbCommand) -> Result<ExitCode> {
    match command {
        DbCommand::Url { role } => url(target, role.as_deref()),
        DbCommand::Status => status(target).await,
        DbCommand::Start => start(target).await,
        DbCommand::Stop => stop(embedded(target)?.clone()).await,
    }
}

/// Scripts read this URL, so it is printed as configured, password included. On an external
/// server a role without a URL of its own is an error, never the administrator's URL.
fn url(target: &DatabaseTarget, role: Option<&str>) -> Result<ExitCode> {
    if let DatabaseTarget::Embedded { cluster, .. } = target {
        if !cluster.status()?.initialised {
            bail!(
                "no cluster in {}: start one with `maturion db start` (or `maturion`), or name \
                 another with --home or MATURION_HOME",
                cluster.home().display()
            );
        }
    }
    let url = match role {
        None => target.admin_url(),
        Some(role) => target.url_for(role)?,
    };
    println!("{}", url.expose());
    Ok(ExitCode::SUCCESS)
}

fn embedded(target: &DatabaseTarget) -> Result<&Cluster> {
    match target {
        DatabaseTarget::Embedded { cluster, .. } => Ok(cluster),
        DatabaseTarget::External(_) => bail!(
            "an external server is configured (DATABASE_URL or database.url): that server is \
             managed elsewhere, not by `maturion db`"
        ),
    }
}

async fn start(target: &DatabaseTarget) -> Result<ExitCode> {
    embedded(target)?;
    let said = match target.ensure_running().await? {
        Some(StartOutcome::Initialised) => "initialised and started",
        Some(StartOutcome::Started) => "started",
        Some(StartOutcome::RecoveredFromCrash) => "recovered from a crash and started",
        Some(StartOutcome::AlreadyRunning) | None => "already running",
    };
    println!("embedded cluster {said}: {}", target.admin_url());
    Ok(ExitCode::SUCCESS)
}

async fn stop(cluster: Cluster) -> Result<ExitCode> {
    let was_running = tokio::task::spawn_blocking(move || cluster.stop(StopMode::Fast)).await??;
    println!(
        "{}",
        if was_running {
            "embedded cluster stopped"
        } else {
            "embedded cluster was not running"
        }
    );
    Ok(ExitCode::SUCCESS)
}

async fn status(target: &DatabaseTarget) -> Result<ExitCode> {
    let DatabaseTarget::Embedded { cluster, .. } = target else {
        let client = target.admin().await?;
        let version: String = client.query_one("SHOW server_version", &[]).await?.get(0);
        println!("external server reachable (PostgreSQL {version})");
        return Ok(ExitCode::SUCCESS);
    };
    let inspected = cluster.clone();
    // `pg_ctl status` runs as a child process: off the async worker threads.
    let status = tokio::task::spawn_blocking(move || inspected.status()).await??;
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
        println!("url:         {}", target.admin_url());
    }
    // Scripts test `maturion db status` for "running".
    Ok(if status.running {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}
