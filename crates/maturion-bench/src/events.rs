//! The event bus benchmark: publish→consume throughput and latency, against graphile-worker
//! on the same PostgreSQL in the same run; and what a NOTIFY per publishing transaction costs.
//!
//! The baseline needs Node.js with npm: graphile-worker is installed into `node_dir` on first
//! use.

mod bus;
mod graphile;
mod load;

use std::path::PathBuf;

use anyhow::Result;
use maturion_config::{ConnectionUrl, DatabaseTarget};
use maturion_tenancy::{Database, TenantContext};
use tokio_postgres::{Client, Config};

use crate::scratch::Scratch;
use graphile::Graphile;
use load::{Figures, Load};

const BENCH_DATABASE: &str = "maturion_bench_events";
/// Organisation streams each bus worker leases and processes at once.
const STREAMS_PER_CLAIM: usize = 8;
const BAR: &str = "{msg:>16} [{bar:40}] {pos}/{len} {eta}";

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Organisations the events are spread over.
    pub organisations: usize,
    /// Concurrent publishing connections (both systems).
    pub publishers: usize,
    /// Events of the throughput runs with one event per transaction…
    pub events_single: usize,
    /// …and with 100 per transaction.
    pub events_batched: usize,
    /// Worker counts tried for the bus (each leases up to 8 streams at a time).
    pub workers: Vec<usize>,
    /// graphile-worker concurrency levels tried (local queue enabled).
    pub graphile_concurrency: Vec<usize>,
    /// Where graphile-worker is installed (npm); `None` skips the baseline.
    pub node_dir: Option<PathBuf>,
    pub graphile_version: String,
    /// Length of each latency run at a fixed rate.
    pub latency_seconds: f64,
    /// Writers and length of the NOTIFY measurement.
    pub notify_writers: usize,
    pub notify_seconds: f64,
    /// Alternating runs of both systems at their best configuration; the medians are compared.
    pub repeats: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            organisations: 16,
            publishers: 8,
            events_single: 10_000,
            events_batched: 50_000,
            workers: vec![2, 4],
            graphile_concurrency: vec![4, 16, 64],
            node_dir: Some(PathBuf::from("target/bench-node")),
            // The newest release that runs on Node 20 (0.18 needs Node 22.18).
            graphile_version: "0.17.3".into(),
            latency_seconds: 5.0,
            notify_writers: 8,
            notify_seconds: 5.0,
            repeats: 3,
        }
    }
}

/// What every run of the benchmark shares.
struct Bench<'a> {
    options: &'a Options,
    /// The administrator of the bench database (also what graphile-worker connects with).
    admin_url: ConnectionUrl,
    admin_config: Config,
    admin: Client,
    /// The application's pool (on an external server, the administrator's).
    app: Database,
    tenants: Vec<TenantContext>,
}

/// Runs everything in a scratch database and prints the report.
pub async fn run(server: &DatabaseTarget, options: &Options) -> Result<()> {
    let scratch = Scratch::create(server, BENCH_DATABASE).await?;
    let outcome = measure(&scratch, options).await;
    scratch.remove().await?;
    outcome
}

async fn measure(scratch: &Scratch, options: &Options) -> Result<()> {
    let admin_url = scratch.target.admin_url();
    if !scratch.app_logs_in_as_itself() {
        eprintln!("note: without a URL for maturion_app the bus's application pool logs in as the administrator");
    }
    let pool_size = options.publishers
        + options.workers.iter().max().copied().unwrap_or(1) * STREAMS_PER_CLAIM
        + 4;
    let app = scratch.app_database(pool_size)?;
    let mut tenants = Vec::new();
    for n in 0..options.organisations {
        let name = format!("Bench {n}");
        tenants.push(
            maturion_testing::organisation_with_admin(&scratch.admin, &name)
                .await?
                .context,
        );
    }
    let bench = Bench {
        options,
        admin_url,
        admin_config: scratch.target.admin_config(),
        admin: scratch.target.admin().await?,
        app,
        tenants,
    };
    print_setting(&bench).await?;
    let quiet = wake_ups(&bench).await?;
    busy_organisation(&bench, quiet).await?;
    let graphile = match &options.node_dir {
        Some(dir) => Some(Graphile::install(dir, &options.graphile_version).await?),
        None => None,
    };
    let mut rows = Vec::new();
    for batch in [1usize, 100] {
        rows.push(batch_row(&bench, graphile.as_ref(), batch).await?);
    }
    print_rows(&rows, options);
    Ok(())
}

async fn print_setting(bench: &Bench<'_>) -> Result<()> {
    let admin = &bench.admin;
    let (server, sync, fsync) = (
        show(admin, "server_version").await?,
        show(admin, "synchronous_commit").await?,
        show(admin, "fsync").await?,
    );
    println!(
        "event bus benchmark: PostgreSQL {server}, synchronous_commit={sync}, fsync={fsync}, {} organisations, {} publishers",
        bench.options.organisations, bench.options.publishers
    );
    println!(
        "  bus workers lease {STREAMS_PER_CLAIM} streams at a time; the handler records the event (no database write) \
         unless said otherwise"
    );
    println!(
        "  publishers (both systems): BEGIN, publish 1 or 100 events (bus: publish_all in a tenant transaction; \
         graphile: add_job / add_jobs), COMMIT"
    );
    Ok(())
}

async fn show(admin: &Client, setting: &str) -> Result<String> {
    Ok(admin
        .query_one(&format!("SHOW {setting}"), &[])
        .await?
        .get(0))
}

/// What NOTIFY per publishing transaction costs writers. Returns the commit rate without.
async fn wake_ups(bench: &Bench<'_>) -> Result<f64> {
    let tenants = &bench.tenants;
    let quiet = bus::commits_per_second(bench, tenants, false).await?;
    let notifying = bus::commits_per_second(bench, tenants, true).await?;
    let quiet_again = bus::commits_per_second(bench, tenants, false).await?;
    let notifying_again = bus::commits_per_second(bench, tenants, true).await?;
    let quiet = (quiet + quiet_again) / 2.0;
    let notifying = (notifying + notifying_again) / 2.0;
    println!();
    println!(
        "Wake-ups: {} writers, one event per transaction, {:.0} s each, twice, alternating",
        bench.options.notify_writers, bench.options.notify_seconds
    );
    println!("  publish without NOTIFY (no worker asleep) {quiet:>8.0} commits/s");
    println!(
        "  publish with NOTIFY every commit          {notifying:>8.0} commits/s   ({:.2}x)",
        notifying / quiet
    );
    Ok(quiet)
}

/// One organisation's publishing commits queue on its ordering lock through the WAL flush.
async fn busy_organisation(bench: &Bench<'_>, quiet: f64) -> Result<()> {
    let (all, one) = (&bench.tenants, &bench.tenants[..1]);
    let alone = bus::commits_per_second(bench, one, false).await?;
    let spread = bus::commits_per_second(bench, all, false).await?;
    let alone_again = bus::commits_per_second(bench, one, false).await?;
    let (alone, spread) = ((alone + alone_again) / 2.0, (spread + quiet) / 2.0);
    println!();
    println!(
        "One busy organisation: the same {} writers, all publishing for one organisation (its commits are \
         numbered one after the other, each holding the organisation's lock through its WAL flush)",
        bench.options.notify_writers
    );
    let spread_label = format!(
        "writers spread over {} organisations",
        all.len().min(bench.options.notify_writers)
    );
    println!("  {spread_label:<41} {spread:>8.0} commits/s");
    println!(
        "  {:<41} {alone:>8.0} commits/s   ({:.2}x)",
        "writers all in one organisation",
        alone / spread
    );
    Ok(())
}

/// Each system at its best configuration for one batch size.
struct Row {
    batch: usize,
    events: usize,
    /// Bus workers and figures.
    ours: (usize, Figures),
    /// graphile-worker concurrency and figures.
    theirs: (usize, Figures),
    /// The steady rate of the latency runs.
    rate: f64,
    our_latency: Figures,
    their_latency: Option<Figures>,
}

async fn batch_row(bench: &Bench<'_>, graphile: Option<&Graphile>, batch: usize) -> Result<Row> {
    let options = bench.options;
    let events = if batch == 1 {
        options.events_single
    } else {
        options.events_batched
    };
    let load = Load::throughput(batch, events);
    let mut ours = best_bus(bench, load).await?;
    let mut theirs = match graphile {
        Some(graphile) => best_graphile(bench, graphile, load).await?,
        None => (0, Figures::default()),
    };
    // Latency: both at the same steady rate, half of the slower one's throughput.
    let slower = if graphile.is_some() {
        ours.1.events_per_second.min(theirs.1.events_per_second)
    } else {
        ours.1.events_per_second
    };
    let rate = (slower / 2.0).max(batch as f64);
    let our_latency = bus::run(bench, ours.0, Load::latency(batch, rate), false).await?;
    let their_latency = match graphile {
        Some(graphile) => Some(
            graphile
                .run(bench, theirs.0, Load::latency(batch, rate), false)
                .await?,
        ),
        None => None,
    };
    confirm(bench, graphile, load, &mut ours, &mut theirs).await?;
    Ok(Row {
        batch,
        events,
        ours,
        theirs,
        rate,
        our_latency,
        their_latency,
    })
}

/// Throughput of every worker count; the best one. Then that count with handlers that open
/// their tenant transaction (the path of handlers that write): one transaction per
/// organisation and batch instead of one bulk acknowledgement.
async fn best_bus(bench: &Bench<'_>, load: Load) -> Result<(usize, Figures)> {
    let batch = load.batch;
    let mut ours = (0, Figures::default());
    for &workers in &bench.options.workers {
        let notifications = bus::NotificationCounter::start(&bench.admin_config).await?;
        let figures = bus::run(bench, workers, load, false).await?;
        let notified = notifications.stop().await;
        println!(
            "  bus          batch {batch:>3}, {workers} workers:        {:>8.0} events/s (p50 {:.1} ms, p99 {:.1} ms at saturation; {notified} NOTIFYs)",
            figures.events_per_second, figures.p50_ms, figures.p99_ms
        );
        if figures.events_per_second > ours.1.events_per_second {
            ours = (workers, figures);
        }
    }
    let transactional = bus::run(bench, ours.0, load, true).await?;
    println!(
        "  bus          batch {batch:>3}, {} workers, handlers in a tenant transaction: {:>8.0} events/s",
        ours.0, transactional.events_per_second
    );
    Ok(ours)
}

/// Throughput of every concurrency level; the best one. Then, for reference, that level with
/// jobs added outside any transaction (not the outbox use case).
async fn best_graphile(
    bench: &Bench<'_>,
    graphile: &Graphile,
    load: Load,
) -> Result<(usize, Figures)> {
    let batch = load.batch;
    let mut theirs = (0, Figures::default());
    for &concurrency in &bench.options.graphile_concurrency {
        let figures = graphile.run(bench, concurrency, load, false).await?;
        println!(
            "  graphile     batch {batch:>3}, concurrency {concurrency:>3}: {:>8.0} events/s (p50 {:.1} ms, p99 {:.1} ms at saturation)",
            figures.events_per_second, figures.p50_ms, figures.p99_ms
        );
        if figures.events_per_second > theirs.1.events_per_second {
            theirs = (concurrency, figures);
        }
    }
    let autocommit = graphile.run(bench, theirs.0, load, true).await?;
    println!(
        "  graphile     batch {batch:>3}, concurrency {:>3}, add_job autocommit (not transactional): {:>8.0} events/s",
        theirs.0, autocommit.events_per_second
    );
    Ok(theirs)
}

/// The machine's load drifts: confirms the throughputs with alternating runs at the best
/// configurations, and keeps the medians.
async fn confirm(
    bench: &Bench<'_>,
    graphile: Option<&Graphile>,
    load: Load,
    ours: &mut (usize, Figures),
    theirs: &mut (usize, Figures),
) -> Result<()> {
    let mut our_runs = vec![ours.1.events_per_second];
    let mut their_runs = vec![theirs.1.events_per_second];
    for _ in 1..bench.options.repeats.max(1) {
        our_runs.push(
            bus::run(bench, ours.0, load, false)
                .await?
                .events_per_second,
        );
        if let Some(graphile) = graphile {
            let figures = graphile.run(bench, theirs.0, load, false).await?;
            their_runs.push(figures.events_per_second);
        }
    }
    println!(
        "  batch {:>3} repeated: bus {} | graphile {} events/s",
        load.batch,
        list(&our_runs),
        list(&their_runs)
    );
    ours.1.events_per_second = median(&mut our_runs);
    theirs.1.events_per_second = median(&mut their_runs);
    Ok(())
}

fn print_rows(rows: &[Row], options: &Options) {
    println!();
    println!("Publish→consume (each system at its best configuration, median of {} alternating runs; latency at a steady rate of half the slower one's throughput)", options.repeats.max(1));
    for row in rows {
        let (ours, theirs, our_latency) = (&row.ours, &row.theirs, &row.our_latency);
        println!(
            "  batch size {} ({} events; latency at {:.0} events/s):",
            row.batch, row.events, row.rate
        );
        println!(
            "    bus ({} workers)           {:>8.0} events/s   p50 {:>6.1} ms   p99 {:>7.1} ms",
            ours.0, ours.1.events_per_second, our_latency.p50_ms, our_latency.p99_ms
        );
        let Some(their_latency) = &row.their_latency else {
            continue;
        };
        println!(
            "    graphile-worker (c={:<3})   {:>8.0} events/s   p50 {:>6.1} ms   p99 {:>7.1} ms",
            theirs.0, theirs.1.events_per_second, their_latency.p50_ms, their_latency.p99_ms
        );
        let ratio = ours.1.events_per_second / theirs.1.events_per_second;
        let verdict = |meets: bool| if meets { "meets" } else { "misses" };
        println!(
            "    ratio {ratio:.2}x ({} goal ≥1.5x); bus p50 {:.1} ms ({} goal ≤10 ms)",
            verdict(ratio >= 1.5),
            our_latency.p50_ms,
            verdict(our_latency.p50_ms <= 10.0),
        );
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn list(values: &[f64]) -> String {
    values
        .iter()
        .map(|v| format!("{v:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}
