//! `maturion`: the operators' command line, thin over the library crates.

mod cli;
mod commands;
mod configuration;
mod flags;
mod printable;
mod server;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Settings and logging first, so that a bad setting fails before anything starts.
fn run(cli: cli::Cli) -> anyhow::Result<ExitCode> {
    let settings = configuration::load(&cli)?;
    configuration::init_logging(&settings)?;
    tokio::runtime::Runtime::new()?.block_on(commands::run(cli.command, cli.lock_wait, settings))
}
