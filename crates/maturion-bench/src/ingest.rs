//! Ingest: rows/s of batched inserts into the partitioned `audit_log` as `maturion_app` in
//! tenant transactions, against `COPY` of the same rows into an unpartitioned table without
//! RLS, measured in the same run. COPY is the fastest way into PostgreSQL, and it is refused
//! for roles under RLS. The application cannot insert into `audit_log` itself (only the audit
//! trigger and the audit functions write it), so its bulk path is `maturion.record_views`
//! (audit scope): one call writes the `viewed` entries of a whole list in one
//! `INSERT … SELECT FROM unnest(…)`, through the forced tenant policy and the guards, after one
//! check of the organisation and the actor per call.

use std::net::{IpAddr, Ipv4Addr};
use std::pin::pin;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use chrono::{DateTime, Utc};
use indicatif::ProgressBar;
use maturion_config::DatabaseTarget;
use maturion_tenancy::{Database, TenantContext};
use maturion_testing::Tenant;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;
use tokio_postgres::Client;
use uuid::Uuid;

use crate::bar;
use crate::scratch::Scratch;

const BENCH_DATABASE: &str = "maturion_bench_ingest";

#[derive(Debug, Clone)]
pub struct Options {
    /// Rows written by each method in each round.
    pub rows: usize,
    /// Rows per call (one statement and one transaction) on the application side.
    pub batch: usize,
    /// Rounds; each method's figure is its median over the rounds.
    pub rounds: usize,
    /// Application connections inserting at once (COPY stays one stream).
    pub connections: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            rows: 100_000,
            batch: 1_000,
            rounds: 3,
            connections: 1,
        }
    }
}

/// Medians over the rounds, in rows per second.
#[derive(Debug, Clone)]
pub struct Figures {
    /// Batched record_views into partitioned audit_log as maturion_app.
    pub app_insert: f64,
    /// COPY into an unpartitioned table with the same columns and indexes, no RLS.
    pub copy_same_indexes: f64,
    /// COPY into an unpartitioned table with the same columns, no index, no RLS.
    pub copy_no_index: f64,
}

const COLUMNS: &str =
    "id, organisation_id, \"timestamp\", user_id, module, entity_type, entity_id, action, changes, ip_address, user_agent";
const BASELINE_INDEXED: &str = "ingest_baseline_indexed";
const BASELINE_PLAIN: &str = "ingest_baseline_plain";
const MODULE: &str = "policies";
const ENTITY_TYPE: &str = "policy";
const CLIENT_ADDRESS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) maturion-bench";

/// Measures and prints the figures. Logs in as `maturion_app`, so on an external server only
/// with that role's own URL.
pub async fn run(server: &DatabaseTarget, options: &Options) -> Result<Figures> {
    // Before the scratch database is made, to fail without leaving anything behind.
    server
        .url_for(maturion_schema::APP_ROLE)
        .context("bench ingest logs in as maturion_app")?;
    let scratch = Scratch::create(server, BENCH_DATABASE).await?;
    let app = Database::new(
        scratch.target.config_for(maturion_schema::APP_ROLE)?,
        options.connections.max(1),
    )?;
    let outcome = measure(&scratch.admin, &app, options).await;
    drop(app);
    scratch.remove().await?;
    outcome
}

async fn measure(admin: &Client, app: &Database, options: &Options) -> Result<Figures> {
    ensure!(
        options.rows > 0 && options.batch > 0 && options.rounds > 0 && options.connections > 0,
        "rows, batch, rounds and connections must be positive"
    );
    let tenant = maturion_testing::organisation_with_admin_from(
        admin,
        "Ingest benchmark",
        Some(IpAddr::V4(CLIENT_ADDRESS)),
        Some(USER_AGENT.to_owned()),
    )
    .await?;
    admin
        .batch_execute(&format!(
            "CREATE TABLE {BASELINE_INDEXED} (LIKE audit_log INCLUDING DEFAULTS INCLUDING CONSTRAINTS \
               INCLUDING INDEXES INCLUDING COMPRESSION);
             CREATE TABLE {BASELINE_PLAIN} (LIKE audit_log INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING COMPRESSION);"
        ))
        .await?;
    let synchronous_commit: String = admin
        .query_one("SHOW synchronous_commit", &[])
        .await?
        .get(0);
    let mut figures = rounds(admin, app, &tenant, options).await?;
    let written: i64 = admin
        .query_one(
            "SELECT count(*) FROM audit_log WHERE organisation_id = $1 AND action = 'viewed'",
            &[&tenant.organisation],
        )
        .await?
        .get(0);
    let expected = (options.rows * options.rounds) as i64;
    ensure!(
        written == expected,
        "audit_log holds {written} viewed rows of the benchmark, expected {expected}"
    );
    let figures = figures.medians();
    print(&figures, options, &synchronous_commit);
    Ok(figures)
}

/// Rows/s of every round, per method.
#[derive(Default)]
struct Rounds {
    app_insert: Vec<f64>,
    copy_indexed: Vec<f64>,
    copy_plain: Vec<f64>,
}

impl Rounds {
    fn medians(&mut self) -> Figures {
        Figures {
            app_insert: median(&mut self.app_insert),
            copy_same_indexes: median(&mut self.copy_indexed),
            copy_no_index: median(&mut self.copy_plain),
        }
    }
}

async fn rounds(
    admin: &Client,
    app: &Database,
    tenant: &Tenant,
    options: &Options,
) -> Result<Rounds> {
    let progress = bar(
        (options.rows * 3 * options.rounds) as u64,
        "{msg:>12} [{bar:40}] {pos}/{len} rows {eta}",
    )
    .with_message("ingesting");
    let (organisation, user) = (tenant.organisation.as_uuid(), tenant.user.as_uuid());
    let mut figures = Rounds::default();
    for round in 0..options.rounds {
        let fresh = || ViewedRows::generate(organisation, user, options.rows);
        // Alternate the order so that caching and checkpoints hit every method alike.
        let app_first = round % 2 == 0;
        if app_first {
            let rows = fresh();
            figures
                .app_insert
                .push(insert_parallel(app, &tenant.context, &rows, options, &progress).await?);
        }
        let rows = fresh();
        figures
            .copy_indexed
            .push(copy(admin, BASELINE_INDEXED, &rows, &progress).await?);
        figures
            .copy_plain
            .push(copy(admin, BASELINE_PLAIN, &rows, &progress).await?);
        if !app_first {
            let rows = fresh();
            figures
                .app_insert
                .push(insert_parallel(app, &tenant.context, &rows, options, &progress).await?);
        }
    }
    progress.finish_and_clear();
    Ok(figures)
}

fn print(f: &Figures, options: &Options, synchronous_commit: &str) {
    let verdict = |ratio: f64| if ratio >= 0.5 { "meets" } else { "misses" };
    let vs_indexed = f.app_insert / f.copy_same_indexes;
    let vs_plain = f.app_insert / f.copy_no_index;
    println!(
        "Ingest ({} rows x {} rounds, medians; app: maturion.record_views, {} rows per call and transaction over {} \
         connection(s); COPY: one stream of the same rows; synchronous_commit={synchronous_commit})",
        options.rows, options.rounds, options.batch, options.connections
    );
    println!(
        "  app record_views into partitioned audit_log (RLS)     {:>10.0} rows/s",
        f.app_insert
    );
    println!(
        "  COPY into unpartitioned table, same indexes, no RLS  {:>10.0} rows/s",
        f.copy_same_indexes
    );
    println!(
        "  COPY into unpartitioned table, no index, no RLS      {:>10.0} rows/s",
        f.copy_no_index
    );
    println!(
        "  ratio vs COPY (same indexes)  {vs_indexed:.2}x ({} goal >=0.5x)",
        verdict(vs_indexed)
    );
    println!(
        "  ratio vs COPY (no index)      {vs_plain:.2}x ({} goal >=0.5x)",
        verdict(vs_plain)
    );
}

/// The `viewed` rows one run writes, as `record_views` writes them: time-ordered ids and
/// timestamps (now), one organisation, user, client and entity type.
struct ViewedRows {
    organisation: Uuid,
    user: Uuid,
    ids: Vec<Uuid>,
    timestamps: Vec<DateTime<Utc>>,
    entity_ids: Vec<Uuid>,
}

impl ViewedRows {
    fn generate(organisation: Uuid, user: Uuid, count: usize) -> Self {
        let start = Utc::now();
        ViewedRows {
            organisation,
            user,
            ids: (0..count).map(|_| Uuid::now_v7()).collect(),
            timestamps: (0..count)
                .map(|n| start + chrono::Duration::microseconds(n as i64))
                .collect(),
            entity_ids: (0..count).map(|_| Uuid::now_v7()).collect(),
        }
    }

    fn len(&self) -> usize {
        self.entity_ids.len()
    }
}

/// Rows/s of [`record_views`] over `options.connections` connections at once, each taking a
/// contiguous share of the rows.
async fn insert_parallel(
    app: &Database,
    context: &TenantContext,
    rows: &ViewedRows,
    options: &Options,
    progress: &ProgressBar,
) -> Result<f64> {
    let share = rows.len().div_ceil(options.connections);
    let started = Instant::now();
    let writers = (0..options.connections).map(|k| {
        let range = (k * share).min(rows.len())..((k + 1) * share).min(rows.len());
        record_views(
            app,
            context,
            &rows.entity_ids[range],
            options.batch,
            progress,
        )
    });
    for result in futures_util::future::join_all(writers).await {
        result?;
    }
    Ok(rate(rows.len(), started.elapsed()))
}

/// `maturion.record_views` of `entity_ids`, `batch` per call and transaction.
async fn record_views(
    app: &Database,
    context: &TenantContext,
    entity_ids: &[Uuid],
    batch: usize,
    progress: &ProgressBar,
) -> Result<()> {
    for chunk in entity_ids.chunks(batch) {
        let tx = app.transaction(context).await?;
        let written: i64 = tx
            .query_one(
                "SELECT maturion.record_views($1, $2, $3)",
                &[&MODULE, &ENTITY_TYPE, &chunk],
            )
            .await?
            .get(0);
        tx.commit().await?;
        ensure!(
            written == chunk.len() as i64,
            "record_views wrote {written} of {} rows",
            chunk.len()
        );
        progress.inc(chunk.len() as u64);
    }
    Ok(())
}

/// Rows/s of one binary COPY of all rows (autocommit).
async fn copy(
    admin: &Client,
    table: &str,
    rows: &ViewedRows,
    progress: &ProgressBar,
) -> Result<f64> {
    let client_address = IpAddr::V4(CLIENT_ADDRESS);
    let no_changes: Option<serde_json::Value> = None;
    let types = [
        Type::UUID,
        Type::UUID,
        Type::TIMESTAMPTZ,
        Type::UUID,
        Type::TEXT,
        Type::TEXT,
        Type::UUID,
        Type::TEXT,
        Type::JSONB,
        Type::INET,
        Type::TEXT,
    ];
    let started = Instant::now();
    let sink = admin
        .copy_in(&format!(
            "COPY {table} ({COLUMNS}) FROM STDIN (FORMAT binary)"
        ))
        .await?;
    let mut writer = pin!(BinaryCopyInWriter::new(sink, &types));
    for n in 0..rows.len() {
        writer
            .as_mut()
            .write(&[
                &rows.ids[n],
                &rows.organisation,
                &rows.timestamps[n],
                &rows.user,
                &MODULE,
                &ENTITY_TYPE,
                &rows.entity_ids[n],
                &"viewed",
                &no_changes,
                &client_address,
                &USER_AGENT,
            ])
            .await?;
        if n % 1_000 == 999 {
            progress.inc(1_000);
        }
    }
    let copied = writer.finish().await?;
    progress.inc(rows.len() as u64 % 1_000);
    ensure!(
        copied == rows.len() as u64,
        "copied {copied} of {} rows",
        rows.len()
    );
    Ok(rate(rows.len(), started.elapsed()))
}

fn rate(rows: usize, elapsed: Duration) -> f64 {
    rows as f64 / elapsed.as_secs_f64()
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}
