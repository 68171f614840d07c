//! Every migration set of the platform, in the order they apply: the global schema first,
//! then the crates that build on it, then the modules bundled with the platform (the
//! reference module `policies`). The one place that knows this order, and that puts the
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

/// Every migration set, in dependency order: the platform's own, then the bundled modules.
pub fn migration_sets() -> Vec<MigrationSet> {
    vec![
        maturion_schema::platform_migrations(),
        maturion_maintenance::migrations(),
        maturion_audit::migrations(),
        maturion_events::migrations(),
        maturion_policies::migrations(),
    ]
}

/// The modules shipped with the platform. Their sets run as any module's do: linted with the
/// module rules and labelled with their scope, so they prove what a module may do alone.
pub const BUNDLED_MODULES: [&str; 1] = [maturion_policies::MODULE];

/// Whether `set` is a bundled module's rather than the platform's own.
pub fn is_bundled_module(set: &MigrationSet) -> bool {
    BUNDLED_MODULES.contains(&set.scope.as_str())
}

/// The options `set` runs with: a module's for a bundled module, else the platform's.
pub fn migration_options(set: &MigrationSet) -> maturion_migrate::Options {
    if is_bundled_module(set) {
        maturion_schema::module_migration_options(&set.scope)
    } else {
        maturion_schema::migration_options()
    }
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
    let mut applied = Vec::new();
    for set in migration_sets() {
        let options = maturion_migrate::Options {
            lock_wait,
            ..migration_options(&set)
        };
        applied.extend(Migrator::new(&set, options).up(client, None).await?);
    }
    maturion_schema::mark_search_operators_leakproof(client).await?;
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
        let statuses = Migrator::new(&set, migration_options(&set))
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
