//! The global schema of the platform (spec §4–§7) as versioned migrations, and the one way to
//! bring a database up to date: cluster roles first, then the migrations as `maturion_owner`.

use include_dir::{include_dir, Dir};
use maturion_migrate::{AppliedMigration, MigrateError, MigrationSet, Migrator, Options};
use tokio_postgres::Client;

static MIGRATIONS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/migrations");

/// Cluster-wide roles and database grants; idempotent.
pub const ROLES_SQL: &str = include_str!("../sql/roles.sql");
/// Marks the search operators LEAKPROOF (superuser only) so that searches under row-level
/// security may use their indexes; run after [`ROLES_SQL`] and again after the migrations.
pub const LEAKPROOF_SQL: &str = include_str!("../sql/leakproof.sql");

/// Scope name of the platform's own migrations in `schema_migrations`.
pub const PLATFORM_SCOPE: &str = "platform";

/// Role that owns every object and runs migrations.
pub const OWNER_ROLE: &str = "maturion_owner";
/// The runtime role: subject to RLS, owns nothing.
pub const APP_ROLE: &str = "maturion_app";
/// Read-only reporting role, subject to RLS.
pub const READONLY_ROLE: &str = "maturion_readonly";
/// BYPASSRLS role reserved for retention, erase and partition jobs.
pub const MAINTENANCE_ROLE: &str = "maturion_maintenance";

/// The platform migrations embedded in this build.
pub fn platform_migrations() -> MigrationSet {
    MigrationSet::from_embedded(PLATFORM_SCOPE, &MIGRATIONS)
        .expect("the embedded platform migrations are laid out correctly (checked by tests)")
}

/// Options every platform or module migration runs with: as the owner role.
pub fn migration_options() -> Options {
    Options {
        owner_role: Some(OWNER_ROLE.into()),
        ..Options::default()
    }
}

/// For a module's own migrations: as the platform's, and the one-argument
/// `maturion.enable_tenant_isolation(table)` labels their tables with `module`.
pub fn module_migration_options(module: &str) -> Options {
    Options {
        module: Some(module.into()),
        ..migration_options()
    }
}

/// Creates the roles (idempotent), then applies every pending platform migration.
/// `client` must be an administrator (superuser, or CREATEROLE and database owner).
pub async fn migrate_global_schema(
    client: &mut Client,
) -> Result<Vec<AppliedMigration>, MigrateError> {
    bootstrap_roles(client).await?;
    let applied = Migrator::new(&platform_migrations(), migration_options())
        .up(client, None)
        .await?;
    mark_search_operators_leakproof(client).await?;
    Ok(applied)
}

/// Creates the platform roles and database grants if they are missing.
pub async fn bootstrap_roles(client: &Client) -> Result<(), MigrateError> {
    client.batch_execute(ROLES_SQL).await?;
    mark_search_operators_leakproof(client).await
}

/// [`LEAKPROOF_SQL`]: the operators the migrations bring (pg_trgm's) are marked once they exist.
pub async fn mark_search_operators_leakproof(client: &Client) -> Result<(), MigrateError> {
    client.batch_execute(LEAKPROOF_SQL).await?;
    Ok(())
}
