//! The settings of this run: the library's layers (defaults, file, environment), then the
//! command line's flags.

use anyhow::{anyhow, Context, Result};
use maturion_config::{Settings, Sources};

use crate::cli::Cli;

pub fn load(cli: &Cli) -> Result<Settings> {
    let mut sources = Sources::from_process();
    sources.file = cli.config.clone();
    if let Some(url) = &cli.database_url {
        sources
            .overrides
            .push(("database.url".to_owned(), url.clone()));
    }
    if let Some(home) = &cli.home {
        let home = home.to_str().context("--home must be valid UTF-8")?;
        sources
            .overrides
            .push(("database.home".to_owned(), home.to_owned()));
    }
    Settings::load(&sources).context("invalid configuration")
}

/// Logs go to stderr: stdout is for what commands print.
pub fn init_logging(settings: &Settings) -> Result<()> {
    // The parse error repeats itself as its own source: printed once, without the chain.
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log.filter).map_err(|error| {
        anyhow!(
            "invalid log filter {:?} (log.filter, MATURION_LOG): {error}",
            settings.log.filter
        )
    })?;
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if settings.log.json {
        logs.json().init();
    } else {
        logs.init();
    }
    Ok(())
}
