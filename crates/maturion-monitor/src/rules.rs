//! The alert rules of spec §13.2, with the thresholds of the configuration.

use maturion_config::MonitoringSettings;
use serde::Serialize;

use crate::snapshot::Snapshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// A statement's mean execution time is over `slow_query`.
    SlowQuery,
    /// The service's pool has `pool_use_percent` of its connections in use.
    PoolExhausted,
    /// The server has `connections_use_percent` of `max_connections` in use.
    ConnectionsExhausted,
    /// A replica is more than `replication_lag` behind.
    ReplicationLag,
    /// The last scheduled backup failed, or pgBackRest reports a repository in error.
    BackupFailed,
    /// No backup, or the newest is older than `backup_max_age`.
    BackupOverdue,
    /// The last attempt to archive a WAL segment failed.
    WalArchivingFailing,
    /// A data key is older than `key_max_age_days` (90: spec §10.1).
    KeyOverdue,
}

impl Rule {
    pub const ALL: [Rule; 8] = [
        Rule::SlowQuery,
        Rule::PoolExhausted,
        Rule::ConnectionsExhausted,
        Rule::ReplicationLag,
        Rule::BackupFailed,
        Rule::BackupOverdue,
        Rule::WalArchivingFailing,
        Rule::KeyOverdue,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Rule::SlowQuery => "slow_query",
            Rule::PoolExhausted => "pool_exhausted",
            Rule::ConnectionsExhausted => "connections_exhausted",
            Rule::ReplicationLag => "replication_lag",
            Rule::BackupFailed => "backup_failed",
            Rule::BackupOverdue => "backup_overdue",
            Rule::WalArchivingFailing => "wal_archiving_failing",
            Rule::KeyOverdue => "key_overdue",
        }
    }
}

/// A rule firing for one subject (a statement, a replica, the pool…).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub rule: Rule,
    /// What it fires for; with the rule, the alert's identity from one evaluation to the next.
    pub subject: String,
    pub summary: String,
    /// The measured value against its threshold, where there is one.
    pub value: Option<f64>,
    pub threshold: Option<f64>,
}

pub fn evaluate(snapshot: &Snapshot, settings: &MonitoringSettings) -> Vec<Alert> {
    let mut alerts = Vec::new();
    slow_queries(snapshot, settings, &mut alerts);
    exhaustion(snapshot, settings, &mut alerts);
    replication(snapshot, settings, &mut alerts);
    backups(snapshot, settings, &mut alerts);
    archiving(snapshot, &mut alerts);
    keys(snapshot, &mut alerts);
    alerts
}

fn slow_queries(snapshot: &Snapshot, settings: &MonitoringSettings, alerts: &mut Vec<Alert>) {
    let threshold = settings.slow_query.as_secs_f64();
    let statements = snapshot.slow_queries.available().into_iter().flatten();
    for statement in statements.filter(|s| s.mean_seconds > threshold) {
        alerts.push(Alert {
            rule: Rule::SlowQuery,
            subject: format!("queryid {}", statement.queryid),
            summary: format!(
                "a statement takes {:.3} s on average (max {:.3} s, {} calls): {}",
                statement.mean_seconds, statement.max_seconds, statement.calls, statement.query
            ),
            value: Some(statement.mean_seconds),
            threshold: Some(threshold),
        });
    }
}

fn exhaustion(snapshot: &Snapshot, settings: &MonitoringSettings, alerts: &mut Vec<Alert>) {
    if let Some(pool) = snapshot.pool.available() {
        let share = ratio(pool.in_use as f64, pool.max_size as f64);
        let threshold = f64::from(settings.pool_use_percent) / 100.0;
        if share >= threshold {
            alerts.push(Alert {
                rule: Rule::PoolExhausted,
                subject: "pool".to_owned(),
                summary: format!(
                    "the service's pool has {} of {} connections in use, {} caller(s) waiting",
                    pool.in_use, pool.max_size, pool.waiting
                ),
                value: Some(share),
                threshold: Some(threshold),
            });
        }
    }
    let connections = &snapshot.connections;
    let share = ratio(
        connections.in_use as f64,
        connections.max_connections as f64,
    );
    let threshold = f64::from(settings.connections_use_percent) / 100.0;
    if share >= threshold {
        alerts.push(Alert {
            rule: Rule::ConnectionsExhausted,
            subject: "server".to_owned(),
            summary: format!(
                "the server has {} of max_connections {} in use",
                connections.in_use, connections.max_connections
            ),
            value: Some(share),
            threshold: Some(threshold),
        });
    }
}

/// 0 when there is nothing to share.
fn ratio(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        part / whole
    } else {
        0.0
    }
}

fn replication(snapshot: &Snapshot, settings: &MonitoringSettings, alerts: &mut Vec<Alert>) {
    let threshold = settings.replication_lag.as_secs_f64();
    for replica in snapshot
        .replication
        .iter()
        .filter(|r| r.lag_seconds > threshold)
    {
        alerts.push(Alert {
            rule: Rule::ReplicationLag,
            subject: format!("replica {}", replica.name),
            summary: format!(
                "replica {} ({}) is {:.1} s behind",
                replica.name, replica.state, replica.lag_seconds
            ),
            value: Some(replica.lag_seconds),
            threshold: Some(threshold),
        });
    }
}

fn backups(snapshot: &Snapshot, settings: &MonitoringSettings, alerts: &mut Vec<Alert>) {
    let Some(backups) = snapshot.backups.available() else {
        return;
    };
    if let Some(failure) = backups.failure() {
        alerts.push(Alert {
            rule: Rule::BackupFailed,
            subject: "backups".to_owned(),
            summary: failure,
            value: None,
            threshold: None,
        });
    }
    let threshold = settings.backup_max_age.as_secs_f64();
    let age = backups
        .newest_at
        .map(|at| (snapshot.taken_at - at).as_seconds_f64());
    let summary = match age {
        None => "there is no backup".to_owned(),
        Some(age) if age > threshold => format!("the newest backup is {age:.0} s old"),
        Some(_) => return,
    };
    alerts.push(Alert {
        rule: Rule::BackupOverdue,
        subject: "backups".to_owned(),
        summary,
        value: age,
        threshold: Some(threshold),
    });
}

fn archiving(snapshot: &Snapshot, alerts: &mut Vec<Alert>) {
    let archiving = &snapshot.wal_archiving;
    if archiving.failing {
        alerts.push(Alert {
            rule: Rule::WalArchivingFailing,
            subject: "wal_archiving".to_owned(),
            summary: format!(
                "archiving WAL segment {} failed ({} failure(s) in all)",
                archiving.last_failed_wal.as_deref().unwrap_or("?"),
                archiving.failed_count
            ),
            value: Some(archiving.failed_count as f64),
            threshold: None,
        });
    }
}

fn keys(snapshot: &Snapshot, alerts: &mut Vec<Alert>) {
    let Some(keys) = snapshot.keys.available() else {
        return;
    };
    if keys.overdue > 0 {
        alerts.push(Alert {
            rule: Rule::KeyOverdue,
            subject: "data_keys".to_owned(),
            summary: format!(
                "{} data key line(s) older than {} days: run `maturion keys rotate`",
                keys.overdue, keys.max_age_days
            ),
            value: keys.oldest_age_days.map(|days| days as f64),
            threshold: Some(keys.max_age_days as f64),
        });
    }
}
