//! What the audit trigger costs writers: the same insert and update workload on identical
//! module-like tenant tables, one with the audit trigger and one without, with
//! `synchronous_commit` on and off, measured in one run.
//!
//! A third table shows the floor: its trigger only inserts a fixed row of the same size into
//! audit_log (no diff, no settings, no actor check). What the real trigger costs beyond it is
//! the trigger's own work; the floor itself is what writing one row into the partitioned,
//! indexed, RLS-checked audit_log costs, whatever the trigger is written in.
//!
//! Each transaction is what a tenant transaction sends: BEGIN and the four context settings in
//! one round trip, the statements, COMMIT. All clients work on one table at a time, in short
//! blocks that alternate between the two tables (ABBA…), so that whatever else the machine
//! does meanwhile slows both sides alike; rows/s is rows over the time of that side's blocks.

use std::fmt::Write as _;
use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use tokio_postgres::{Client, Statement};
use uuid::Uuid;

/// Goal for the audited/plain time ratio with synchronous_commit on and off.
pub const GOAL_SYNC_ON: f64 = 1.15;
pub const GOAL_SYNC_OFF: f64 = 1.5;

#[derive(Debug, Clone, Serialize)]
pub struct OverheadOptions {
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

/// Transactions per client in one timed block.
const BLOCK: usize = 50;

/// Wall times of the timed blocks of one phase, per table (see TABLES).
type BlockTimes = [Vec<Duration>; 3];

impl Default for OverheadOptions {
    fn default() -> Self {
        Self {
            clients: 4,
            transactions: 500,
            rows_per_transaction: 1,
            rounds: 3,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    Insert,
    Update,
}

#[derive(Debug, Clone, Serialize)]
pub struct OverheadLine {
    pub synchronous_commit: bool,
    pub workload: Workload,
    pub plain_rows_per_second: f64,
    pub audited_rows_per_second: f64,
    /// Time per row with the trigger / without it.
    pub ratio: f64,
    /// The median over pairs of neighbouring blocks of the same ratio (less sensitive to a
    /// burst of load from elsewhere).
    pub median_ratio: f64,
    /// Time per row with the floor trigger (a fixed audit row only) / without a trigger.
    pub floor_ratio: f64,
    pub goal: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct OverheadReport {
    pub options: OverheadOptions,
    pub lines: Vec<OverheadLine>,
    /// Audit rows the audited table produced (one per inserted or updated row).
    pub audit_rows: i64,
}

impl OverheadReport {
    pub fn meets_goals(&self) -> bool {
        self.lines.iter().all(|l| l.ratio <= l.goal)
    }

    pub fn render(&self) -> String {
        let o = &self.options;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Audit trigger overhead ({} clients, {} row(s) per transaction, {} transactions per client and table per \
             phase, {} rounds; the same table with and without the audit_trail trigger, in alternating blocks)",
            o.clients, o.rows_per_transaction, o.transactions, o.rounds
        );
        let _ = writeln!(
            out,
            "{:<19} {:<9} {:>14} {:>16} {:>7} {:>9} {:>11} {:>6}",
            "synchronous_commit",
            "workload",
            "plain rows/s",
            "audited rows/s",
            "ratio",
            "p50 ratio",
            "floor ratio",
            "goal"
        );
        for l in &self.lines {
            let _ = writeln!(
                out,
                "{:<19} {:<9} {:>14.0} {:>16.0} {:>6.2}x {:>8.2}x {:>10.2}x {:>5.2}x {}",
                if l.synchronous_commit { "on" } else { "off" },
                match l.workload {
                    Workload::Insert => "insert",
                    Workload::Update => "update",
                },
                l.plain_rows_per_second,
                l.audited_rows_per_second,
                l.ratio,
                l.median_ratio,
                l.floor_ratio,
                l.goal,
                if l.ratio <= l.goal { "ok" } else { "OVER GOAL" }
            );
        }
        let _ = writeln!(
            out,
            "audit rows written by the audited table: {}",
            self.audit_rows
        );
        let _ = writeln!(
            out,
            "floor: a trigger that only inserts a fixed audit_log row of the same size; above it is the trigger's own work"
        );
        out
    }
}

/// Without a trigger, with the audit trigger, with the floor trigger.
const TABLES: [&str; 3] = ["bench_plain", "bench_audited", "bench_floor"];
/// Block orders, in turn (ABC, CBA…), so that neither table always runs first.
const ORDERS: [[usize; 3]; 2] = [[0, 1, 2], [2, 1, 0]];

/// Runs the benchmark in the database `admin` is connected to, which must have the platform
/// and audit migrations applied and no bench tables yet (use a scratch database).
/// `connect_app` opens a session as `maturion_app` in that database.
pub async fn trigger_overhead<C, F>(
    admin: &Client,
    connect_app: C,
    options: &OverheadOptions,
) -> Result<OverheadReport>
where
    C: Fn() -> F,
    F: Future<Output = Result<Client>>,
{
    ensure!(
        options.clients > 0
            && options.transactions > 0
            && options.rows_per_transaction > 0
            && options.rounds > 0,
        "every benchmark option must be at least 1"
    );
    create_tables(admin).await?;
    let tenants = seed(admin, options.clients).await?;
    let mut sessions = Vec::new();
    for tenant in tenants {
        let client = connect_app()
            .await
            .context("cannot connect as maturion_app")?;
        sessions.push(Session::new(client, tenant).await?);
    }

    let progress = ProgressBar::new(
        (options.rounds * 2 * 2 * TABLES.len() * options.clients * options.transactions) as u64,
    );
    progress.set_style(
        ProgressStyle::with_template("{msg:>24} [{bar:40}] {pos}/{len} transactions")
            .expect("valid template")
            .progress_chars("=> "),
    );

    // Per (synchronous_commit, workload): block times, [plain, audited], in pairs.
    let mut blocks: Vec<((bool, Workload), BlockTimes)> = Vec::new();
    let blocks_per_phase = options.transactions.div_ceil(BLOCK);
    for _ in 0..options.rounds {
        for synchronous_commit in [true, false] {
            let setting = if synchronous_commit { "on" } else { "off" };
            for session in &sessions {
                session
                    .client
                    .batch_execute(&format!("SET synchronous_commit = {setting}"))
                    .await?;
            }
            // ids[client][side]: the rows this phase's inserts made, for its updates.
            let mut ids: Vec<[Vec<Uuid>; 3]> = vec![Default::default(); sessions.len()];
            for workload in [Workload::Insert, Workload::Update] {
                progress.set_message(format!("{workload:?}, sync {setting}").to_lowercase());
                let key = (synchronous_commit, workload);
                if !blocks.iter().any(|(k, _)| *k == key) {
                    blocks.push((key, Default::default()));
                }
                for block in 0..blocks_per_phase {
                    let count = BLOCK.min(options.transactions - block * BLOCK);
                    for side in ORDERS[block % 2] {
                        let elapsed = run_block(
                            &sessions,
                            workload,
                            side,
                            block * BLOCK,
                            count,
                            &mut ids,
                            options,
                            &progress,
                        )
                        .await?;
                        let entry = &mut blocks
                            .iter_mut()
                            .find(|(k, _)| *k == key)
                            .expect("added above")
                            .1;
                        entry[side].push(elapsed);
                    }
                }
            }
        }
    }
    progress.finish_and_clear();

    let lines = blocks
        .iter()
        .map(
            |((synchronous_commit, workload), [plain, audited, floor])| {
                let rows = (options.rounds
                    * options.transactions
                    * options.clients
                    * options.rows_per_transaction) as f64;
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
                    synchronous_commit: *synchronous_commit,
                    workload: *workload,
                    plain_rows_per_second: rows / plain_time,
                    audited_rows_per_second: rows / audited_time,
                    ratio: audited_time / plain_time,
                    median_ratio: pairs[pairs.len() / 2],
                    floor_ratio: floor_time / plain_time,
                    goal: if *synchronous_commit {
                        GOAL_SYNC_ON
                    } else {
                        GOAL_SYNC_OFF
                    },
                }
            },
        )
        .collect();
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
    Ok(OverheadReport {
        options: options.clone(),
        lines,
        audit_rows,
    })
}

/// A typical module table (like README's `risks`), three times: without a trigger, with the
/// audit trigger, with the floor trigger.
async fn create_tables(admin: &Client) -> Result<()> {
    let mut sql = String::from("SET ROLE maturion_owner;\n");
    for (table, audited) in [(TABLES[0], false), (TABLES[1], true), (TABLES[2], false)] {
        let _ = write!(
            sql,
            "CREATE TABLE {table} (
               id uuid PRIMARY KEY DEFAULT generate_uuidv7(),
               organisation_id uuid NOT NULL REFERENCES organisations (id),
               title text NOT NULL,
               status text NOT NULL,
               score integer NOT NULL,
               details jsonb,
               owner_id uuid,
               created_at timestamptz NOT NULL DEFAULT now(),
               created_by uuid NOT NULL,
               updated_at timestamptz NOT NULL DEFAULT now(),
               updated_by uuid,
               deleted_at timestamptz,
               deleted_by uuid,
               UNIQUE (organisation_id, id),
               FOREIGN KEY (organisation_id, owner_id) REFERENCES users (organisation_id, id),
               FOREIGN KEY (organisation_id, created_by) REFERENCES users (organisation_id, id),
               FOREIGN KEY (organisation_id, updated_by) REFERENCES users (organisation_id, id),
               FOREIGN KEY (organisation_id, deleted_by) REFERENCES users (organisation_id, id)
             );
             CREATE INDEX ON {table} (organisation_id, owner_id);
             CREATE INDEX ON {table} (organisation_id, created_by);
             CREATE INDEX ON {table} (organisation_id, updated_by);
             CREATE INDEX ON {table} (organisation_id, deleted_by);
             SELECT maturion.enable_tenant_isolation('{table}', 'bench', audit_trail => {audited});\n"
        );
    }
    // The row the audit trigger writes for one of these updates, as constants: the same
    // columns and indexes are maintained, nothing is computed.
    let _ = write!(
        sql,
        "CREATE FUNCTION bench_audit_row_only() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           INSERT INTO public.audit_log
             (organisation_id, user_id, module, entity_type, entity_id, action, changes, ip_address, user_agent)
           VALUES (NEW.organisation_id, NEW.created_by, 'bench', 'bench_floor', NEW.id, 'updated',
                   '{{\"status\": {{\"old\": \"open\", \"new\": \"treated\"}}, \"score\": {{\"old\": 3, \"new\": 4}}}}',
                   '192.0.2.10', 'maturion-bench/1.0');
           RETURN NULL;
         END $$;
         CREATE TRIGGER audit_row_only AFTER INSERT OR UPDATE ON {floor}
           FOR EACH ROW EXECUTE FUNCTION bench_audit_row_only();\n",
        floor = TABLES[2]
    );
    sql.push_str("RESET ROLE;");
    admin
        .batch_execute(&sql)
        .await
        .context("cannot create the benchmark tables")?;
    Ok(())
}

#[derive(Clone, Copy)]
struct Tenant {
    organisation: Uuid,
    user: Uuid,
}

async fn seed(admin: &Client, count: usize) -> Result<Vec<Tenant>> {
    let mut tenants = Vec::new();
    for n in 0..count {
        let (organisation, user) = (Uuid::now_v7(), Uuid::now_v7());
        admin
            .execute(
                "INSERT INTO organisations (id, name) VALUES ($1, $2)",
                &[&organisation, &format!("Bench {n}")],
            )
            .await?;
        admin
            .execute(
                "INSERT INTO users (id, organisation_id, email, full_name, role, created_by) \
                 VALUES ($1, $2, $3, 'Bench User', 'admin', $1)",
                &[&user, &organisation, &format!("bench{n}@bench.example")],
            )
            .await?;
        tenants.push(Tenant { organisation, user });
    }
    Ok(tenants)
}

/// One client session of one organisation, as maturion_tenancy opens them.
struct Session {
    client: Client,
    tenant: Tenant,
    set_context: Statement,
}

impl Session {
    async fn new(client: Client, tenant: Tenant) -> Result<Self> {
        let set_context = client
            .prepare(
                "SELECT set_config('app.current_organisation_id', $1, true), \
                        set_config('app.current_user_id', $2, true), \
                        set_config('app.ip_address', $3, true), \
                        set_config('app.user_agent', $4, true)",
            )
            .await?;
        Ok(Self {
            client,
            tenant,
            set_context,
        })
    }

    /// BEGIN and the context in one round trip, as maturion_tenancy does.
    async fn begin(&self) -> Result<()> {
        let (organisation, user) = (
            self.tenant.organisation.to_string(),
            self.tenant.user.to_string(),
        );
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
            [&organisation, &user, &"192.0.2.10", &"maturion-bench/1.0"];
        let (begun, configured) = futures_util::join!(
            self.client.batch_execute("BEGIN"),
            self.client.query_one(&self.set_context, &params)
        );
        begun?;
        configured?;
        Ok(())
    }
}

/// One timed block: every client runs `count` transactions on one table (`side`: an index
/// of TABLES), all at once. Inserts add their ids to `ids`; updates change the rows inserted
/// at the same positions. Returns the block's wall time.
#[allow(clippy::too_many_arguments)]
async fn run_block(
    sessions: &[Session],
    workload: Workload,
    side: usize,
    first: usize,
    count: usize,
    ids: &mut [[Vec<Uuid>; 3]],
    options: &OverheadOptions,
    progress: &ProgressBar,
) -> Result<Duration> {
    let table = TABLES[side];
    let sql = match workload {
        Workload::Insert => format!(
            "INSERT INTO {table} (organisation_id, title, status, score, details, owner_id, created_by) \
             VALUES ($1, $2, 'open', $3, $4, $5, $5) RETURNING id"
        ),
        Workload::Update => format!("UPDATE {table} SET status = $2, score = score + 1 WHERE id = $1"),
    };
    let mut statements = Vec::new();
    for session in sessions {
        statements.push(session.client.prepare(&sql).await?);
    }
    let started = Instant::now();
    let work =
        sessions
            .iter()
            .zip(&statements)
            .zip(ids.iter())
            .map(|((session, statement), ids)| {
                let targets = &ids[side];
                async move {
                    let (client, tenant) = (&session.client, session.tenant);
                    let details =
                        serde_json::json!({"likelihood": 3, "impact": 4, "treatment": "mitigate"});
                    let mut new_ids = Vec::new();
                    for t in first..first + count {
                        session.begin().await?;
                        for r in 0..options.rows_per_transaction {
                            match workload {
                                Workload::Insert => {
                                    let title = format!(
                                        "Risk {t}.{r}: supplier outage affects order processing"
                                    );
                                    let score = (t % 25) as i32;
                                    let row = client
                                        .query_one(
                                            statement,
                                            &[
                                                &tenant.organisation,
                                                &title,
                                                &score,
                                                &details,
                                                &tenant.user,
                                            ],
                                        )
                                        .await?;
                                    new_ids.push(row.get::<_, Uuid>(0));
                                }
                                Workload::Update => {
                                    let id = targets[t * options.rows_per_transaction + r];
                                    let changed =
                                        client.execute(statement, &[&id, &"treated"]).await?;
                                    ensure!(changed == 1, "update changed {changed} rows");
                                }
                            }
                        }
                        client.batch_execute("COMMIT").await?;
                        progress.inc(1);
                    }
                    anyhow::Ok(new_ids)
                }
            });
    let new_ids = futures_util::future::try_join_all(work).await?;
    let elapsed = started.elapsed();
    for (ids, new) in ids.iter_mut().zip(new_ids) {
        ids[side].extend(new);
    }
    Ok(elapsed)
}
