//! One look at everything §13 watches, as the administrator.

use chrono::{DateTime, Utc};
use maturion_cluster::Cluster;
use maturion_config::MonitoringSettings;
use serde::Serialize;
use tokio_postgres::Client;

use crate::archiving::{self, Archiving};
use crate::backups::{self, Backups};
use crate::bloat::{self, TableBloat};
use maturion_tenancy::PoolStatus;

use crate::connections::{self, Connections};
use crate::error::{db, MonitorError};
use crate::figure::Figure;
use crate::indexes::{self, IndexUsage};
use crate::keys::{self, Keys};
use crate::replication::{self, Replica};
use crate::statements::{self, Statement};
use crate::DEFAULT_TOP;

/// What the caller knows that the database does not.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    /// The embedded cluster, whose backups pgBackRest lists; `None` for an external server.
    pub cluster: Option<&'a Cluster>,
    /// The service's connection pool (the server's; the CLI has none).
    pub pool: Option<PoolStatus>,
    /// The error of the server's last scheduled backup, when it failed.
    pub backup_run_failure: Option<String>,
    /// How many statements, indexes and tables each list keeps.
    pub top: usize,
}

impl Default for Inputs<'_> {
    /// No cluster, no pool, no failed run, [`DEFAULT_TOP`] of each list.
    fn default() -> Self {
        Self {
            cluster: None,
            pool: None,
            backup_run_failure: None,
            top: DEFAULT_TOP,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub taken_at: DateTime<Utc>,
    pub database: String,
    /// Slowest mean first.
    pub slow_queries: Figure<Vec<Statement>>,
    pub connections: Connections,
    pub pool: Figure<PoolStatus>,
    pub indexes: IndexUsage,
    /// Most dead tuples first.
    pub bloat: Vec<TableBloat>,
    pub wal_archiving: Archiving,
    pub backups: Figure<Backups>,
    pub replication: Vec<Replica>,
    pub keys: Figure<Keys>,
}

/// Gathers every figure. `client` should be an administrator's: a superuser creates the
/// monitoring extensions and reads every session's statements; a lesser role gets what it may.
pub async fn gather(
    client: &mut Client,
    inputs: Inputs<'_>,
    settings: &MonitoringSettings,
) -> Result<Snapshot, MonitorError> {
    let top = i64::try_from(inputs.top).unwrap_or(i64::MAX);
    let database: String = client
        .query_one("SELECT current_database()::text", &[])
        .await
        .map_err(db("reading the database's name"))?
        .get(0);
    Ok(Snapshot {
        taken_at: Utc::now(),
        database,
        slow_queries: statements::slowest(client, top).await,
        connections: connections::connections(client).await?,
        pool: match inputs.pool {
            Some(pool) => Figure::Available(pool),
            None => Figure::NotAvailable("only the server has a pool".to_owned()),
        },
        indexes: indexes::usage(client, top).await?,
        bloat: bloat::tables(client, top).await?,
        wal_archiving: archiving::archiving(client).await?,
        backups: backups::backups(inputs.cluster, inputs.backup_run_failure).await,
        replication: replication::replicas(client).await?,
        keys: keys::keys(client, settings.key_max_age_days).await,
    })
}
