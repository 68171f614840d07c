//! The figures as Prometheus gauges (text exposition format 0.0.4), for the server's
//! `/metrics`. Every family is declared even when it has no sample (no replica, an extension
//! missing), so that the alerting rules shipped in `deploy/prometheus/` always name metrics
//! that exist. Rendered from one evaluation rather than recorded in a registry: a statement
//! that left the top list must not linger with its old figures.

use std::fmt::Write as _;

use crate::figure::Figure;
use crate::rules::{Alert, Rule};
use crate::snapshot::Snapshot;

pub fn render(snapshot: &Snapshot, alerts: &[Alert]) -> String {
    let mut out = Exposition::default();
    evaluation(&mut out, snapshot, alerts);
    statements(&mut out, snapshot);
    connections(&mut out, snapshot);
    indexes(&mut out, snapshot);
    bloat(&mut out, snapshot);
    archiving(&mut out, snapshot);
    backups(&mut out, snapshot);
    replication(&mut out, snapshot);
    keys(&mut out, snapshot);
    out.text
}

#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    fn family(&mut self, name: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} gauge");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            let labels: Vec<String> = labels
                .iter()
                .map(|(label, value)| format!("{label}=\"{}\"", escape(value)))
                .collect();
            let _ = write!(self.text, "{{{}}}", labels.join(","));
        }
        let _ = writeln!(self.text, " {value}");
    }

    fn gauge(&mut self, name: &str, help: &str, value: f64) {
        self.family(name, help);
        self.sample(name, &[], value);
    }
}

/// Label values escape backslash, double quote and line feed.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn flag(value: bool) -> f64 {
    f64::from(u8::from(value))
}

fn evaluation(out: &mut Exposition, snapshot: &Snapshot, alerts: &[Alert]) {
    out.gauge(
        "maturion_monitor_last_evaluation_timestamp_seconds",
        "When the monitoring last gathered its figures and evaluated the alert rules.",
        snapshot.taken_at.timestamp() as f64,
    );
    let name = "maturion_alerts_firing";
    out.family(
        name,
        "Alerts firing per rule, with the configured thresholds.",
    );
    for rule in Rule::ALL {
        let firing = alerts.iter().filter(|alert| alert.rule == rule).count();
        out.sample(name, &[("rule", rule.name())], firing as f64);
    }
}

fn statements(out: &mut Exposition, snapshot: &Snapshot) {
    let listed = snapshot.slow_queries.available();
    out.gauge(
        "maturion_statement_statistics_available",
        "1 when pg_stat_statements is loaded and readable.",
        flag(listed.is_some()),
    );
    let statements = listed.map(Vec::as_slice).unwrap_or_default();
    let slowest = statements
        .iter()
        .map(|s| s.mean_seconds)
        .fold(0.0, f64::max);
    out.gauge(
        "maturion_statement_slowest_mean_seconds",
        "The longest mean execution time of a statement of this database.",
        slowest,
    );
    for (name, help, value) in [
        (
            "maturion_statement_mean_seconds",
            "Mean execution time of the slowest statements, by queryid.",
            (|s| s.mean_seconds) as fn(&crate::Statement) -> f64,
        ),
        (
            "maturion_statement_max_seconds",
            "Longest execution time of the slowest statements, by queryid.",
            |s| s.max_seconds,
        ),
        (
            "maturion_statement_calls",
            "Calls of the slowest statements, by queryid.",
            |s| s.calls as f64,
        ),
    ] {
        out.family(name, help);
        for statement in statements {
            let queryid = statement.queryid.to_string();
            out.sample(name, &[("queryid", &queryid)], value(statement));
        }
    }
}

fn connections(out: &mut Exposition, snapshot: &Snapshot) {
    let connections = &snapshot.connections;
    out.gauge(
        "maturion_db_connections_in_use",
        "Client sessions open on the server, every database and role.",
        connections.in_use as f64,
    );
    out.gauge(
        "maturion_db_connections_active",
        "Client sessions running a statement.",
        connections.active as f64,
    );
    out.gauge(
        "maturion_db_connections_idle_in_transaction",
        "Sessions idle inside an open transaction.",
        connections.idle_in_transaction as f64,
    );
    out.gauge(
        "maturion_db_max_connections",
        "The server's max_connections.",
        connections.max_connections as f64,
    );
}

fn indexes(out: &mut Exposition, snapshot: &Snapshot) {
    let usage = &snapshot.indexes;
    out.gauge(
        "maturion_index_unused_count",
        "Indexes never scanned that enforce no constraint.",
        usage.unused_count as f64,
    );
    out.gauge(
        "maturion_index_unused_bytes_total",
        "Size of the indexes never scanned that enforce no constraint.",
        usage.unused_bytes as f64,
    );
    let name = "maturion_index_unused_bytes";
    out.family(name, "Size of the largest unused indexes.");
    for index in &usage.unused {
        out.sample(name, &[("index", &index.index)], index.bytes as f64);
    }
    let name = "maturion_table_seq_rows_read";
    out.family(name, "Rows read by sequential scans of large tables.");
    for table in &usage.sequential_scans {
        out.sample(name, &[("table", &table.table)], table.seq_rows_read as f64);
    }
    let name = "maturion_table_seq_scans";
    out.family(name, "Sequential scans of large tables.");
    for table in &usage.sequential_scans {
        out.sample(name, &[("table", &table.table)], table.seq_scans as f64);
    }
}

fn bloat(out: &mut Exposition, snapshot: &Snapshot) {
    let name = "maturion_table_dead_tuples";
    out.family(name, "Dead tuples of the tables with the most.");
    for table in &snapshot.bloat {
        out.sample(name, &[("table", &table.table)], table.dead_tuples as f64);
    }
    for (name, help, bytes) in [
        (
            "maturion_table_bloat_bytes",
            "Dead tuples and free space, estimated by pgstattuple_approx.",
            true,
        ),
        (
            "maturion_table_bloat_ratio",
            "Dead tuples and free space as a share of the table, by pgstattuple_approx.",
            false,
        ),
    ] {
        out.family(name, help);
        for table in &snapshot.bloat {
            if let Figure::Available(bloat) = &table.bloat {
                let value = if bytes {
                    bloat.bytes as f64
                } else {
                    bloat.ratio
                };
                out.sample(name, &[("table", &table.table)], value);
            }
        }
    }
}

fn archiving(out: &mut Exposition, snapshot: &Snapshot) {
    let archiving = &snapshot.wal_archiving;
    out.gauge(
        "maturion_wal_archive_failing",
        "1 when the last attempt to archive a WAL segment failed.",
        flag(archiving.failing),
    );
    out.gauge(
        "maturion_wal_archive_archived_count",
        "WAL segments archived since the statistics were reset.",
        archiving.archived_count as f64,
    );
    out.gauge(
        "maturion_wal_archive_failed_count",
        "Failed attempts to archive a WAL segment since the statistics were reset.",
        archiving.failed_count as f64,
    );
    let name = "maturion_wal_archive_last_failure_timestamp_seconds";
    out.family(name, "When archiving a WAL segment last failed.");
    if let Some(at) = archiving.last_failed_at {
        out.sample(name, &[], at.timestamp() as f64);
    }
}

fn backups(out: &mut Exposition, snapshot: &Snapshot) {
    let backups = snapshot.backups.available();
    out.gauge(
        "maturion_backup_figures_available",
        "1 when pgBackRest's repositories of the embedded cluster can be read.",
        flag(backups.is_some()),
    );
    let name = "maturion_backup_newest_timestamp_seconds";
    out.family(name, "End of the newest backup in any repository.");
    if let Some(at) = backups.and_then(|b| b.newest_at) {
        out.sample(name, &[], at.timestamp() as f64);
    }
}

fn replication(out: &mut Exposition, snapshot: &Snapshot) {
    out.gauge(
        "maturion_replication_replicas",
        "Replicas streaming from this server.",
        snapshot.replication.len() as f64,
    );
    let name = "maturion_replication_lag_seconds";
    out.family(name, "How far each replica is behind, in seconds.");
    for replica in &snapshot.replication {
        out.sample(name, &[("replica", &replica.name)], replica.lag_seconds);
    }
}

fn keys(out: &mut Exposition, snapshot: &Snapshot) {
    let keys = snapshot.keys.available();
    out.gauge(
        "maturion_data_keys_overdue",
        "Data key lines older than the maximum key age.",
        keys.map_or(0.0, |k| k.overdue as f64),
    );
    let name = "maturion_data_key_oldest_age_days";
    out.family(
        name,
        "Age of the oldest data key line's newest version, in days.",
    );
    if let Some(days) = keys.and_then(|k| k.oldest_age_days) {
        out.sample(name, &[], days as f64);
    }
}
