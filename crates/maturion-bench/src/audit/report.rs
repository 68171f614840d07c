//! The report of the audit benchmark.

use std::fmt::Write as _;

use super::{Options, GOAL_OVER_FLOOR};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    Insert,
    Update,
}

#[derive(Debug, Clone)]
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
    /// Time per row with the trigger / with the floor trigger: what the goal bounds.
    pub over_floor: f64,
}

#[derive(Debug, Clone)]
pub struct OverheadReport {
    pub options: Options,
    pub lines: Vec<OverheadLine>,
    /// Audit rows the audited table produced (one per inserted or updated row).
    pub audit_rows: i64,
}

impl OverheadReport {
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
            "{:<19} {:<9} {:>14} {:>16} {:>7} {:>9} {:>11} {:>10}",
            "synchronous_commit",
            "workload",
            "plain rows/s",
            "audited rows/s",
            "ratio",
            "p50 ratio",
            "floor ratio",
            "vs floor"
        );
        for l in &self.lines {
            let _ = writeln!(
                out,
                "{:<19} {:<9} {:>14.0} {:>16.0} {:>6.2}x {:>8.2}x {:>10.2}x {:>9.2}x {}",
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
                l.over_floor,
                if l.over_floor <= GOAL_OVER_FLOOR {
                    "ok"
                } else {
                    "OVER GOAL"
                }
            );
        }
        let _ = writeln!(
            out,
            "audit rows written by the audited table: {}",
            self.audit_rows
        );
        let _ = writeln!(
            out,
            "floor: a trigger that only inserts a fixed audit_log row of the same size; above it is the trigger's own \
             work, whose goal is vs floor <= {GOAL_OVER_FLOOR:.2}x"
        );
        out
    }
}
