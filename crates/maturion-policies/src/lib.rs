//! The reference module `policies`, kept the way a module team keeps theirs: a migration folder
//! of its own (`migrations/`), applied as its own scope with the module rules of the lint
//! (`maturion migrate up --dir crates/maturion-policies/migrations --scope policies` does the
//! same from the folder). Its one table uses every shared pattern of the platform: tenant
//! isolation, audit trail, versioning, workflow, retention, soft delete and multilingual search.

use include_dir::{include_dir, Dir};
use maturion_migrate::MigrationSet;

static MIGRATIONS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/migrations");

/// The module's name: its migration scope and the `module` of its tables and audit rows.
pub const MODULE: &str = "policies";

/// The module's migrations embedded in this build.
pub fn migrations() -> MigrationSet {
    MigrationSet::from_embedded(MODULE, &MIGRATIONS)
        .expect("the embedded policies migrations are laid out correctly (checked by tests)")
}
