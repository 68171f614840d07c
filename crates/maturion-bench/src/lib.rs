//! Every `maturion bench …`: figures and ratios measured in one run, each against a baseline in
//! that same run, in a scratch database of its own that is dropped afterwards.
//!
//! - [`api`]: the HTTP API (`maturion serve` as a child process) against pgbench running the
//!   same transactions.
//! - [`audit`]: what the audit trigger costs writers, and the floor below it.
//! - [`backup`]: pgBackRest's full backup against pg_basebackup, restore with WAL replay, RTO
//!   and the RPO of a `kill -9`, on a scratch cluster of its own.
//! - [`binding`]: a GET-by-id transaction bound with an API token against the former `set_config`.
//! - [`events`]: the event bus against graphile-worker, and what a NOTIFY per commit costs.
//! - [`ingest`]: batched `record_views` into the partitioned audit_log against COPY.
//! - [`rls`]: Row-Level Security against an explicit `WHERE organisation_id`.
//!
//! An edge of the program like the binary (errors are `anyhow`, progress bars are drawn on
//! stderr, reports printed on stdout); no library depends on it. Tenants are made with the
//! test fixture ([`maturion_testing::organisation_with_admin`]) and tenant context is set only
//! through `maturion_tenancy`.

pub mod api;
pub mod audit;
pub mod backup;
pub mod binding;
pub mod events;
pub mod ingest;
pub mod rls;
mod scratch;

use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar drawn with `template` (indicatif's syntax).
fn bar(length: u64, template: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(length);
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar
}
