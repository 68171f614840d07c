/// Why the figures could not be gathered or an alert not delivered. A figure PostgreSQL cannot
/// give (an extension missing, backups not set up) is no error: it is reported as not available.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("{what}: {}", server_message(source))]
    Database {
        what: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },

    #[error("the webhook refused the alerts: HTTP {status}")]
    WebhookStatus { status: u16 },

    /// The URL is never repeated: it may carry a token.
    #[error("the webhook could not be reached: {reason}")]
    WebhookUnreachable { reason: String },
}

pub(crate) fn db(what: &'static str) -> impl FnOnce(tokio_postgres::Error) -> MonitorError {
    move |source| MonitorError::Database { what, source }
}

/// What the server said (tokio-postgres's own text is a bare "db error").
pub(crate) fn server_message(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => match db.hint() {
            Some(hint) => format!("{} ({hint})", db.message()),
            None => db.message().to_owned(),
        },
        None => error.to_string(),
    }
}
