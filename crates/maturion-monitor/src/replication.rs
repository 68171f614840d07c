//! Replicas streaming from this server, from pg_stat_replication.

use serde::Serialize;
use tokio_postgres::Client;

use crate::error::{db, MonitorError};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Replica {
    /// Its `application_name` (`walreceiver` unless the replica names itself).
    pub name: String,
    pub client_address: Option<String>,
    pub state: String,
    /// How long ago the replica had replayed what the primary had written then; 0 when it
    /// has caught up and nothing was written since (PostgreSQL reports no lag then).
    pub lag_seconds: f64,
    /// WAL written here and not yet replayed there.
    pub lag_bytes: Option<f64>,
}

pub async fn replicas(client: &Client) -> Result<Vec<Replica>, MonitorError> {
    let rows = client
        .query(
            "SELECT application_name, client_addr::text, state,
                    coalesce(extract(epoch FROM greatest(write_lag, flush_lag, replay_lag)), 0)::float8,
                    CASE WHEN pg_is_in_recovery() THEN NULL
                         ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 END
             FROM pg_stat_replication ORDER BY application_name, pid",
            &[],
        )
        .await
        .map_err(db("reading pg_stat_replication"))?;
    Ok(rows
        .iter()
        .map(|row| Replica {
            name: row.get(0),
            client_address: row.get(1),
            state: row.get(2),
            lag_seconds: row.get(3),
            lag_bytes: row.get(4),
        })
        .collect())
}
