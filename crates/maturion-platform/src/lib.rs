//! Every migration set of the platform, in the order they apply: the global schema first,
//! then the crates that build on it. The one place that knows this order, and that puts the
//! periodic jobs of the crates together ([`maintain`]).

mod job;

pub use job::{become_maintenance, maintain, MaintenanceRun, PlatformError};

use std::time::Duration;

use maturion_migrate::{AppliedMigration, MigrateError, MigrationSet, Migrator};
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
