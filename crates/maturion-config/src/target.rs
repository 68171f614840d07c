//! Where the database is, the URL and connection settings of each role, and connecting.

use maturion_cluster::{Cluster, ClusterError, ClusterOptions, StartOutcome};
use tokio_postgres::{Client, Config, NoTls};

use crate::role::PlatformRole;
use crate::settings::{DatabaseSettings, ExternalServer};
use crate::tls::{ClientTls, TlsError};
use crate::url::ConnectionUrl;

/// Name of the database the embedded cluster serves.
pub const EMBEDDED_DATABASE: &str = "maturion";

/// The platform database: on the embedded cluster, or on a server run elsewhere.
#[derive(Debug, Clone)]
pub enum DatabaseTarget {
    Embedded { cluster: Cluster, database: String },
    External(Box<ExternalServer>),
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),

    #[error(
        "no URL is configured for {role} on the external server: set {key} in the configuration \
         file or {variable} (the administrator's URL is never used in its place)"
    )]
    NoUrlForRole {
        role: &'static str,
        key: &'static str,
        variable: &'static str,
    },

    #[error(
        "{role} has no URL on the external server: URLs are configured for the administrator \
         (database.url, DATABASE_URL) and for maturion_app, maturion_readonly and \
         maturion_maintenance only"
    )]
    UnknownRole { role: String },

    #[error("cannot connect to PostgreSQL")]
    Connect(#[source] tokio_postgres::Error),

    #[error(transparent)]
    Tls(#[from] TlsError),

    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),

    #[error("the embedded cluster's task failed")]
    Task(#[from] tokio::task::JoinError),
}

impl DatabaseTarget {
    /// Blocks: on the embedded cluster, finding the PostgreSQL binaries runs
    /// `pg_ctl --version` (from async code, call it through `spawn_blocking`).
    pub fn new(settings: &DatabaseSettings) -> Result<Self, TargetError> {
        Ok(match settings {
            DatabaseSettings::Embedded { home, tls } => Self::Embedded {
                cluster: Cluster::new(
                    home,
                    ClusterOptions {
                        tls: tls.clone(),
                        ..ClusterOptions::default()
                    },
                )?,
                database: EMBEDDED_DATABASE.to_owned(),
            },
            DatabaseSettings::External(server) => Self::External(server.clone()),
        })
    }

    pub fn admin_url(&self) -> ConnectionUrl {
        match self {
            Self::Embedded { cluster, database } => {
                embedded_url(cluster, cluster.superuser(), database)
            }
            Self::External(server) => server.admin_url.clone(),
        }
    }

    pub fn admin_config(&self) -> Config {
        self.admin_url().config().clone()
    }

    /// The URL that logs in as `role`. On the embedded cluster every role has one (the socket
    /// folder's permissions are the access control). On an external server: the role's
    /// configured URL, or the administrator's for the role it logs in as; any other role is
    /// an error, never the administrator's URL.
    pub fn url_for(&self, role: &str) -> Result<ConnectionUrl, TargetError> {
        match self {
            Self::Embedded { cluster, database } => Ok(embedded_url(cluster, role, database)),
            Self::External(server) => external_url(server, role),
        }
    }

    /// Connection settings that log in as `role`, as [`DatabaseTarget::url_for`] finds them.
    pub fn config_for(&self, role: &str) -> Result<Config, TargetError> {
        Ok(self.url_for(role)?.config().clone())
    }

    /// The same server, every URL naming the database `name` instead (which must exist, or
    /// be created by the caller).
    pub fn with_database(&self, name: &str) -> Self {
        match self {
            Self::Embedded { cluster, .. } => Self::Embedded {
                cluster: cluster.clone(),
                database: name.to_owned(),
            },
            Self::External(server) => Self::External(Box::new(server.with_database(name))),
        }
    }

    /// Makes sure the database can be reached: starts the embedded cluster (initialising it
    /// on first use, reusing a running one) and creates its database. `None` for an external
    /// server, which is not ours to start.
    pub async fn ensure_running(&self) -> Result<Option<StartOutcome>, TargetError> {
        let Self::Embedded { cluster, database } = self else {
            return Ok(None);
        };
        let starting = cluster.clone();
        let outcome = tokio::task::spawn_blocking(move || starting.start()).await??;
        tracing::info!(?outcome, home = %cluster.home().display(), "embedded cluster");
        let server = connect(&cluster.config(cluster.superuser(), "postgres")).await?;
        let exists = server
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[database])
            .await?
            .is_some();
        if !exists {
            let create = format!("CREATE DATABASE {}", quote_identifier(database));
            server.batch_execute(&create).await?;
        }
        Ok(Some(outcome))
    }

    /// An administrator connection to the platform database.
    pub async fn admin(&self) -> Result<Client, TargetError> {
        self.ensure_running().await?;
        connect_url(&self.admin_url()).await
    }

    /// An administrator connection to the server's maintenance database `postgres`.
    pub async fn server_admin(&self) -> Result<Client, TargetError> {
        self.with_database("postgres").admin().await
    }

    /// A connection whose `current_user` is `role`: a real login with the role's URL where
    /// there is one. On an external server without a URL for `role`, this falls back to the
    /// administrator's connection and `SET ROLE`: enough for operators' commands, not for a
    /// server, which must log in with the role's own URL ([`DatabaseTarget::config_for`]).
    pub async fn connect_as(&self, role: &str) -> Result<Client, TargetError> {
        self.ensure_running().await?;
        match self.url_for(role) {
            Ok(url) => connect_url(&url).await,
            Err(TargetError::NoUrlForRole { .. } | TargetError::UnknownRole { .. }) => {
                let client = connect_url(&self.admin_url()).await?;
                client
                    .batch_execute(&format!("SET ROLE {}", quote_identifier(role)))
                    .await?;
                Ok(client)
            }
            Err(error) => Err(error),
        }
    }
}

/// Connects without TLS and drives the connection in the background until the client is
/// dropped. A configuration that requires TLS fails: use [`connect_url`] for those.
pub async fn connect(config: &Config) -> Result<Client, TargetError> {
    connect_with(config, &ClientTls::Off).await
}

/// Connects with the TLS the URL asks for (see [`ClientTls`]).
pub async fn connect_url(url: &ConnectionUrl) -> Result<Client, TargetError> {
    connect_with(url.config(), url.tls()).await
}

/// Connects with `tls` and drives the connection in the background until the client is
/// dropped.
pub async fn connect_with(config: &Config, tls: &ClientTls) -> Result<Client, TargetError> {
    match tls {
        ClientTls::Off => {
            let (client, connection) = config.connect(NoTls).await.map_err(TargetError::Connect)?;
            spawn_connection(connection);
            Ok(client)
        }
        ClientTls::Verified { root_certificate } => {
            let connector = ClientTls::connector(root_certificate)?;
            let (client, connection) = config
                .connect(connector)
                .await
                .map_err(TargetError::Connect)?;
            spawn_connection(connection);
            Ok(client)
        }
    }
}

fn spawn_connection<S, T>(connection: tokio_postgres::Connection<S, T>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(%error, "database connection closed");
        }
    });
}

fn embedded_url(cluster: &Cluster, role: &str, database: &str) -> ConnectionUrl {
    ConnectionUrl::from_parts(cluster.url(role, database), cluster.config(role, database))
}

fn external_url(server: &ExternalServer, role: &str) -> Result<ConnectionUrl, TargetError> {
    if let Some(platform_role) = PlatformRole::from_name(role) {
        return server
            .role_url(platform_role)
            .cloned()
            .ok_or(TargetError::NoUrlForRole {
                role: platform_role.name(),
                key: platform_role.key(),
                variable: platform_role.variable(),
            });
    }
    if server.admin_url.config().get_user() == Some(role) {
        return Ok(server.admin_url.clone());
    }
    Err(TargetError::UnknownRole {
        role: role.to_owned(),
    })
}

fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn external(app_url: Option<&str>) -> DatabaseTarget {
        DatabaseTarget::External(Box::new(ExternalServer {
            admin_url: ConnectionUrl::parse("postgresql://root:admin-secret@db/maturion").unwrap(),
            app_url: app_url.map(|url| ConnectionUrl::parse(url).unwrap()),
            readonly_url: None,
            maintenance_url: None,
        }))
    }

    #[test]
    fn an_external_role_without_a_url_is_an_error_not_the_administrator() {
        let target = external(None);
        let error = target.url_for("maturion_app").unwrap_err();
        assert!(matches!(error, TargetError::NoUrlForRole { .. }), "{error}");
        assert!(
            error.to_string().contains("MATURION_DATABASE_APP_URL"),
            "{error}"
        );
        assert!(target.config_for("maturion_readonly").is_err());
        assert!(matches!(
            target.url_for("someone"),
            Err(TargetError::UnknownRole { .. })
        ));
        assert_eq!(
            target.url_for("root").unwrap().expose(),
            "postgresql://root:admin-secret@db/maturion"
        );
    }

    #[test]
    fn another_database_moves_every_url() {
        let target = external(Some("postgresql://app:app-secret@pool:6432/maturion"));
        let moved = target.with_database("scratch");
        assert_eq!(
            moved.admin_url().expose(),
            "postgresql://root:admin-secret@db/scratch"
        );
        assert_eq!(moved.admin_config().get_dbname(), Some("scratch"));
        let app = moved.url_for("maturion_app").unwrap();
        assert_eq!(
            app.expose(),
            "postgresql://app:app-secret@pool:6432/scratch"
        );
        assert_eq!(
            moved.config_for("maturion_app").unwrap().get_dbname(),
            Some("scratch")
        );
        assert_eq!(target.admin_config().get_dbname(), Some("maturion"));
    }
}
