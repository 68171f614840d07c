//! Loading the settings: built-in defaults, then a TOML file, then environment variables,
//! then what the command line says; a later source wins.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt::Display;
use std::fs;
use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroU64, NonZeroU8, NonZeroUsize};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use crate::error::SettingsError;
use crate::role::PlatformRole;
use crate::secret::Secret;
use crate::settings::*;
use crate::url::ConnectionUrl;

/// Read when neither the caller nor `MATURION_CONFIG` names a file, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "maturion.toml";
/// Names the configuration file.
pub const CONFIG_VARIABLE: &str = "MATURION_CONFIG";

/// Variables whose names start so belong to the settings: an unknown one is a mistake.
const NAMESPACES: [&str; 5] = [
    "MATURION_DATABASE_",
    "MATURION_SERVER_",
    "MATURION_JOBS_",
    "MATURION_MONITORING_",
    "MATURION_LOG_",
];

/// Where settings come from. Not `Debug`: the environment holds passwords.
#[derive(Default, Clone)]
pub struct Sources {
    /// A configuration file that must exist (the CLI's `--config`). Without it:
    /// `MATURION_CONFIG`, else `./maturion.toml` if there is one, else no file.
    pub file: Option<PathBuf>,
    /// Environment variables; empty values count as unset.
    pub environment: Vec<(OsString, OsString)>,
    /// The last word, as (key, value) with keys as in the file: `("database.url", …)`.
    pub overrides: Vec<(String, String)>,
}

impl Sources {
    /// The process's environment, no file named, no overrides.
    pub fn from_process() -> Self {
        Self {
            environment: std::env::vars_os().collect(),
            ..Self::default()
        }
    }
}

impl Settings {
    /// Defaults, then the file, then the environment, then the overrides.
    pub fn load(sources: &Sources) -> Result<Self, SettingsError> {
        let environment = environment(&sources.environment)?;
        let file = sources
            .file
            .clone()
            .or_else(|| environment.get(CONFIG_VARIABLE).map(PathBuf::from))
            .or_else(|| {
                let default = Path::new(DEFAULT_CONFIG_FILE);
                default.is_file().then(|| default.to_path_buf())
            });
        let mut layer = match file {
            Some(path) => Layer::from_file(&path)?,
            None => Layer::default(),
        };
        for setting in &SETTINGS {
            if let Some(value) = environment.get(setting.variable) {
                (setting.set)(&mut layer, value).map_err(|message| SettingsError::Variable {
                    variable: setting.variable.to_owned(),
                    message,
                })?;
            }
        }
        for (key, value) in &sources.overrides {
            let overriding = |message| SettingsError::Override {
                key: key.clone(),
                message,
            };
            let setting = SETTINGS
                .iter()
                .find(|setting| setting.key == key)
                .ok_or_else(|| overriding("no such setting".to_owned()))?;
            (setting.set)(&mut layer, value).map_err(overriding)?;
        }
        layer.into_settings()
    }
}

/// The non-empty values of the variables we read, by name.
fn environment(variables: &[(OsString, OsString)]) -> Result<HashMap<&str, &str>, SettingsError> {
    let mut known = HashMap::new();
    for (name, value) in variables {
        let Some(name) = name.to_str() else { continue };
        if name != CONFIG_VARIABLE && !SETTINGS.iter().any(|s| s.variable == name) {
            if NAMESPACES.iter().any(|prefix| name.starts_with(prefix)) {
                return Err(SettingsError::UnknownVariable {
                    variable: name.to_owned(),
                    known: variable_names(),
                });
            }
            continue;
        }
        let value = value.to_str().ok_or_else(|| SettingsError::Variable {
            variable: name.to_owned(),
            message: "not valid UTF-8".to_owned(),
        })?;
        if !value.is_empty() {
            known.insert(name, value);
        }
    }
    Ok(known)
}

fn variable_names() -> String {
    let names: Vec<&str> = std::iter::once(CONFIG_VARIABLE)
        .chain(SETTINGS.iter().map(|setting| setting.variable))
        .collect();
    names.join(", ")
}

/// One setting that the environment or the command line can set.
struct Setting {
    /// As in the file: `section.name`.
    key: &'static str,
    variable: &'static str,
    set: fn(&mut Layer, &str) -> Result<(), String>,
}

static SETTINGS: [Setting; 29] = [
    Setting {
        key: "database.home",
        variable: "MATURION_HOME",
        set: |layer, value| {
            layer.database.home = Some(value.into());
            Ok(())
        },
    },
    Setting {
        key: "database.tls_certificate",
        variable: "MATURION_DATABASE_TLS_CERTIFICATE",
        set: |layer, value| {
            layer.database.tls_certificate = Some(value.into());
            Ok(())
        },
    },
    Setting {
        key: "database.tls_private_key",
        variable: "MATURION_DATABASE_TLS_PRIVATE_KEY",
        set: |layer, value| {
            layer.database.tls_private_key = Some(value.into());
            Ok(())
        },
    },
    Setting {
        key: "database.url",
        variable: "DATABASE_URL",
        set: |layer, value| {
            layer.database.url = Some(url(value)?);
            Ok(())
        },
    },
    Setting {
        key: PlatformRole::App.key(),
        variable: PlatformRole::App.variable(),
        set: |layer, value| {
            layer.database.app_url = Some(url(value)?);
            Ok(())
        },
    },
    Setting {
        key: PlatformRole::Readonly.key(),
        variable: PlatformRole::Readonly.variable(),
        set: |layer, value| {
            layer.database.readonly_url = Some(url(value)?);
            Ok(())
        },
    },
    Setting {
        key: PlatformRole::Maintenance.key(),
        variable: PlatformRole::Maintenance.variable(),
        set: |layer, value| {
            layer.database.maintenance_url = Some(url(value)?);
            Ok(())
        },
    },
    Setting {
        key: "server.listen",
        variable: "MATURION_SERVER_LISTEN",
        set: |layer, value| {
            layer.server.listen = Some(parse(value)?);
            Ok(())
        },
    },
    Setting {
        key: "server.body_limit_bytes",
        variable: "MATURION_SERVER_BODY_LIMIT_BYTES",
        set: |layer, value| {
            layer.server.body_limit_bytes = Some(parse(value)?);
            Ok(())
        },
    },
    Setting {
        key: "server.request_timeout_seconds",
        variable: "MATURION_SERVER_REQUEST_TIMEOUT_SECONDS",
        set: |layer, value| {
            layer.server.request_timeout_seconds = Some(parse(value)?);
            Ok(())
        },
    },
    Setting {
        key: "server.concurrency_limit",
        variable: "MATURION_SERVER_CONCURRENCY_LIMIT",
        set: |layer, value| {
            layer.server.concurrency_limit = Some(parse(value)?);
            Ok(())
        },
    },
    Setting {
        key: "server.pool_size",
        variable: "MATURION_SERVER_POOL_SIZE",
        set: |layer, value| {
            layer.server.pool_size = Some(parse(value)?);
            Ok(())
        },
    },
    Setting {
        key: "server.tls_certificate",
        variable: "MATURION_SERVER_TLS_CERTIFICATE",
        set: |layer, value| {
            layer.server.tls_certificate = Some(value.into());
            Ok(())
        },
    },
    Setting {
        key: "server.tls_private_key",
        variable: "MATURION_SERVER_TLS_PRIVATE_KEY",
        set: |layer, value| {
            layer.server.tls_private_key = Some(value.into());
            Ok(())
        },
    },
    Setting {
        key: "jobs.maintenance_interval_seconds",
        variable: "MATURION_JOBS_MAINTENANCE_INTERVAL_SECONDS",
        set: |layer, value| {
            layer.jobs.maintenance_interval_seconds = Some(parse(value)?);
            Ok(())
        },
    },
    Setting {
        key: "jobs.backup_full_at",
        variable: "MATURION_JOBS_BACKUP_FULL_AT",
        set: |layer, value| {
            value.parse::<TimeOfDay>()?;
            layer.jobs.backup_full_at = Some(value.to_owned());
            Ok(())
        },
    },
    Setting {
        key: "jobs.backup_incremental_hours",
        variable: "MATURION_JOBS_BACKUP_INCREMENTAL_HOURS",
        set: |layer, value| {
            layer.jobs.backup_incremental_hours = Some(parse(value)?);
            Ok(())
        },
    },
    Setting {
        key: "jobs.backup_check_interval_seconds",
        variable: "MATURION_JOBS_BACKUP_CHECK_INTERVAL_SECONDS",
        set: |layer, value| {
            layer.jobs.backup_check_interval_seconds = Some(parse(value)?);
            Ok(())
        },
    },
    Setting {
        key: "monitoring.interval_seconds",
        variable: "MATURION_MONITORING_INTERVAL_SECONDS",
        set: |layer, value| {
            layer.monitoring.interval_seconds = Some(parse(value)?);
            Ok(())
        },
    },
    Setting {
        key: "monitoring.webhook_url",
        variable: "MATURION_MONITORING_WEBHOOK_URL",
        set: |layer, value| {
            layer.monitoring.webhook_url = Some(webhook_url(value)?);
            Ok(())
        },
    },
    Setting {
        key: "monitoring.webhook_timeout_seconds",
        variable: "MATURION_MONITORING_WEBHOOK_TIMEOUT_SECONDS",
        set: |layer, value| {
            layer.monitoring.webhook_timeout_seconds = Some(parse(value)?);
            Ok(())
        },
    },
    Setting {
        key: "monitoring.slow_query_milliseconds",
        variable: "MATURION_MONITORING_SLOW_QUERY_MILLISECONDS",
        set: |layer, value| {
            layer.monitoring.slow_query_milliseconds = Some(parse(value)?);
            Ok(())
        },
    },
    Setting {
        key: "monitoring.pool_use_percent",
        variable: "MATURION_MONITORING_POOL_USE_PERCENT",
        set: |layer, value| {
            layer.monitoring.pool_use_percent = Some(percent(value)?);
            Ok(())
        },
    },
    Setting {
        key: "monitoring.connections_use_percent",
        variable: "MATURION_MONITORING_CONNECTIONS_USE_PERCENT",
        set: |layer, value| {
            layer.monitoring.connections_use_percent = Some(percent(value)?);
            Ok(())
        },
    },
    Setting {
        key: "monitoring.replication_lag_seconds",
        variable: "MATURION_MONITORING_REPLICATION_LAG_SECONDS",
        set: |layer, value| {
            layer.monitoring.replication_lag_seconds = Some(parse(value)?);
            Ok(())
        },
    },
    Setting {
        key: "monitoring.backup_max_age_seconds",
        variable: "MATURION_MONITORING_BACKUP_MAX_AGE_SECONDS",
        set: |layer, value| {
            layer.monitoring.backup_max_age_seconds = Some(parse(value)?);
            Ok(())
        },
    },
    Setting {
        key: "monitoring.key_max_age_days",
        variable: "MATURION_MONITORING_KEY_MAX_AGE_DAYS",
        set: |layer, value| {
            layer.monitoring.key_max_age_days = Some(parse(value)?);
            Ok(())
        },
    },
    Setting {
        key: "log.filter",
        variable: "MATURION_LOG",
        set: |layer, value| {
            layer.log.filter = Some(value.to_owned());
            Ok(())
        },
    },
    Setting {
        key: "log.json",
        variable: "MATURION_LOG_JSON",
        set: |layer, value| {
            layer.log.json = Some(parse(value)?);
            Ok(())
        },
    },
];

/// An `http://` or `https://` address; the reason never repeats it (it may hold a token).
fn webhook_url(value: &str) -> Result<String, String> {
    let value = value.trim();
    let rest = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"))
        .ok_or("not an http:// or https:// URL")?;
    if rest.is_empty() || rest.starts_with('/') || value.chars().any(char::is_whitespace) {
        return Err("a URL names a host, and has no spaces".to_owned());
    }
    Ok(value.to_owned())
}

/// A share from 1 to 100.
fn percent(value: &str) -> Result<NonZeroU8, String> {
    let percent: NonZeroU8 = parse(value)?;
    if percent.get() > 100 {
        return Err(format!("a percentage from 1 to 100, not {percent}"));
    }
    Ok(percent)
}

/// The reason never repeats the value: it may hold a password.
fn url(value: &str) -> Result<ConnectionUrl, String> {
    ConnectionUrl::parse(value).map_err(|error| error.to_string())
}

fn parse<T: FromStr>(value: &str) -> Result<T, String>
where
    T::Err: Display,
{
    value
        .trim()
        .parse()
        .map_err(|error: T::Err| error.to_string())
}

/// What one source sets; `None` leaves the value to the sources before it.
#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Layer {
    database: DatabaseLayer,
    server: ServerLayer,
    jobs: JobsLayer,
    monitoring: MonitoringLayer,
    log: LogLayer,
}

#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct DatabaseLayer {
    home: Option<PathBuf>,
    tls_certificate: Option<PathBuf>,
    tls_private_key: Option<PathBuf>,
    url: Option<ConnectionUrl>,
    app_url: Option<ConnectionUrl>,
    readonly_url: Option<ConnectionUrl>,
    maintenance_url: Option<ConnectionUrl>,
}

#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ServerLayer {
    listen: Option<SocketAddr>,
    body_limit_bytes: Option<NonZeroUsize>,
    request_timeout_seconds: Option<NonZeroU64>,
    concurrency_limit: Option<NonZeroUsize>,
    pool_size: Option<NonZeroUsize>,
    tls_certificate: Option<PathBuf>,
    tls_private_key: Option<PathBuf>,
}

#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct JobsLayer {
    maintenance_interval_seconds: Option<NonZeroU64>,
    backup_full_at: Option<String>,
    backup_incremental_hours: Option<NonZeroU64>,
    backup_check_interval_seconds: Option<NonZeroU64>,
}

#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct MonitoringLayer {
    interval_seconds: Option<NonZeroU64>,
    #[serde(deserialize_with = "webhook_url_in_file")]
    webhook_url: Option<String>,
    webhook_timeout_seconds: Option<NonZeroU64>,
    slow_query_milliseconds: Option<NonZeroU64>,
    #[serde(deserialize_with = "percent_in_file")]
    pool_use_percent: Option<NonZeroU8>,
    #[serde(deserialize_with = "percent_in_file")]
    connections_use_percent: Option<NonZeroU8>,
    replication_lag_seconds: Option<NonZeroU64>,
    backup_max_age_seconds: Option<NonZeroU64>,
    key_max_age_days: Option<NonZeroU32>,
}

fn webhook_url_in_file<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let text = String::deserialize(deserializer)?;
    webhook_url(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

fn percent_in_file<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<NonZeroU8>, D::Error> {
    let value = u64::deserialize(deserializer)?;
    percent(&value.to_string())
        .map(Some)
        .map_err(serde::de::Error::custom)
}

impl MonitoringLayer {
    fn into_settings(self) -> MonitoringSettings {
        let seconds = |value: NonZeroU64| Duration::from_secs(value.get());
        MonitoringSettings {
            interval: self
                .interval_seconds
                .map_or(DEFAULT_MONITORING_INTERVAL, seconds),
            webhook_url: self.webhook_url.map(Secret::new),
            webhook_timeout: self
                .webhook_timeout_seconds
                .map_or(DEFAULT_WEBHOOK_TIMEOUT, seconds),
            slow_query: self
                .slow_query_milliseconds
                .map_or(DEFAULT_SLOW_QUERY, |ms| Duration::from_millis(ms.get())),
            pool_use_percent: self
                .pool_use_percent
                .map_or(DEFAULT_POOL_USE_PERCENT, NonZeroU8::get),
            connections_use_percent: self
                .connections_use_percent
                .map_or(DEFAULT_CONNECTIONS_USE_PERCENT, NonZeroU8::get),
            replication_lag: self
                .replication_lag_seconds
                .map_or(DEFAULT_REPLICATION_LAG, seconds),
            backup_max_age: self
                .backup_max_age_seconds
                .map_or(DEFAULT_BACKUP_MAX_AGE, seconds),
            key_max_age_days: self
                .key_max_age_days
                .map_or(DEFAULT_KEY_MAX_AGE_DAYS, NonZeroU32::get),
        }
    }
}

#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct LogLayer {
    filter: Option<String>,
    json: Option<bool>,
}

impl Layer {
    /// A relative `database.home` is taken from the file's folder.
    fn from_file(path: &Path) -> Result<Self, SettingsError> {
        // Reading a FIFO or a device would wait or read for ever.
        if fs::metadata(path).is_ok_and(|m| !m.is_file()) {
            return Err(SettingsError::ReadFile {
                path: path.to_owned(),
                error: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "not a regular file (a folder, FIFO or device)",
                ),
            });
        }
        let text = fs::read_to_string(path).map_err(|error| SettingsError::ReadFile {
            path: path.to_owned(),
            error,
        })?;
        let mut layer: Self = toml::from_str(&text).map_err(|error| SettingsError::File {
            path: path.to_owned(),
            place: place(&text, error.span()),
            message: error.message().trim().to_owned(),
        })?;
        let folder = path.parent().unwrap_or(Path::new(""));
        let (database, server) = (&mut layer.database, &mut layer.server);
        for relative in [
            &mut database.home,
            &mut database.tls_certificate,
            &mut database.tls_private_key,
            &mut server.tls_certificate,
            &mut server.tls_private_key,
        ]
        .into_iter()
        .flatten()
        {
            *relative = folder.join(&*relative);
        }
        Ok(layer)
    }

    fn into_settings(self) -> Result<Settings, SettingsError> {
        let seconds = |value: NonZeroU64| Duration::from_secs(value.get());
        Ok(Settings {
            database: self.database.into_settings()?,
            server: ServerSettings {
                listen: self.server.listen.unwrap_or(DEFAULT_LISTEN),
                body_limit_bytes: self
                    .server
                    .body_limit_bytes
                    .unwrap_or(DEFAULT_BODY_LIMIT_BYTES),
                request_timeout: self
                    .server
                    .request_timeout_seconds
                    .map_or(DEFAULT_REQUEST_TIMEOUT, seconds),
                concurrency_limit: self
                    .server
                    .concurrency_limit
                    .unwrap_or(DEFAULT_CONCURRENCY_LIMIT),
                pool_size: self.server.pool_size.unwrap_or(DEFAULT_POOL_SIZE),
                tls: self.server.tls()?,
            },
            jobs: JobSettings {
                maintenance_interval: self
                    .jobs
                    .maintenance_interval_seconds
                    .map_or(DEFAULT_MAINTENANCE_INTERVAL, seconds),
                backup: self.jobs.backup_schedule()?,
            },
            monitoring: self.monitoring.into_settings(),
            log: LogSettings {
                filter: self
                    .log
                    .filter
                    .unwrap_or_else(|| DEFAULT_LOG_FILTER.to_owned()),
                json: self.log.json.unwrap_or(false),
            },
        })
    }
}

impl ServerLayer {
    fn tls(&self) -> Result<Option<ServerTls>, SettingsError> {
        match (&self.tls_certificate, &self.tls_private_key) {
            (None, None) => Ok(None),
            (Some(certificate), Some(private_key)) => Ok(Some(ServerTls {
                certificate: certificate.clone(),
                private_key: private_key.clone(),
            })),
            _ => Err(SettingsError::Invalid {
                key: "server.tls_certificate",
                reason: "goes with server.tls_private_key: set both or neither".to_owned(),
            }),
        }
    }
}

/// A week: longer between incremental backups would leave the RPO to the WAL alone.
const MAX_INCREMENTAL_HOURS: u64 = 168;

impl JobsLayer {
    fn backup_schedule(&self) -> Result<BackupSchedule, SettingsError> {
        let full_at = match &self.backup_full_at {
            Some(text) => text.parse().map_err(|reason| SettingsError::Invalid {
                key: "jobs.backup_full_at",
                reason,
            })?,
            None => DEFAULT_BACKUP_FULL_AT,
        };
        let incremental_every = match self.backup_incremental_hours {
            Some(hours) if hours.get() > MAX_INCREMENTAL_HOURS => {
                return Err(SettingsError::Invalid {
                    key: "jobs.backup_incremental_hours",
                    reason: format!("at most {MAX_INCREMENTAL_HOURS} hours, not {hours}"),
                })
            }
            Some(hours) => Duration::from_secs(hours.get() * 3600),
            None => DEFAULT_BACKUP_INCREMENTAL_EVERY,
        };
        Ok(BackupSchedule {
            full_at,
            incremental_every,
            check_interval: self
                .backup_check_interval_seconds
                .map_or(DEFAULT_BACKUP_CHECK_INTERVAL, |value| {
                    Duration::from_secs(value.get())
                }),
        })
    }
}

impl DatabaseLayer {
    fn into_settings(self) -> Result<DatabaseSettings, SettingsError> {
        let Some(admin_url) = self.url else {
            let role_urls = [&self.app_url, &self.readonly_url, &self.maintenance_url];
            if let Some((role, _)) =
                (PlatformRole::ALL.into_iter().zip(role_urls)).find(|(_, url)| url.is_some())
            {
                return Err(SettingsError::RoleUrlWithoutServer {
                    key: role.key(),
                    variable: role.variable(),
                });
            }
            let home = self.home.unwrap_or_else(|| PathBuf::from(DEFAULT_HOME));
            let tls = match (self.tls_certificate, self.tls_private_key) {
                (None, None) => TlsCertificate::Generated,
                (Some(certificate), Some(private_key)) => TlsCertificate::Configured {
                    certificate,
                    private_key,
                },
                _ => {
                    return Err(SettingsError::Invalid {
                        key: "database.tls_certificate",
                        reason: "goes with database.tls_private_key: set both or neither"
                            .to_owned(),
                    })
                }
            };
            return Ok(DatabaseSettings::Embedded { home, tls });
        };
        if self.tls_certificate.is_some() || self.tls_private_key.is_some() {
            return Err(SettingsError::Invalid {
                key: "database.tls_certificate",
                reason: "the certificate is the embedded cluster's; an external server has its \
                         own (say sslmode=verify-full&sslrootcert=… in its URLs)"
                    .to_owned(),
            });
        }
        Ok(DatabaseSettings::External(Box::new(ExternalServer {
            admin_url,
            app_url: self.app_url,
            readonly_url: self.readonly_url,
            maintenance_url: self.maintenance_url,
        })))
    }
}

/// `line 3, key listen` for an error at `span`: the line and its key, never its value.
fn place(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    let Some(before) = span.and_then(|span| text.get(..span.start)) else {
        return "the whole file".to_owned();
    };
    let number = before.matches('\n').count() + 1;
    let key = text
        .lines()
        .nth(number - 1)
        .and_then(|line| line.split_once('='))
        .map(|(key, _)| key.trim())
        .filter(|key| !key.is_empty());
    match key {
        Some(key) => format!("line {number}, key {key}"),
        None => format!("line {number}"),
    }
}

#[cfg(test)]
mod tests;
