//! What the tenant binding costs: a GET-by-id transaction as `maturion_app`, bound with an API
//! token (`maturion.bind_tenant`, every policy reading the verified binding), against the same
//! transaction as it was before the binding: the context set with `set_config`, on a copy of
//! `users` under the former policy form, which trusted that setting. Same rows, same indexes,
//! same role, same round trips; timed in alternation, whole transactions.

use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use maturion_config::DatabaseTarget;
use maturion_tenancy::{ApiToken, TenantConnection, TenantContext};
use rand::seq::SliceRandom;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};
use uuid::Uuid;

use crate::bar;
use crate::scratch::Scratch;

const BENCH_DATABASE: &str = "maturion_bench_binding";
const BAR: &str = "{msg:>16} [{bar:40}] {pos}/{len} {eta}";
const GOAL: f64 = 1.2;

#[derive(Debug, Clone)]
pub struct Options {
    pub organisations: usize,
    /// Users per organisation.
    pub users: usize,
    /// Timed transactions of each side.
    pub iterations: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            organisations: 100,
            users: 100,
            iterations: 4_000,
        }
    }
}

/// The former tenant policy, on a copy of users that only the baseline reads.
const SETTING_FORM_TABLE: &str = "\
    CREATE TABLE users_setting_form (LIKE users INCLUDING ALL);
    INSERT INTO users_setting_form SELECT * FROM users;
    ALTER TABLE users_setting_form ENABLE ROW LEVEL SECURITY;
    ALTER TABLE users_setting_form FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON users_setting_form
      USING (organisation_id = (select nullif(current_setting('app.current_organisation_id', true), '')::uuid));
    GRANT SELECT ON users_setting_form TO maturion_app;";

/// The tenant context as it was set before the binding (the baseline only).
const SET_CONTEXT: &str = "SELECT set_config('app.current_organisation_id', $1, true), \
                                  set_config('app.current_user_id', $2, true), \
                                  set_config('app.ip_address', '', true), \
                                  set_config('app.user_agent', '', true)";

pub async fn run(server: &DatabaseTarget, options: &Options) -> Result<()> {
    ensure!(
        options.organisations > 0 && options.users > 0 && options.iterations > 0,
        "organisations, users and iterations must be positive"
    );
    let scratch = Scratch::create(server, BENCH_DATABASE).await?;
    let outcome = measure(&scratch, options).await;
    scratch.remove().await?;
    outcome
}

async fn measure(scratch: &Scratch, options: &Options) -> Result<()> {
    let tenants = load(scratch, options).await?;
    let samples = samples(&scratch.admin, &tenants, options.iterations).await?;
    let mut sides = Sides::connect(&scratch.target).await?;
    let progress = bar(samples.len() as u64 * 3, BAR).with_message("timing GETs");
    let mut times = [const { Vec::new() }; 3];
    for (n, sample) in samples.iter().enumerate() {
        sides.warm(sample.id).await?;
        // The sides take turns at going first.
        for turn in 0..3 {
            let side = (n + turn) % 3;
            let elapsed = match side {
                0 => sides.time_bound(sample).await?,
                1 => sides.time_bare_binding(sample).await?,
                _ => sides.time_setting(sample).await?,
            };
            times[side].push(elapsed);
        }
        progress.inc(3);
    }
    progress.finish_and_clear();
    let [mut bound, mut bare, mut setting] = times;
    print(options, &mut bound, &mut bare, &mut setting);
    Ok(())
}

/// Organisations and their first users through the platform's function (tokens included),
/// then the other users, created by each first user.
async fn load(scratch: &Scratch, options: &Options) -> Result<Vec<maturion_testing::Tenant>> {
    let admin = &scratch.admin;
    let progress = bar(options.organisations as u64, BAR).with_message("loading users");
    let mut tenants = Vec::with_capacity(options.organisations);
    for n in 1..=options.organisations {
        let name = format!("Organisation {n}");
        tenants.push(maturion_testing::organisation_with_admin(admin, &name).await?);
        progress.inc(1);
    }
    progress.finish_and_clear();
    let others = (options.users - 1) as i32;
    for tenant in &tenants {
        // Created by the first user: the stamps name the bound user only.
        maturion_testing::begin_as(admin, tenant).await?;
        admin
            .execute(
                "INSERT INTO users (organisation_id, email, full_name, role) \
                 SELECT $1::uuid, 'user' || n || '@' || $1::uuid::text || '.example', 'User ' || n, 'member' \
                 FROM generate_series(1, $2) n",
                &[&tenant.organisation, &others],
            )
            .await?;
        admin.batch_execute("COMMIT").await?;
    }
    admin.batch_execute(SETTING_FORM_TABLE).await?;
    for table in ["users", "users_setting_form"] {
        admin
            .batch_execute(&format!("VACUUM ANALYZE {table}"))
            .await?;
    }
    Ok(tenants)
}

/// One timed GET: a user of `context`'s organisation.
struct Sample {
    context: TenantContext,
    token: ApiToken,
    id: Uuid,
}

async fn samples(
    admin: &Client,
    tenants: &[maturion_testing::Tenant],
    count: usize,
) -> Result<Vec<Sample>> {
    let mut samples = Vec::with_capacity(count);
    let mut rng = rand::thread_rng();
    for n in 0..count {
        let tenant = &tenants[n % tenants.len()];
        let ids: Vec<Uuid> = admin
            .query(
                "SELECT id FROM users WHERE organisation_id = $1",
                &[&tenant.organisation],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let id = *ids.choose(&mut rng).expect("every organisation has users");
        samples.push(Sample {
            context: tenant.context.clone(),
            token: tenant.token.clone(),
            id,
        });
    }
    samples.shuffle(&mut rng);
    Ok(samples)
}

/// The bound side (a tenant connection, as the application opens its transactions), the
/// baseline (the same role's session setting the former context), and an untimed session
/// that reads each sampled row first.
struct Sides {
    bound: TenantConnection,
    bound_get: Statement,
    /// The binding alone: the same statements on a plain session, without shedding the
    /// session's state at the end.
    bare: Client,
    bare_bind: Statement,
    bare_get: Statement,
    setting: Client,
    set_context: Statement,
    setting_get: Statement,
    warm: Client,
    warm_get: Statement,
}

impl Sides {
    async fn connect(target: &DatabaseTarget) -> Result<Self> {
        let bound = target.connect_as(maturion_schema::APP_ROLE).await?;
        let setting = target.connect_as(maturion_schema::APP_ROLE).await?;
        let bare = target.connect_as(maturion_schema::APP_ROLE).await?;
        let warm = target.admin().await?;
        Ok(Sides {
            bound_get: bound.prepare("SELECT * FROM users WHERE id = $1").await?,
            bound: TenantConnection::new(bound).await?,
            bare_bind: bare
                .prepare("SELECT organisation_id, user_id FROM maturion.bind_tenant($1)")
                .await?,
            bare_get: bare.prepare("SELECT * FROM users WHERE id = $1").await?,
            bare,
            set_context: setting.prepare(SET_CONTEXT).await?,
            setting_get: setting
                .prepare("SELECT * FROM users_setting_form WHERE id = $1")
                .await?,
            setting,
            warm_get: warm
                .prepare("SELECT (SELECT count(*) FROM users WHERE id = $1) + (SELECT count(*) FROM users_setting_form WHERE id = $1)")
                .await?,
            warm,
        })
    }

    /// A random row's pages may not be in shared buffers yet; whichever side read it first
    /// would pay for fetching them.
    async fn warm(&self, id: Uuid) -> Result<()> {
        let found: i64 = self.warm.query_one(&self.warm_get, &[&id]).await?.get(0);
        ensure!(found == 2, "the sampled user is missing from a table");
        Ok(())
    }

    async fn time_bound(&mut self, sample: &Sample) -> Result<Duration> {
        let started = Instant::now();
        let tx = self.bound.transaction(&sample.context).await?;
        let rows = tx.query(&self.bound_get, &[&sample.id]).await?.len();
        tx.commit().await?;
        let elapsed = started.elapsed();
        ensure!(rows == 1, "the bound GET found {rows} rows");
        Ok(elapsed)
    }

    async fn time_bare_binding(&mut self, sample: &Sample) -> Result<Duration> {
        let token = sample.token.expose();
        let params: [&(dyn ToSql + Sync); 1] = [&token];
        let started = Instant::now();
        let (begun, bound) = futures_util::join!(
            self.bare.batch_execute("BEGIN"),
            self.bare.query_one(&self.bare_bind, &params)
        );
        begun?;
        bound?;
        let rows = self.bare.query(&self.bare_get, &[&sample.id]).await?.len();
        self.bare.batch_execute("COMMIT").await?;
        let elapsed = started.elapsed();
        ensure!(rows == 1, "the bare bound GET found {rows} rows");
        Ok(elapsed)
    }

    async fn time_setting(&mut self, sample: &Sample) -> Result<Duration> {
        let organisation = sample.context.organisation_id.to_string();
        let user = sample
            .context
            .user_id
            .map(|u| u.to_string())
            .unwrap_or_default();
        let params: [&(dyn ToSql + Sync); 2] = [&organisation, &user];
        let started = Instant::now();
        let (begun, set) = futures_util::join!(
            self.setting.batch_execute("BEGIN"),
            self.setting.query_one(&self.set_context, &params)
        );
        begun?;
        set?;
        let rows = self
            .setting
            .query(&self.setting_get, &[&sample.id])
            .await?
            .len();
        self.setting.batch_execute("COMMIT").await?;
        let elapsed = started.elapsed();
        ensure!(rows == 1, "the baseline GET found {rows} rows");
        Ok(elapsed)
    }
}

fn print(
    options: &Options,
    bound: &mut [Duration],
    bare: &mut [Duration],
    setting: &mut [Duration],
) {
    let (setting_median, setting_mean) = stats(setting);
    println!();
    println!(
        "Tenant binding: GET-by-id transaction (BEGIN; bind; SELECT * FROM users WHERE id = $1; COMMIT) as maturion_app, {} organisations × {} users, n={}",
        options.organisations,
        options.users,
        setting.len()
    );
    println!(
        "  former set_config context, old policy        median {:>7.1} µs mean {:>7.1} µs",
        setting_median * 1e6,
        setting_mean * 1e6
    );
    for (what, samples) in [
        ("bound with a token, bare statements", bare),
        ("bound with a token, TenantConnection", bound),
    ] {
        let (median, mean) = stats(samples);
        let ratio = median / setting_median;
        let verdict = if ratio <= GOAL { "meets" } else { "misses" };
        println!(
            "  {what:<44} median {:>7.1} µs mean {:>7.1} µs | ratio median {ratio:.3}x mean {:.3}x ({verdict} goal ≤{GOAL}x)",
            median * 1e6,
            mean * 1e6,
            mean / setting_mean
        );
    }
    println!("  (TenantConnection also sheds the session's state with the COMMIT: RESET ALL, advisory locks, cursors, LISTENs, SQL-prepared statements)");
}

fn stats(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort();
    let median = samples[samples.len() / 2].as_secs_f64();
    let mean = samples.iter().map(Duration::as_secs_f64).sum::<f64>() / samples.len() as f64;
    (median, mean)
}
