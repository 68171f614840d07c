//! `maturion serve`: the server, on the embedded cluster (migrated first) or an external one.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use maturion_config::{DatabaseTarget, Settings};
use maturion_tenancy::provision::{self, NewOrganisation};

use crate::server::{shutdown_signal, Server};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on (port 0: any free port); default: server.listen
    /// (MATURION_SERVER_LISTEN, 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
}

/// The demo organisation a first start on the embedded default makes.
const DEMO_ORGANISATION: &str = "Demo Organisation";
const DEMO_ADMIN_EMAIL: &str = "admin@demo.example";
const DEMO_ADMIN_NAME: &str = "Demo Administrator";
const DEMO_TOKEN_LIFETIME: Duration = Duration::from_secs(90 * 24 * 3600);

/// On the embedded cluster the schema is brought up to date first, and the first start (no
/// organisation yet) makes a demo organisation whose administrator's token is printed once,
/// so that one command gives a working system; an external server's schema and organisations
/// are its operators' (`maturion migrate up`, `maturion org create`), and `/readyz` says when
/// the schema is behind.
pub async fn run(
    settings: &Settings,
    target: &DatabaseTarget,
    args: ServeArgs,
    lock_wait: Duration,
) -> Result<ExitCode> {
    let mut demo = None;
    if let DatabaseTarget::Embedded { .. } = target {
        let applied =
            maturion_platform::migrate_up_waiting(&mut target.admin().await?, lock_wait).await?;
        tracing::info!(applied = applied.len(), "schema up to date");
        demo = demo_organisation(target).await?;
    } else {
        target.ensure_running().await?;
    }
    let listen = args.listen.unwrap_or(settings.server.listen);
    let server = Server::bind(settings, target, listen).await?;
    let url = server.url()?;
    println!("Maturion is serving on {url}");
    println!("  health:    {url}/healthz");
    println!("  readiness: {url}/readyz");
    println!("  metrics:   {url}/metrics");
    println!("  API docs:  {url}/docs");
    println!("Try: curl -s {url}/readyz");
    if let Some(demo) = demo {
        print_demo(&demo, &url);
    }
    println!("Stop with Ctrl-C.");
    server.run(shutdown_signal()).await?;
    println!("Maturion stopped.");
    Ok(ExitCode::SUCCESS)
}

/// The demo organisation and its administrator, made when the database has no organisation.
async fn demo_organisation(target: &DatabaseTarget) -> Result<Option<NewOrganisation>> {
    let mut client = target.admin().await?;
    client
        .batch_execute(&format!("SET ROLE {}", maturion_schema::MAINTENANCE_ROLE))
        .await?;
    provision::create_first_organisation(
        &mut client,
        DEMO_ORGANISATION,
        DEMO_ADMIN_EMAIL,
        DEMO_ADMIN_NAME,
        DEMO_TOKEN_LIFETIME,
    )
    .await
    .context("cannot create the demo organisation")
}

/// The only time the demo administrator's token is shown: only its SHA-256 is kept.
fn print_demo(demo: &NewOrganisation, url: &str) {
    let expires_at: chrono::DateTime<chrono::Utc> = demo.token.expires_at.into();
    println!(
        "First start: created the organisation {DEMO_ORGANISATION:?} ({})",
        demo.organisation_id
    );
    println!(
        "  administrator: {DEMO_ADMIN_EMAIL} (user {})",
        demo.user_id
    );
    println!(
        "  API token (shown once, expires {}):",
        expires_at.format("%Y-%m-%d")
    );
    println!("    export TOKEN={}", demo.token.token.expose());
    println!("  curl -H \"Authorization: Bearer $TOKEN\" {url}/v1/policies");
}
