//! The typed settings: every value checked, every default filled in.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

pub use maturion_cluster::TlsCertificate;

use crate::role::PlatformRole;
use crate::secret::Secret;
use crate::url::ConnectionUrl;

/// Folder of the embedded cluster, relative to the working directory.
pub const DEFAULT_HOME: &str = ".maturion";
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);
/// As axum's own default body limit.
pub const DEFAULT_BODY_LIMIT_BYTES: NonZeroUsize = NonZeroUsize::new(2 * 1024 * 1024).unwrap();
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_CONCURRENCY_LIMIT: NonZeroUsize = NonZeroUsize::new(256).unwrap();
/// Connections of the application role that requests share: enough for two cores to stay
/// busy while some requests wait on I/O, few enough for PostgreSQL's default 100 connections.
pub const DEFAULT_POOL_SIZE: NonZeroUsize = NonZeroUsize::new(16).unwrap();
/// Rollups are hourly: an hour between maintenance runs keeps them at most an hour behind.
pub const DEFAULT_MAINTENANCE_INTERVAL: Duration = Duration::from_secs(3600);
pub const DEFAULT_LOG_FILTER: &str = "warn";
/// Spec §9.1: a full backup daily at 02:00 UTC, an incremental one every 4 hours.
pub const DEFAULT_BACKUP_FULL_AT: TimeOfDay = TimeOfDay { hour: 2, minute: 0 };
pub const DEFAULT_BACKUP_INCREMENTAL_EVERY: Duration = Duration::from_secs(4 * 3600);
/// How often the server looks whether a backup is due: a backup starts at most this late.
pub const DEFAULT_BACKUP_CHECK_INTERVAL: Duration = Duration::from_secs(300);
pub const DEFAULT_MONITORING_INTERVAL: Duration = Duration::from_secs(60);
pub const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);
/// Spec §13.2's alert thresholds.
pub const DEFAULT_SLOW_QUERY: Duration = Duration::from_secs(1);
pub const DEFAULT_REPLICATION_LAG: Duration = Duration::from_secs(5);
pub const DEFAULT_POOL_USE_PERCENT: u8 = 100;
pub const DEFAULT_CONNECTIONS_USE_PERCENT: u8 = 90;
/// The incremental backup's 4 hours and one hour of slack.
pub const DEFAULT_BACKUP_MAX_AGE: Duration = Duration::from_secs(5 * 3600);
pub const DEFAULT_KEY_MAX_AGE_DAYS: u32 = 90;

/// Everything the CLI and the server are configured with. Built by
/// [`Settings::load`](crate::Settings::load) from defaults, a TOML file, the environment and
/// the command line, in that order.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub server: ServerSettings,
    pub jobs: JobSettings,
    pub monitoring: MonitoringSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone)]
pub enum DatabaseSettings {
    /// A private cluster in `home`, run by Maturion with the machine's PostgreSQL binaries,
    /// its TCP listener serving `tls`.
    Embedded { home: PathBuf, tls: TlsCertificate },
    /// A server run elsewhere.
    External(Box<ExternalServer>),
}

/// The URLs of a server run elsewhere, each naming the platform database.
#[derive(Debug, Clone)]
pub struct ExternalServer {
    /// An administrator's: migrations, checks, maintenance (`DATABASE_URL`).
    pub admin_url: ConnectionUrl,
    pub app_url: Option<ConnectionUrl>,
    pub readonly_url: Option<ConnectionUrl>,
    pub maintenance_url: Option<ConnectionUrl>,
}

impl ExternalServer {
    pub fn role_url(&self, role: PlatformRole) -> Option<&ConnectionUrl> {
        match role {
            PlatformRole::App => self.app_url.as_ref(),
            PlatformRole::Readonly => self.readonly_url.as_ref(),
            PlatformRole::Maintenance => self.maintenance_url.as_ref(),
        }
    }

    /// Every URL moved to the database `name`.
    pub fn with_database(&self, name: &str) -> Self {
        let move_to = |url: &Option<ConnectionUrl>| url.as_ref().map(|u| u.with_database(name));
        Self {
            admin_url: self.admin_url.with_database(name),
            app_url: move_to(&self.app_url),
            readonly_url: move_to(&self.readonly_url),
            maintenance_url: move_to(&self.maintenance_url),
        }
    }
}

/// The HTTP server's limits.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    /// Largest request body accepted.
    pub body_limit_bytes: NonZeroUsize,
    /// Longest a request may take before it is answered with a timeout.
    pub request_timeout: Duration,
    /// Requests served at once; more wait.
    pub concurrency_limit: NonZeroUsize,
    /// Connections of the application role that requests share; more requests wait for one.
    pub pool_size: NonZeroUsize,
    /// HTTPS (TLS 1.3 only) with these PEM files; plain HTTP without.
    pub tls: Option<ServerTls>,
}

/// The server's certificate chain and private key, PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTls {
    pub certificate: PathBuf,
    pub private_key: PathBuf,
}

/// The periodic jobs.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// Between two runs of the platform's maintenance (partitions, retention, rollups, seal).
    pub maintenance_interval: Duration,
    /// When the server takes backups (once `maturion backup setup` has run).
    pub backup: BackupSchedule,
}

/// The backup schedule of spec §9.1, as the server's scheduler follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSchedule {
    /// UTC time of the daily full backup.
    pub full_at: TimeOfDay,
    /// An incremental backup once the last backup is this old.
    pub incremental_every: Duration,
    /// Between two looks at what is due.
    pub check_interval: Duration,
}

/// A time of day, `HH:MM` (24-hour clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeOfDay {
    pub hour: u8,
    pub minute: u8,
}

impl std::str::FromStr for TimeOfDay {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let invalid = || "not a time of day HH:MM between 00:00 and 23:59".to_owned();
        let (hour, minute) = text.trim().split_once(':').ok_or_else(invalid)?;
        let field = |digits: &str, limit: u8| {
            (digits.len() == 2 && digits.bytes().all(|b| b.is_ascii_digit()))
                .then(|| digits.parse::<u8>().ok())
                .flatten()
                .filter(|value| *value <= limit)
                .ok_or_else(invalid)
        };
        Ok(Self {
            hour: field(hour, 23)?,
            minute: field(minute, 59)?,
        })
    }
}

impl std::fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

/// Spec §13: how often the server looks, where it sends alerts, and the thresholds of the
/// alert rules (§13.2), for `maturion monitor --alerts` and the server's webhook alike.
#[derive(Debug, Clone)]
pub struct MonitoringSettings {
    /// Between two evaluations of the rules in the server.
    pub interval: Duration,
    /// Firing and resolved alerts are POSTed here as JSON (the URL may carry a token).
    pub webhook_url: Option<Secret<String>>,
    /// Longest a webhook delivery may take; an unreachable receiver never holds up the server.
    pub webhook_timeout: Duration,
    /// A statement whose mean execution time is longer is a slow query.
    pub slow_query: Duration,
    /// The service's pool is exhausted at this share of its connections in use.
    pub pool_use_percent: u8,
    /// The server's connections are exhausted at this share of `max_connections`.
    pub connections_use_percent: u8,
    /// A replica further behind than this is lagging.
    pub replication_lag: Duration,
    /// The newest backup may be at most this old (the schedule's interval and some slack).
    pub backup_max_age: Duration,
    /// Spec §10.1: data keys are rotated every 90 days.
    pub key_max_age_days: u32,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    /// A `tracing` filter, e.g. `info` or `maturion=debug,tokio_postgres=warn`.
    pub filter: String,
    /// One JSON object per line instead of readable text.
    pub json: bool,
}
