//! Configuration shared by the `maturion` CLI and server: typed [`Settings`] loaded from
//! built-in defaults, a TOML file, `MATURION_*` environment variables (and `DATABASE_URL`)
//! and the command line, in that order; and the [`DatabaseTarget`] they name, with the
//! connection settings of each role.
//!
//! Knows no command-line parser and no HTTP framework: callers turn their flags into
//! [`Sources::overrides`].

mod error;
mod role;
mod secret;
mod server_tls;
mod settings;
mod sources;
mod target;
mod tls;
mod url;

pub use error::SettingsError;
pub use maturion_cluster::StartOutcome;
pub use role::PlatformRole;
pub use secret::{Secret, MASK};
pub use server_tls::ServerTlsError;
pub use settings::*;
pub use sources::{Sources, CONFIG_VARIABLE, DEFAULT_CONFIG_FILE};
pub use target::{
    connect, connect_url, connect_with, DatabaseTarget, TargetError, EMBEDDED_DATABASE,
};
pub use tls::{ClientTls, TlsError};
pub use url::{ConnectionUrl, UrlError};
