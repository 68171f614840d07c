use std::path::PathBuf;

/// Why the settings could not be loaded. Messages name the file and line, the environment
/// variable or the key at fault, and never repeat a value (it may hold a password).
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read the configuration file {path}: {error}")]
    ReadFile {
        path: PathBuf,
        error: std::io::Error,
    },

    #[error("{path}: {place}: {message}")]
    File {
        path: PathBuf,
        /// `line 3, key listen`, or what of that is known.
        place: String,
        message: String,
    },

    #[error("environment variable {variable}: {message}")]
    Variable { variable: String, message: String },

    #[error("unknown environment variable {variable}; the settings' variables are {known}")]
    UnknownVariable { variable: String, known: String },

    #[error("{key} given on the command line: {message}")]
    Override { key: String, message: String },

    #[error("{key}: {reason}")]
    Invalid { key: &'static str, reason: String },

    #[error(
        "{key} ({variable}) is set but no external server is: role URLs are for a server run \
         elsewhere; set database.url (DATABASE_URL) to its administrator URL too"
    )]
    RoleUrlWithoutServer {
        key: &'static str,
        variable: &'static str,
    },
}
