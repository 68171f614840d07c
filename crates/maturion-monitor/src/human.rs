//! The figures and alerts as a table for people (`maturion monitor`).

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::figure::Figure;
use crate::rules::Alert;
use crate::snapshot::Snapshot;

/// `escape` makes text that tenants or other sessions wrote safe for a terminal.
pub fn render(snapshot: &Snapshot, alerts: &[Alert], escape: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "database {} at {}",
        escape(&snapshot.database),
        snapshot.taken_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    section(&mut out, "alerts");
    if alerts.is_empty() {
        out.push_str("  none firing\n");
    }
    for alert in alerts {
        let _ = writeln!(
            out,
            "  FIRING {:<22} {}",
            alert.rule.name(),
            escape(&alert.summary)
        );
    }
    slow_queries(&mut out, snapshot, &escape);
    connections(&mut out, snapshot);
    indexes(&mut out, snapshot, &escape);
    bloat(&mut out, snapshot, &escape);
    archiving_and_backups(&mut out, snapshot, &escape);
    replication_and_keys(&mut out, snapshot, &escape);
    out
}

fn section(out: &mut String, title: &str) {
    let _ = writeln!(out, "\n{title}");
}

fn not_available(out: &mut String, reason: &str, escape: &impl Fn(&str) -> String) {
    let _ = writeln!(out, "  not available: {}", escape(reason));
}

fn slow_queries(out: &mut String, snapshot: &Snapshot, escape: &impl Fn(&str) -> String) {
    section(out, "slow queries (pg_stat_statements, slowest mean first)");
    match &snapshot.slow_queries {
        Figure::NotAvailable(reason) => not_available(out, reason, escape),
        Figure::Available(statements) => {
            let _ = writeln!(
                out,
                "  {:>10} {:>10} {:>8}  query",
                "mean s", "max s", "calls"
            );
            for s in statements {
                let _ = writeln!(
                    out,
                    "  {:>10.3} {:>10.3} {:>8}  {}",
                    s.mean_seconds,
                    s.max_seconds,
                    s.calls,
                    escape(&s.query)
                );
            }
        }
    }
}

fn connections(out: &mut String, snapshot: &Snapshot) {
    section(out, "connections");
    let c = &snapshot.connections;
    let _ = writeln!(
        out,
        "  server: {} of max_connections {} in use ({} active, {} idle in transaction, {} reserved for superusers)",
        c.in_use, c.max_connections, c.active, c.idle_in_transaction, c.superuser_reserved
    );
    match &snapshot.pool {
        Figure::Available(pool) => {
            let _ = writeln!(
                out,
                "  pool:   {} of {} in use, {} open, {} waiting",
                pool.in_use, pool.max_size, pool.size, pool.waiting
            );
        }
        Figure::NotAvailable(reason) => {
            let _ = writeln!(out, "  pool:   {reason}");
        }
    }
}

fn indexes(out: &mut String, snapshot: &Snapshot, escape: &impl Fn(&str) -> String) {
    let usage = &snapshot.indexes;
    section(out, "index usage");
    let _ = writeln!(
        out,
        "  {} unused index(es), {} bytes (never scanned, no constraint)",
        usage.unused_count, usage.unused_bytes
    );
    for index in &usage.unused {
        let _ = writeln!(out, "    {:>12} B  {}", index.bytes, escape(&index.index));
    }
    if usage.sequential_scans.is_empty() {
        let _ = writeln!(
            out,
            "  no sequential scans of tables of {}+ rows",
            crate::indexes::LARGE_TABLE_ROWS
        );
    }
    for table in &usage.sequential_scans {
        let _ = writeln!(
            out,
            "  {}: {} sequential scans read {} rows ({} live rows, {} index scans)",
            escape(&table.table),
            table.seq_scans,
            table.seq_rows_read,
            table.live_rows,
            table.index_scans
        );
    }
}

fn bloat(out: &mut String, snapshot: &Snapshot, escape: &impl Fn(&str) -> String) {
    section(
        out,
        "bloat (most dead tuples first; estimate by pgstattuple_approx)",
    );
    for table in &snapshot.bloat {
        let estimate = match &table.bloat {
            Figure::Available(bloat) => {
                format!("{} B ({:.1} %)", bloat.bytes, bloat.ratio * 100.0)
            }
            Figure::NotAvailable(reason) => format!("not available: {}", escape(reason)),
        };
        let _ = writeln!(
            out,
            "  {}: {} dead / {} live tuples, {} B, bloat {estimate}",
            escape(&table.table),
            table.dead_tuples,
            table.live_tuples,
            table.table_bytes
        );
    }
}

fn time(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(
        || "never".to_owned(),
        |at| at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

fn archiving_and_backups(out: &mut String, snapshot: &Snapshot, escape: &impl Fn(&str) -> String) {
    let a = &snapshot.wal_archiving;
    section(out, "WAL archiving and backups");
    let _ = writeln!(
        out,
        "  archive_mode {}: {} archived, {} failed (last failure {}){}",
        a.mode,
        a.archived_count,
        a.failed_count,
        time(a.last_failed_at),
        if a.failing { "  FAILING" } else { "" }
    );
    match &snapshot.backups {
        Figure::Available(b) => {
            let _ = writeln!(
                out,
                "  backups: {}, newest {}, newest full {}",
                escape(&b.status),
                time(b.newest_at),
                time(b.newest_full_at)
            );
        }
        Figure::NotAvailable(reason) => {
            let _ = writeln!(out, "  backups: not available: {}", escape(reason));
        }
    }
}

fn replication_and_keys(out: &mut String, snapshot: &Snapshot, escape: &impl Fn(&str) -> String) {
    section(out, "replication and keys");
    if snapshot.replication.is_empty() {
        out.push_str("  no replica streams from this server\n");
    }
    for r in &snapshot.replication {
        let _ = writeln!(
            out,
            "  replica {} ({}): {:.1} s behind",
            escape(&r.name),
            r.state,
            r.lag_seconds
        );
    }
    match &snapshot.keys {
        Figure::Available(k) => {
            let _ = writeln!(
                out,
                "  data keys: {} line(s), {} older than {} days (oldest {} days)",
                k.key_lines,
                k.overdue,
                k.max_age_days,
                k.oldest_age_days.map_or("-".to_owned(), |d| d.to_string())
            );
        }
        Figure::NotAvailable(reason) => {
            let _ = writeln!(out, "  data keys: not available: {}", escape(reason));
        }
    }
}
