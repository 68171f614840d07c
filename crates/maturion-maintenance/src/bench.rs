//! Ingest benchmark: rows/s of batched inserts into the partitioned `audit_log` as
//! `maturion_app` in tenant transactions (RLS, guards, the rollup trigger), against `COPY`
//! of the same rows into an unpartitioned table without RLS, measured in the same run.
//! COPY is the fastest way into PostgreSQL, and it is refused for roles under RLS, so the
//! application's bulk path is `INSERT … SELECT FROM unnest(…)`.

use std::net::{IpAddr, Ipv4Addr};
use std::pin::pin;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use maturion_tenancy::{Database, OrganisationId, TenancyError, TenantContext, UserId};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Client;
use uuid::Uuid;

use crate::{MaintenanceError, Policy};

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("database: {0}")]
    Database(#[from] tokio_postgres::Error),
    #[error("tenant transaction: {0}")]
    Tenancy(#[from] TenancyError),
    #[error("maintenance: {0}")]
    Maintenance(#[from] MaintenanceError),
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Rows written by each method in each round.
    pub rows: usize,
    /// Rows per INSERT statement (and per transaction) on the application side.
    pub batch: usize,
    /// Rounds; each method's figure is its median over the rounds.
    pub rounds: usize,
    /// Single-row INSERT statements per round, timed in one transaction with and without the
    /// rollup trigger (0 skips them).
    pub single_rows: usize,
    /// Application connections inserting at once (COPY stays one stream).
    pub connections: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            rows: 100_000,
            batch: 1_000,
            rounds: 3,
            single_rows: 2_000,
            connections: 1,
        }
    }
}

/// Medians over the rounds, in rows per second.
#[derive(Debug, Clone)]
pub struct IngestFigures {
    /// Batched INSERT … SELECT FROM unnest into partitioned audit_log as maturion_app.
    pub app_insert: f64,
    /// The same with the rollup invalidation trigger disabled (to show its cost).
    pub app_insert_without_rollup_trigger: f64,
    /// COPY into an unpartitioned table with the same columns and indexes, no RLS.
    pub copy_same_indexes: f64,
    /// COPY into an unpartitioned table with the same columns, no index, no RLS.
    pub copy_no_index: f64,
    /// Diagnostic: the same with every trigger of audit_log off, foreign-key checks included.
    pub app_insert_without_triggers: f64,
    /// Microseconds per single-row INSERT statement inside one tenant transaction (the shape
    /// of the audit trigger's writes), with and without the rollup trigger.
    pub statement_micros: f64,
    pub statement_micros_without_rollup_trigger: f64,
}

const COLUMNS: &str =
    "id, organisation_id, \"timestamp\", user_id, module, entity_type, entity_id, action, changes, ip_address, user_agent";
const BASELINE_INDEXED: &str = "ingest_baseline_indexed";
const BASELINE_PLAIN: &str = "ingest_baseline_plain";
const ACTIONS: [&str; 3] = ["created", "updated", "deleted"];

/// Runs the benchmark and prints its figures. `admin` is an administrator connection to a
/// database with the platform and maintenance migrations (a scratch database: the benchmark
/// adds an organisation, audit rows and two baseline tables); `app` logs in as maturion_app
/// to the same database.
pub async fn run_ingest(
    admin: &mut Client,
    app: &Database,
    options: &IngestOptions,
) -> Result<IngestFigures, BenchError> {
    if options.rows == 0 || options.batch == 0 || options.rounds == 0 || options.connections == 0 {
        return Err(BenchError::Invalid(
            "rows, batch, rounds and connections must be positive".into(),
        ));
    }
    crate::maintain(admin, &Policy::default()).await?;
    let (organisation, user) = tenant(admin).await?;
    let context = TenantContext::new(OrganisationId::from_uuid(organisation))
        .with_user(UserId::from_uuid(user));
    admin
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS {BASELINE_INDEXED}, {BASELINE_PLAIN};
             CREATE TABLE {BASELINE_INDEXED} (LIKE audit_log INCLUDING DEFAULTS INCLUDING CONSTRAINTS \
               INCLUDING INDEXES INCLUDING COMPRESSION);
             CREATE TABLE {BASELINE_PLAIN} (LIKE audit_log INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING COMPRESSION);"
        ))
        .await?;
    let synchronous_commit: String = admin
        .query_one("SHOW synchronous_commit", &[])
        .await?
        .get(0);

    let total =
        (options.rows * 5 * options.rounds + options.single_rows * 2 * options.rounds) as u64;
    let progress = ProgressBar::new(total).with_message("ingesting");
    progress.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} rows {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let (mut app_insert, mut no_rollup, mut no_triggers) = (Vec::new(), Vec::new(), Vec::new());
    let (mut copy_indexed, mut copy_plain) = (Vec::new(), Vec::new());
    let (mut statement, mut statement_no_rollup) = (Vec::new(), Vec::new());
    for round in 0..options.rounds {
        let fresh = || AuditRows::generate(organisation, user, options.rows);
        // Alternate the order so that caching and checkpoints hit every method alike.
        let app_first = round % 2 == 0;
        if app_first {
            app_insert.push(insert_parallel(app, &context, &fresh(), options, &progress).await?);
        }
        let rows = fresh();
        copy_indexed.push(copy(admin, BASELINE_INDEXED, &rows, &progress).await?);
        copy_plain.push(copy(admin, BASELINE_PLAIN, &rows, &progress).await?);
        if !app_first {
            app_insert.push(insert_parallel(app, &context, &fresh(), options, &progress).await?);
        }
        no_rollup.push(
            with_triggers(
                admin,
                Triggers::AllButRollup,
                insert_parallel(app, &context, &fresh(), options, &progress),
            )
            .await?,
        );
        no_triggers.push(
            with_triggers(
                admin,
                Triggers::None,
                insert_parallel(app, &context, &fresh(), options, &progress),
            )
            .await?,
        );
        if options.single_rows > 0 {
            let singles = AuditRows::generate(organisation, user, options.single_rows);
            statement.push(statements(app, &context, &singles, &progress).await?);
            let singles = AuditRows::generate(organisation, user, options.single_rows);
            statement_no_rollup.push(
                with_triggers(
                    admin,
                    Triggers::AllButRollup,
                    statements(app, &context, &singles, &progress),
                )
                .await?,
            );
        }
    }
    progress.finish_and_clear();

    let figures = IngestFigures {
        app_insert: median(&mut app_insert),
        app_insert_without_rollup_trigger: median(&mut no_rollup),
        app_insert_without_triggers: median(&mut no_triggers),
        copy_same_indexes: median(&mut copy_indexed),
        copy_no_index: median(&mut copy_plain),
        statement_micros: if statement.is_empty() {
            f64::NAN
        } else {
            median(&mut statement)
        },
        statement_micros_without_rollup_trigger: if statement_no_rollup.is_empty() {
            f64::NAN
        } else {
            median(&mut statement_no_rollup)
        },
    };
    print(&figures, options, &synchronous_commit);
    admin
        .batch_execute(&format!("DROP TABLE {BASELINE_INDEXED}, {BASELINE_PLAIN}"))
        .await?;
    Ok(figures)
}

fn print(f: &IngestFigures, options: &IngestOptions, synchronous_commit: &str) {
    let verdict = |ratio: f64| if ratio >= 0.5 { "meets" } else { "misses" };
    let vs_indexed = f.app_insert / f.copy_same_indexes;
    let vs_plain = f.app_insert / f.copy_no_index;
    let cost = |with: f64, without: f64| (without / with - 1.0) * 100.0;
    println!(
        "Ingest ({} rows x {} rounds, medians; app: batches of {} rows per INSERT and transaction over {} connection(s); \
         COPY: one stream; synchronous_commit={synchronous_commit})",
        options.rows, options.rounds, options.batch, options.connections
    );
    println!(
        "  app INSERT … unnest into partitioned audit_log (RLS)  {:>10.0} rows/s",
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
    println!(
        "  where the app path goes: without the rollup trigger {:.0} rows/s ({:+.1}%), without any trigger \
         (foreign-key checks included) {:.0} rows/s ({:+.1}%)",
        f.app_insert_without_rollup_trigger,
        cost(f.app_insert, f.app_insert_without_rollup_trigger),
        f.app_insert_without_triggers,
        cost(f.app_insert, f.app_insert_without_triggers),
    );
    if f.statement_micros.is_finite() {
        println!(
            "  single-row INSERT statements in one transaction ({} per round): {:.1} µs each with the rollup \
             trigger, {:.1} µs without ({:+.1} µs per statement)",
            options.single_rows,
            f.statement_micros,
            f.statement_micros_without_rollup_trigger,
            f.statement_micros - f.statement_micros_without_rollup_trigger,
        );
    }
}

/// An organisation and a user for the audit rows, made as the administrator.
async fn tenant(admin: &Client) -> Result<(Uuid, Uuid), BenchError> {
    let organisation: Uuid = admin
        .query_one(
            "INSERT INTO organisations (name) VALUES ('Ingest benchmark') RETURNING id",
            &[],
        )
        .await?
        .get(0);
    let user = Uuid::now_v7();
    admin
        .execute(
            "INSERT INTO users (id, organisation_id, email, full_name, role, created_by) \
             VALUES ($1, $2, 'bench@ingest.example', 'Bench User', 'admin', $1)",
            &[&user, &organisation],
        )
        .await?;
    Ok((organisation, user))
}

#[derive(Clone, Copy)]
enum Triggers {
    AllButRollup,
    /// Every trigger of audit_log off, the foreign-key checks included (superuser only).
    None,
}

/// Awaits `work` with some triggers of audit_log disabled, then enables them again.
async fn with_triggers<T>(
    admin: &Client,
    triggers: Triggers,
    work: impl std::future::Future<Output = Result<T, BenchError>>,
) -> Result<T, BenchError> {
    let which = match triggers {
        Triggers::AllButRollup => "invalidate_rollups_on_insert",
        Triggers::None => "ALL",
    };
    admin
        .batch_execute(&format!("ALTER TABLE audit_log DISABLE TRIGGER {which}"))
        .await?;
    let result = work.await;
    admin
        .batch_execute(&format!("ALTER TABLE audit_log ENABLE TRIGGER {which}"))
        .await?;
    result
}

/// Column-wise rows, the shape `unnest` takes.
struct AuditRows {
    ids: Vec<Uuid>,
    organisation_ids: Vec<Uuid>,
    timestamps: Vec<DateTime<Utc>>,
    user_ids: Vec<Uuid>,
    modules: Vec<String>,
    entity_types: Vec<String>,
    entity_ids: Vec<Uuid>,
    actions: Vec<String>,
    changes: Vec<serde_json::Value>,
    ip_addresses: Vec<IpAddr>,
    user_agents: Vec<String>,
}

impl AuditRows {
    /// Rows as the audit trigger writes them: time-ordered ids and timestamps (now), small
    /// JSON changes.
    fn generate(organisation: Uuid, user: Uuid, count: usize) -> Self {
        let start = Utc::now();
        let mut rows = AuditRows {
            ids: Vec::with_capacity(count),
            organisation_ids: vec![organisation; count],
            timestamps: Vec::with_capacity(count),
            user_ids: vec![user; count],
            modules: Vec::with_capacity(count),
            entity_types: Vec::with_capacity(count),
            entity_ids: Vec::with_capacity(count),
            actions: Vec::with_capacity(count),
            changes: Vec::with_capacity(count),
            ip_addresses: Vec::with_capacity(count),
            user_agents: Vec::with_capacity(count),
        };
        for n in 0..count {
            rows.ids.push(Uuid::now_v7());
            rows.timestamps
                .push(start + chrono::Duration::microseconds(n as i64));
            rows.modules
                .push(["risks", "policies", "incidents"][n % 3].to_owned());
            rows.entity_types
                .push(["risk", "policy", "incident"][n % 3].to_owned());
            rows.entity_ids.push(Uuid::now_v7());
            rows.actions.push(ACTIONS[n % ACTIONS.len()].to_owned());
            rows.changes.push(serde_json::json!({
                "title": {"old": format!("Item {n}"), "new": format!("Item {n} (revised)")},
                "score": {"old": n % 5, "new": (n + 1) % 5},
            }));
            rows.ip_addresses.push(IpAddr::V4(Ipv4Addr::new(
                10,
                (n >> 16) as u8,
                (n >> 8) as u8,
                n as u8,
            )));
            rows.user_agents
                .push("Mozilla/5.0 (X11; Linux x86_64) maturion-bench".to_owned());
        }
        rows
    }

    fn len(&self) -> usize {
        self.ids.len()
    }
}

/// Rows/s of [`insert_batches`] over `options.connections` connections at once, each taking
/// a contiguous share of the rows.
async fn insert_parallel(
    app: &Database,
    context: &TenantContext,
    rows: &AuditRows,
    options: &IngestOptions,
    progress: &ProgressBar,
) -> Result<f64, BenchError> {
    let share = rows.len().div_ceil(options.connections);
    let started = Instant::now();
    let writers = (0..options.connections).map(|k| {
        let range = (k * share).min(rows.len())..((k + 1) * share).min(rows.len());
        insert_batches(app, context, rows, range, options.batch, progress)
    });
    for result in futures_util::future::join_all(writers).await {
        result?;
    }
    Ok(rate(rows.len(), started.elapsed()))
}

/// Rows/s of `INSERT … SELECT FROM unnest(…)` of `rows[range]`, `batch` rows per statement
/// and transaction.
async fn insert_batches(
    app: &Database,
    context: &TenantContext,
    rows: &AuditRows,
    range: std::ops::Range<usize>,
    batch: usize,
    progress: &ProgressBar,
) -> Result<f64, BenchError> {
    let sql = format!(
        "INSERT INTO audit_log ({COLUMNS}) SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], \
         $4::uuid[], $5::text[], $6::text[], $7::uuid[], $8::text[], $9::jsonb[], $10::inet[], $11::text[])"
    );
    let started = Instant::now();
    let count = range.len();
    let mut at = range.start;
    while at < range.end {
        let end = (at + batch).min(range.end);
        let range = at..end;
        let columns: [&(dyn ToSql + Sync); 11] = [
            &&rows.ids[range.clone()],
            &&rows.organisation_ids[range.clone()],
            &&rows.timestamps[range.clone()],
            &&rows.user_ids[range.clone()],
            &&rows.modules[range.clone()],
            &&rows.entity_types[range.clone()],
            &&rows.entity_ids[range.clone()],
            &&rows.actions[range.clone()],
            &&rows.changes[range.clone()],
            &&rows.ip_addresses[range.clone()],
            &&rows.user_agents[range.clone()],
        ];
        let tx = app.transaction(context).await?;
        let statement = tx.prepare(&sql).await?;
        let inserted = tx.execute(&statement, &columns).await?;
        tx.commit().await?;
        if inserted != (end - at) as u64 {
            return Err(BenchError::Invalid(format!(
                "inserted {inserted} of {} rows",
                end - at
            )));
        }
        progress.inc((end - at) as u64);
        at = end;
    }
    Ok(rate(count, started.elapsed()))
}

/// Microseconds per single-row INSERT statement, all in one tenant transaction.
async fn statements(
    app: &Database,
    context: &TenantContext,
    rows: &AuditRows,
    progress: &ProgressBar,
) -> Result<f64, BenchError> {
    let tx = app.transaction(context).await?;
    let statement = tx
        .prepare(&format!("INSERT INTO audit_log ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"))
        .await?;
    let started = Instant::now();
    for n in 0..rows.len() {
        tx.execute(
            &statement,
            &[
                &rows.ids[n],
                &rows.organisation_ids[n],
                &rows.timestamps[n],
                &rows.user_ids[n],
                &rows.modules[n],
                &rows.entity_types[n],
                &rows.entity_ids[n],
                &rows.actions[n],
                &rows.changes[n],
                &rows.ip_addresses[n],
                &rows.user_agents[n],
            ],
        )
        .await?;
    }
    let elapsed = started.elapsed();
    tx.commit().await?;
    progress.inc(rows.len() as u64);
    Ok(elapsed.as_secs_f64() * 1e6 / rows.len() as f64)
}

/// Rows/s of one binary COPY of all rows (autocommit).
async fn copy(
    admin: &Client,
    table: &str,
    rows: &AuditRows,
    progress: &ProgressBar,
) -> Result<f64, BenchError> {
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
                &rows.organisation_ids[n],
                &rows.timestamps[n],
                &rows.user_ids[n],
                &rows.modules[n],
                &rows.entity_types[n],
                &rows.entity_ids[n],
                &rows.actions[n],
                &rows.changes[n],
                &rows.ip_addresses[n],
                &rows.user_agents[n],
            ])
            .await?;
        if n % 1_000 == 999 {
            progress.inc(1_000);
        }
    }
    let copied = writer.finish().await?;
    progress.inc(rows.len() as u64 % 1_000);
    if copied != rows.len() as u64 {
        return Err(BenchError::Invalid(format!(
            "copied {copied} of {} rows",
            rows.len()
        )));
    }
    Ok(rate(rows.len(), started.elapsed()))
}

fn rate(rows: usize, elapsed: Duration) -> f64 {
    rows as f64 / elapsed.as_secs_f64()
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}
