use maturion_tenancy::TenancyError;

/// Why a bus operation failed.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// Refused or failed inside a tenant transaction (context, RLS, constraint…).
    #[error(transparent)]
    Tenancy(#[from] TenancyError),

    #[error("database error: {0}")]
    Database(#[from] tokio_postgres::Error),

    /// The administrator's connection could not be made (refused, or its TLS).
    #[error(transparent)]
    Connect(#[from] maturion_config::TargetError),

    #[error("invalid event: {0}")]
    InvalidEvent(String),

    #[error("invalid subscription: {0}")]
    InvalidSubscription(String),

    #[error("no subscription named {0:?}; register it with subscribe() first")]
    UnknownSubscription(String),

    /// A critical operation that records who did it was attempted without an acting user.
    #[error("{0} needs an acting user in the tenant context")]
    MissingActor(&'static str),

    #[error("invalid stream cursor: {0}")]
    InvalidCursor(String),

    #[error("malformed event data: {0}")]
    Malformed(String),
}
