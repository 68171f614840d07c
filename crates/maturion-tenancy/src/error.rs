use tokio_postgres::error::SqlState;

/// Why a tenant-scoped operation failed. Messages never describe another tenant's rows: a
/// duplicate key or a missing reference is reported without the database's detail, which
/// could reveal that a row of another organisation exists.
#[derive(Debug, thiserror::Error)]
pub enum TenancyError {
    #[error("no tenant binding: {0}")]
    MissingContext(String),

    #[error("malformed tenant context: {0}")]
    MalformedContext(String),

    #[error("invalid API token: {0}")]
    InvalidToken(String),

    #[error("tenant binding refused: {0}")]
    AlreadyBound(String),

    /// A status move outside the table's workflow graph (§5.3); `allowed` are the statuses the
    /// row may move to from where it is.
    #[error("{message}")]
    TransitionRefused {
        message: String,
        allowed: Vec<String>,
    },

    /// A next version of a version that is not the current one of its entity (§5.2).
    #[error("{0}")]
    NotCurrentVersion(String),

    /// A change to what the database keeps as it is: a version's content, an audit row.
    #[error("{0}")]
    Immutable(String),

    /// A deletion retention or legal protection forbids (§5.4, §10.3).
    #[error("{0}")]
    Retained(String),

    #[error("the transaction was not bound to its context's tenant: {0}")]
    BindingMismatch(String),

    #[error(
        "the session kept state it must not carry into another transaction; drop the connection"
    )]
    TaintedSession,

    #[error("cross-tenant write refused: {0}")]
    CrossTenant(String),

    #[error("permission denied: {0}")]
    PermissionDenied(String),

    #[error("conflict: a row with the same unique key already exists")]
    Conflict { constraint: Option<String> },

    #[error("reference not found: the referenced row does not exist in this organisation")]
    ReferenceNotFound { constraint: Option<String> },

    #[error("invalid value: {0}")]
    InvalidValue(String),

    #[error("cannot get a database connection: {0}")]
    Pool(String),

    #[error("database error: {}", server_message(.0))]
    Database(tokio_postgres::Error),
}

/// tokio-postgres's own text of a server error is only "db error": the server's message and
/// code are in its `DbError`.
fn server_message(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => error.to_string(),
    }
}

impl From<tokio_postgres::Error> for TenancyError {
    fn from(error: tokio_postgres::Error) -> Self {
        let Some(db) = error.as_db_error() else {
            return Self::Database(error);
        };
        let message = db.message().to_owned();
        let constraint = db.constraint().map(str::to_owned);
        match db.code().code() {
            "MT401" => Self::MissingContext(message),
            "MT400" => Self::MalformedContext(message),
            "MT498" => Self::InvalidToken(message),
            // The binding's refusal comes from maturion.bind_tenant, a workflow's from its trigger.
            "MT409"
                if db
                    .where_()
                    .is_some_and(|at| at.contains("maturion.bind_tenant")) =>
            {
                Self::AlreadyBound(message)
            }
            "MT409" => Self::TransitionRefused {
                message,
                allowed: allowed_statuses(db.detail()),
            },
            "MT412" => Self::NotCurrentVersion(message),
            "MT405" => Self::Immutable(message),
            "MT423" => Self::Retained(message),
            "MT403" => Self::CrossTenant(message),
            _ if *db.code() == SqlState::INSUFFICIENT_PRIVILEGE
                && message.contains("row-level security") =>
            {
                Self::CrossTenant(message)
            }
            _ if *db.code() == SqlState::INSUFFICIENT_PRIVILEGE => Self::PermissionDenied(message),
            _ if *db.code() == SqlState::UNIQUE_VIOLATION => Self::Conflict { constraint },
            _ if *db.code() == SqlState::FOREIGN_KEY_VIOLATION => {
                Self::ReferenceNotFound { constraint }
            }
            _ if *db.code() == SqlState::CHECK_VIOLATION
                || *db.code() == SqlState::NOT_NULL_VIOLATION =>
            {
                Self::InvalidValue(message)
            }
            _ => Self::Database(error),
        }
    }
}

/// The statuses of a workflow refusal's detail, `allowed: a, b`.
fn allowed_statuses(detail: Option<&str>) -> Vec<String> {
    detail
        .and_then(|detail| detail.strip_prefix("allowed:"))
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|status| !status.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

impl From<deadpool_postgres::PoolError> for TenancyError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        match error {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => Self::Pool(other.to_string()),
        }
    }
}
