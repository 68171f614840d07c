//! The bus's side: publishers in tenant transactions, workers that record what they handle,
//! and the commit rate of writers with and without a NOTIFY per commit.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use indicatif::ProgressBar;
use maturion_events::{
    publish_all, Delivery, Event, Handler, HandlerError, NewEvent, StartFrom, Subscription, Worker,
    WorkerOptions,
};
use maturion_tenancy::{Database, TenantContext};
use tokio::sync::watch;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_postgres::{Client, Config, NoTls};
use uuid::Uuid;

use super::load::{figures, now_micros, plan, slots, Figures, Load, Pace};
use super::{Bench, STREAMS_PER_CLAIM};
use maturion_config::connect;

/// One bus run of `load` with `workers` workers; `transactional` handlers open their tenant
/// transaction, as a handler that writes would.
pub(super) async fn run(
    bench: &Bench<'_>,
    workers: usize,
    load: Load,
    transactional: bool,
) -> Result<Figures> {
    let events = load.events(bench.options);
    let name = format!("bench_{}", Uuid::new_v4().simple());
    let maintenance = connect(&bench.admin_config).await?;
    maintenance
        .batch_execute("SET ROLE maturion_maintenance")
        .await?;
    maturion_events::subscribe(
        &maintenance,
        &Subscription::new(name.as_str(), &["bench.tick"]).starting_from(StartFrom::Now),
    )
    .await?;
    let label = if load.rate.is_some() {
        "bus latency"
    } else {
        "bus throughput"
    };
    let recorder = Recorder::new(events, label);
    let (stop, running) = start_workers(bench, &name, workers, &recorder, transactional).await?;
    let committed = Arc::new(slots(events));
    let started = now_micros();
    publish(bench, &load, &committed).await?;
    recorder.wait(Duration::from_secs(300)).await?;
    stop.send(true)?;
    for worker in running {
        worker.await??;
    }
    maturion_events::unsubscribe(&maintenance, &name).await?;
    Ok(figures(started, &committed, &recorder.handled))
}

type Running = Vec<JoinHandle<Result<(), maturion_events::EventError>>>;

async fn start_workers(
    bench: &Bench<'_>,
    subscription: &str,
    workers: usize,
    recorder: &Arc<Recorder>,
    transactional: bool,
) -> Result<(watch::Sender<bool>, Running)> {
    let (stop, stopped) = watch::channel(false);
    let mut running = Vec::new();
    for _ in 0..workers {
        let worker_options = WorkerOptions {
            streams_per_claim: STREAMS_PER_CLAIM,
            max_events: 500,
            ..WorkerOptions::default()
        };
        let handler = BenchHandler {
            recorder: recorder.clone(),
            transactional,
        };
        let worker = Worker::new(
            &bench.admin_url,
            bench.app.clone(),
            subscription,
            handler,
            worker_options,
        )
        .await?;
        let mut stopped = stopped.clone();
        running.push(tokio::spawn(worker.run(async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        })));
    }
    Ok((stop, running))
}

/// The publishers of a run, each publishing its share of the plan in tenant transactions
/// (publish_all), recording when each event committed.
async fn publish(bench: &Bench<'_>, load: &Load, committed: &Arc<Vec<AtomicU64>>) -> Result<()> {
    let publishers = bench.options.publishers;
    let pace = Pace::new(load, publishers);
    let mut tasks = Vec::new();
    for (publisher, transactions) in plan(committed.len(), load.batch, publishers)
        .into_iter()
        .enumerate()
    {
        let (app, tenants, committed) =
            (bench.app.clone(), bench.tenants.clone(), committed.clone());
        tasks.push(tokio::spawn(async move {
            let begin = pace.start(publisher).await;
            for (k, range) in transactions.into_iter().enumerate() {
                pace.wait(begin, k).await;
                let context = &tenants[(publisher + k) % tenants.len()];
                publish_range(&app, context, range, &committed).await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

async fn publish_range(
    app: &Database,
    context: &TenantContext,
    range: Range<usize>,
    committed: &[AtomicU64],
) -> Result<()> {
    let tx = app.transaction(context).await?;
    let events: Vec<NewEvent> = range
        .clone()
        .map(|seq| NewEvent::new("bench.tick", "bench").payload(serde_json::json!({ "seq": seq })))
        .collect();
    publish_all(&tx, &events).await?;
    tx.commit().await?;
    let at = now_micros();
    for seq in range {
        committed[seq].store(at, Ordering::Relaxed);
    }
    Ok(())
}

/// Commits/s of `notify_writers` connections publishing one event per transaction for
/// `tenants`; with `notify`, a sleeping worker is registered so that every commit NOTIFYs.
pub(super) async fn commits_per_second(
    bench: &Bench<'_>,
    tenants: &[TenantContext],
    notify: bool,
) -> Result<f64> {
    let sleeper = Uuid::new_v4();
    let listener = if notify {
        bench.admin
            .execute(
                "INSERT INTO maturion.event_waiters (worker_id, subscription, waiting_since) VALUES ($1, 'bench', clock_timestamp())",
                &[&sleeper],
            )
            .await?;
        Some(NotificationCounter::start(&bench.admin_config).await?)
    } else {
        None
    };
    let rate = write_for(bench, tenants).await?;
    if let Some(listener) = listener {
        let seen = listener.stop().await;
        ensure!(
            seen > 0,
            "no NOTIFY arrived while a worker was registered as asleep"
        );
        bench
            .admin
            .execute(
                "DELETE FROM maturion.event_waiters WHERE worker_id = $1",
                &[&sleeper],
            )
            .await?;
    }
    Ok(rate)
}

/// Commits/s of the writers, each publishing for one of `tenants` in turn, for
/// `notify_seconds`.
async fn write_for(bench: &Bench<'_>, tenants: &[TenantContext]) -> Result<f64> {
    let deadline = Instant::now() + Duration::from_secs_f64(bench.options.notify_seconds);
    let commits = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for writer in 0..bench.options.notify_writers {
        let app = bench.app.clone();
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
    Ok(commits.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// Counts NOTIFYs on the bus channel.
pub(super) struct NotificationCounter {
    count: Arc<AtomicU64>,
    task: JoinHandle<()>,
    _client: Client,
}

impl NotificationCounter {
    pub async fn start(admin: &Config) -> Result<Self> {
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
            .batch_execute(&format!("LISTEN {}", maturion_events::NOTIFY_CHANNEL))
            .await?;
        Ok(NotificationCounter {
            count,
            task,
            _client: client,
        })
    }

    pub async fn stop(self) -> u64 {
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
            handled: slots(expected),
            count: AtomicUsize::new(0),
            expected,
            done: Notify::new(),
            progress: crate::bar(expected as u64, super::BAR).with_message(message),
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
