//! Every migration set of the platform, in the order they apply: the global schema first,
//! then the crates that build on it. The one place that knows this order, and that puts the
//! periodic jobs of the crates together ([`maintain`]).

mod job;
mod runtime_guard;

pub use job::{become_maintenance, maintain, MaintenanceRun, PlatformError};
pub use runtime_guard::{
    end_long_transactions, remove_runtime_role_settings, EndedTransaction, RemovedSettings,
    RuntimeGuard,
};

use std::time::Duration;

use maturion_migrate::{AppliedMigration, MigrateError, MigrationSet, MigrationState, Migrator};
use sha2::{Digest, Sha256};
use tokio_postgres::Client;

/// The platform's migration sets, in dependency order.
pub fn migration_sets() -> Vec<MigrationSet> {
    vec![
        maturion_schema::platform_migrations(),
        maturion_maintenance::migrations(),
        maturion_audit::migrations(),
        maturion_events::migrations(),
    ]
}

/// Creates the roles (idempotent), then applies every pending migration of every set.
/// `client` must be an administrator.
pub async fn migrate_up(client: &mut Client) -> Result<Vec<AppliedMigration>, MigrateError> {
    migrate_up_waiting(client, maturion_migrate::Options::default().lock_wait).await
}

/// [`migrate_up`], waiting at most `lock_wait` for another migrator's lock.
pub async fn migrate_up_waiting(
    client: &mut Client,
    lock_wait: Duration,
) -> Result<Vec<AppliedMigration>, MigrateError> {
    maturion_schema::bootstrap_roles(client).await?;
    let options = maturion_migrate::Options {
        lock_wait,
        ..maturion_schema::migration_options()
    };
    let mut applied = Vec::new();
    for set in migration_sets() {
        applied.extend(
            Migrator::new(&set, options.clone())
                .up(client, None)
                .await?,
        );
    }
    Ok(applied)
}

/// A short digest of every set: equal digests mean an identical schema.
pub fn fingerprint() -> String {
    let mut hasher = Sha256::new();
    for set in migration_sets() {
        hasher.update(&set.scope);
        hasher.update(set.fingerprint());
    }
    hex::encode(hasher.finalize())[..16].to_owned()
}

/// This build's migrations that the database has not applied, as `scope version`, in order.
/// A database with every one of them applied runs the schema this build expects.
pub async fn pending_migrations(client: &mut Client) -> Result<Vec<String>, MigrateError> {
    let mut pending = Vec::new();
    for set in migration_sets() {
        let statuses = Migrator::new(&set, maturion_schema::migration_options())
            .status(client)
            .await?;
        pending.extend(
            statuses
                .iter()
                .filter(|status| status.state == MigrationState::Pending)
                .map(|status| format!("{} {}", set.scope, status.version)),
        );
    }
    Ok(pending)
}
