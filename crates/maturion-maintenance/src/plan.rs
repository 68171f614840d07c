//! What a run will do, decided from the catalog and the default partitions' contents.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Months, Utc};
use tokio_postgres::{Client, Transaction};

use crate::error::Context;
use crate::{Log, MaintenanceError, Month, Policy};

/// The steps of one run, in order, and what the planner noticed but leaves alone.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The database's clock when planning (months are UTC months of this instant).
    pub now: DateTime<Utc>,
    pub steps: Vec<Step>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A new empty monthly partition.
    CreatePartition { log: Log, month: Month },
    /// New monthly partitions for rows the default partition caught, moved in one
    /// transaction; `months` holds each month and how many rows it had when planned.
    MoveFromDefault { log: Log, months: Vec<(Month, i64)> },
    /// An existing partition that drifted from the rules.
    Harden {
        log: Log,
        partition: String,
        fixes: Vec<Fix>,
    },
    /// A whole partition past its log's retention.
    DropPartition { log: Log, month: Month },
    /// Recompute the rollup buckets named in the invalidation log. Buckets before `keep_from`
    /// (the start of the oldest month within the log's retention) are never recomputed, since
    /// their raw rows are gone or going: the daily rollups outlive the log, and hourly rows
    /// before it are pruned.
    RefreshRollups {
        log: Log,
        pending: i64,
        /// The log is registered in `maturion.rollup_watermarks`: its new rows are found by
        /// transaction id, not by invalidation.
        watermarked: bool,
        keep_from: Option<DateTime<Utc>>,
    },
}

/// A correction to a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fix {
    /// Someone holds privileges on the partition: revoke them all.
    RevokeGrants,
    /// RLS is off, so a grant would expose every row: enable it (no policy = no row).
    EnableRowSecurity,
    /// The JSONB column is not lz4-compressed.
    Lz4Compression,
    /// The partition lacks a storage parameter of the log's default partition (event_log's
    /// fillfactor, which keeps its processed_at updates on the row's page).
    StorageParameters,
}

impl fmt::Display for Fix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fix::RevokeGrants => "revoke all grants",
            Fix::EnableRowSecurity => "enable row-level security",
            Fix::Lz4Compression => "lz4 compression",
            Fix::StorageParameters => "storage parameters of the default partition",
        })
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::CreatePartition { log, month } => {
                write!(f, "create {} for {month}", month.partition_name(*log))
            }
            Step::MoveFromDefault { log, months } => {
                let list: Vec<String> = months
                    .iter()
                    .map(|(month, rows)| format!("{} ({rows} rows)", month.partition_name(*log)))
                    .collect();
                write!(
                    f,
                    "move rows out of {log}_default into new {}",
                    list.join(", ")
                )
            }
            Step::Harden {
                partition, fixes, ..
            } => {
                let list: Vec<String> = fixes.iter().map(ToString::to_string).collect();
                write!(f, "harden {partition}: {}", list.join(", "))
            }
            Step::DropPartition { log, month } => {
                write!(
                    f,
                    "drop {} (past the retention of {log})",
                    month.partition_name(*log)
                )
            }
            Step::RefreshRollups {
                log,
                pending,
                watermarked,
                keep_from,
            } => {
                write!(
                    f,
                    "refresh the {log} rollups ({pending} pending invalidations{})",
                    if *watermarked {
                        ", and the rows written since the transaction-id watermark"
                    } else {
                        ""
                    }
                )?;
                match keep_from {
                    Some(start) => write!(
                        f,
                        ", pruning hourly buckets before {}",
                        start.format("%Y-%m-%d")
                    ),
                    None => Ok(()),
                }
            }
        }
    }
}

/// One partition of a log as found in the catalog.
#[derive(Debug)]
struct Partition {
    name: String,
    /// `Some` for a monthly partition this crate manages (name and bounds as it makes them).
    month: Option<Month>,
    is_default: bool,
    fixes: Vec<Fix>,
}

/// Looks at the database and decides the steps. Runs in a read-only transaction as the owner
/// of the logs (who may read the default partitions directly).
pub(crate) async fn plan(client: &mut Client, policy: &Policy) -> Result<Plan, MaintenanceError> {
    let tx = client
        .transaction()
        .await
        .context("cannot begin the planning transaction")?;
    tx.batch_execute(&format!(
        "SET TRANSACTION READ ONLY; SET LOCAL ROLE {owner}; {SESSION}",
        owner = maturion_schema::OWNER_ROLE
    ))
    .await
    .context(format!(
        "cannot plan as {} (the job needs an administrator)",
        maturion_schema::OWNER_ROLE
    ))?;
    let now: DateTime<Utc> = tx
        .query_one("SELECT now()", &[])
        .await
        .context("cannot read the clock")?
        .get(0);

    let mut steps = Vec::new();
    let mut notes = Vec::new();
    let mut refreshes = Vec::new();
    for log in Log::ALL {
        steps.extend(plan_partitions(&tx, log, policy, now, &mut notes).await?);
        refreshes.push(refresh_step(&tx, log, keep_from(policy, log, now)).await?);
    }
    // Rollups last: they read partitions the steps above may have moved rows into.
    steps.extend(refreshes);
    if let Some(note) = timescaledb_note(&tx).await? {
        notes.push(note);
    }
    tx.commit()
        .await
        .context("cannot end the planning transaction")?;
    Ok(Plan { now, steps, notes })
}

/// The partition steps of one log, in the order they run: moves out of the default partition,
/// new partitions, fixes to partitions that stay, drops.
async fn plan_partitions(
    tx: &Transaction<'_>,
    log: Log,
    policy: &Policy,
    now: DateTime<Utc>,
    notes: &mut Vec<String>,
) -> Result<Vec<Step>, MaintenanceError> {
    let partitions = partitions(tx, log).await?;
    let Some(default) = partitions.iter().find(|p| p.is_default) else {
        return Err(MaintenanceError::Inconsistent(format!(
            "{log} has no default partition, so an insert outside every partition would fail; \
             CREATE TABLE public.{log}_default PARTITION OF public.{log} DEFAULT"
        )));
    };
    let existing: BTreeSet<Month> = partitions.iter().filter_map(|p| p.month).collect();
    note_unmanaged(log, &partitions, notes);

    let current = Month::containing(now);
    let horizon = current.plus(policy.months_ahead as i32);
    let moves = months_to_move(tx, log, &default.name, &existing, horizon, notes).await?;
    let moved: BTreeSet<Month> = moves.iter().map(|(month, _)| *month).collect();
    let creates: Vec<Month> = (0..=policy.months_ahead as i32)
        .map(|ahead| current.plus(ahead))
        .filter(|month| !existing.contains(month) && !moved.contains(month))
        .collect();
    let mut will_exist: BTreeSet<Month> = existing;
    will_exist.extend(moved.iter().copied());
    will_exist.extend(creates.iter().copied());
    let drops: Vec<Month> = will_exist
        .into_iter()
        .filter(|month| expired(policy, log, now, month))
        .collect();

    let mut steps = Vec::new();
    if !moves.is_empty() {
        steps.push(Step::MoveFromDefault { log, months: moves });
    }
    steps.extend(
        creates
            .into_iter()
            .map(|month| Step::CreatePartition { log, month }),
    );
    steps.extend(hardening(log, partitions, &drops));
    steps.extend(
        drops
            .into_iter()
            .map(|month| Step::DropPartition { log, month }),
    );
    Ok(steps)
}

fn note_unmanaged(log: Log, partitions: &[Partition], notes: &mut Vec<String>) {
    for partition in partitions
        .iter()
        .filter(|p| p.month.is_none() && !p.is_default)
    {
        notes.push(format!(
            "{} is a partition of {log} this job does not manage (not named {log}_pYYYY_MM with \
             UTC month bounds); left alone",
            partition.name
        ));
    }
}

/// The months the default partition holds rows of that no partition takes yet, with their row
/// counts. Rows beyond the horizon stay where they are, with a note.
async fn months_to_move(
    tx: &Transaction<'_>,
    log: Log,
    default: &str,
    existing: &BTreeSet<Month>,
    horizon: Month,
    notes: &mut Vec<String>,
) -> Result<Vec<(Month, i64)>, MaintenanceError> {
    let mut moves = Vec::new();
    let (by_month, unplaceable) = default_rows_by_month(tx, log, default).await?;
    if unplaceable > 0 {
        notes.push(format!(
            "{unplaceable} rows of {log} are dated where no monthly partition can hold them \
             (before year 1, after 9998, or infinite): they stay quarantined in {default}; find \
             them with SELECT * FROM {default} WHERE NOT (\"timestamp\" >= '{FIRST_PLACEABLE}' \
             AND \"timestamp\" < '{END_OF_PLACEABLE}')"
        ));
    }
    for (month, rows) in by_month {
        if month > horizon {
            notes.push(format!(
                "{rows} rows of {log} dated {month}, beyond the {horizon} horizon, stay in {default}"
            ));
        } else if !existing.contains(&month) {
            moves.push((month, rows));
        }
    }
    Ok(moves)
}

/// Whether the whole of `month` is past the log's retention.
fn expired(policy: &Policy, log: Log, now: DateTime<Utc>, month: &Month) -> bool {
    match policy.retention_months(log) {
        Some(months) => now
            .checked_sub_months(Months::new(months))
            .is_some_and(|cutoff| month.end() <= cutoff),
        None => false,
    }
}

/// The start of the oldest month not expired: the one the retention cutoff falls in.
fn keep_from(policy: &Policy, log: Log, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    policy
        .retention_months(log)
        .and_then(|months| now.checked_sub_months(Months::new(months)))
        .map(|cutoff| Month::containing(cutoff).start())
}

/// Fixes for the partitions that drifted, except those about to be dropped.
fn hardening(log: Log, partitions: Vec<Partition>, drops: &[Month]) -> Vec<Step> {
    partitions
        .into_iter()
        .filter(|partition| {
            let doomed = partition.month.is_some_and(|month| drops.contains(&month));
            !partition.fixes.is_empty() && !doomed
        })
        .map(|partition| Step::Harden {
            log,
            partition: partition.name,
            fixes: partition.fixes,
        })
        .collect()
}

async fn refresh_step(
    tx: &Transaction<'_>,
    log: Log,
    keep_from: Option<DateTime<Utc>>,
) -> Result<Step, MaintenanceError> {
    let pending = tx
        .query_one(
            "SELECT (SELECT count(*) FROM maturion.rollup_invalidations WHERE log = $1), \
                    EXISTS (SELECT FROM maturion.rollup_watermarks WHERE log = $1)",
            &[&log.table()],
        )
        .await
        .context(
            "cannot count pending rollup invalidations (is the maintenance scope migrated?)",
        )?;
    Ok(Step::RefreshRollups {
        log,
        pending: pending.get(0),
        watermarked: pending.get(1),
        keep_from,
    })
}

/// Settings every maintenance transaction starts with: UTC months and hours whatever the
/// server's TimeZone, and a search_path that makes every name in our SQL (and in the
/// definitions PostgreSQL prints back) schema-qualified.
pub(crate) const SESSION: &str =
    "SET LOCAL TimeZone = 'UTC'; SET LOCAL search_path = pg_catalog, pg_temp;";

async fn partitions(tx: &Transaction<'_>, log: Log) -> Result<Vec<Partition>, MaintenanceError> {
    let rows = tx
        .query(
            "SELECT c.relname::text AS name,
                    pg_get_expr(c.relpartbound, c.oid) AS bound,
                    c.relrowsecurity AS row_security,
                    EXISTS (
                      SELECT FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
                      WHERE a.grantee <> c.relowner
                    ) OR EXISTS (
                      SELECT FROM pg_attribute col, aclexplode(col.attacl) a
                      WHERE col.attrelid = c.oid AND col.attacl IS NOT NULL AND a.grantee <> c.relowner
                    ) AS has_grants,
                    coalesce((SELECT col.attcompression = 'l' FROM pg_attribute col
                              WHERE col.attrelid = c.oid AND col.attname = $2), false) AS lz4,
                    coalesce((SELECT d.reloptions FROM pg_inherits di JOIN pg_class d ON d.oid = di.inhrelid
                              WHERE di.inhparent = i.inhparent AND pg_get_expr(d.relpartbound, d.oid) = 'DEFAULT'),
                             '{}') <@ coalesce(c.reloptions, '{}') AS storage_as_default
             FROM pg_inherits i
             JOIN pg_class c ON c.oid = i.inhrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE i.inhparent = format('public.%I', $1::text)::regclass
             ORDER BY c.relname",
            &[&log.table(), &log.json_column()],
        )
        .await
        .context(format!("cannot list the partitions of {log}"))?;
    Ok(rows
        .iter()
        .map(|row| {
            let name: String = row.get("name");
            let bound: String = row.get("bound");
            let month = Month::from_partition_name(log, &name)
                .filter(|month| bound == month.bound_expression());
            let mut fixes = Vec::new();
            if row.get("has_grants") {
                fixes.push(Fix::RevokeGrants);
            }
            if !row.get::<_, bool>("row_security") {
                fixes.push(Fix::EnableRowSecurity);
            }
            if !row.get::<_, bool>("lz4") {
                fixes.push(Fix::Lz4Compression);
            }
            if !row.get::<_, bool>("storage_as_default") {
                fixes.push(Fix::StorageParameters);
            }
            Partition {
                name,
                month,
                is_default: bound == "DEFAULT",
                fixes,
            }
        })
        .collect())
}

/// The instants monthly partitions can hold: what chrono and `Month` represent, in the
/// four-digit years PostgreSQL reads back from a partition bound.
const FIRST_PLACEABLE: &str = "0001-01-01 00:00:00+00";
const END_OF_PLACEABLE: &str = "9999-01-01 00:00:00+00";

/// Rows in the default partition per UTC month (normally none), and how many no month can
/// hold. Months are read as numbers, so that no stored timestamp has to fit a Rust type.
async fn default_rows_by_month(
    tx: &Transaction<'_>,
    log: Log,
    default: &str,
) -> Result<(Vec<(Month, i64)>, i64), MaintenanceError> {
    let rows = tx
        .query(
            &format!(
                "SELECT extract(year FROM month)::int AS year, extract(month FROM month)::int AS month, \
                        count(*) AS rows \
                 FROM (SELECT CASE WHEN \"timestamp\" >= '{FIRST_PLACEABLE}' AND \"timestamp\" < '{END_OF_PLACEABLE}' \
                                   THEN date_trunc('month', \"timestamp\", 'UTC') AT TIME ZONE 'UTC' END AS month \
                       FROM public.{}) AS r \
                 GROUP BY 1, 2 ORDER BY 1, 2",
                quote_ident(default)
            ),
            &[],
        )
        .await
        .context(format!(
            "cannot count the rows in {default}, the default partition of {log}"
        ))?;
    let mut months = Vec::new();
    let mut unplaceable = 0;
    for row in &rows {
        let year: Option<i32> = row.get("year");
        let month: Option<i32> = row.get("month");
        let count: i64 = row.get("rows");
        let placed = year
            .zip(month)
            .and_then(|(year, month)| Month::new(year, u32::try_from(month).ok()?));
        match placed {
            Some(month) => months.push((month, count)),
            None => unplaceable += count,
        }
    }
    Ok((months, unplaceable))
}

/// TimescaleDB, when present, is deliberately not used for the logs: say so.
async fn timescaledb_note(tx: &Transaction<'_>) -> Result<Option<String>, MaintenanceError> {
    let row = tx
        .query_opt(
            "SELECT installed_version IS NOT NULL AS installed, coalesce(installed_version, default_version) AS version \
             FROM pg_available_extensions WHERE name = 'timescaledb'",
            &[],
        )
        .await
        .context("cannot look for TimescaleDB")?;
    Ok(row.map(|row| {
        let version: String = row.get("version");
        let state = if row.get("installed") { "is installed" } else { "is available" };
        format!(
            "TimescaleDB {version} {state}; the logs stay on native partitioning, which keeps RLS on \
             every partition (see ARCHITECTURE.md)"
        )
    }))
}

/// Quotes an identifier for SQL (always, so case and reserved words are kept).
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
