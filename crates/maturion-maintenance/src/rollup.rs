//! Incremental refresh of the hourly and daily rollups.
//!
//! A refresh recomputes exactly the (organisation, UTC hour) buckets that got rows since the
//! last one, from the log, and then their days from the hours. It learns them in one of two
//! ways, per log:
//! - a statement trigger records the buckets in the writer's own transaction
//!   (`maturion.rollup_invalidations`), and the refresh claims the entries committed so far
//!   with one DELETE; an entry of a transaction that commits later is invisible to that DELETE
//!   and stays for the next refresh;
//! - a log registered in `maturion.rollup_watermarks` (its rows carry their transaction id)
//!   needs no trigger on insert: the refresh reads the horizon below which every transaction
//!   has ended, before taking its snapshot, and recounts the buckets of the rows of the
//!   transactions between the watermark and that horizon. A transaction still running stays
//!   above the horizon for the next refresh.
//!
//! Either way late commits are never missed and a bucket that is not named is not touched.
//!
//! Rollups outlive the log's retention: hours of months past retention are never recomputed
//! (their rows are gone or about to go, so a recount would lose what was counted), hourly
//! buckets there are pruned, and daily buckets are kept.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Utc};
use tokio_postgres::{Client, Transaction};
use tracing::warn;
use uuid::Uuid;

use crate::error::Context;
use crate::plan::SESSION;
use crate::{Log, MaintenanceError};

/// Hours recomputed per statement, so that a first refresh over years of data stays bounded.
const CHUNK: usize = 5_000;

/// What one refresh of one log's rollups did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshStats {
    pub log: Log,
    /// Distinct (organisation, hour) buckets recomputed.
    pub hours: usize,
    /// Distinct (organisation, day) buckets recomputed.
    pub days: usize,
    /// Rollup rows inserted or changed (hourly + daily).
    pub rows_written: u64,
    /// Rollup rows removed because their group no longer has rows (hourly + daily).
    pub rows_removed: u64,
    /// Invalidations of hours past retention, dropped without a recount.
    pub discarded: usize,
    /// Hourly rollup rows past retention, deleted (the daily rows stay).
    pub rows_pruned: u64,
    /// Changed hours dated where no Rust date reaches (rows quarantined in the default
    /// partition): left uncounted.
    pub unplaceable: usize,
}

impl fmt::Display for RefreshStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "refreshed the {} rollups: {} hours and {} days recomputed, {} rows written, {} removed",
            self.log, self.hours, self.days, self.rows_written, self.rows_removed
        )?;
        if self.unplaceable > 0 {
            write!(
                f,
                "; {} hours dated out of range left uncounted",
                self.unplaceable
            )?;
        }
        if self.discarded > 0 || self.rows_pruned > 0 {
            write!(
                f,
                "; past retention: {} invalidated hours ignored, {} hourly rows pruned",
                self.discarded, self.rows_pruned
            )?;
        }
        Ok(())
    }
}

/// Refreshes `log`'s rollups as the BYPASSRLS maintenance role, in one REPEATABLE READ
/// transaction: the counts are exact for the snapshot the claim was made in.
pub(crate) async fn refresh(
    client: &mut Client,
    log: Log,
    keep_from: Option<DateTime<Utc>>,
) -> Result<RefreshStats, MaintenanceError> {
    let horizon = finished_transactions_horizon(client).await?;
    let tx = begin_refresh(client).await?;
    let mut claimed = claim_invalidations(&tx, log).await?;
    claimed.extend(follow_watermark(&tx, log, horizon).await?);
    let (claimed, unplaceable) = placeable(claimed);
    let (hours, discarded): (Vec<_>, Vec<_>) = claimed
        .into_iter()
        .partition(|(_, hour)| keep_from.is_none_or(|start| *hour >= start));
    let days = days_of(&hours);

    let (hourly_written, hourly_removed) =
        recompute_in_chunks(&tx, log, Granularity::Hour, &hours).await?;
    // The days read the hours just written (same transaction).
    let (daily_written, daily_removed) =
        recompute_in_chunks(&tx, log, Granularity::Day, &days).await?;
    let rows_pruned = match keep_from {
        Some(start) => prune_hours_before(&tx, log, start).await?,
        None => 0,
    };
    tx.commit()
        .await
        .context(format!("cannot commit the {log} rollups"))?;
    Ok(RefreshStats {
        log,
        hours: hours.len(),
        days: days.len(),
        rows_written: hourly_written + daily_written,
        rows_removed: hourly_removed + daily_removed,
        discarded: discarded.len(),
        rows_pruned,
        unplaceable,
    })
}

async fn begin_refresh(client: &mut Client) -> Result<Transaction<'_>, MaintenanceError> {
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .start()
        .await
        .context("cannot begin the rollup refresh")?;
    tx.batch_execute(&format!("SET LOCAL ROLE {}; {SESSION}", maturion_schema::MAINTENANCE_ROLE))
        .await
        .context(format!(
            "cannot act as {} (the administrator running maintenance must be allowed to SET ROLE to it)",
            maturion_schema::MAINTENANCE_ROLE
        ))?;
    Ok(tx)
}

/// A bucket as read: its hour, or the error of a timestamp chrono cannot hold.
type Bucket = (Uuid, Result<DateTime<Utc>, tokio_postgres::Error>);

/// The buckets whose hour was read, and how many could not be.
fn placeable(buckets: Vec<Bucket>) -> (BTreeSet<(Uuid, DateTime<Utc>)>, usize) {
    let mut placed = BTreeSet::new();
    let mut unplaceable = 0;
    for (organisation, hour) in buckets {
        match hour {
            Ok(hour) => {
                placed.insert((organisation, hour));
            }
            Err(error) => {
                warn!(%organisation, %error, "rollup hour out of range; left uncounted");
                unplaceable += 1;
            }
        }
    }
    (placed, unplaceable)
}

/// Takes the invalidations committed so far: the distinct (organisation, hour) buckets they name.
async fn claim_invalidations(
    tx: &Transaction<'_>,
    log: Log,
) -> Result<Vec<Bucket>, MaintenanceError> {
    let claimed = tx
        .query(
            "WITH claimed AS (
               DELETE FROM maturion.rollup_invalidations WHERE log = $1 RETURNING organisation_id, hour
             )
             SELECT DISTINCT organisation_id, hour FROM claimed ORDER BY organisation_id, hour",
            &[&log.table()],
        )
        .await
        .context(format!("cannot claim the invalidations of {log}"))?;
    Ok(claimed
        .iter()
        .map(|row| (row.get(0), row.try_get(1)))
        .collect())
}

/// The distinct (organisation, UTC day) buckets of the hours, in order.
fn days_of(hours: &[(Uuid, DateTime<Utc>)]) -> Vec<(Uuid, DateTime<Utc>)> {
    let days: BTreeSet<(Uuid, DateTime<Utc>)> = hours
        .iter()
        .map(|(organisation, hour)| {
            (
                *organisation,
                hour.date_naive()
                    .and_hms_opt(0, 0, 0)
                    .expect("midnight")
                    .and_utc(),
            )
        })
        .collect();
    days.into_iter().collect()
}

/// Recomputes the buckets [`CHUNK`] at a time; returns the rollup rows written and removed.
async fn recompute_in_chunks(
    tx: &Transaction<'_>,
    log: Log,
    granularity: Granularity,
    buckets: &[(Uuid, DateTime<Utc>)],
) -> Result<(u64, u64), MaintenanceError> {
    let table = match granularity {
        Granularity::Hour => log.hourly_table(),
        Granularity::Day => log.daily_table(),
    };
    let sql = recompute_sql(log, granularity);
    let (mut written, mut removed) = (0, 0);
    for chunk in buckets.chunks(CHUNK) {
        let (chunk_written, chunk_removed) = recompute(tx, &sql, chunk)
            .await
            .context(format!("cannot recompute {table}"))?;
        written += chunk_written;
        removed += chunk_removed;
    }
    Ok((written, removed))
}

/// Deletes the hourly rollup rows before `start` (the daily rows stay).
async fn prune_hours_before(
    tx: &Transaction<'_>,
    log: Log,
    start: DateTime<Utc>,
) -> Result<u64, MaintenanceError> {
    tx.execute(
        &format!(
            "DELETE FROM public.{} WHERE bucket < $1",
            log.hourly_table()
        ),
        &[&start],
    )
    .await
    .context(format!("cannot prune {}", log.hourly_table()))
}

/// The transaction id below which every transaction has ended, read before the refresh's
/// snapshot is taken, so that the snapshot sees every row below it.
async fn finished_transactions_horizon(client: &mut Client) -> Result<i64, MaintenanceError> {
    let tx = client
        .transaction()
        .await
        .context("cannot begin reading the transaction horizon")?;
    tx.batch_execute(&format!(
        "SET LOCAL ROLE {}",
        maturion_schema::MAINTENANCE_ROLE
    ))
    .await
    .context(format!(
        "cannot act as {}",
        maturion_schema::MAINTENANCE_ROLE
    ))?;
    let horizon = tx
        .query_one("SELECT maturion.finished_transactions_horizon()", &[])
        .await
        .context("cannot read the transaction horizon (is the maintenance scope migrated?)")?
        .get(0);
    tx.commit()
        .await
        .context("cannot end reading the transaction horizon")?;
    Ok(horizon)
}

/// For a log registered in `maturion.rollup_watermarks`: the hours that got rows from the
/// transactions between the watermark and `horizon`, and the watermark moved to `horizon`
/// (in the refresh's transaction, so it moves only if the recount commits).
async fn follow_watermark(
    tx: &Transaction<'_>,
    log: Log,
    horizon: i64,
) -> Result<Vec<Bucket>, MaintenanceError> {
    let hours = tx
        .query(
            "SELECT organisation_id, hour FROM maturion.rollup_follow_watermark($1, $2)",
            &[&log.table(), &horizon],
        )
        .await
        .context(format!(
            "cannot find the hours of {log} written since the watermark"
        ))?;
    Ok(hours
        .iter()
        .map(|row| (row.get(0), row.try_get(1)))
        .collect())
}

async fn recompute(
    tx: &Transaction<'_>,
    sql: &str,
    buckets: &[(Uuid, DateTime<Utc>)],
) -> Result<(u64, u64), tokio_postgres::Error> {
    let organisations: Vec<Uuid> = buckets
        .iter()
        .map(|(organisation, _)| *organisation)
        .collect();
    let starts: Vec<DateTime<Utc>> = buckets.iter().map(|(_, start)| *start).collect();
    let row = tx.query_one(sql, &[&organisations, &starts]).await?;
    Ok((row.get::<_, i64>(0) as u64, row.get::<_, i64>(1) as u64))
}

#[derive(Clone, Copy)]
enum Granularity {
    Hour,
    Day,
}

/// One statement that recomputes the given buckets ($1 organisations, $2 bucket starts,
/// distinct pairs): counts them from the source, upserts the counts that changed, and removes
/// the groups that have no row any more. Hours count the log; days sum the hours.
fn recompute_sql(log: Log, granularity: Granularity) -> String {
    let count = log.count_column();
    let (target, source, width, aggregate, time) = match granularity {
        Granularity::Hour => (
            log.hourly_table(),
            log.table(),
            "1 hour",
            "count(*)".to_owned(),
            "\"timestamp\"",
        ),
        Granularity::Day => (
            log.daily_table(),
            log.hourly_table(),
            "1 day",
            format!("sum(s.{count})"),
            "bucket",
        ),
    };
    let dimensions = log.dimensions();
    let list = dimensions.join(", ");
    let source_list: Vec<String> = dimensions.iter().map(|d| format!("s.{d}")).collect();
    let source_list = source_list.join(", ");
    let same_group: Vec<String> = dimensions
        .iter()
        .map(|d| format!("f.{d} = r.{d}"))
        .collect();
    let same_group = same_group.join(" AND ");
    format!(
        "WITH buckets AS (
           SELECT * FROM unnest($1::uuid[], $2::timestamptz[]) AS b(organisation_id, start)
         ),
         fresh AS (
           SELECT b.organisation_id, b.start AS bucket, {source_list}, {aggregate}::bigint AS n
           FROM buckets b
           JOIN public.{source} s ON s.organisation_id = b.organisation_id
                                 AND s.{time} >= b.start AND s.{time} < b.start + interval '{width}'
           GROUP BY b.organisation_id, b.start, {source_list}
         ),
         written AS (
           INSERT INTO public.{target} AS r (organisation_id, bucket, {list}, {count})
           SELECT organisation_id, bucket, {list}, n FROM fresh
           ON CONFLICT (organisation_id, bucket, {list}) DO UPDATE
             SET {count} = excluded.{count}, refreshed_at = now()
             WHERE r.{count} <> excluded.{count}
           RETURNING 1
         ),
         removed AS (
           DELETE FROM public.{target} r USING buckets b
           WHERE r.organisation_id = b.organisation_id AND r.bucket = b.start
             AND NOT EXISTS (
               SELECT FROM fresh f
               WHERE f.organisation_id = r.organisation_id AND f.bucket = r.bucket AND {same_group}
             )
           RETURNING 1
         )
         SELECT (SELECT count(*) FROM written), (SELECT count(*) FROM removed)"
    )
}
