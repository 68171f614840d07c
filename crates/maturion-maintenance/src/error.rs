/// Why a maintenance run stopped. Steps already applied stay applied (each step is one
/// transaction); the next run plans again from what it finds.
#[derive(Debug, thiserror::Error)]
pub enum MaintenanceError {
    #[error("another maintenance run is in progress on this database: {holders}; gave up after waiting {waited:?}")]
    Busy {
        holders: String,
        waited: std::time::Duration,
    },

    #[error("invalid maintenance policy: {0}")]
    Policy(String),

    #[error("{context}: {source}")]
    Database {
        context: String,
        #[source]
        source: tokio_postgres::Error,
    },

    #[error("{0}")]
    Inconsistent(String),
}

impl MaintenanceError {
    /// The SQLSTATE of a database error, if that is what this is.
    pub fn code(&self) -> Option<&tokio_postgres::error::SqlState> {
        match self {
            MaintenanceError::Database { source, .. } => source.code(),
            _ => None,
        }
    }
}

/// `.context("what we were doing")` for database results.
pub(crate) trait Context<T> {
    fn context(self, context: impl Into<String>) -> Result<T, MaintenanceError>;
}

impl<T> Context<T> for Result<T, tokio_postgres::Error> {
    fn context(self, context: impl Into<String>) -> Result<T, MaintenanceError> {
        self.map_err(|source| MaintenanceError::Database {
            context: context.into(),
            source,
        })
    }
}
