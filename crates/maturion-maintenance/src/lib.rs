//! Upkeep of the time-partitioned logs (spec §2.2, §8.1).
//!
//! `audit_log` and `event_log` are partitioned by UTC month on `"timestamp"` (native
//! declarative partitioning, with a default partition so that an insert never fails for lack
//! of a partition). [`maintain_logs`] is the one job that keeps them in shape; `maturion maintain`
//! runs it, and the long-running server will run it on a schedule:
//!
//! 1. creates the partitions of the current month and `months_ahead` months after it;
//! 2. moves rows that the default partition caught into their own month's new partition, in
//!    one transaction (detach the default, fill and attach the new partition, remove the
//!    moved rows from the default, attach it again);
//! 3. keeps every partition unreachable by the application roles (no grant, RLS enabled with
//!    no policy), its JSONB column lz4-compressed, its storage parameters those of the log's
//!    default partition;
//! 4. drops whole partitions older than the retention of their log, never row by row, and
//!    keeps those holding rows of an organisation under a legal hold (for
//!    `audit_log` through `maturion.drop_audit_partition(regclass)` when that exists; for
//!    `event_log` then `maturion.event_prune_commits` forgets the month's commit records);
//! 5. refreshes the hourly and daily rollups, recomputing only the hours that got rows since
//!    the last refresh (found by transaction id) or lost rows (a delete trigger marks them).
//!
//! The platform's job (`maturion_platform::maintain`) runs this, then seals the audit log.
//!
//! The job connects as an administrator: partition DDL runs as `maturion_owner` (it needs
//! ownership), the rollup refresh as `maturion_maintenance` (BYPASSRLS). Each step is one
//! transaction, and a session advisory lock keeps two runs from interleaving (a run waits
//! for another one's lock at most [`Policy::lock_wait`], then fails naming its holder).

mod error;
mod hold;
mod month;
mod plan;
mod rollup;
mod run;

use std::fmt;
use std::time::Duration;

use include_dir::{include_dir, Dir};
use maturion_migrate::MigrationSet;

pub use error::MaintenanceError;
pub use hold::{legal_holds, place_legal_hold, release_legal_hold, LegalHold};
pub use month::Month;
pub use plan::{Fix, Plan, Step};
pub use rollup::RefreshStats;
pub use run::{maintain_logs, maintain_logs_with_progress, Outcome, Progress, Report};

static MIGRATIONS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/migrations");

/// Scope of this crate's migrations in `schema_migrations`; they apply after the platform's.
pub const SCOPE: &str = "maintenance";

/// The migrations of the maintenance scope embedded in this build (lz4 compression, partition
/// privileges, the rollup tables, their invalidation log and watermarks).
pub fn migrations() -> MigrationSet {
    MigrationSet::from_embedded(SCOPE, &MIGRATIONS)
        .expect("the embedded maintenance migrations are laid out correctly (checked by tests)")
}

/// The two partitioned logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Log {
    Audit,
    Event,
}

impl Log {
    pub const ALL: [Log; 2] = [Log::Audit, Log::Event];

    /// The parent table, in schema `public`.
    pub fn table(self) -> &'static str {
        match self {
            Log::Audit => "audit_log",
            Log::Event => "event_log",
        }
    }

    /// The JSONB column stored with lz4 TOAST compression.
    pub fn json_column(self) -> &'static str {
        match self {
            Log::Audit => "changes",
            Log::Event => "payload",
        }
    }

    /// Columns the rollups count by, besides organisation and time bucket.
    pub fn dimensions(self) -> &'static [&'static str] {
        match self {
            Log::Audit => &["module", "action"],
            Log::Event => &["event_type"],
        }
    }

    /// The count column of the rollup tables.
    pub fn count_column(self) -> &'static str {
        match self {
            Log::Audit => "entries",
            Log::Event => "events",
        }
    }

    pub fn hourly_table(self) -> &'static str {
        match self {
            Log::Audit => "audit_log_hourly",
            Log::Event => "event_log_hourly",
        }
    }

    pub fn daily_table(self) -> &'static str {
        match self {
            Log::Audit => "audit_log_daily",
            Log::Event => "event_log_daily",
        }
    }
}

impl fmt::Display for Log {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.table())
    }
}

/// The tenant tables this crate adds (all rollups): every one needs the isolation matrix.
pub const ROLLUP_TABLES: [&str; 4] = [
    "audit_log_hourly",
    "audit_log_daily",
    "event_log_hourly",
    "event_log_daily",
];

/// What a maintenance run does. `Policy::default()` is the platform's policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Monthly partitions made beyond the current month.
    pub months_ahead: u32,
    /// A partition of `event_log` is dropped once its whole month is older than this many
    /// months; `None` keeps everything.
    pub event_log_retention_months: Option<u32>,
    /// The same for `audit_log`.
    pub audit_log_retention_months: Option<u32>,
    /// Plan and report only; change nothing.
    pub dry_run: bool,
    /// How long a partition change waits for its locks (the logs are briefly locked) before
    /// giving up; a later run tries again.
    pub lock_timeout: Duration,
    /// How long to wait for another run's lock (the run's own, then the audit seal's) before
    /// giving up with who holds it.
    pub lock_wait: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            months_ahead: 3,
            event_log_retention_months: Some(13),
            audit_log_retention_months: Some(7 * 12),
            dry_run: false,
            lock_timeout: Duration::from_secs(5),
            lock_wait: Duration::from_secs(30),
        }
    }
}

impl Policy {
    pub fn retention_months(&self, log: Log) -> Option<u32> {
        match log {
            Log::Audit => self.audit_log_retention_months,
            Log::Event => self.event_log_retention_months,
        }
    }

    fn validate(&self) -> Result<(), MaintenanceError> {
        if self.months_ahead > 120 {
            return Err(MaintenanceError::Policy(format!(
                "months_ahead = {} makes more than ten years of empty partitions",
                self.months_ahead
            )));
        }
        for log in Log::ALL {
            if self.retention_months(log) == Some(0) {
                return Err(MaintenanceError::Policy(format!(
                    "a retention of 0 months for {log} would drop the current month; use at least 1 (or none)"
                )));
            }
        }
        if self.lock_timeout.is_zero() {
            return Err(MaintenanceError::Policy(
                "lock_timeout 0 would let a partition change wait for locks forever".into(),
            ));
        }
        Ok(())
    }
}
