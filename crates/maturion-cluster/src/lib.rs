//! Runs a private PostgreSQL cluster in a folder (its "home"), with the
//! machine's PostgreSQL binaries.
//!
//! Layout of a home:
//! - `pgdata/`: the data directory (`pgdata/maturion.conf` is rewritten at every start;
//!   `pgdata/archiving.conf`, written by the backup set-up, is kept),
//! - `run/`: the Unix socket directory, for local administration (trust, its folder's
//!   permissions are the access control),
//! - `pgdata/server.crt`, `server.key` (and `root.crt` when generated): the TLS certificate of
//!   the TCP listener, which takes only TLS 1.3 connections with a SCRAM password
//!   (`pgdata/maturion_hba.conf`, rewritten at every start),
//! - `log/postgres.log`: the server log,
//! - `pg_stat_statements` preloaded (`shared_preload_libraries`), for the slow-query figures of
//!   monitoring; its views are created by `maturion monitor` (`maturion_monitor::prepare`),
//! - `cluster.json`: the port and bin folder, written once `initdb` has succeeded,
//! - `cluster.lock`: serialises starts and stops across processes.
//!
//! When run as root, the server runs as the `postgres` system user, which owns
//! the home's folders.

mod binaries;
mod error;
mod owner;
mod postmaster;
mod tls;

use std::fmt::Write as _;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::ErrorKind;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::{Deserialize, Serialize};
use tracing::{debug, info};

pub use binaries::ServerBinaries;
use error::io;
pub use error::ClusterError;
use owner::Owner;
use postmaster::Postmaster;
pub use tls::TlsCertificate;

const SUPERUSER: &str = "postgres";
const CLUSTER_FILE: &str = "cluster.json";
const SETTINGS_FILE: &str = "maturion.conf";
/// Written by the backup set-up (WAL archiving); included by [`SETTINGS_FILE`] when present.
const ARCHIVING_FILE: &str = "archiving.conf";
/// Loaded at start: statistics of every statement's timing, for the monitoring's slow queries
/// (contrib, which the prerequisites install with the server).
const MONITORING_LIBRARIES: &str = "pg_stat_statements";
/// Only used for connection settings of a cluster that was never initialised.
const DEFAULT_PORT: u16 = 5432;
/// `sizeof(sockaddr_un.sun_path)` on Linux, less the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;
const PG_CTL_TIMEOUT_SECS: &str = "60";
const LOG_TAIL_LINES: usize = 20;

#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// `None`: pick a free port at the first start and keep it. A port given
    /// here is remembered when the server starts; a running server keeps its own.
    pub port: Option<u16>,
    /// `false` trades crash safety for speed (`fsync`, `synchronous_commit` and
    /// `full_page_writes` off): for throwaway test clusters.
    pub durable: bool,
    pub max_connections: u32,
    /// TCP addresses the server listens on (`listen_addresses`), TLS 1.3 and SCRAM only;
    /// empty for the Unix socket alone.
    pub listen_addresses: String,
    pub tls: TlsCertificate,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            port: None,
            durable: true,
            max_connections: 200,
            listen_addresses: "127.0.0.1".to_owned(),
            tls: TlsCertificate::Generated,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOutcome {
    /// The cluster was created, then started.
    Initialised,
    Started,
    /// The previous server ended without shutting down (killed, out of memory): this start
    /// waited for its processes to go and replayed the WAL.
    RecoveredFromCrash,
    AlreadyRunning,
}

/// How to treat connected clients when stopping (`pg_ctl stop -m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// Disconnect clients, then shut down cleanly.
    Fast,
    /// Kill the server at once; the next start recovers from the WAL.
    Immediate,
    /// Wait for clients to disconnect.
    Smart,
}

impl StopMode {
    fn as_arg(self) -> &'static str {
        match self {
            Self::Fast => "fast",
            Self::Immediate => "immediate",
            Self::Smart => "smart",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ClusterStatus {
    pub initialised: bool,
    pub running: bool,
    pub pid: Option<u32>,
    /// The postmaster of a server that ended without shutting down; the next start
    /// recovers it.
    pub crashed_pid: Option<u32>,
    /// `None` until the first start picked one (unless the options set it).
    pub port: Option<u16>,
    pub data_dir: PathBuf,
    pub socket_dir: PathBuf,
    /// Of the server binaries, e.g. `15.18 (Debian 15.18-0+deb12u1)`.
    pub version: String,
}

/// What must stay the same between starts.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct ClusterFile {
    port: u16,
    bindir: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Cluster {
    home: PathBuf,
    options: ClusterOptions,
    binaries: ServerBinaries,
    /// `Some` when we are root and the server must run as `postgres`.
    owner: Option<Owner>,
}

impl Cluster {
    /// Finds the PostgreSQL binaries; `home` need not exist yet.
    pub fn new(home: impl Into<PathBuf>, options: ClusterOptions) -> Result<Self, ClusterError> {
        let home = std::path::absolute(home.into()).map_err(io("resolve the cluster home"))?;
        let recorded = read_cluster_file(&home)?;
        let binaries = ServerBinaries::find(recorded.as_ref().map(|file| file.bindir.as_path()))?;
        Ok(Self {
            home,
            options,
            binaries,
            owner: Owner::needed()?,
        })
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Always `postgres`, created by `initdb`.
    pub fn superuser(&self) -> &str {
        SUPERUSER
    }

    /// Creates the home and the cluster if needed and starts the server unless
    /// it is running. Safe to call from several processes at once.
    pub fn start(&self) -> Result<StartOutcome, ClusterError> {
        self.create_home()?;
        let _lock = self.lock()?;

        let recorded = read_cluster_file(&self.home)?;
        let crashed = match postmaster::inspect(&self.data_dir()) {
            Postmaster::Alive(_) if recorded.is_some() => return Ok(StartOutcome::AlreadyRunning),
            Postmaster::Dead(pid) if recorded.is_some() => {
                postmaster::clear_after_crash(&self.data_dir(), &self.socket_dir(), pid)?;
                true
            }
            _ => false,
        };
        let port = match self
            .options
            .port
            .or(recorded.as_ref().map(|file| file.port))
        {
            Some(port) => port,
            None => free_port()?,
        };
        self.check_socket_path(port)?;
        self.create_private_dir(&self.socket_dir())?;
        self.create_private_dir(&self.log_dir())?;

        let outcome = if crashed {
            StartOutcome::RecoveredFromCrash
        } else if recorded.is_some() {
            StartOutcome::Started
        } else {
            self.init()?;
            StartOutcome::Initialised
        };
        self.check_data_version()?;
        let file = ClusterFile {
            port,
            bindir: self.binaries.dir.clone(),
        };
        if recorded.as_ref() != Some(&file) {
            self.write_cluster_file(&file)?;
        }
        self.write_settings(port)?;
        self.pg_ctl_start()?;
        info!(home = %self.home.display(), port, "PostgreSQL cluster started");
        Ok(outcome)
    }

    /// Returns whether the server was running.
    pub fn stop(&self, mode: StopMode) -> Result<bool, ClusterError> {
        if read_cluster_file(&self.home)?.is_none() {
            return Ok(false);
        }
        let _lock = self.lock()?;
        if !matches!(postmaster::inspect(&self.data_dir()), Postmaster::Alive(_)) {
            return Ok(false);
        }
        let mut pg_ctl = self.pg_command("pg_ctl");
        pg_ctl.arg("stop").arg("-D").arg(self.data_dir()).args([
            "-m",
            mode.as_arg(),
            "-w",
            "-t",
            PG_CTL_TIMEOUT_SECS,
        ]);
        run(&mut pg_ctl)?;
        info!(home = %self.home.display(), "PostgreSQL cluster stopped");
        Ok(true)
    }

    pub fn status(&self) -> Result<ClusterStatus, ClusterError> {
        let recorded = read_cluster_file(&self.home)?;
        let postmaster = match recorded {
            Some(_) => postmaster::inspect(&self.data_dir()),
            None => Postmaster::Absent,
        };
        Ok(ClusterStatus {
            initialised: recorded.is_some(),
            running: matches!(postmaster, Postmaster::Alive(_)),
            pid: match postmaster {
                Postmaster::Alive(pid) => Some(pid),
                _ => None,
            },
            crashed_pid: match postmaster {
                Postmaster::Dead(pid) => Some(pid),
                _ => None,
            },
            port: recorded.map(|file| file.port).or(self.options.port),
            data_dir: self.data_dir(),
            socket_dir: self.socket_dir(),
            version: self.binaries.version.clone(),
        })
    }

    /// Connection settings over the Unix socket. Roles need no password: the
    /// socket folder's permissions are the access control.
    pub fn config(&self, user: &str, dbname: &str) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host_path(self.socket_dir())
            .port(self.port())
            .user(user)
            .dbname(dbname);
        config
    }

    /// Connection settings over TCP to `127.0.0.1`, TLS required: the role needs a password
    /// (stored as a SCRAM verifier) and the client must verify the server's certificate
    /// against [`Cluster::root_certificate`].
    pub fn tcp_config(&self, user: &str, dbname: &str) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host("127.0.0.1")
            .port(self.port())
            .user(user)
            .dbname(dbname)
            .ssl_mode(tokio_postgres::config::SslMode::Require);
        config
    }

    /// The certificate authority that signed a generated server certificate: what clients
    /// connecting over TCP trust. Absent with a configured certificate (its authority is the
    /// operator's).
    pub fn root_certificate(&self) -> PathBuf {
        self.data_dir().join(tls::ROOT_CERTIFICATE_FILE)
    }

    /// The same as [`Cluster::config`], as a URL that libpq (psql) and
    /// tokio-postgres understand.
    pub fn url(&self, user: &str, dbname: &str) -> String {
        connection_url(user, dbname, &self.socket_dir(), self.port())
    }

    pub fn data_dir(&self) -> PathBuf {
        self.home.join("pgdata")
    }

    /// The settings file for WAL archiving that every start includes when it exists; it
    /// lives in the data folder, so backups carry it.
    pub fn archiving_settings_file(&self) -> PathBuf {
        self.data_dir().join(ARCHIVING_FILE)
    }

    /// Runs `program` (looked up in `PATH`) as the user the server runs as, from the home.
    /// The server and its tools need none of Maturion's own variables, and some of those are
    /// secrets (URLs with passwords, the backup passphrase), so they are not passed on.
    pub fn owner_command(&self, program: impl AsRef<Path>) -> Command {
        let mut command = match &self.owner {
            Some(owner) => owner.command(program.as_ref()),
            None => Command::new(program.as_ref()),
        };
        command.current_dir(&self.home);
        for (name, _) in std::env::vars_os() {
            if is_maturion_variable(&name.to_string_lossy()) {
                command.env_remove(name);
            }
        }
        command
    }

    /// Hands `path` to the user the server runs as (nothing to do when that is us).
    pub fn give_to_owner(&self, path: &Path) -> Result<(), ClusterError> {
        match &self.owner {
            Some(owner) => owner.give(path),
            None => Ok(()),
        }
    }

    /// Creates the home and an empty, private data folder for a restore to fill.
    pub fn prepare_restore(&self) -> Result<(), ClusterError> {
        self.create_home()?;
        self.create_private_dir(&self.data_dir())
    }

    /// Takes the data folder a restore (or a copy) put into `pgdata/` as this home's
    /// cluster, so that [`Cluster::start`] starts it instead of initialising a new one.
    pub fn adopt_restored(&self) -> Result<(), ClusterError> {
        if read_cluster_file(&self.home)?.is_some() {
            return Ok(());
        }
        self.check_data_version()?;
        let port = match self.options.port {
            Some(port) => port,
            None => free_port()?,
        };
        self.write_cluster_file(&ClusterFile {
            port,
            bindir: self.binaries.dir.clone(),
        })
    }

    fn socket_dir(&self) -> PathBuf {
        self.home.join("run")
    }

    fn log_dir(&self) -> PathBuf {
        self.home.join("log")
    }

    fn log_file(&self) -> PathBuf {
        self.log_dir().join("postgres.log")
    }

    fn port(&self) -> u16 {
        let recorded = read_cluster_file(&self.home).ok().flatten();
        recorded
            .map(|file| file.port)
            .or(self.options.port)
            .unwrap_or(DEFAULT_PORT)
    }

    fn create_home(&self) -> Result<(), ClusterError> {
        let created = !self.home.exists();
        fs::create_dir_all(&self.home).map_err(io(format!("create {}", self.home.display())))?;
        if let Some(owner) = &self.owner {
            if created {
                owner.give(&self.home)?;
            }
            owner.check_traversable(&self.home)?;
        }
        Ok(())
    }

    fn create_private_dir(&self, dir: &Path) -> Result<(), ClusterError> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io(format!("create {}", dir.display())))?;
        match &self.owner {
            Some(owner) => owner.give(dir),
            None => Ok(()),
        }
    }

    /// Held until the returned file is dropped.
    fn lock(&self) -> Result<File, ClusterError> {
        let path = self.home.join("cluster.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(format!("open {}", path.display())))?;
        file.lock()
            .map_err(io(format!("lock {}", path.display())))?;
        Ok(file)
    }

    fn check_socket_path(&self, port: u16) -> Result<(), ClusterError> {
        let path = self.socket_dir().join(format!(".s.PGSQL.{port}"));
        if path.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(ClusterError::SocketPathTooLong {
                path,
                max: MAX_SOCKET_PATH,
            });
        }
        Ok(())
    }

    fn init(&self) -> Result<(), ClusterError> {
        let data_dir = self.data_dir();
        let left_over = fs::read_dir(&data_dir).map(|mut entries| entries.next().is_some());
        if left_over.unwrap_or(false) {
            return Err(ClusterError::IncompleteInit {
                data_dir,
                marker: self.home.join(CLUSTER_FILE),
            });
        }
        // Made here, not by initdb: the postgres user may not write in a home that root owns.
        self.create_private_dir(&data_dir)?;
        info!(data_dir = %data_dir.display(), version = %self.binaries.version, "initialising PostgreSQL cluster");
        let mut initdb = self.pg_command("initdb");
        initdb
            .arg("-D")
            .arg(&data_dir)
            .args(["-U", SUPERUSER, "--auth-local=trust", "--auth-host=reject"])
            .args(["-E", "UTF8", "--no-instructions"])
            .arg(format!("--locale={}", initdb_locale()));
        if !self.options.durable {
            initdb.arg("--no-sync");
        }
        run(&mut initdb)?;

        // Our settings live in their own file so that each start can rewrite
        // them while postgresql.conf stays the user's.
        let conf = data_dir.join("postgresql.conf");
        let mut text = fs::read_to_string(&conf).map_err(io(format!("read {}", conf.display())))?;
        text.push_str(&format!("\ninclude_if_exists = '{SETTINGS_FILE}'\n"));
        fs::write(&conf, text).map_err(io(format!("write {}", conf.display())))
    }

    fn write_cluster_file(&self, file: &ClusterFile) -> Result<(), ClusterError> {
        let path = self.home.join(CLUSTER_FILE);
        let text = serde_json::to_string_pretty(file).expect("a cluster file serialises");
        fs::write(&path, text + "\n").map_err(io(format!("write {}", path.display())))
    }

    fn check_data_version(&self) -> Result<(), ClusterError> {
        let path = self.data_dir().join("PG_VERSION");
        let data_major =
            fs::read_to_string(&path).map_err(io(format!("read {}", path.display())))?;
        let data_major = data_major.trim();
        if data_major != self.binaries.major.to_string() {
            return Err(ClusterError::VersionMismatch {
                data_dir: self.data_dir(),
                data_major: data_major.to_string(),
                bindir: self.binaries.dir.clone(),
                bin_major: self.binaries.major,
            });
        }
        Ok(())
    }

    fn write_settings(&self, port: u16) -> Result<(), ClusterError> {
        let data_dir = self.data_dir();
        for written in tls::install(&data_dir, &self.options.tls)? {
            self.give_to_owner(&written)?;
        }
        let hba = data_dir.join(tls::HBA_FILE);
        fs::write(&hba, tls::HBA_RULES).map_err(io(format!("write {}", hba.display())))?;
        self.give_to_owner(&hba)?;
        // hba_file is resolved against the directory pg_ctl runs in, not the data folder.
        let mut settings = format!(
            "# Written by Maturion at every start: changes here are lost.\n\
             port = {port}\n\
             listen_addresses = {}\n\
             unix_socket_directories = {}\n\
             unix_socket_permissions = 0700\n\
             max_connections = {}\n\
             hba_file = {}\n\
             ssl = on\n\
             ssl_cert_file = '{}'\n\
             ssl_key_file = '{}'\n\
             ssl_min_protocol_version = 'TLSv1.3'\n\
             password_encryption = 'scram-sha-256'\n\
             shared_preload_libraries = '{MONITORING_LIBRARIES}'\n\
             include_if_exists = '{ARCHIVING_FILE}'\n",
            config_string(Path::new(&self.options.listen_addresses)),
            config_string(&self.socket_dir()),
            self.options.max_connections,
            config_string(&hba),
            tls::CERTIFICATE_FILE,
            tls::KEY_FILE,
        );
        if !self.options.durable {
            settings.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        }
        let path = data_dir.join(SETTINGS_FILE);
        fs::write(&path, settings).map_err(io(format!("write {}", path.display())))?;
        match &self.owner {
            Some(owner) => owner.give(&path),
            None => Ok(()),
        }
    }

    fn pg_ctl_start(&self) -> Result<(), ClusterError> {
        let log = self.log_file();
        let mut pg_ctl = self.pg_command("pg_ctl");
        pg_ctl
            .arg("start")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", PG_CTL_TIMEOUT_SECS]);
        debug!(command = ?pg_ctl, "running");
        let output = pg_ctl.output().map_err(io("run pg_ctl start"))?;
        if output.status.success() {
            return Ok(());
        }
        Err(ClusterError::StartFailed {
            status: output.status,
            output: output_text(&output),
            log_tail: tail(&log),
            log,
        })
    }

    /// A command running one of the PostgreSQL programs, as the cluster's owner.
    fn pg_command(&self, program: &str) -> Command {
        // From the home: the owner may not be able to enter our working directory.
        self.owner_command(self.binaries.dir.join(program))
    }
}

fn read_cluster_file(home: &Path) -> Result<Option<ClusterFile>, ClusterError> {
    let path = home.join(CLUSTER_FILE);
    // Reading a FIFO or a device would wait or read for ever.
    if fs::metadata(&path).is_ok_and(|m| !m.is_file()) {
        let error = std::io::Error::new(ErrorKind::InvalidInput, "not a regular file");
        return Err(io(format!("read {}", path.display()))(error));
    }
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io(format!("read {}", path.display()))(error)),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|source| ClusterError::ClusterFile { path, source })
}

/// The socket is all the server listens on, so this only needs to be a port
/// no one else is likely to use; a free TCP port is such a port.
fn free_port() -> Result<u16, ClusterError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(io("pick a free port"))
}

/// `C.UTF-8` keeps sorting byte-wise like `C` while knowing what a letter is,
/// but not every system has it.
fn initdb_locale() -> &'static str {
    let locales = Command::new("locale").arg("-a").output();
    let has_c_utf8 = locales.is_ok_and(|output| {
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .any(is_c_utf8)
    });
    if has_c_utf8 {
        "C.UTF-8"
    } else {
        "C"
    }
}

/// glibc lists `C.UTF-8` as `C.utf8`; others spell it `C.UTF-8`.
fn is_c_utf8(locale: &str) -> bool {
    locale.trim().to_ascii_lowercase().replace('-', "") == "c.utf8"
}

fn is_maturion_variable(name: &str) -> bool {
    name.starts_with("MATURION_") || name == "DATABASE_URL"
}

/// A string literal for postgresql.conf.
fn config_string(path: &Path) -> String {
    let text = path.to_string_lossy();
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

fn connection_url(user: &str, dbname: &str, socket_dir: &Path, port: u16) -> String {
    format!(
        "postgresql://{}@/{}?host={}&port={port}",
        percent_encode(user.as_bytes()),
        percent_encode(dbname.as_bytes()),
        percent_encode(socket_dir.as_os_str().as_bytes()),
    )
}

/// Escapes everything but RFC 3986's unreserved characters.
fn percent_encode(bytes: &[u8]) -> String {
    let mut encoded = String::with_capacity(bytes.len());
    for &byte in bytes {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            write!(encoded, "%{byte:02X}").expect("writing to a String cannot fail");
        }
    }
    encoded
}

fn run(command: &mut Command) -> Result<Output, ClusterError> {
    debug!(?command, "running");
    let output = command.output().map_err(io(format!("run {command:?}")))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(ClusterError::Command {
            command: format!("{command:?}"),
            status: output.status,
            output: output_text(&output),
        })
    }
}

fn output_text(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    format!("{}{}", stdout, stderr).trim_end().to_string()
}

/// The last lines of the server log, where PostgreSQL says why it did not start.
fn tail(log: &Path) -> String {
    let Ok(bytes) = fs::read(log) else {
        return format!("({} could not be read)", log.display());
    };
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use tokio_postgres::config::Host;

    use super::*;

    #[test]
    fn url_round_trips_through_tokio_postgres() {
        let url = connection_url("postgres", "maturion", Path::new("/tmp/a home/run"), 5433);
        assert_eq!(
            url,
            "postgresql://postgres@/maturion?host=%2Ftmp%2Fa%20home%2Frun&port=5433"
        );
        let config = tokio_postgres::Config::from_str(&url).unwrap();
        assert_eq!(
            config.get_hosts(),
            [Host::Unix(PathBuf::from("/tmp/a home/run"))]
        );
        assert_eq!(config.get_ports(), [5433]);
        assert_eq!(config.get_user(), Some("postgres"));
        assert_eq!(config.get_dbname(), Some("maturion"));
    }

    #[test]
    fn url_escapes_user_and_database() {
        let url = connection_url("app user", "t/1?x", Path::new("/r"), 1);
        let config = tokio_postgres::Config::from_str(&url).unwrap();
        assert_eq!(config.get_user(), Some("app user"));
        assert_eq!(config.get_dbname(), Some("t/1?x"));
    }

    #[test]
    fn config_strings_are_quoted() {
        assert_eq!(config_string(Path::new("/tmp/it's")), "'/tmp/it''s'");
        assert_eq!(config_string(Path::new("/tmp/a\\b")), "'/tmp/a\\\\b'");
    }

    #[test]
    fn recognises_c_utf8_spellings() {
        assert!(is_c_utf8("C.utf8"));
        assert!(is_c_utf8("C.UTF-8\n"));
        assert!(!is_c_utf8("C"));
        assert!(!is_c_utf8("en_US.utf8"));
    }
}
