//! Where a benchmark runs, and its scratch database there.

use anyhow::{bail, Context, Result};
use maturion_cluster::Cluster;
use maturion_schema::APP_ROLE;
use maturion_tenancy::Database;
use tokio_postgres::{Client, Config, NoTls};

/// The PostgreSQL server benchmarks run on.
#[derive(Debug, Clone)]
pub enum Server {
    /// The embedded cluster, running: every role logs in itself over its private socket.
    Embedded(Cluster),
    /// A server managed elsewhere, reached as the administrator of `url` (`config` is the
    /// same, parsed). Other roles are taken on with `SET ROLE`: we hold no passwords.
    External { url: String, config: Config },
}

impl Server {
    pub(crate) async fn admin(&self, database: &str) -> Result<Client> {
        connect(&self.admin_config(database)).await
    }

    /// A session whose `current_user` is `role`.
    pub(crate) async fn connect_as(&self, role: &str, database: &str) -> Result<Client> {
        match self {
            Server::Embedded(cluster) => connect(&cluster.config(role, database)).await,
            Server::External { .. } => {
                let client = self.admin(database).await?;
                client
                    .batch_execute(&format!("SET ROLE \"{}\"", role.replace('"', "\"\"")))
                    .await?;
                Ok(client)
            }
        }
    }

    /// A pool of the application's connections: `maturion_app` on the embedded cluster, the
    /// administrator on an external server (a pool cannot `SET ROLE`).
    pub(crate) fn app_database(&self, database: &str, connections: usize) -> Result<Database> {
        let config = match self {
            Server::Embedded(cluster) => cluster.config(APP_ROLE, database),
            Server::External { .. } => self.admin_config(database),
        };
        Ok(Database::new(config, connections)?)
    }

    /// The administrator's URL of `database`, for programs of other languages.
    pub(crate) fn admin_url(&self, database: &str) -> Result<String> {
        match self {
            Server::Embedded(cluster) => Ok(cluster.url(cluster.superuser(), database)),
            Server::External { url, .. } => with_database(url, database),
        }
    }

    pub(crate) fn admin_config(&self, database: &str) -> Config {
        match self {
            Server::Embedded(cluster) => cluster.config(cluster.superuser(), database),
            Server::External { config, .. } => {
                let mut config = config.clone();
                config.dbname(database);
                config
            }
        }
    }
}

pub(crate) async fn connect(config: &Config) -> Result<Client> {
    let (client, connection) = config
        .connect(NoTls)
        .await
        .context("cannot connect to PostgreSQL")?;
    // A broken connection also fails the client's next call, which reports it.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// A benchmark's own database on the server, laid out as in production: created afresh (a
/// leftover of an interrupted run is dropped first), every platform migration applied, and the
/// logs' monthly partitions made by the maintenance job, so that writes land in this month's
/// partition rather than the default one.
pub(crate) struct Scratch {
    pub name: &'static str,
    /// An administrator session in it.
    pub admin: Client,
}

impl Scratch {
    pub async fn create(server: &Server, name: &'static str) -> Result<Self> {
        let postgres = server.admin("postgres").await?;
        postgres
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
        postgres
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
        let mut admin = server.admin(name).await?;
        maturion_platform::migrate_up(&mut admin)
            .await
            .context("cannot migrate the benchmark database")?;
        maturion_maintenance::maintain(&mut admin, &maturion_maintenance::Policy::default())
            .await
            .context("cannot make the benchmark database's partitions")?;
        Ok(Scratch { name, admin })
    }

    /// Drops the database, closing whatever sessions are still in it.
    pub async fn remove(self, server: &Server) -> Result<()> {
        drop(self.admin);
        server
            .admin("postgres")
            .await?
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await?;
        Ok(())
    }
}

/// `postgresql://user@host:port/old?x=y` → the same URL naming `database`.
fn with_database(url: &str, database: &str) -> Result<String> {
    let Some(scheme_end) = url.find("://") else {
        bail!("DATABASE_URL is not a URL")
    };
    let rest = &url[scheme_end + 3..];
    let Some(path_start) = rest.find('/') else {
        bail!("DATABASE_URL names no database")
    };
    let after_path = rest[path_start..]
        .find('?')
        .map_or(String::new(), |q| rest[path_start + q..].to_owned());
    Ok(format!(
        "{}{}/{database}{after_path}",
        &url[..scheme_end + 3],
        &rest[..path_start]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bench_url_names_the_bench_database() {
        assert_eq!(
            with_database(
                "postgresql://admin:pw@db.example:5432/maturion?sslmode=require",
                "b"
            )
            .unwrap(),
            "postgresql://admin:pw@db.example:5432/b?sslmode=require"
        );
        assert_eq!(
            with_database("postgres://u@/x?host=/run", "b").unwrap(),
            "postgres://u@/b?host=/run"
        );
        assert!(with_database("nonsense", "b").is_err());
    }
}
