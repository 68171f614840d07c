//! What one measured run publishes, at what pace, and the figures it yields: the same for the
//! bus and for graphile-worker.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::Options;

/// Throughput and latency of one run.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Figures {
    pub events_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Either a throughput run (`rate` None: `events` as fast as possible) or a latency run (a
/// steady `rate` of events/s for `latency_seconds`), in transactions of `batch` events.
#[derive(Debug, Clone, Copy)]
pub(super) struct Load {
    pub batch: usize,
    pub events: usize,
    pub rate: Option<f64>,
}

impl Load {
    pub fn throughput(batch: usize, events: usize) -> Self {
        Load {
            batch,
            events,
            rate: None,
        }
    }

    pub fn latency(batch: usize, rate: f64) -> Self {
        Load {
            batch,
            events: 0,
            rate: Some(rate),
        }
    }

    /// Events of the run: a latency run's rate over its length, in whole transactions.
    pub fn events(&self, options: &Options) -> usize {
        match self.rate {
            Some(rate) => {
                ((rate * options.latency_seconds) as usize / self.batch).max(1) * self.batch
            }
            None => self.events,
        }
    }
}

/// When each publisher sends its transactions: at once, or (at a rate) every `interval`,
/// the publishers staggered over one interval.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pace {
    interval: Option<Duration>,
    publishers: usize,
}

impl Pace {
    pub fn new(load: &Load, publishers: usize) -> Self {
        Pace {
            interval: load
                .rate
                .map(|rate| Duration::from_secs_f64(load.batch as f64 * publishers as f64 / rate)),
            publishers,
        }
    }

    /// Waits for `publisher`'s turn to start; returns when its schedule began.
    pub async fn start(&self, publisher: usize) -> Instant {
        let begin = Instant::now();
        if let Some(interval) = self.interval {
            tokio::time::sleep(interval.mul_f64(publisher as f64 / self.publishers as f64)).await;
        }
        begin
    }

    /// Waits until the `k`th transaction of a schedule that began at `begin` is due.
    pub async fn wait(&self, begin: Instant, k: usize) {
        if let Some(interval) = self.interval {
            tokio::time::sleep_until((begin + interval * k as u32).into()).await;
        }
    }
}

/// The transactions of a run: `events` sequence numbers in transactions of `batch`, dealt
/// round-robin to the publishers and, within each, to the organisations.
pub(super) fn plan(events: usize, batch: usize, publishers: usize) -> Vec<Vec<Range<usize>>> {
    let mut plan = vec![Vec::new(); publishers];
    for (index, start) in (0..events).step_by(batch).enumerate() {
        plan[index % publishers].push(start..(start + batch).min(events));
    }
    plan
}

/// One slot per event, for when it committed or was handled (epoch microseconds).
pub(super) fn slots(events: usize) -> Vec<AtomicU64> {
    (0..events).map(|_| AtomicU64::new(0)).collect()
}

pub(super) fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

pub(super) fn figures(started: u64, committed: &[AtomicU64], handled: &[AtomicU64]) -> Figures {
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
