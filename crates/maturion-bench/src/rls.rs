//! What Row-Level Security costs reads: a primary-key lookup and a tenant's whole list, as
//! `maturion_app` under RLS against the same queries with an explicit `WHERE organisation_id`
//! as a BYPASSRLS role, in alternation, printed as ratios.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use indicatif::ProgressBar;
use maturion_config::DatabaseTarget;
use maturion_tenancy::{TenantConnection, TenantContext};
use rand::seq::SliceRandom;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};
use uuid::Uuid;

use crate::bar;
use crate::scratch::Scratch;

const BENCH_DATABASE: &str = "maturion_bench_rls";
/// Organisations that get a 10,000-row tenant list; the rest share the remaining rows.
const LARGE_ORGANISATIONS: usize = 10;
const LARGE_ORGANISATION_ROWS: usize = 10_000;
/// Timed rounds over the large organisations' lists.
const LIST_ROUNDS: usize = 40;
const BAR: &str = "{msg:>16} [{bar:40}] {pos}/{len} {eta}";

#[derive(Debug, Clone)]
pub struct Options {
    pub organisations: usize,
    /// Users, over all organisations.
    pub rows: usize,
    /// Timed repetitions of each query.
    pub iterations: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            organisations: 1_000,
            rows: 1_000_000,
            iterations: 2_000,
        }
    }
}

/// Loads the users, times both queries both ways and prints the ratios.
pub async fn run(server: &DatabaseTarget, options: &Options) -> Result<()> {
    ensure!(
        options.organisations > LARGE_ORGANISATIONS
            && options.rows
                >= LARGE_ORGANISATIONS * LARGE_ORGANISATION_ROWS
                    + (options.organisations - LARGE_ORGANISATIONS),
        "need more than {LARGE_ORGANISATIONS} organisations and at least {} rows",
        LARGE_ORGANISATIONS * LARGE_ORGANISATION_ROWS + options.organisations
    );
    let scratch = Scratch::create(server, BENCH_DATABASE).await?;
    let outcome = measure(&scratch, options).await;
    scratch.remove().await?;
    outcome
}

async fn measure(scratch: &Scratch, options: &Options) -> Result<()> {
    let admin = &scratch.admin;
    let loaded = Instant::now();
    let contexts = load(scratch, options).await?;
    println!(
        "loaded {} users over {} organisations in {:.1} s",
        options.rows,
        options.organisations,
        loaded.elapsed().as_secs_f64()
    );
    let samples = sample_rows(admin, options.iterations).await?;
    let large: Vec<Uuid> = admin
        .query(
            "SELECT organisation_id FROM users GROUP BY organisation_id HAVING count(*) >= $1",
            &[&(LARGE_ORGANISATION_ROWS as i64)],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut sides = Sides::connect(&scratch.target, contexts).await?;
    let progress = bar((samples.len() * 2 + large.len() * LIST_ROUNDS) as u64, BAR)
        .with_message("timing queries");
    let mut lookups = sides.time_lookups(&samples, &progress).await?;
    let mut lists = sides.time_lists(&large, &progress).await?;
    progress.finish_and_clear();

    println!();
    println!("RLS overhead ({} rows, {} organisations; maturion_app under RLS vs BYPASSRLS with explicit WHERE organisation_id)", options.rows, options.organisations);
    lookups.print("PK lookup", 1.1);
    lists.print(&format!("{LARGE_ORGANISATION_ROWS}-row tenant list"), 1.2);
    Ok(())
}

/// Each organisation, its first user and their token (the fixture, through the platform's
/// function), then its other users in one statement, created by that first user (bound with
/// their token). Returns each organisation's first user's tenant context.
async fn load(scratch: &Scratch, options: &Options) -> Result<HashMap<Uuid, TenantContext>> {
    let admin = &scratch.admin;
    let progress = bar(options.rows as u64, BAR).with_message("loading users");
    let mut tenants = Vec::with_capacity(options.organisations);
    for n in 1..=options.organisations {
        let name = format!("Organisation {n}");
        tenants.push(maturion_testing::organisation_with_admin(admin, &name).await?);
        progress.inc(1);
    }
    let insert = admin
        .prepare(
            "INSERT INTO users (organisation_id, email, full_name, role) \
             SELECT $1, 'user' || n || '@org' || $3::int || '.example', 'User ' || n, 'member' \
             FROM generate_series(1, $2) n",
        )
        .await?;
    for (index, tenant) in tenants.iter().enumerate() {
        let others = users_of(index, options) - 1;
        let (count, number) = (others as i32, index as i32);
        let params: [&(dyn ToSql + Sync); 3] = [&tenant.organisation, &count, &number];
        // Created by the first user: the stamps name the bound user only.
        maturion_testing::begin_as(admin, tenant).await?;
        admin.execute(&insert, &params).await?;
        admin.batch_execute("COMMIT").await?;
        progress.inc(others as u64);
    }
    progress.finish_and_clear();
    admin.batch_execute("VACUUM ANALYZE users").await?;
    Ok(tenants
        .into_iter()
        .map(|t| (t.organisation.as_uuid(), t.context))
        .collect())
}

/// Users of the `index`th organisation: the large ones first, then the rest spread evenly.
fn users_of(index: usize, options: &Options) -> usize {
    if index < LARGE_ORGANISATIONS {
        return LARGE_ORGANISATION_ROWS;
    }
    let small_rows = options.rows - LARGE_ORGANISATIONS * LARGE_ORGANISATION_ROWS;
    let small_organisations = options.organisations - LARGE_ORGANISATIONS;
    let k = index - LARGE_ORGANISATIONS;
    small_rows * (k + 1) / small_organisations - small_rows * k / small_organisations
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

/// Both sides of the comparison: `maturion_app` under RLS, bound with the organisation's first
/// user's token, and the BYPASSRLS maintenance role that says `WHERE organisation_id` itself in
/// a plain transaction (it binds nothing: the binding itself is untimed, and `bench binding`
/// measures it). And an untimed third session that reads each sampled row first.
struct Sides {
    rls: TenantConnection,
    contexts: HashMap<Uuid, TenantContext>,
    plain: Client,
    warm: Client,
    lookup_rls: Statement,
    lookup_plain: Statement,
    lookup_warm: Statement,
    list_rls: Statement,
    list_plain: Statement,
}

impl Sides {
    async fn connect(
        target: &DatabaseTarget,
        contexts: HashMap<Uuid, TenantContext>,
    ) -> Result<Self> {
        let app = target.connect_as(maturion_schema::APP_ROLE).await?;
        let bypass = target.admin().await?;
        bypass
            .batch_execute(&format!("SET ROLE {}", maturion_schema::MAINTENANCE_ROLE))
            .await?;
        let warm = target.admin().await?;
        const LOOKUP_PLAIN: &str = "SELECT * FROM users WHERE id = $1 AND organisation_id = $2";
        const LIST: &str = "SELECT id, email, full_name, role, created_at FROM users WHERE";
        const ORDER: &str = "deleted_at IS NULL ORDER BY created_at DESC";
        Ok(Sides {
            lookup_rls: app.prepare("SELECT * FROM users WHERE id = $1").await?,
            lookup_plain: bypass.prepare(LOOKUP_PLAIN).await?,
            lookup_warm: warm.prepare(LOOKUP_PLAIN).await?,
            list_rls: app.prepare(&format!("{LIST} {ORDER}")).await?,
            list_plain: bypass
                .prepare(&format!("{LIST} organisation_id = $1 AND {ORDER}"))
                .await?,
            rls: TenantConnection::new(app).await?,
            contexts,
            plain: bypass,
            warm,
        })
    }

    async fn time_lookups(
        &mut self,
        samples: &[(Uuid, Uuid)],
        progress: &ProgressBar,
    ) -> Result<Pair> {
        let mut lookups = Pair::default();
        for (n, (organisation, id)) in samples.iter().enumerate() {
            // A random row's pages are often not in shared buffers yet, and whichever side
            // reads the row first pays for fetching them, with or without RLS. So the third
            // session reads it first, untimed; then either side goes first every other row.
            self.warm
                .query(&self.lookup_warm, &[id, organisation])
                .await?;
            let rls_first = n % 2 == 0;
            for rls in [rls_first, !rls_first] {
                let elapsed = self.time_lookup(*organisation, *id, rls).await?;
                if rls {
                    lookups.rls.push(elapsed);
                } else {
                    lookups.plain.push(elapsed);
                }
            }
            progress.inc(2);
        }
        Ok(lookups)
    }

    async fn time_lookup(&mut self, organisation: Uuid, id: Uuid, rls: bool) -> Result<Duration> {
        let (rows, elapsed) = if rls {
            let context = &self.contexts[&organisation];
            timed(&mut self.rls, context, &self.lookup_rls, &[&id]).await?
        } else {
            let parameters: [&(dyn ToSql + Sync); 2] = [&id, &organisation];
            timed_plain(&self.plain, &self.lookup_plain, &parameters).await?
        };
        let side = if rls { "RLS" } else { "plain" };
        ensure!(rows == 1, "{side} lookup found {rows} rows");
        Ok(elapsed)
    }

    async fn time_lists(&mut self, large: &[Uuid], progress: &ProgressBar) -> Result<Pair> {
        let mut lists = Pair::default();
        for round in 0..LIST_ROUNDS {
            for organisation in large {
                // Either side goes first every other round.
                let rls_first = round % 2 == 0;
                for rls in [rls_first, !rls_first] {
                    let elapsed = self.time_list(*organisation, rls).await?;
                    if rls {
                        lists.rls.push(elapsed);
                    } else {
                        lists.plain.push(elapsed);
                    }
                }
                progress.inc(1);
            }
        }
        Ok(lists)
    }

    async fn time_list(&mut self, organisation: Uuid, rls: bool) -> Result<Duration> {
        let (rows, elapsed) = if rls {
            let context = &self.contexts[&organisation];
            timed(&mut self.rls, context, &self.list_rls, &[]).await?
        } else {
            timed_plain(&self.plain, &self.list_plain, &[&organisation]).await?
        };
        let side = if rls { "RLS" } else { "plain" };
        ensure!(
            rows >= LARGE_ORGANISATION_ROWS,
            "{side} list returned {rows} rows"
        );
        Ok(elapsed)
    }
}

/// Runs `statement` in a tenant transaction of `context` and returns its row count and how
/// long the query alone took (the binding untimed).
async fn timed(
    connection: &mut TenantConnection,
    context: &TenantContext,
    statement: &Statement,
    params: &[&(dyn ToSql + Sync)],
) -> Result<(usize, Duration)> {
    let tx = connection.transaction(context).await?;
    let started = Instant::now();
    let rows = tx.query(statement, params).await?.len();
    let elapsed = started.elapsed();
    tx.commit().await?;
    Ok((rows, elapsed))
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

/// [`timed`] for the BYPASSRLS side, in a plain transaction.
async fn timed_plain(
    client: &Client,
    statement: &Statement,
    params: &[&(dyn ToSql + Sync)],
) -> Result<(usize, Duration)> {
    client.batch_execute("BEGIN").await?;
    let started = Instant::now();
    let rows = client.query(statement, params).await?.len();
    let elapsed = started.elapsed();
    client.batch_execute("COMMIT").await?;
    Ok((rows, elapsed))
}
