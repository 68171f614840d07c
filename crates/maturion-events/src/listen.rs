//! The privileged side's connection: an administrator login that becomes
//! `maturion_maintenance` and listens for wake-ups.

use std::collections::HashMap;
use std::sync::Mutex;

use futures_util::StreamExt;
use maturion_config::{ClientTls, ConnectionUrl, TargetError};
use tokio::sync::mpsc;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{AsyncMessage, Client, Config, NoTls, Socket, Statement};
use uuid::Uuid;

use crate::{EventError, MAINTENANCE_ROLE, NOTIFY_CHANNEL};

/// A maintenance connection whose notifications arrive on a channel.
pub(crate) struct Listener {
    pub client: Client,
    pub notifications: mpsc::UnboundedReceiver<()>,
    /// Statements prepared on this connection, by SQL text.
    statements: Mutex<HashMap<String, Statement>>,
}

/// Connects with `admin` (a role that may `SET ROLE maturion_maintenance`) over the TLS its URL
/// asks for, becomes the maintenance role and LISTENs on [`NOTIFY_CHANNEL`].
pub(crate) async fn connect(admin: &ConnectionUrl) -> Result<Listener, EventError> {
    let (sender, notifications) = mpsc::unbounded_channel();
    let client = match admin.tls() {
        ClientTls::Off => listening(admin.config(), NoTls, sender).await?,
        ClientTls::Verified { root_certificate } => {
            let tls = ClientTls::connector(root_certificate).map_err(TargetError::from)?;
            listening(admin.config(), tls, sender).await?
        }
    };
    // What this connection commits (leases, waiter flags) need not survive a crash: a lost
    // lease expires and the work is claimed again. Not waiting for the WAL flush takes a disk
    // sync off every claim, i.e. off the delivery latency. (Visibility is unchanged, and the
    // durable acknowledgement that follows a claim flushes the WAL up to it anyway.)
    client
        .batch_execute(&format!(
            "SET ROLE {MAINTENANCE_ROLE}; SET synchronous_commit = off; LISTEN {NOTIFY_CHANNEL}"
        ))
        .await?;
    Ok(Listener {
        client,
        notifications,
        statements: Mutex::default(),
    })
}

/// A connection whose notifications (only the fact of one) go to `sender`.
async fn listening<T>(
    config: &Config,
    tls: T,
    sender: mpsc::UnboundedSender<()>,
) -> Result<Client, EventError>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    let (client, mut connection) = config.connect(tls).await?;
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(_)) => {
                    if sender.send(()).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "event bus connection closed");
                    break;
                }
            }
        }
    });
    Ok(client)
}

/// A plain session of the maintenance role (no LISTEN), e.g. for making service bindings.
pub(crate) async fn connect_maintenance(admin: &ConnectionUrl) -> Result<Client, EventError> {
    let client = maturion_config::connect_url(admin).await?;
    client
        .batch_execute(&format!("SET ROLE {MAINTENANCE_ROLE}"))
        .await?;
    Ok(client)
}

impl Listener {
    /// `sql` prepared on this connection once.
    pub async fn prepared(&self, sql: &str) -> Result<Statement, EventError> {
        if let Some(statement) = self.statements.lock().expect("not poisoned").get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql).await?;
        self.statements
            .lock()
            .expect("not poisoned")
            .insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    /// Drops wake-ups that arrived while busy.
    pub fn drain(&mut self) {
        while self.notifications.try_recv().is_ok() {}
    }

    /// Announces (or withdraws) that `worker` sleeps on LISTEN: publishers NOTIFY only while
    /// some worker does. Also the worker's heartbeat.
    pub async fn set_waiting(
        &self,
        worker: Uuid,
        label: &str,
        waiting: bool,
    ) -> Result<(), EventError> {
        self.client
            .execute(
                "INSERT INTO maturion.event_waiters (worker_id, subscription, waiting_since, heartbeat_at) \
                 VALUES ($1, $2, CASE WHEN $3 THEN clock_timestamp() END, clock_timestamp()) \
                 ON CONFLICT (worker_id) DO UPDATE \
                 SET waiting_since = EXCLUDED.waiting_since, heartbeat_at = EXCLUDED.heartbeat_at",
                &[&worker, &label, &waiting],
            )
            .await?;
        Ok(())
    }

    /// Removes `worker`'s row, and rows of workers silent for ten minutes (crashed).
    pub async fn forget(&self, worker: Uuid) -> Result<(), EventError> {
        self.client
            .execute(
                "DELETE FROM maturion.event_waiters \
                 WHERE worker_id = $1 OR heartbeat_at < clock_timestamp() - interval '10 minutes'",
                &[&worker],
            )
            .await?;
        Ok(())
    }
}
