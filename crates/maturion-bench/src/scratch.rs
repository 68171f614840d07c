//! A benchmark's own database on the target server.

use anyhow::{Context, Result};
use maturion_config::DatabaseTarget;
use maturion_schema::APP_ROLE;
use maturion_tenancy::Database;
use tokio_postgres::Client;

/// A benchmark's own database, laid out as in production: created afresh (a leftover of an
/// interrupted run is dropped first), every platform migration applied, and the logs' monthly
/// partitions made by the maintenance job, so that writes land in this month's partition
/// rather than the default one.
pub(crate) struct Scratch {
    /// The server the database was made on, to drop it from.
    server: DatabaseTarget,
    /// The same server, every URL naming the scratch database.
    pub target: DatabaseTarget,
    /// An administrator session in it.
    pub admin: Client,
}

impl Scratch {
    pub async fn create(server: &DatabaseTarget, name: &'static str) -> Result<Self> {
        let postgres = server.server_admin().await?;
        postgres
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
        postgres
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
        let target = server.with_database(name);
        let mut admin = target.admin().await?;
        maturion_platform::migrate_up(&mut admin)
            .await
            .context("cannot migrate the benchmark database")?;
        maturion_maintenance::maintain_logs(&mut admin, &maturion_maintenance::Policy::default())
            .await
            .context("cannot make the benchmark database's partitions")?;
        Ok(Scratch {
            server: server.clone(),
            target,
            admin,
        })
    }

    /// A pool of the application's connections: `maturion_app`, or the administrator on an
    /// external server configured without the application's URL (a pool cannot `SET ROLE`).
    pub fn app_database(&self, connections: usize) -> Result<Database> {
        let config = self
            .target
            .config_for(APP_ROLE)
            .unwrap_or_else(|_| self.target.admin_config());
        Ok(Database::new(config, connections)?)
    }

    /// Whether [`Scratch::app_database`] logs in as the application's own role.
    pub fn app_logs_in_as_itself(&self) -> bool {
        self.target.url_for(APP_ROLE).is_ok()
    }

    /// Drops the database, closing whatever sessions are still in it.
    pub async fn remove(self) -> Result<()> {
        drop(self.admin);
        let name = self
            .target
            .admin_config()
            .get_dbname()
            .unwrap_or_default()
            .to_owned();
        self.server
            .server_admin()
            .await?
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
        Ok(())
    }
}
