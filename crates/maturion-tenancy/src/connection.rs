use std::ops::Deref;

use tokio_postgres::{Client, Statement};

use crate::database::{begin, SET_CONTEXT};
use crate::{TenancyError, TenantContext};

/// A connection the caller holds (not one from a [`Database`](crate::Database) pool) on which
/// tenant transactions open exactly as [`Database::transaction`](crate::Database::transaction)
/// opens them: BEGIN and the context in one round trip, with a statement prepared once. For code
/// that must keep one session through many transactions, such as a benchmark's timed loop.
pub struct TenantConnection {
    client: Client,
    set_context: Statement,
    /// A transaction was begun and not ended: the next one rolls it back first.
    open: bool,
}

impl TenantConnection {
    pub async fn new(client: Client) -> Result<Self, TenancyError> {
        let set_context = client.prepare(SET_CONTEXT).await?;
        Ok(Self {
            client,
            set_context,
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
        begin(&self.client, &self.set_context, context).await?;
        Ok(ConnectionTransaction { connection: self })
    }
}

/// An open tenant transaction on a [`TenantConnection`]; queries go through its client.
pub struct ConnectionTransaction<'a> {
    connection: &'a mut TenantConnection,
}

impl ConnectionTransaction<'_> {
    pub async fn commit(self) -> Result<(), TenancyError> {
        self.connection.client.batch_execute("COMMIT").await?;
        self.connection.open = false;
        Ok(())
    }
}

impl Deref for ConnectionTransaction<'_> {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.connection.client
    }
}
