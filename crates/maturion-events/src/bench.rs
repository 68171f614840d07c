//! The event bus benchmark: publish→consume throughput and latency, against graphile-worker
//! on the same PostgreSQL in the same run; and what a NOTIFY per publishing transaction costs.
//!
//! Not a test: it prints figures and ratios. It needs a database with the platform and event
//! bus migrations applied, an administrator URL and a `maturion_app` URL for it, and (for the
//! baseline) Node.js with npm: graphile-worker is installed into `node_dir` on first use.

use std::path::PathBuf;
use std::process::Stdio;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, ensure, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use maturion_tenancy::{Database, OrganisationId, TenantContext, UserId};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::Notify;
use tokio_postgres::{Client, Config, NoTls};
use uuid::Uuid;

use crate::{
    publish_all, Delivery, Event, Handler, HandlerError, NewEvent, StartFrom, Subscription, Worker,
    WorkerOptions,
};

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Administrator of the bench database (also what graphile-worker connects with).
    pub admin_url: String,
    /// `maturion_app` on the same database.
    pub app_url: String,
    /// Organisations the events are spread over.
    pub organisations: usize,
    /// Concurrent publishing connections (both systems).
    pub publishers: usize,
    /// Events of the throughput runs with one event per transaction…
    pub events_single: usize,
    /// …and with 100 per transaction.
    pub events_batched: usize,
    /// Worker counts tried for the bus (each leases up to 4 streams at a time).
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

impl BenchOptions {
    pub fn new(admin_url: String, app_url: String) -> Self {
        BenchOptions {
            admin_url,
            app_url,
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

/// Organisation streams each bus worker leases and processes at once.
const STREAMS_PER_CLAIM: usize = 8;

/// Throughput and latency of one run.
#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    events_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Runs everything and prints the report.
pub async fn run(options: &BenchOptions) -> Result<()> {
    let admin_config = Config::from_str(&options.admin_url).context("admin URL")?;
    let app_config = Config::from_str(&options.app_url).context("app URL")?;
    let admin = connect(&admin_config).await?;
    let pool_size = options.publishers
        + options.workers.iter().max().copied().unwrap_or(1) * STREAMS_PER_CLAIM
        + 4;
    let app = Database::new(app_config, pool_size)?;
    let tenants = provision(&admin, options.organisations).await?;
    let server: String = admin.query_one("SHOW server_version", &[]).await?.get(0);
    let sync: String = admin
        .query_one("SHOW synchronous_commit", &[])
        .await?
        .get(0);
    let fsync: String = admin.query_one("SHOW fsync", &[]).await?.get(0);
    println!(
        "event bus benchmark: PostgreSQL {server}, synchronous_commit={sync}, fsync={fsync}, {} organisations, {} publishers",
        options.organisations, options.publishers
    );
    println!(
        "  bus workers lease {STREAMS_PER_CLAIM} streams at a time; the handler records the event (no database write) \
         unless said otherwise"
    );
    println!(
        "  publishers (both systems): BEGIN, publish 1 or 100 events (bus: publish_all in a tenant transaction; \
         graphile: add_job / add_jobs), COMMIT"
    );

    // 1. What NOTIFY per publishing transaction costs writers.
    let quiet = commits_per_second(&admin, &app, &tenants, options, false).await?;
    let notifying = commits_per_second(&admin, &app, &tenants, options, true).await?;
    let quiet_again = commits_per_second(&admin, &app, &tenants, options, false).await?;
    let notifying_again = commits_per_second(&admin, &app, &tenants, options, true).await?;
    let quiet = (quiet + quiet_again) / 2.0;
    let notifying = (notifying + notifying_again) / 2.0;
    println!();
    println!(
        "Wake-ups: {} writers, one event per transaction, {:.0} s each, twice, alternating",
        options.notify_writers, options.notify_seconds
    );
    println!("  publish without NOTIFY (no worker asleep) {quiet:>8.0} commits/s");
    println!(
        "  publish with NOTIFY every commit          {notifying:>8.0} commits/s   ({:.2}x)",
        notifying / quiet
    );

    // 2. One organisation's publishing commits queue on its ordering lock through the WAL flush.
    let alone = commits_per_second(&admin, &app, &tenants[..1], options, false).await?;
    let spread = commits_per_second(&admin, &app, &tenants, options, false).await?;
    let alone_again = commits_per_second(&admin, &app, &tenants[..1], options, false).await?;
    let (alone, spread) = ((alone + alone_again) / 2.0, (spread + quiet) / 2.0);
    println!();
    println!(
        "One busy organisation: the same {} writers, all publishing for one organisation (its commits are \
         numbered one after the other, each holding the organisation's lock through its WAL flush)",
        options.notify_writers
    );
    let spread_label = format!(
        "writers spread over {} organisations",
        tenants.len().min(options.notify_writers)
    );
    println!("  {spread_label:<41} {spread:>8.0} commits/s");
    println!(
        "  {:<41} {alone:>8.0} commits/s   ({:.2}x)",
        "writers all in one organisation",
        alone / spread
    );

    let graphile = match &options.node_dir {
        Some(dir) => Some(Graphile::install(dir, &options.graphile_version).await?),
        None => None,
    };

    let mut rows = Vec::new();
    for batch in [1usize, 100] {
        let events = if batch == 1 {
            options.events_single
        } else {
            options.events_batched
        };
        // Throughput: publish as fast as the publishers can while the consumers run.
        let mut ours = (0, Figures::default(), 0u64);
        for &workers in &options.workers {
            let notifications = NotificationCounter::start(&admin_config).await?;
            let figures = bus_run(
                &admin_config,
                &app,
                &tenants,
                options,
                workers,
                batch,
                events,
                None,
                false,
            )
            .await?;
            let notified = notifications.stop().await;
            println!(
                "  bus          batch {batch:>3}, {workers} workers:        {:>8.0} events/s (p50 {:.1} ms, p99 {:.1} ms at saturation; {notified} NOTIFYs)",
                figures.events_per_second, figures.p50_ms, figures.p99_ms
            );
            if figures.events_per_second > ours.1.events_per_second {
                ours = (workers, figures, notified);
            }
        }
        // The same with handlers that open their tenant transaction (the path of handlers that
        // write): one transaction per organisation and batch instead of one bulk acknowledgement.
        let transactional = bus_run(
            &admin_config,
            &app,
            &tenants,
            options,
            ours.0,
            batch,
            events,
            None,
            true,
        )
        .await?;
        println!(
            "  bus          batch {batch:>3}, {} workers, handlers in a tenant transaction: {:>8.0} events/s",
            ours.0, transactional.events_per_second
        );
        let mut theirs = (0, Figures::default());
        if let Some(graphile) = &graphile {
            for &concurrency in &options.graphile_concurrency {
                let figures = graphile
                    .run(&admin, options, concurrency, batch, events, None, false)
                    .await?;
                println!(
                    "  graphile     batch {batch:>3}, concurrency {concurrency:>3}: {:>8.0} events/s (p50 {:.1} ms, p99 {:.1} ms at saturation)",
                    figures.events_per_second, figures.p50_ms, figures.p99_ms
                );
                if figures.events_per_second > theirs.1.events_per_second {
                    theirs = (concurrency, figures);
                }
            }
            // For reference: jobs added outside any transaction (not the outbox use case).
            let autocommit = graphile
                .run(&admin, options, theirs.0, batch, events, None, true)
                .await?;
            println!(
                "  graphile     batch {batch:>3}, concurrency {:>3}, add_job autocommit (not transactional): {:>8.0} events/s",
                theirs.0, autocommit.events_per_second
            );
        }
        // Latency: both at the same steady rate, half of the slower one's throughput.
        let slower = if graphile.is_some() {
            ours.1.events_per_second.min(theirs.1.events_per_second)
        } else {
            ours.1.events_per_second
        };
        let rate = (slower / 2.0).max(batch as f64);
        let our_latency = bus_run(
            &admin_config,
            &app,
            &tenants,
            options,
            ours.0,
            batch,
            0,
            Some(rate),
            false,
        )
        .await?;
        let their_latency = match &graphile {
            Some(graphile) => Some(
                graphile
                    .run(&admin, options, theirs.0, batch, 0, Some(rate), false)
                    .await?,
            ),
            None => None,
        };
        // The machine's load drifts: confirm the throughputs with alternating runs at the
        // best configurations and compare medians.
        let mut our_runs = vec![ours.1.events_per_second];
        let mut their_runs = vec![theirs.1.events_per_second];
        for _ in 1..options.repeats.max(1) {
            let figures = bus_run(
                &admin_config,
                &app,
                &tenants,
                options,
                ours.0,
                batch,
                events,
                None,
                false,
            )
            .await?;
            our_runs.push(figures.events_per_second);
            if let Some(graphile) = &graphile {
                let figures = graphile
                    .run(&admin, options, theirs.0, batch, events, None, false)
                    .await?;
                their_runs.push(figures.events_per_second);
            }
        }
        println!(
            "  batch {batch:>3} repeated: bus {} | graphile {} events/s",
            list(&our_runs),
            list(&their_runs)
        );
        ours.1.events_per_second = median(&mut our_runs);
        theirs.1.events_per_second = median(&mut their_runs);
        rows.push((
            batch,
            events,
            ours,
            theirs,
            rate,
            our_latency,
            their_latency,
        ));
    }

    println!();
    println!("Publish→consume (each system at its best configuration, median of {} alternating runs; latency at a steady rate of half the slower one's throughput)", options.repeats.max(1));
    for (batch, events, ours, theirs, rate, our_latency, their_latency) in rows {
        println!("  batch size {batch} ({events} events; latency at {rate:.0} events/s):");
        println!(
            "    bus ({} workers)           {:>8.0} events/s   p50 {:>6.1} ms   p99 {:>7.1} ms",
            ours.0, ours.1.events_per_second, our_latency.p50_ms, our_latency.p99_ms
        );
        if let Some(their_latency) = their_latency {
            println!(
                "    graphile-worker (c={:<3})   {:>8.0} events/s   p50 {:>6.1} ms   p99 {:>7.1} ms",
                theirs.0, theirs.1.events_per_second, their_latency.p50_ms, their_latency.p99_ms
            );
            let ratio = ours.1.events_per_second / theirs.1.events_per_second;
            println!(
                "    ratio {ratio:.2}x ({} goal ≥1.5x); bus p50 {:.1} ms ({} goal ≤10 ms)",
                if ratio >= 1.5 { "meets" } else { "misses" },
                our_latency.p50_ms,
                if our_latency.p50_ms <= 10.0 {
                    "meets"
                } else {
                    "misses"
                },
            );
        }
    }
    Ok(())
}

async fn connect(config: &Config) -> Result<Client> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

async fn provision(admin: &Client, organisations: usize) -> Result<Vec<TenantContext>> {
    let mut tenants = Vec::new();
    for n in 0..organisations {
        let organisation = OrganisationId::generate();
        let user = UserId::generate();
        admin
            .execute(
                "INSERT INTO organisations (id, name) VALUES ($1, $2)",
                &[&organisation, &format!("Bench {n}")],
            )
            .await?;
        admin
            .execute(
                "INSERT INTO users (id, organisation_id, email, full_name, role, created_by) \
                 VALUES ($1, $2, $3, 'Bench', 'admin', $1)",
                &[&user, &organisation, &format!("bench{n}@example.org")],
            )
            .await?;
        tenants.push(TenantContext::new(organisation).with_user(user));
    }
    Ok(tenants)
}

/// Commits/s of `notify_writers` connections publishing one event per transaction; with
/// `notify`, a sleeping worker is registered so that every commit NOTIFYs.
async fn commits_per_second(
    admin: &Client,
    app: &Database,
    tenants: &[TenantContext],
    options: &BenchOptions,
    notify: bool,
) -> Result<f64> {
    let sleeper = Uuid::new_v4();
    let listener = if notify {
        admin
            .execute(
                "INSERT INTO maturion.event_waiters (worker_id, subscription, waiting_since) VALUES ($1, 'bench', clock_timestamp())",
                &[&sleeper],
            )
            .await?;
        Some(NotificationCounter::start(&Config::from_str(&options.admin_url)?).await?)
    } else {
        None
    };
    let deadline = Instant::now() + Duration::from_secs_f64(options.notify_seconds);
    let commits = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for writer in 0..options.notify_writers {
        let app = app.clone();
        let context = tenants[writer % tenants.len()].clone();
        let commits = commits.clone();
        writers.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let tx = app.transaction(&context).await?;
                publish_all(&tx, &[NewEvent::new("bench.notify", "bench")]).await?;
                tx.commit().await?;
                commits.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    let started = Instant::now();
    for writer in writers {
        writer.await??;
    }
    let rate = commits.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    if let Some(listener) = listener {
        let seen = listener.stop().await;
        ensure!(
            seen > 0,
            "no NOTIFY arrived while a worker was registered as asleep"
        );
        admin
            .execute(
                "DELETE FROM maturion.event_waiters WHERE worker_id = $1",
                &[&sleeper],
            )
            .await?;
    }
    Ok(rate)
}

/// Counts NOTIFYs on the bus channel.
struct NotificationCounter {
    count: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
    _client: Client,
}

impl NotificationCounter {
    async fn start(admin: &Config) -> Result<Self> {
        use futures_util::StreamExt;
        let (client, mut connection) = admin.connect(NoTls).await?;
        let count = Arc::new(AtomicU64::new(0));
        let counted = count.clone();
        // Polling the messages also drives the connection, so LISTEN below completes.
        let task = tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(Ok(message)) = messages.next().await {
                if let tokio_postgres::AsyncMessage::Notification(_) = message {
                    counted.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        client
            .batch_execute(&format!("LISTEN {}", crate::NOTIFY_CHANNEL))
            .await?;
        Ok(NotificationCounter {
            count,
            task,
            _client: client,
        })
    }

    async fn stop(self) -> u64 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.task.abort();
        self.count.load(Ordering::Relaxed)
    }
}

/// Records when each sequence number was first handled.
struct Recorder {
    handled: Vec<AtomicU64>,
    count: AtomicUsize,
    expected: usize,
    done: Notify,
    progress: ProgressBar,
}

impl Recorder {
    fn new(expected: usize, message: &'static str) -> Arc<Self> {
        Arc::new(Recorder {
            handled: (0..expected).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicUsize::new(0),
            expected,
            done: Notify::new(),
            progress: bar(expected as u64, message),
        })
    }

    fn record(&self, seq: usize) {
        let Some(slot) = self.handled.get(seq) else {
            return;
        };
        if slot
            .compare_exchange(0, now_micros(), Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.progress.inc(1);
            if self.count.fetch_add(1, Ordering::Relaxed) + 1 == self.expected {
                self.done.notify_one();
            }
        }
    }

    async fn wait(&self, timeout: Duration) -> Result<()> {
        if self.count.load(Ordering::Relaxed) < self.expected {
            tokio::time::timeout(timeout, self.done.notified())
                .await
                .with_context(|| {
                    format!(
                        "only {} of {} events consumed in time",
                        self.count.load(Ordering::Relaxed),
                        self.expected
                    )
                })?;
        }
        self.progress.finish_and_clear();
        Ok(())
    }
}

struct BenchHandler {
    recorder: Arc<Recorder>,
    /// Open the tenant transaction, as a handler that writes would.
    transactional: bool,
}

impl Handler for BenchHandler {
    async fn handle(&self, delivery: &mut Delivery, event: &Event) -> Result<(), HandlerError> {
        if self.transactional {
            delivery.transaction().await?;
        }
        let seq = event
            .payload
            .as_ref()
            .and_then(|p| p["seq"].as_u64())
            .ok_or("no seq")?;
        self.recorder.record(seq as usize);
        Ok(())
    }
}

/// The transactions of a run: `events` sequence numbers in transactions of `batch`, dealt
/// round-robin to the publishers and, within each, to the organisations.
fn plan(events: usize, batch: usize, publishers: usize) -> Vec<Vec<std::ops::Range<usize>>> {
    let mut plan = vec![Vec::new(); publishers];
    for (index, start) in (0..events).step_by(batch).enumerate() {
        plan[index % publishers].push(start..(start + batch).min(events));
    }
    plan
}

/// Either a throughput run (`rate` None: `events` as fast as possible) or a latency run (a
/// steady `rate` of events/s for `latency_seconds`).
#[allow(clippy::too_many_arguments)]
async fn bus_run(
    admin: &Config,
    app: &Database,
    tenants: &[TenantContext],
    options: &BenchOptions,
    workers: usize,
    batch: usize,
    events: usize,
    rate: Option<f64>,
    transactional: bool,
) -> Result<Figures> {
    let events = match rate {
        Some(rate) => ((rate * options.latency_seconds) as usize / batch).max(1) * batch,
        None => events,
    };
    let name = format!("bench_{}", Uuid::new_v4().simple());
    let maintenance = connect(admin).await?;
    maintenance
        .batch_execute("SET ROLE maturion_maintenance")
        .await?;
    crate::subscribe(
        &maintenance,
        &Subscription::new(name.as_str(), &["bench.tick"]).starting_from(StartFrom::Now),
    )
    .await?;

    let recorder = Recorder::new(
        events,
        if rate.is_some() {
            "bus latency"
        } else {
            "bus throughput"
        },
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut running = Vec::new();
    for _ in 0..workers {
        let worker_options = WorkerOptions {
            streams_per_claim: STREAMS_PER_CLAIM,
            max_events: 500,
            ..WorkerOptions::default()
        };
        let worker = Worker::new(
            admin,
            app.clone(),
            &name,
            BenchHandler {
                recorder: recorder.clone(),
                transactional,
            },
            worker_options,
        )
        .await?;
        let mut stopped = stopped.clone();
        running.push(tokio::spawn(worker.run(async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        })));
    }

    let committed: Arc<Vec<AtomicU64>> = Arc::new((0..events).map(|_| AtomicU64::new(0)).collect());
    let started = now_micros();
    let publishers = plan(events, batch, options.publishers);
    let mut tasks = Vec::new();
    for (publisher, transactions) in publishers.into_iter().enumerate() {
        let app = app.clone();
        let tenants = tenants.to_vec();
        let committed = committed.clone();
        let interval = rate
            .map(|rate| Duration::from_secs_f64(batch as f64 * options.publishers as f64 / rate));
        let publishers = options.publishers;
        tasks.push(tokio::spawn(async move {
            let begin = Instant::now();
            if let Some(interval) = interval {
                // Stagger the publishers over one interval.
                tokio::time::sleep(interval.mul_f64(publisher as f64 / publishers as f64)).await;
            }
            for (k, range) in transactions.into_iter().enumerate() {
                if let Some(interval) = interval {
                    let due = begin + interval * k as u32;
                    tokio::time::sleep_until(due.into()).await;
                }
                let context = &tenants[(publisher + k) % tenants.len()];
                let tx = app.transaction(context).await?;
                let events: Vec<NewEvent> = range
                    .clone()
                    .map(|seq| {
                        NewEvent::new("bench.tick", "bench")
                            .payload(serde_json::json!({ "seq": seq }))
                    })
                    .collect();
                publish_all(&tx, &events).await?;
                tx.commit().await?;
                let at = now_micros();
                for seq in range {
                    committed[seq].store(at, Ordering::Relaxed);
                }
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    recorder.wait(Duration::from_secs(300)).await?;
    stop.send(true)?;
    for worker in running {
        worker.await??;
    }
    crate::unsubscribe(&maintenance, &name).await?;
    Ok(figures(started, &committed, &recorder.handled))
}

fn figures(started: u64, committed: &[AtomicU64], handled: &[AtomicU64]) -> Figures {
    let handled: Vec<u64> = handled.iter().map(|h| h.load(Ordering::Relaxed)).collect();
    let last = handled.iter().copied().max().unwrap_or(started);
    let mut latencies: Vec<f64> = committed
        .iter()
        .zip(&handled)
        .map(|(c, h)| (*h as f64 - c.load(Ordering::Relaxed) as f64).max(0.0) / 1000.0)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    Figures {
        events_per_second: handled.len() as f64 / ((last - started) as f64 / 1e6).max(1e-6),
        p50_ms: percentile(0.5),
        p99_ms: percentile(0.99),
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

fn bar(length: u64, message: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(length).with_message(message);
    bar.set_style(
        ProgressStyle::with_template("{msg:>16} [{bar:40}] {pos}/{len} {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar
}

/// graphile-worker, installed with npm into a scratch folder and run by a small Node script.
struct Graphile {
    dir: PathBuf,
}

const RUNNER: &str = r#"// Written by maturion-events' benchmark: runs graphile-worker until BENCH_EXPECTED jobs ran,
// then prints when each ran (epoch microseconds, indexed by payload.seq) as one JSON line.
import { run, Logger } from "graphile-worker";

const expected = Number(process.env.BENCH_EXPECTED);
const concurrency = Number(process.env.BENCH_CONCURRENCY);
const handled = new Array(expected).fill(0);
let count = 0;
let finish;
const finished = new Promise((resolve) => (finish = resolve));
const runner = await run({
  connectionString: process.env.BENCH_URL,
  concurrency,
  maxPoolSize: Math.max(10, concurrency + 2),
  pollInterval: 1000,
  noHandleSignals: true,
  logger: new Logger(() => () => {}),
  preset: {
    worker: {
      localQueue: { size: Math.max(50, 2 * concurrency) },
      completeJobBatchDelay: 0,
      failJobBatchDelay: 0,
    },
  },
  taskList: {
    bench: async (payload) => {
      if (handled[payload.seq] === 0) {
        handled[payload.seq] = Math.round((performance.timeOrigin + performance.now()) * 1000);
        if (++count === expected) finish();
      }
    },
  },
});
console.log("ready");
if (expected > 0) await finished;
await runner.stop();
console.log(JSON.stringify(handled));
"#;

impl Graphile {
    async fn install(dir: &std::path::Path, version: &str) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let installed = dir.join("node_modules/graphile-worker/package.json");
        let wanted = format!("\"version\": \"{version}\"");
        let current = std::fs::read_to_string(&installed).unwrap_or_default();
        if !current.contains(&wanted) {
            if !dir.join("package.json").exists() {
                std::fs::write(dir.join("package.json"), "{\"name\": \"maturion-bench-node\", \"private\": true, \"type\": \"module\"}\n")?;
            }
            println!(
                "installing graphile-worker@{version} into {} (npm)",
                dir.display()
            );
            let status = tokio::process::Command::new("npm")
                .args([
                    "install",
                    "--no-audit",
                    "--no-fund",
                    &format!("graphile-worker@{version}"),
                ])
                .current_dir(dir)
                .status()
                .await
                .context(
                    "cannot run npm (Node.js and npm are needed for the graphile-worker baseline)",
                )?;
            ensure!(
                status.success(),
                "npm install graphile-worker@{version} failed"
            );
        }
        std::fs::write(dir.join("runner.mjs"), RUNNER)?;
        Ok(Graphile {
            dir: dir.to_path_buf(),
        })
    }

    /// A throughput run (`rate` None) or a latency run at `rate` events/s, like [`bus_run`]:
    /// the same publishers in Rust (graphile_worker.add_job / add_jobs, as the administrator),
    /// the jobs run by Node.
    #[allow(clippy::too_many_arguments)]
    async fn run(
        &self,
        admin: &Client,
        options: &BenchOptions,
        concurrency: usize,
        batch: usize,
        events: usize,
        rate: Option<f64>,
        autocommit: bool,
    ) -> Result<Figures> {
        let events = match rate {
            Some(rate) => ((rate * options.latency_seconds) as usize / batch).max(1) * batch,
            None => events,
        };
        let mut child = tokio::process::Command::new("node")
            .arg("runner.mjs")
            .current_dir(&self.dir)
            .env("BENCH_URL", &options.admin_url)
            .env("BENCH_CONCURRENCY", concurrency.to_string())
            .env("BENCH_EXPECTED", events.to_string())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start node")?;
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        match lines.next_line().await? {
            Some(line) if line == "ready" => {}
            other => bail!("graphile-worker did not start: {other:?}"),
        }
        let progress = bar(
            events as u64,
            if rate.is_some() {
                "graphile latency"
            } else {
                "graphile throughput"
            },
        );
        let committed: Arc<Vec<AtomicU64>> =
            Arc::new((0..events).map(|_| AtomicU64::new(0)).collect());
        let started = now_micros();
        let admin_config = Config::from_str(&options.admin_url)?;
        let mut tasks = Vec::new();
        for (publisher, transactions) in plan(events, batch, options.publishers)
            .into_iter()
            .enumerate()
        {
            let committed = committed.clone();
            let progress = progress.clone();
            let admin_config = admin_config.clone();
            let interval = rate.map(|rate| {
                Duration::from_secs_f64(batch as f64 * options.publishers as f64 / rate)
            });
            let publishers = options.publishers;
            tasks.push(tokio::spawn(async move {
                let mut client = connect(&admin_config).await?;
                let single = client.prepare("SELECT graphile_worker.add_job('bench', json_build_object('seq', $1::bigint))").await?;
                let many = client
                    .prepare(
                        "SELECT count(*) FROM graphile_worker.add_jobs((SELECT array_agg(ROW('bench', \
                         json_build_object('seq', s), NULL, NULL, NULL, NULL, NULL, NULL)::graphile_worker.job_spec) \
                         FROM unnest($1::bigint[]) s))",
                    )
                    .await?;
                let begin = Instant::now();
                if let Some(interval) = interval {
                    tokio::time::sleep(interval.mul_f64(publisher as f64 / publishers as f64)).await;
                }
                for (k, range) in transactions.into_iter().enumerate() {
                    if let Some(interval) = interval {
                        tokio::time::sleep_until((begin + interval * k as u32).into()).await;
                    }
                    let seqs: Vec<i64> = range.clone().map(|s| s as i64).collect();
                    let statement = if seqs.len() == 1 { &single } else { &many };
                    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] =
                        if seqs.len() == 1 { [&seqs[0]] } else { [&seqs] };
                    if autocommit {
                        client.execute(statement, &params).await?;
                    } else {
                        // The outbox shape, as the bus's publishers: BEGIN, enqueue, COMMIT.
                        let tx = client.transaction().await?;
                        tx.execute(statement, &params).await?;
                        tx.commit().await?;
                    }
                    let at = now_micros();
                    for seq in range {
                        committed[seq].store(at, Ordering::Relaxed);
                    }
                    progress.inc(seqs.len() as u64);
                }
                anyhow::Ok(())
            }));
        }
        for task in tasks {
            task.await??;
        }
        let line = tokio::time::timeout(Duration::from_secs(300), lines.next_line())
            .await
            .context("graphile-worker did not finish in time")??
            .context("graphile-worker printed no result")?;
        child.wait().await?;
        progress.finish_and_clear();
        let handled: Vec<u64> = serde_json::from_str(&line).context("graphile-worker's result")?;
        ensure!(
            handled.iter().all(|h| *h > 0),
            "graphile-worker missed jobs"
        );
        let handled: Vec<AtomicU64> = handled.into_iter().map(AtomicU64::new).collect();
        // Jobs are deleted once done; keep the table small between runs anyway.
        admin
            .batch_execute("DELETE FROM graphile_worker._private_jobs")
            .await
            .ok();
        Ok(figures(started, &committed, &handled))
    }
}
