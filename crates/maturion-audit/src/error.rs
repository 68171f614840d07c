/// Why sealing or verifying could not run (a broken chain is not an error: it is the report).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("database error: {0}")]
    Database(#[from] tokio_postgres::Error),

    /// The database lacks what this crate's migrations create.
    #[error("the audit trail is not installed: {0} (apply the audit migrations)")]
    NotInstalled(String),

    /// Sealing or verifying needs to read every organisation's rows.
    #[error("{0} cannot read every organisation's audit rows: connect as a superuser or SET ROLE maturion_maintenance")]
    NotPrivileged(String),

    /// Another sealer (or a partition drop, which seals first) kept the seal lock too long.
    #[error("another sealer holds the audit seal lock: {holders}; gave up after waiting {waited:?}, try again once it has finished")]
    SealBusy {
        holders: String,
        waited: std::time::Duration,
    },
}
