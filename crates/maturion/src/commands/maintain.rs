//! `maturion maintain` (partitions ahead, moves out of the default partitions, retention,
//! rollups, then the audit seal).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use maturion_config::DatabaseTarget;
use maturion_maintenance::{Outcome, Policy, Progress};
use maturion_platform::RuntimeGuard;

use crate::printable::{printable, printable_lines};

/// Keeps the time-partitioned logs (audit_log, event_log) in shape.
#[derive(Debug, Args)]
pub struct MaintainArgs {
    /// Monthly partitions to create beyond the current (UTC) month.
    #[arg(long, default_value_t = 3)]
    pub months_ahead: u32,
    /// Drop event_log partitions whose whole month is older than this; 0 keeps everything.
    #[arg(long, default_value_t = 13)]
    pub event_retention_months: u32,
    /// Drop audit_log partitions whose whole month is older than this; 0 keeps everything.
    #[arg(long, default_value_t = 7)]
    pub audit_retention_years: u32,
    /// Print what would be done and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// How long a partition change may wait for its locks before it is left for the next
    /// run: 5s, 500ms, or plain seconds.
    #[arg(long, value_name = "DURATION", default_value = "5s",
          value_parser = crate::flags::duration, allow_hyphen_values = true)]
    pub lock_timeout: Duration,
    /// Terminate sessions of maturion_app and maturion_readonly whose transaction has been open
    /// longer than this many minutes; 0 leaves them all.
    #[arg(long, default_value_t = 10)]
    pub max_transaction_minutes: u64,
}

impl MaintainArgs {
    fn policy(&self, lock_wait: Duration) -> Policy {
        let keep = |months: u32| (months > 0).then_some(months);
        Policy {
            months_ahead: self.months_ahead,
            event_log_retention_months: keep(self.event_retention_months),
            audit_log_retention_months: keep(self.audit_retention_years.saturating_mul(12)),
            dry_run: self.dry_run,
            lock_timeout: self.lock_timeout.max(Duration::from_millis(1)),
            lock_wait,
        }
    }

    fn guard(&self) -> RuntimeGuard {
        RuntimeGuard {
            // Capped well inside PostgreSQL's interval range (about 2,000 years).
            max_transaction_age: (self.max_transaction_minutes > 0)
                .then(|| Duration::from_secs(self.max_transaction_minutes.min(1 << 30) * 60)),
        }
    }
}

pub async fn run(
    target: &DatabaseTarget,
    args: MaintainArgs,
    lock_wait: Duration,
) -> Result<ExitCode> {
    let policy = args.policy(lock_wait);
    let mut admin = target.admin().await?;
    let bar = ProgressBar::new(0).with_message("maintaining");
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} steps {elapsed}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let run =
        maturion_platform::maintain(
            &mut admin,
            &policy,
            &args.guard(),
            |progress| match progress {
                Progress::Planned(plan) if !policy.dry_run => {
                    bar.set_length(plan.steps.len() as u64)
                }
                Progress::Planned(_) => {}
                Progress::Applied { outcomes, .. } => {
                    // Printed on stdout above the bar (also when stderr is not a terminal and the bar is hidden).
                    bar.suspend(|| {
                        outcomes
                            .iter()
                            .for_each(|outcome| println!("  {}", printable(&outcome.to_string())))
                    });
                    bar.inc(1);
                }
            },
        )
        .await
        .context("maintenance failed (steps printed above were applied)")?;
    bar.finish_and_clear();
    for removed in &run.removed_settings {
        let scope = removed
            .database
            .as_deref()
            .map_or(String::new(), |database| format!(" in database {database}"));
        println!(
            "  removed the stored settings of {}{scope}: {}",
            removed.role,
            printable(&removed.settings.join(", "))
        );
    }
    for ended in &run.ended_transactions {
        println!(
            "  terminated session {} of {}: its transaction was open for {} s",
            ended.pid,
            ended.role,
            ended.open_for.as_secs()
        );
    }
    let report = run.maintenance;
    if policy.dry_run {
        print!("{}", printable_lines(&report.to_string()));
    } else {
        for note in &report.notes {
            println!("  note: {}", printable(note));
        }
        let skipped = report
            .outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Skipped { .. }))
            .count();
        let held = report
            .outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Held { .. }))
            .count();
        let partitions = report
            .outcomes
            .iter()
            .filter(|o| {
                !matches!(
                    o,
                    Outcome::Skipped { .. } | Outcome::Refreshed(_) | Outcome::Held { .. }
                )
            })
            .count();
        println!(
            "maintenance done: {partitions} partition change(s), rollups refreshed, {held} expired partition(s) kept for legal holds, {skipped} step(s) left for the next run"
        );
    }
    if let Some(seal) = run.seal {
        println!(
            "audit seal: sealed {} row(s) in {} seal(s), {} row(s) of running transactions left for the next run",
            seal.rows,
            seal.seals.len(),
            seal.pending_rows
        );
    }
    Ok(ExitCode::SUCCESS)
}
