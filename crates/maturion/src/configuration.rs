//! Where the database is: an existing server named by DATABASE_URL, or the embedded cluster.

use std::str::FromStr;

use anyhow::{bail, Context, Result};
use maturion_cluster::{Cluster, ClusterOptions};
use tokio_postgres::{Client, Config, NoTls};

use crate::cli::Cli;

/// Name of the database the embedded cluster serves.
pub const EMBEDDED_DATABASE: &str = "maturion";

pub enum Target {
    /// A server managed elsewhere; `url` connects as an administrator.
    External {
        url: String,
        config: Config,
    },
    Embedded {
        cluster: Cluster,
        database: String,
    },
}

impl Target {
    pub fn from_cli(cli: &Cli) -> Result<Self> {
        match &cli.database_url {
            Some(url) => {
                let config =
                    Config::from_str(url).context("DATABASE_URL is not a valid PostgreSQL URL")?;
                if config.get_dbname().is_none() {
                    bail!("DATABASE_URL must name a database");
                }
                Ok(Target::External {
                    url: url.clone(),
                    config,
                })
            }
            None => Ok(Target::Embedded {
                cluster: Cluster::new(&cli.home, ClusterOptions::default())?,
                database: EMBEDDED_DATABASE.to_owned(),
            }),
        }
    }

    /// Makes sure the database can be reached: starts the embedded cluster (once initialised
    /// it is reused) and creates its database.
    pub async fn ensure_running(&self) -> Result<()> {
        let Target::Embedded { cluster, database } = self else {
            return Ok(());
        };
        let cluster_for_start = cluster.clone();
        let outcome = tokio::task::spawn_blocking(move || cluster_for_start.start()).await??;
        tracing::info!(?outcome, home = %cluster.home().display(), "embedded cluster");
        let admin = connect(&cluster.config(cluster.superuser(), "postgres")).await?;
        let exists = admin
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[database])
            .await?
            .is_some();
        if !exists {
            admin
                .batch_execute(&format!("CREATE DATABASE \"{database}\""))
                .await?;
        }
        Ok(())
    }

    /// An administrator connection to the platform database.
    pub async fn admin(&self) -> Result<Client> {
        self.ensure_running().await?;
        connect(&self.admin_config()).await
    }

    fn admin_config(&self) -> Config {
        match self {
            Target::External { config, .. } => config.clone(),
            Target::Embedded { cluster, database } => cluster.config(cluster.superuser(), database),
        }
    }

    pub fn url(&self, role: &str) -> String {
        match self {
            Target::External { url, .. } => url.clone(),
            Target::Embedded { cluster, database } => cluster.url(role, database),
        }
    }
}

pub async fn connect(config: &Config) -> Result<Client> {
    let (client, connection) = config
        .connect(NoTls)
        .await
        .context("cannot connect to PostgreSQL")?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(%error, "database connection closed");
        }
    });
    Ok(client)
}
