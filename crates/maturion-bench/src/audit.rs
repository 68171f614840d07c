//! What the audit trigger costs writers: the same insert and update workload on identical
//! module-like tenant tables, one with the audit trigger and one without, with
//! `synchronous_commit` on and off, measured in one run.
//!
//! A third table shows the floor: its trigger only inserts a fixed row of the same size into
//! audit_log (no diff, no settings, no actor check). What the real trigger costs beyond it is
//! the trigger's own work; the floor itself is what writing one row into the partitioned,
//! indexed, RLS-checked audit_log costs, whatever the trigger is written in.
//!
//! Each transaction is a tenant transaction: BEGIN and the four context settings in one round
//! trip, the statements, COMMIT. All clients work on one table at a time, in short blocks that
//! alternate between the two tables (ABBA…), so that whatever else the machine does meanwhile
//! slows both sides alike; rows/s is rows over the time of that side's blocks.

mod report;
mod workload;

use std::time::Duration;

use anyhow::{ensure, Result};
use indicatif::ProgressBar;
use maturion_config::DatabaseTarget;
use tokio_postgres::Client;
use uuid::Uuid;

pub use report::{OverheadLine, OverheadReport, Workload};

use crate::bar;
use crate::scratch::Scratch;
use workload::{Block, Clients, TABLES};

/// Goal for the audited/floor time ratio: capture stays inside the writing transaction, so the
/// floor (inserting the audit row at all) is paid regardless; the goal bounds the rest.
pub const GOAL_OVER_FLOOR: f64 = 1.1;

const BENCH_DATABASE: &str = "maturion_bench_audit";
/// Transactions per client in one timed block.
const BLOCK: usize = 50;
/// Block orders, in turn (ABC, CBA…), so that neither table always runs first.
const ORDERS: [[usize; 3]; 2] = [[0, 1, 2], [2, 1, 0]];

#[derive(Debug, Clone)]
pub struct Options {
    /// Concurrent sessions, each for its own organisation.
    pub clients: usize,
    /// Transactions per client and table in each phase (a phase: one workload, one
    /// synchronous_commit setting).
    pub transactions: usize,
    /// Rows each transaction inserts (or updates), one statement per row.
    pub rows_per_transaction: usize,
    /// Repetitions of every phase.
    pub rounds: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            clients: 4,
            transactions: 500,
            rows_per_transaction: 1,
            rounds: 3,
        }
    }
}

/// Wall times of the timed blocks of one phase, per table (see TABLES).
type BlockTimes = [Vec<Duration>; 3];
/// Block times per (synchronous_commit, workload), in the order first measured.
type Phases = Vec<((bool, Workload), BlockTimes)>;

/// Measures and prints the report. The whole platform is migrated: the audit trigger's cost
/// includes what other scopes hang on audit_log.
pub async fn run(server: &DatabaseTarget, options: &Options) -> Result<OverheadReport> {
    ensure!(
        options.clients > 0
            && options.transactions > 0
            && options.rows_per_transaction > 0
            && options.rounds > 0,
        "every benchmark option must be at least 1"
    );
    let scratch = Scratch::create(server, BENCH_DATABASE).await?;
    let outcome = trigger_overhead(&scratch, options).await;
    scratch.remove().await?;
    let report = outcome?;
    println!();
    print!("{}", report.render());
    Ok(report)
}

async fn trigger_overhead(scratch: &Scratch, options: &Options) -> Result<OverheadReport> {
    let admin = &scratch.admin;
    workload::create_tables(admin).await?;
    let mut clients = Clients::connect(scratch, options.clients).await?;
    let progress = bar(
        (options.rounds * 2 * 2 * TABLES.len() * options.clients * options.transactions) as u64,
        "{msg:>24} [{bar:40}] {pos}/{len} transactions",
    );
    let mut phases = Phases::new();
    for _ in 0..options.rounds {
        for synchronous_commit in [true, false] {
            clients.set_synchronous_commit(synchronous_commit).await?;
            measure_phases(
                &mut clients,
                synchronous_commit,
                &mut phases,
                options,
                &progress,
            )
            .await?;
        }
    }
    progress.finish_and_clear();
    let lines = phases
        .iter()
        .map(|(key, times)| line(*key, times, options))
        .collect();
    Ok(OverheadReport {
        options: options.clone(),
        lines,
        audit_rows: audit_rows(admin, options).await?,
    })
}

/// Inserts, then updates of the inserted rows, in blocks that alternate between the tables.
async fn measure_phases(
    clients: &mut Clients,
    synchronous_commit: bool,
    phases: &mut Phases,
    options: &Options,
    progress: &ProgressBar,
) -> Result<()> {
    let setting = if synchronous_commit { "on" } else { "off" };
    // ids[client][table]: the rows this round's inserts made, for its updates.
    let mut ids: Vec<[Vec<Uuid>; 3]> = vec![Default::default(); options.clients];
    for workload in [Workload::Insert, Workload::Update] {
        progress.set_message(format!("{workload:?}, sync {setting}").to_lowercase());
        let key = (synchronous_commit, workload);
        let index = match phases.iter().position(|(k, _)| *k == key) {
            Some(index) => index,
            None => {
                phases.push((key, Default::default()));
                phases.len() - 1
            }
        };
        for block in 0..options.transactions.div_ceil(BLOCK) {
            for table in ORDERS[block % 2] {
                let block = Block {
                    workload,
                    table,
                    first: block * BLOCK,
                    count: BLOCK.min(options.transactions - block * BLOCK),
                };
                let elapsed = clients.run(&block, &mut ids, options, progress).await?;
                phases[index].1[table].push(elapsed);
            }
        }
    }
    Ok(())
}

fn line(
    (synchronous_commit, workload): (bool, Workload),
    [plain, audited, floor]: &BlockTimes,
    options: &Options,
) -> OverheadLine {
    let rows =
        (options.rounds * options.transactions * options.clients * options.rows_per_transaction)
            as f64;
    let plain_time = plain.iter().sum::<Duration>().as_secs_f64();
    let audited_time = audited.iter().sum::<Duration>().as_secs_f64();
    let floor_time = floor.iter().sum::<Duration>().as_secs_f64();
    let mut pairs: Vec<f64> = plain
        .iter()
        .zip(audited)
        .map(|(p, a)| a.as_secs_f64() / p.as_secs_f64())
        .collect();
    pairs.sort_by(f64::total_cmp);
    OverheadLine {
        synchronous_commit,
        workload,
        plain_rows_per_second: rows / plain_time,
        audited_rows_per_second: rows / audited_time,
        ratio: audited_time / plain_time,
        median_ratio: pairs[pairs.len() / 2],
        floor_ratio: floor_time / plain_time,
        over_floor: audited_time / floor_time,
    }
}

/// The audit rows of the audited table, checked against what the workload wrote.
async fn audit_rows(admin: &Client, options: &Options) -> Result<i64> {
    let audit_rows: i64 = admin
        .query_one(
            "SELECT count(*) FROM public.audit_log WHERE entity_type = 'bench_audited'",
            &[],
        )
        .await?
        .get(0);
    let expected = (options.rounds
        * 2
        * 2
        * options.clients
        * options.transactions
        * options.rows_per_transaction) as i64;
    ensure!(
        audit_rows == expected,
        "the audited table wrote {audit_rows} audit rows, expected {expected}"
    );
    Ok(audit_rows)
}
