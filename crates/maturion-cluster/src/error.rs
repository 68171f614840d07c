use std::path::PathBuf;
use std::process::ExitStatus;

use crate::binaries::MIN_MAJOR;

/// Why a cluster could not be found, started, stopped or inspected.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "no PostgreSQL {MIN_MAJOR}+ server binaries found ({searched}); \
         install PostgreSQL {MIN_MAJOR} or newer, or set MATURION_PG_BINDIR to its bin folder"
    )]
    BinariesNotFound { searched: String },

    #[error("MATURION_PG_BINDIR={dir} has no `{program}`; it must name a PostgreSQL bin folder")]
    IncompleteBinDir { dir: PathBuf, program: &'static str },

    #[error("PostgreSQL {version} in {dir} is too old: Maturion needs {MIN_MAJOR} or newer")]
    UnsupportedVersion { dir: PathBuf, version: String },

    #[error("cannot tell the PostgreSQL version of {program} from its output {output:?}")]
    UnknownVersion { program: PathBuf, output: String },

    #[error(
        "{data_dir} holds a PostgreSQL {data_major} cluster but the binaries in {bindir} are \
         PostgreSQL {bin_major}; set MATURION_PG_BINDIR to a PostgreSQL {data_major} bin folder"
    )]
    VersionMismatch {
        data_dir: PathBuf,
        data_major: String,
        bindir: PathBuf,
        bin_major: u32,
    },

    #[error(
        "running as root, the cluster must run as the `postgres` system user, but there is none; \
         install PostgreSQL's server package or run as an ordinary user"
    )]
    NoPostgresUser,

    #[error(
        "the `postgres` system user cannot enter {dir}, so it cannot run a cluster inside it; \
         set MATURION_HOME to a folder it can reach (for example under /tmp or /var/lib), \
         or make {dir} traversable (chmod o+x)"
    )]
    NotTraversable { dir: PathBuf },

    #[error(
        "the server socket path {path} is longer than the {max} bytes Unix allows; \
         set MATURION_HOME to a shorter folder"
    )]
    SocketPathTooLong { path: PathBuf, max: usize },

    #[error(
        "{data_dir} exists but its cluster was never fully initialised (no {marker}); \
         remove {data_dir} and start again"
    )]
    IncompleteInit { data_dir: PathBuf, marker: PathBuf },

    #[error("timed out after {timeout:?} waiting until {what}")]
    Timeout {
        what: &'static str,
        timeout: std::time::Duration,
    },

    #[error("cannot {action}: {source}")]
    Io {
        action: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{path} is not a valid cluster file: {source}")]
    ClusterFile {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("TLS certificate of the cluster: {0}")]
    Certificate(String),

    #[error("{command} failed ({status}):\n{output}")]
    Command {
        command: String,
        status: ExitStatus,
        output: String,
    },

    #[error(
        "PostgreSQL did not start ({status}):\n{output}\n--- last lines of {log} ---\n{log_tail}"
    )]
    StartFailed {
        status: ExitStatus,
        output: String,
        log: PathBuf,
        log_tail: String,
    },
}

/// Wraps an I/O error with what we were trying to do, for `map_err`.
pub(crate) fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> ClusterError {
    let action = action.into();
    move |source| ClusterError::Io { action, source }
}
