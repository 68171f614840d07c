use std::path::PathBuf;

use semver::Version;

/// Everything that can stop a migration run. Each message names the migration and what to do.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("cannot read migrations in {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{path}: {reason}")]
    Layout { path: PathBuf, reason: String },

    #[error("two migrations share version {version}: {first} and {second}")]
    DuplicateVersion {
        version: Version,
        first: String,
        second: String,
    },

    #[error(
        "migration {version} ({name}) of scope '{scope}' was edited after it was applied \
         (checksum {} in the database, {} on disk); \
         applied migrations are immutable: restore the file and add a new migration instead",
        .checksums.applied, .checksums.current
    )]
    Drift {
        scope: String,
        version: Version,
        name: String,
        // Boxed: every Result of this crate carries this error's size.
        checksums: Box<Checksums>,
    },

    #[error(
        "the database has migration {version} ({name}) of scope '{scope}' which this migration set \
         does not contain; is this binary older than the database?"
    )]
    UnknownApplied {
        scope: String,
        version: Version,
        name: String,
    },

    #[error("migration {version} ({name}) is refused by the zero-regression lint:\n{findings}")]
    Lint {
        version: Version,
        name: String,
        findings: String,
    },

    #[error("migration {version} ({name}) has no down script; it cannot be reverted")]
    NoDownScript { version: Version, name: String },

    #[error("no migration has version {0}")]
    NoSuchVersion(Version),

    #[error("migration {version} ({name}) failed, nothing of it was applied: {source}")]
    Failed {
        version: Version,
        name: String,
        source: tokio_postgres::Error,
    },

    #[error(
        "migration {version} ({name}) runs outside a transaction and failed at statement {statement}; \
         earlier statements of it stay applied: {source}"
    )]
    FailedWithoutTransaction {
        version: Version,
        name: String,
        statement: usize,
        source: tokio_postgres::Error,
    },

    #[error("cannot split migration {version} ({name}) into statements: {reason}")]
    Split {
        version: Version,
        name: String,
        reason: String,
    },

    #[error("migration {version} ({name}) cannot be linted: {source}")]
    Unparsable {
        version: Version,
        name: String,
        source: maturion_lint::LintError,
    },

    #[error(
        "another migration run holds the migration lock: {holders}; gave up after waiting {waited:?}, \
         try again once it has finished"
    )]
    Locked {
        holders: String,
        waited: std::time::Duration,
    },

    #[error("database error: {0}")]
    Database(#[from] tokio_postgres::Error),
}

/// A migration's checksum as applied and as found on disk.
#[derive(Debug)]
pub struct Checksums {
    pub applied: String,
    pub current: String,
}
