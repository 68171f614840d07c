//! `maturion serve`: the server, on the embedded cluster (migrated first) or an external one.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use maturion_config::{DatabaseTarget, Settings};

use crate::server::{shutdown_signal, Server};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on (port 0: any free port); default: server.listen
    /// (MATURION_SERVER_LISTEN, 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
}

/// On the embedded cluster the schema is brought up to date first, so that one command gives
/// a working system; an external server's schema is its operators' (`maturion migrate up`),
/// and `/readyz` says when it is behind.
pub async fn run(
    settings: &Settings,
    target: &DatabaseTarget,
    args: ServeArgs,
    lock_wait: Duration,
) -> Result<ExitCode> {
    if let DatabaseTarget::Embedded { .. } = target {
        let applied =
            maturion_platform::migrate_up_waiting(&mut target.admin().await?, lock_wait).await?;
        tracing::info!(applied = applied.len(), "schema up to date");
    } else {
        target.ensure_running().await?;
    }
    let listen = args.listen.unwrap_or(settings.server.listen);
    let server = Server::bind(settings, target, listen).await?;
    let url = format!("http://{}", server.local_addr()?);
    println!("Maturion is serving on {url}");
    println!("  health:    {url}/healthz");
    println!("  readiness: {url}/readyz");
    println!("  metrics:   {url}/metrics");
    println!("Try: curl -s {url}/readyz");
    println!("Stop with Ctrl-C.");
    server.run(shutdown_signal()).await?;
    println!("Maturion stopped.");
    Ok(ExitCode::SUCCESS)
}
