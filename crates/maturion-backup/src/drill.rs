//! The restore drill: the latest backup plus archived WAL into a scratch folder, started on
//! a free port, checked like production (conformance, audit chain, per-table row counts
//! and checksums against the source), with the achieved RPO and RTO.

use std::time::Instant;

use chrono::{DateTime, Utc};
use maturion_cluster::{Cluster, StopMode};
use serde::Serialize;
use tokio_postgres::Client;
use tracing::info;

use crate::error::{db, io, BackupError};
use crate::restore::{restore, RecoveryPoint, RestoreRequest};
use crate::{connect, list};

/// Spec §9: recovery point objective 15 minutes, recovery time objective 1 hour.
const RPO_TARGET_SECONDS: f64 = 15.0 * 60.0;
const RTO_TARGET_SECONDS: f64 = 60.0 * 60.0;

#[derive(Debug, Clone, Serialize)]
pub struct DrillReport {
    pub passed: bool,
    /// Committed data lost at the simulated loss: 0 when every table matches the source as
    /// it was then, else the time from the last recovered commit to the loss.
    pub rpo_seconds: f64,
    /// From the start of the restore to a checked, serving cluster.
    pub rto_seconds: f64,
    pub rpo_target_seconds: f64,
    pub rto_target_seconds: f64,
    pub loss_moment: DateTime<Utc>,
    pub last_recovered_commit: Option<DateTime<Utc>>,
    pub restored_port: u16,
    pub conformance_violations: usize,
    pub audit_intact: bool,
    pub audit_rows_verified: i64,
    pub tables: Vec<TableComparison>,
    pub failures: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableComparison {
    pub table: String,
    pub source_rows: i64,
    pub restored_rows: Option<i64>,
    pub checksum_matches: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct TableFingerprint {
    table: String,
    rows: i64,
    checksum: String,
}

/// Drills `database` of `source`: the loss is simulated now; the scratch cluster lives
/// in `<home>/drill-<id>` and is removed afterwards, whatever the outcome.
pub async fn drill(source: &Cluster, database: &str) -> Result<DrillReport, BackupError> {
    let source_client = connect(source, database).await?;
    let (loss_moment, source_tables) = snapshot(&source_client).await?;
    let scratch = source
        .home()
        .join(format!("drill-{}", uuid::Uuid::new_v4().simple()));
    let started = Instant::now();
    let request = RestoreRequest {
        target: scratch.clone(),
        point: RecoveryPoint::Latest,
        force: false,
        repository: None,
        database: database.to_owned(),
    };
    let outcome = match restore(source, &request).await {
        Ok(restored) => examine(source, &restored, loss_moment, &source_tables, started).await,
        Err(error) => Err(error),
    };
    discard(&scratch).await;
    outcome
}

async fn examine(
    source: &Cluster,
    restored: &crate::RestoredCluster,
    loss_moment: DateTime<Utc>,
    source_tables: &[TableFingerprint],
    started: Instant,
) -> Result<DrillReport, BackupError> {
    let client = connect(&restored.cluster, &restored.database).await?;
    let conformance =
        maturion_check::check(&client, &maturion_check::CheckOptions::default()).await?;
    let audit = maturion_audit::verify(&client, None).await?;
    let (_, restored_tables) = snapshot(&client).await?;
    let rto_seconds = started.elapsed().as_secs_f64();
    let tables = compare(source_tables, &restored_tables);
    let lost = tables.iter().any(|table| !table.checksum_matches);
    let recovered_point = recovered_point(source, restored).await?;
    let rpo_seconds = if lost {
        recovered_point.map_or(f64::INFINITY, |point| {
            ((loss_moment - point).num_milliseconds() as f64 / 1000.0).max(0.0)
        })
    } else {
        0.0
    };
    let mut report = DrillReport {
        passed: false,
        rpo_seconds,
        rto_seconds,
        rpo_target_seconds: RPO_TARGET_SECONDS,
        rto_target_seconds: RTO_TARGET_SECONDS,
        loss_moment,
        last_recovered_commit: restored.last_replayed_commit,
        restored_port: restored.port,
        conformance_violations: conformance.violations.len(),
        audit_intact: audit.intact,
        audit_rows_verified: audit.rows_verified,
        tables,
        failures: Vec::new(),
    };
    report.failures = failures(&report);
    report.passed = report.failures.is_empty();
    info!(
        passed = report.passed,
        rpo = report.rpo_seconds,
        rto = report.rto_seconds,
        "drill done"
    );
    Ok(report)
}

/// The later of the last replayed commit and the end of the latest backup: everything
/// committed before it is in the recovered cluster.
async fn recovered_point(
    source: &Cluster,
    restored: &crate::RestoredCluster,
) -> Result<Option<DateTime<Utc>>, BackupError> {
    let backup_end = list(source).await?.last(None).map(|set| set.stopped_at);
    Ok(restored.last_replayed_commit.max(backup_end))
}

fn failures(report: &DrillReport) -> Vec<String> {
    let mut failures = Vec::new();
    if report.conformance_violations > 0 {
        failures.push(format!(
            "the restored database breaks the architecture in {} place(s) (`maturion check`)",
            report.conformance_violations
        ));
    }
    if !report.audit_intact {
        failures.push("the restored audit chain does not verify".to_owned());
    }
    if report.rpo_seconds > report.rpo_target_seconds {
        failures.push(format!(
            "RPO {:.0} s is over the target of {:.0} s",
            report.rpo_seconds, report.rpo_target_seconds
        ));
    }
    if report.rto_seconds > report.rto_target_seconds {
        failures.push(format!(
            "RTO {:.0} s is over the target of {:.0} s",
            report.rto_seconds, report.rto_target_seconds
        ));
    }
    failures
}

fn compare(source: &[TableFingerprint], restored: &[TableFingerprint]) -> Vec<TableComparison> {
    source
        .iter()
        .map(|table| {
            let copy = restored.iter().find(|copy| copy.table == table.table);
            TableComparison {
                table: table.table.clone(),
                source_rows: table.rows,
                restored_rows: copy.map(|copy| copy.rows),
                checksum_matches: copy.is_some_and(|copy| copy == table),
            }
        })
        .collect()
}

/// Row count and md5 of the ordered rows of every table (partitioned ones as a whole),
/// in one repeatable-read snapshot taken at the returned moment.
async fn snapshot(client: &Client) -> Result<(DateTime<Utc>, Vec<TableFingerprint>), BackupError> {
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(db("opening the snapshot"))?;
    let moment: DateTime<Utc> = client
        .query_one("SELECT clock_timestamp()", &[])
        .await
        .map_err(db("reading the clock"))?
        .get(0);
    let names = client
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
                AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                AND n.nspname NOT LIKE 'pg_toast%'
              ORDER BY 1",
            &[],
        )
        .await
        .map_err(db("listing tables"))?;
    let mut tables = Vec::with_capacity(names.len());
    for row in names {
        let table: String = row.get(0);
        // `table` comes from format('%I.%I'), so it is a quoted identifier.
        let sql = format!(
            "SELECT count(*), coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '')
               FROM {table} t"
        );
        let fingerprint = client
            .query_one(&sql, &[])
            .await
            .map_err(db("fingerprinting a table"))?;
        tables.push(TableFingerprint {
            table,
            rows: fingerprint.get(0),
            checksum: fingerprint.get(1),
        });
    }
    client
        .batch_execute("COMMIT")
        .await
        .map_err(db("closing the snapshot"))?;
    Ok((moment, tables))
}

async fn discard(scratch: &std::path::Path) {
    if let Ok(cluster) = Cluster::new(scratch, maturion_cluster::ClusterOptions::default()) {
        let stopping = cluster.clone();
        let _ = tokio::task::spawn_blocking(move || stopping.stop(StopMode::Immediate)).await;
    }
    if let Err(error) = std::fs::remove_dir_all(scratch).map_err(io("remove the drill folder")) {
        tracing::warn!(%error, folder = %scratch.display(), "drill folder left behind");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> DrillReport {
        DrillReport {
            passed: true,
            rpo_seconds: 12.0,
            rto_seconds: 30.0,
            rpo_target_seconds: RPO_TARGET_SECONDS,
            rto_target_seconds: RTO_TARGET_SECONDS,
            loss_moment: Utc::now(),
            last_recovered_commit: None,
            restored_port: 5432,
            conformance_violations: 0,
            audit_intact: true,
            audit_rows_verified: 10,
            tables: Vec::new(),
            failures: Vec::new(),
        }
    }

    #[test]
    fn every_missed_objective_and_check_is_a_failure() {
        assert!(failures(&healthy()).is_empty());
        let late = DrillReport {
            rpo_seconds: 901.0,
            rto_seconds: 3601.0,
            ..healthy()
        };
        assert_eq!(failures(&late).len(), 2);
        let broken = DrillReport {
            conformance_violations: 1,
            audit_intact: false,
            ..healthy()
        };
        assert_eq!(failures(&broken).len(), 2);
    }

    #[test]
    fn a_table_missing_or_different_in_the_copy_does_not_match() {
        let table = |name: &str, rows, checksum: &str| TableFingerprint {
            table: name.into(),
            rows,
            checksum: checksum.into(),
        };
        let source = [table("a", 1, "x"), table("b", 2, "y"), table("c", 0, "")];
        let restored = [table("a", 1, "x"), table("b", 2, "z")];
        let matches: Vec<bool> = compare(&source, &restored)
            .iter()
            .map(|t| t.checksum_matches)
            .collect();
        assert_eq!(matches, [true, false, false]);
    }
}
