//! The audit trigger benchmark (what `maturion bench audit` runs) on a private, durable
//! PostgreSQL cluster, for use before the CLI wires it:
//!
//!     cargo run -p maturion-audit --example trigger_overhead -- [HOME] [CLIENTS] [TRANSACTIONS] [ROWS] [ROUNDS]
//!
//! HOME (default /tmp/maturion-audit-bench) holds the cluster; it is stopped afterwards.
//! `AUDIT_BENCH_SETUP_SQL`, if set, runs as the superuser after the migrations: a way to
//! measure what a schema change would do to the ratios (e.g. without audit_log's foreign keys).

use std::path::PathBuf;

use anyhow::{Context, Result};
use maturion_audit::bench::OverheadOptions;
use maturion_cluster::{Cluster, ClusterOptions, StopMode};
use tokio_postgres::{Client, Config, NoTls};

const DATABASE: &str = "maturion_bench_audit";

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let home = PathBuf::from(args.first().map_or("/tmp/maturion-audit-bench", String::as_str));
    let number = |n: usize, default: usize| -> Result<usize> {
        args.get(n).map_or(Ok(default), |a| a.parse().context("options are numbers"))
    };
    let defaults = OverheadOptions::default();
    let options = OverheadOptions {
        clients: number(1, defaults.clients)?,
        transactions: number(2, defaults.transactions)?,
        rows_per_transaction: number(3, defaults.rows_per_transaction)?,
        rounds: number(4, defaults.rounds)?,
    };

    let cluster = Cluster::new(&home, ClusterOptions::default())?;
    cluster.start()?;
    let outcome = run(&cluster, &options).await;
    cluster.stop(StopMode::Fast)?;
    let report = outcome?;
    println!();
    print!("{}", report.render());
    Ok(())
}

async fn run(cluster: &Cluster, options: &OverheadOptions) -> Result<maturion_audit::bench::OverheadReport> {
    let server = connect(&cluster.config(cluster.superuser(), "postgres")).await?;
    server.batch_execute(&format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")).await?;
    server.batch_execute(&format!("CREATE DATABASE {DATABASE}")).await?;
    let mut admin = connect(&cluster.config(cluster.superuser(), DATABASE)).await?;
    maturion_audit::migrate_up(&mut admin).await?;
    if let Ok(sql) = std::env::var("AUDIT_BENCH_SETUP_SQL") {
        println!("experiment: {sql}");
        admin.batch_execute(&sql).await.context("AUDIT_BENCH_SETUP_SQL failed")?;
    }
    let fsync: String = admin.query_one("SHOW fsync", &[]).await?.get(0);
    println!("cluster {} (fsync {fsync})", cluster.home().display());
    let app = cluster.config(maturion_schema::APP_ROLE, DATABASE);
    maturion_audit::bench::trigger_overhead(&admin, || connect(&app), options).await
}

async fn connect(config: &Config) -> Result<Client> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}
