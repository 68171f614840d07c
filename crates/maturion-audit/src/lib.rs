//! The audit trail of the platform (spec §3.4, §4.3, §10.2).
//!
//! * Its migrations (scope [`SCOPE`], applied after the platform's) add the generic row trigger
//!   [`TRIGGER_NAME`] (function [`TRIGGER_FUNCTION`]) that writes one `audit_log` row per
//!   changed row of every tenant table, make `audit_log` immutable for every role, and create
//!   the seal chain.
//! * [`record_view`] and [`record_views`] write `viewed` entries, which no trigger can see.
//! * [`seal`] hashes committed audit rows into chained batch digests; [`verify`] recomputes
//!   everything in Rust, without trusting the database's own functions, and locates the first
//!   broken link.
//!
//! Invariant: writers never wait for the chain. The sealer only seals rows of transactions
//! that have ended (below a transaction-id horizon), so sealing takes no lock a writer needs.

pub mod canonical;
mod error;
mod seal;
mod verify;

use include_dir::{include_dir, Dir};
use maturion_migrate::MigrationSet;
use maturion_tenancy::{TenancyError, TenantTransaction};
use uuid::Uuid;

pub use error::AuditError;
pub use seal::{seal, seal_with, seal_within, ChainHead, SealMade, SealReport};
pub use verify::{verify, verify_anchored, Anchor, Break, BreakKind, RowLocation, VerifyReport};

static MIGRATIONS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/migrations");

/// Scope of this crate's migrations in `schema_migrations`.
pub const SCOPE: &str = "audit";

/// Name of the audit trigger on every tenant table.
pub const TRIGGER_NAME: &str = "audit_trail";

/// The trigger's function.
pub const TRIGGER_FUNCTION: &str = "maturion.audit_trail";

/// Rows per seal the sealer aims at (whole transactions are never split).
pub const DEFAULT_SEAL_ROWS: i32 = 50_000;

/// The audit migrations embedded in this build. They apply after the platform's.
pub fn migrations() -> MigrationSet {
    MigrationSet::from_embedded(SCOPE, &MIGRATIONS)
        .expect("the embedded audit migrations are laid out correctly (checked by tests)")
}

/// Records that the transaction's user viewed an entity: a `viewed` row in `audit_log` for the
/// transaction's organisation, user, client address and user agent. `module` is lower case
/// letters, digits and `_`.
pub async fn record_view(
    transaction: &TenantTransaction,
    module: &str,
    entity_type: &str,
    entity_id: Uuid,
) -> Result<(), TenancyError> {
    transaction
        .execute(
            "SELECT maturion.record_view($1, $2, $3)",
            &[&module, &entity_type, &entity_id],
        )
        .await?;
    Ok(())
}

/// Records that the transaction's user viewed every entity of `entity_ids` (a list page, a
/// report): one `viewed` row each, written in one statement. Returns the number written.
pub async fn record_views(
    transaction: &TenantTransaction,
    module: &str,
    entity_type: &str,
    entity_ids: &[Uuid],
) -> Result<u64, TenancyError> {
    let row = transaction
        .query_one(
            "SELECT maturion.record_views($1, $2, $3)",
            &[&module, &entity_type, &entity_ids],
        )
        .await?;
    Ok(row.get::<_, i64>(0) as u64)
}
