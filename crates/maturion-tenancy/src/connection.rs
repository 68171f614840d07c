use std::ops::Deref;

use tokio_postgres::{Client, Statement};

use crate::database::{begin, end, BIND_TOKEN};
use crate::{TenancyError, TenantContext};

/// A connection the caller holds (not one from a [`Database`](crate::Database) pool) on which
/// tenant transactions open and end exactly as
/// [`Database::transaction`](crate::Database::transaction)'s: BEGIN and the binding in one round
/// trip, with a statement prepared once, and the session's state shed with the COMMIT. For code
/// that must keep one session through many transactions, such as a benchmark's timed loop.
pub struct TenantConnection {
    client: Client,
    bind_token: Statement,
    /// A transaction was begun and not ended: the next one rolls it back first.
    open: bool,
}

impl TenantConnection {
    pub async fn new(client: Client) -> Result<Self, TenancyError> {
        let bind_token = client.prepare(BIND_TOKEN).await?;
        Ok(Self {
            client,
            bind_token,
            open: false,
        })
    }

    /// The session outside any tenant transaction (for its own settings, prepared statements).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens a transaction for `context`. Dropped without `commit`, it is rolled back when the
    /// next one opens, so no work carries over into another tenant's transaction.
    pub async fn transaction(
        &mut self,
        context: &TenantContext,
    ) -> Result<ConnectionTransaction<'_>, TenancyError> {
        if self.open {
            self.client.batch_execute("ROLLBACK").await?;
        }
        self.open = true;
        begin(&self.client, &self.bind_token, context).await?;
        Ok(ConnectionTransaction { connection: self })
    }
}

/// An open tenant transaction on a [`TenantConnection`]; queries go through its client.
pub struct ConnectionTransaction<'a> {
    connection: &'a mut TenantConnection,
}

impl ConnectionTransaction<'_> {
    /// Commits. A session that kept state it must not carry into the next transaction (see
    /// [`Database`](crate::Database)) is an error here: the caller holds the connection, so
    /// it must drop it.
    pub async fn commit(self) -> Result<(), TenancyError> {
        let clean = end(&self.connection.client, "COMMIT").await?;
        self.connection.open = false;
        if clean {
            Ok(())
        } else {
            Err(TenancyError::TaintedSession)
        }
    }
}

impl Deref for ConnectionTransaction<'_> {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.connection.client
    }
}
