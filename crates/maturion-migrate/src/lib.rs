//! Versioned, checksummed, linted schema migrations for PostgreSQL.
//!
//! A migration set is a folder of `<MAJOR.MINOR.PATCH>_<name>/` folders, each with an `up.sql`
//! and a `down.sql`. The [`Migrator`] applies them in version order, one transaction each,
//! records them in `maturion_migrations.schema_migrations`, refuses files edited after they ran
//! (drift), refuses MINOR/PATCH migrations that the zero-regression lint rejects, and takes a
//! PostgreSQL advisory lock so that two migrators never run at once.

pub mod advisory;
mod error;
mod migration;
mod migrator;

pub use error::{Checksums, MigrateError};
pub use migration::{scaffold, Migration, MigrationSet};
pub use migrator::{AppliedMigration, MigrationState, MigrationStatus, Migrator, Options};
