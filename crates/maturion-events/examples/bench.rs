//! Runs the event bus benchmark on a private, durable PostgreSQL cluster (fsync and
//! synchronous_commit on, as in production), then stops it.
//!
//!     cargo run --release -p maturion-events --example bench -- [--quick] [--skip-graphile]
//!         [--home DIR] [--node-dir DIR]
//!
//! The `maturion bench events` command runs the same benchmark against the CLI's database.

use std::path::PathBuf;

use anyhow::{Context, Result};
use maturion_cluster::{Cluster, ClusterOptions, StopMode};
use maturion_events::bench::{self, BenchOptions};

const DATABASE: &str = "maturion_bench_events";

#[tokio::main]
async fn main() -> Result<()> {
    // MATURION_LOG=maturion_events=trace shows the worker's stage timings.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MATURION_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut args = std::env::args().skip(1);
    let mut quick = false;
    let mut skip_graphile = false;
    let mut home = PathBuf::from("target/bench-events-cluster");
    let mut node_dir = PathBuf::from("target/bench-node");
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--skip-graphile" => skip_graphile = true,
            "--home" => home = args.next().context("--home needs a folder")?.into(),
            "--node-dir" => node_dir = args.next().context("--node-dir needs a folder")?.into(),
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let home = std::path::absolute(&home)?;
    let cluster = Cluster::new(
        &home,
        ClusterOptions {
            durable: true,
            ..ClusterOptions::default()
        },
    )?;
    let starting = cluster.clone();
    tokio::task::spawn_blocking(move || starting.start()).await??;
    let outcome = run(&cluster, quick, skip_graphile, node_dir).await;
    let stopping = cluster.clone();
    tokio::task::spawn_blocking(move || stopping.stop(StopMode::Fast)).await??;
    outcome
}

async fn run(cluster: &Cluster, quick: bool, skip_graphile: bool, node_dir: PathBuf) -> Result<()> {
    let (server, connection) = cluster
        .config(cluster.superuser(), "postgres")
        .connect(tokio_postgres::NoTls)
        .await?;
    tokio::spawn(connection);
    server
        .batch_execute(&format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        .await?;
    server
        .batch_execute(&format!("CREATE DATABASE {DATABASE}"))
        .await?;
    let (mut admin, connection) = cluster
        .config(cluster.superuser(), DATABASE)
        .connect(tokio_postgres::NoTls)
        .await?;
    tokio::spawn(connection);
    // Every platform set; the bus's own is a no-op once it is in the platform's order.
    maturion_platform::migrate_up(&mut admin).await?;
    maturion_events::migrate_up(&mut admin).await?;

    let mut options = BenchOptions::new(
        cluster.url(cluster.superuser(), DATABASE),
        cluster.url("maturion_app", DATABASE),
    );
    options.node_dir = (!skip_graphile).then_some(node_dir);
    if quick {
        options.events_single = 2_000;
        options.events_batched = 10_000;
        options.workers = vec![2];
        options.graphile_concurrency = vec![16];
        options.latency_seconds = 2.0;
        options.notify_seconds = 2.0;
        options.repeats = 1;
    }
    bench::run(&options).await?;
    server
        .batch_execute(&format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        .await?;
    Ok(())
}
