//! The server's connections against `max_connections`, and the service's own pool.

use serde::Serialize;
use tokio_postgres::Client;

use crate::error::{db, MonitorError};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Connections {
    /// Client sessions open now, every database and role.
    pub in_use: i64,
    pub active: i64,
    pub idle_in_transaction: i64,
    pub max_connections: i64,
    /// Of `max_connections`, kept for superusers.
    pub superuser_reserved: i64,
}

pub async fn connections(client: &Client) -> Result<Connections, MonitorError> {
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE backend_type = 'client backend'),
                    count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'active'),
                    count(*) FILTER (WHERE state LIKE 'idle in transaction%'),
                    current_setting('max_connections')::bigint,
                    current_setting('superuser_reserved_connections')::bigint
             FROM pg_stat_activity",
            &[],
        )
        .await
        .map_err(db("reading pg_stat_activity"))?;
    Ok(Connections {
        in_use: row.get(0),
        active: row.get(1),
        idle_in_transaction: row.get(2),
        max_connections: row.get(3),
        superuser_reserved: row.get(4),
    })
}
