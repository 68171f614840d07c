//! The baseline: graphile-worker, installed with npm into a scratch folder and run by a small
//! Node script, fed by the same publishers in Rust (graphile_worker.add_job / add_jobs, as the
//! administrator).

use std::ops::Range;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use indicatif::ProgressBar;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, Statement};

use super::load::{figures, now_micros, plan, slots, Figures, Load, Pace};
use super::Bench;
use maturion_config::connect;

pub(super) struct Graphile {
    dir: PathBuf,
}

const RUNNER: &str = r#"// Written by maturion-bench's event bus benchmark: runs graphile-worker until BENCH_EXPECTED jobs ran,
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
    pub async fn install(dir: &std::path::Path, version: &str) -> Result<Self> {
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

    /// A throughput run or a latency run of `load`, like the bus's, with `concurrency` jobs at
    /// once; with `autocommit`, jobs are added outside any transaction.
    pub async fn run(
        &self,
        bench: &Bench<'_>,
        concurrency: usize,
        load: Load,
        autocommit: bool,
    ) -> Result<Figures> {
        let events = load.events(bench.options);
        let (mut child, mut lines) = self.start(bench, concurrency, events).await?;
        let label = if load.rate.is_some() {
            "graphile latency"
        } else {
            "graphile throughput"
        };
        let progress = crate::bar(events as u64, super::BAR).with_message(label);
        let committed = Arc::new(slots(events));
        let started = now_micros();
        publish(bench, &load, autocommit, &committed, &progress).await?;
        let handled = finish(&mut child, &mut lines).await?;
        progress.finish_and_clear();
        // Jobs are deleted once done; keep the table small between runs anyway.
        bench
            .admin
            .batch_execute("DELETE FROM graphile_worker._private_jobs")
            .await
            .ok();
        Ok(figures(started, &committed, &handled))
    }

    /// Starts the runner for `events` jobs and waits until it is ready.
    async fn start(
        &self,
        bench: &Bench<'_>,
        concurrency: usize,
        events: usize,
    ) -> Result<(Child, Lines<BufReader<ChildStdout>>)> {
        let mut child = tokio::process::Command::new("node")
            .arg("runner.mjs")
            .current_dir(&self.dir)
            .env("BENCH_URL", bench.admin_url.expose())
            .env("BENCH_CONCURRENCY", concurrency.to_string())
            .env("BENCH_EXPECTED", events.to_string())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start node")?;
        let stdout = child.stdout.take().context("node's output is not piped")?;
        let mut lines = BufReader::new(stdout).lines();
        match lines.next_line().await? {
            Some(line) if line == "ready" => {}
            other => bail!("graphile-worker did not start: {other:?}"),
        }
        Ok((child, lines))
    }
}

/// When the runner handled each job (epoch microseconds), once every job ran.
async fn finish(
    child: &mut Child,
    lines: &mut Lines<BufReader<ChildStdout>>,
) -> Result<Vec<AtomicU64>> {
    let line = tokio::time::timeout(Duration::from_secs(300), lines.next_line())
        .await
        .context("graphile-worker did not finish in time")??
        .context("graphile-worker printed no result")?;
    child.wait().await?;
    let handled: Vec<u64> = serde_json::from_str(&line).context("graphile-worker's result")?;
    ensure!(
        handled.iter().all(|h| *h > 0),
        "graphile-worker missed jobs"
    );
    Ok(handled.into_iter().map(AtomicU64::new).collect())
}

/// The publishers of a run, as the bus's, each on its own administrator connection.
async fn publish(
    bench: &Bench<'_>,
    load: &Load,
    autocommit: bool,
    committed: &Arc<Vec<AtomicU64>>,
    progress: &ProgressBar,
) -> Result<()> {
    let publishers = bench.options.publishers;
    let pace = Pace::new(load, publishers);
    let mut tasks = Vec::new();
    for (publisher, transactions) in plan(committed.len(), load.batch, publishers)
        .into_iter()
        .enumerate()
    {
        let (admin, committed, progress) = (
            bench.admin_config.clone(),
            committed.clone(),
            progress.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut queue = Queue::connect(&admin).await?;
            let begin = pace.start(publisher).await;
            for (k, range) in transactions.into_iter().enumerate() {
                pace.wait(begin, k).await;
                queue.add(range.clone(), autocommit).await?;
                let at = now_micros();
                for seq in range.clone() {
                    committed[seq].store(at, Ordering::Relaxed);
                }
                progress.inc(range.len() as u64);
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// A publisher's connection to graphile-worker's queue.
struct Queue {
    client: Client,
    single: Statement,
    many: Statement,
}

impl Queue {
    async fn connect(admin: &Config) -> Result<Self> {
        let client = connect(admin).await?;
        let single = client
            .prepare(
                "SELECT graphile_worker.add_job('bench', json_build_object('seq', $1::bigint))",
            )
            .await?;
        let many = client
            .prepare(
                "SELECT count(*) FROM graphile_worker.add_jobs((SELECT array_agg(ROW('bench', \
                 json_build_object('seq', s), NULL, NULL, NULL, NULL, NULL, NULL)::graphile_worker.job_spec) \
                 FROM unnest($1::bigint[]) s))",
            )
            .await?;
        Ok(Queue {
            client,
            single,
            many,
        })
    }

    /// Adds a job per sequence number: in a transaction of its own (the outbox shape, as the
    /// bus's publishers: BEGIN, enqueue, COMMIT), or with `autocommit` outside any.
    async fn add(&mut self, range: Range<usize>, autocommit: bool) -> Result<()> {
        let seqs: Vec<i64> = range.map(|s| s as i64).collect();
        let statement = if seqs.len() == 1 {
            &self.single
        } else {
            &self.many
        };
        let params: [&(dyn ToSql + Sync); 1] = if seqs.len() == 1 { [&seqs[0]] } else { [&seqs] };
        if autocommit {
            self.client.execute(statement, &params).await?;
        } else {
            let tx = self.client.transaction().await?;
            tx.execute(statement, &params).await?;
            tx.commit().await?;
        }
        Ok(())
    }
}
