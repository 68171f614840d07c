//! Benchmarks print figures and ratios measured in one run, against a baseline in that run.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::SliceRandom;
use tokio_postgres::Client;
use uuid::Uuid;

use crate::cli::BenchCommand;
use crate::configuration::Target;

const BENCH_DATABASE: &str = "maturion_bench_rls";
/// Organisations that get a 10,000-row tenant list; the rest share the remaining rows.
const LARGE_ORGANISATIONS: usize = 10;
const LARGE_ORGANISATION_ROWS: usize = 10_000;

pub async fn run(target: &Target, command: BenchCommand) -> Result<ExitCode> {
    match command {
        BenchCommand::Rls {
            organisations,
            rows,
            iterations,
        } => {
            rls(target, organisations, rows, iterations).await?;
        }
        BenchCommand::Ingest(args) => return super::maintain::bench_ingest(target, args).await,
        BenchCommand::Events(args) => return super::events::bench(target, args).await,
        BenchCommand::Audit(args) => return super::audit::bench(target, args).await,
    }
    Ok(ExitCode::SUCCESS)
}

/// A benchmark's own database on the target server, laid out as in production: created afresh
/// (a leftover of an interrupted run is dropped first), every platform migration applied, and
/// the logs' monthly partitions made by the maintenance job, so that writes land in this
/// month's partition rather than the default one. Returns the database's target and an
/// administrator session in it.
pub(super) async fn scratch_database(target: &Target, name: &str) -> Result<(Target, Client)> {
    let server = target.server_admin().await?;
    server
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    server
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await?;
    let bench = target.with_database(name);
    let mut admin = bench.admin().await?;
    maturion_platform::migrate_up(&mut admin)
        .await
        .context("cannot migrate the benchmark database")?;
    maturion_maintenance::maintain(&mut admin, &maturion_maintenance::Policy::default())
        .await
        .context("cannot make the benchmark database's partitions")?;
    Ok((bench, admin))
}

/// Drops what [`scratch_database`] made.
pub(super) async fn drop_scratch_database(target: &Target, name: &str) -> Result<()> {
    let server = target.server_admin().await?;
    server
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    Ok(())
}

async fn rls(target: &Target, organisations: usize, rows: usize, iterations: usize) -> Result<()> {
    ensure!(
        organisations > LARGE_ORGANISATIONS
            && rows
                >= LARGE_ORGANISATIONS * LARGE_ORGANISATION_ROWS
                    + (organisations - LARGE_ORGANISATIONS),
        "need more than {LARGE_ORGANISATIONS} organisations and at least {} rows",
        LARGE_ORGANISATIONS * LARGE_ORGANISATION_ROWS + organisations
    );
    let (bench, admin) = scratch_database(target, BENCH_DATABASE).await?;

    let loaded = Instant::now();
    load(&admin, organisations, rows).await?;
    println!(
        "loaded {rows} users over {organisations} organisations in {:.1} s",
        loaded.elapsed().as_secs_f64()
    );

    let samples = sample_rows(&admin, iterations).await?;
    let large: Vec<Uuid> = admin
        .query(
            "SELECT organisation_id FROM users GROUP BY organisation_id HAVING count(*) >= $1",
            &[&(LARGE_ORGANISATION_ROWS as i64)],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();

    let app = bench.connect_as(maturion_schema::APP_ROLE).await?;
    let bypass = bench.admin().await?;
    bypass
        .batch_execute(&format!("SET ROLE {}", maturion_schema::MAINTENANCE_ROLE))
        .await?;

    let lookup_rls = app.prepare("SELECT * FROM users WHERE id = $1").await?;
    let lookup_plain = bypass
        .prepare("SELECT * FROM users WHERE id = $1 AND organisation_id = $2")
        .await?;
    let warm_up = admin
        .prepare("SELECT * FROM users WHERE id = $1 AND organisation_id = $2")
        .await?;
    let list_rls = app
        .prepare("SELECT id, email, full_name, role, created_at FROM users WHERE deleted_at IS NULL ORDER BY created_at DESC")
        .await?;
    let list_plain = bypass
        .prepare("SELECT id, email, full_name, role, created_at FROM users WHERE organisation_id = $1 AND deleted_at IS NULL ORDER BY created_at DESC")
        .await?;

    let progress = bar(
        samples.len() as u64 * 2 + large.len() as u64 * 40,
        "timing queries",
    );
    let mut lookups = Pair::default();
    for (n, (organisation, id)) in samples.iter().enumerate() {
        // A random row's pages are often not in shared buffers yet, and whichever side reads
        // the row first pays for fetching them, with or without RLS. So a third session reads
        // it first, untimed, then both sides are timed, in alternating order.
        admin.query(&warm_up, &[id, organisation]).await?;
        let rls = timed_in_context(&app, *organisation, async {
            let rows = app.query(&lookup_rls, &[id]).await?;
            ensure!(rows.len() == 1, "RLS lookup found {} rows", rows.len());
            Ok(())
        });
        let plain = timed_in_context(&bypass, *organisation, async {
            let rows = bypass.query(&lookup_plain, &[id, organisation]).await?;
            ensure!(rows.len() == 1, "plain lookup found {} rows", rows.len());
            Ok(())
        });
        if n % 2 == 0 {
            lookups.rls.push(rls.await?);
            lookups.plain.push(plain.await?);
        } else {
            lookups.plain.push(plain.await?);
            lookups.rls.push(rls.await?);
        }
        progress.inc(2);
    }
    let mut lists = Pair::default();
    for round in 0..40 {
        for organisation in &large {
            let rls = timed_in_context(&app, *organisation, async {
                let rows = app.query(&list_rls, &[]).await?;
                ensure!(
                    rows.len() >= LARGE_ORGANISATION_ROWS,
                    "RLS list returned {} rows",
                    rows.len()
                );
                Ok(())
            });
            let plain = timed_in_context(&bypass, *organisation, async {
                let rows = bypass.query(&list_plain, &[organisation]).await?;
                ensure!(
                    rows.len() >= LARGE_ORGANISATION_ROWS,
                    "plain list returned {} rows",
                    rows.len()
                );
                Ok(())
            });
            if round % 2 == 0 {
                lists.rls.push(rls.await?);
                lists.plain.push(plain.await?);
            } else {
                lists.plain.push(plain.await?);
                lists.rls.push(rls.await?);
            }
            progress.inc(1);
        }
    }
    progress.finish_and_clear();

    println!();
    println!("RLS overhead ({rows} rows, {organisations} organisations; maturion_app under RLS vs BYPASSRLS with explicit WHERE organisation_id)");
    lookups.print("PK lookup", 1.05);
    lists.print(&format!("{LARGE_ORGANISATION_ROWS}-row tenant list"), 1.2);
    drop((app, bypass, admin));
    drop_scratch_database(target, BENCH_DATABASE).await
}

/// Runs `query` inside a transaction whose tenant context is `organisation` and returns how
/// long the query alone took (the context is set the same way on both sides, untimed).
async fn timed_in_context(
    client: &Client,
    organisation: Uuid,
    query: impl std::future::Future<Output = Result<()>>,
) -> Result<Duration> {
    client.batch_execute("BEGIN").await?;
    client
        .execute(
            "SELECT set_config('app.current_organisation_id', $1, true)",
            &[&organisation.to_string()],
        )
        .await?;
    let started = Instant::now();
    query.await?;
    let elapsed = started.elapsed();
    client.batch_execute("COMMIT").await?;
    Ok(elapsed)
}

/// Organisations first (as each one's own tenant), then users in batches as the BYPASSRLS
/// maintenance role: each organisation's first user created itself, later ones by it.
async fn load(admin: &Client, organisations: usize, rows: usize) -> Result<()> {
    admin
        .batch_execute(&format!("SET ROLE {}", maturion_schema::MAINTENANCE_ROLE))
        .await?;
    admin
        .execute(
            "INSERT INTO organisations (name) SELECT 'Organisation ' || n FROM generate_series(1, $1) n",
            &[&(organisations as i32)],
        )
        .await?;
    let ids: Vec<Uuid> = admin
        .query("SELECT id FROM organisations ORDER BY id", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let small_rows = rows - LARGE_ORGANISATIONS * LARGE_ORGANISATION_ROWS;
    let small_organisations = organisations - LARGE_ORGANISATIONS;
    let insert = admin
        .prepare(
            "INSERT INTO users (id, organisation_id, email, full_name, role, created_by) \
             SELECT u.id, $1, 'user' || u.n || '@org' || $3::int || '.example', 'User ' || u.n, 'member', u.id \
             FROM (SELECT generate_uuidv7() AS id, n FROM generate_series(1, $2) n) u",
        )
        .await?;
    let progress = bar(rows as u64, "loading users");
    for (index, organisation) in ids.iter().enumerate() {
        let count = if index < LARGE_ORGANISATIONS {
            LARGE_ORGANISATION_ROWS
        } else {
            let k = index - LARGE_ORGANISATIONS;
            small_rows * (k + 1) / small_organisations - small_rows * k / small_organisations
        };
        admin
            .execute(&insert, &[organisation, &(count as i32), &(index as i32)])
            .await?;
        progress.inc(count as u64);
    }
    progress.finish_and_clear();
    admin.batch_execute("RESET ROLE").await?;
    admin.batch_execute("VACUUM ANALYZE users").await?;
    Ok(())
}

async fn sample_rows(admin: &Client, count: usize) -> Result<Vec<(Uuid, Uuid)>> {
    let mut rows: Vec<(Uuid, Uuid)> = admin
        .query(
            "SELECT organisation_id, id FROM users TABLESAMPLE BERNOULLI (1) LIMIT $1",
            &[&(count as i64)],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    rows.shuffle(&mut rand::thread_rng());
    ensure!(!rows.is_empty(), "no rows sampled");
    Ok(rows)
}

#[derive(Default)]
struct Pair {
    rls: Vec<Duration>,
    plain: Vec<Duration>,
}

impl Pair {
    fn print(&mut self, what: &str, goal: f64) {
        let (rls_median, rls_mean) = stats(&mut self.rls);
        let (plain_median, plain_mean) = stats(&mut self.plain);
        let ratio_median = rls_median / plain_median;
        let ratio_mean = rls_mean / plain_mean;
        let verdict = if ratio_median <= goal {
            "meets"
        } else {
            "misses"
        };
        println!(
            "  {what:<22} RLS median {:>9.1} µs mean {:>9.1} µs | explicit WHERE median {:>9.1} µs mean {:>9.1} µs | ratio median {ratio_median:.3}x mean {ratio_mean:.3}x ({verdict} goal ≤{goal}x, n={})",
            rls_median * 1e6,
            rls_mean * 1e6,
            plain_median * 1e6,
            plain_mean * 1e6,
            self.rls.len()
        );
    }
}

fn stats(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort();
    let median = samples[samples.len() / 2].as_secs_f64();
    let mean = samples.iter().map(Duration::as_secs_f64).sum::<f64>() / samples.len() as f64;
    (median, mean)
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
