pub(crate) mod audit;
pub(crate) mod bench;
mod check;
mod db;
pub(crate) mod events;
pub(crate) mod hold;
pub(crate) mod maintain;
mod migrate;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::configuration::Target;

pub async fn run(cli: Cli) -> Result<ExitCode> {
    let target = Target::from_cli(&cli)?;
    match cli.command.unwrap_or(Command::Up) {
        Command::Up => up(&target).await,
        Command::Db(command) => db::run(&target, command).await,
        Command::Migrate(command) => migrate::run(&target, command).await,
        Command::Check(args) => check::run(&target, args).await,
        Command::Maintain(args) => maintain::run(&target, args).await,
        Command::LegalHold(command) => hold::run(&target, command).await,
        Command::Events(command) => events::run(&target, command).await,
        Command::Audit(command) => audit::run(&target, command).await,
        Command::Bench(command) => bench::run(&target, command).await,
    }
}

/// The main job: database up, schema current, and where to find it.
async fn up(target: &Target) -> Result<ExitCode> {
    let mut admin = target.admin().await?;
    let applied = maturion_platform::migrate_up(&mut admin).await?;
    let versions: Vec<String> = maturion_platform::migration_sets()
        .iter()
        .map(|set| {
            format!(
                "{} {}",
                set.scope,
                set.latest().map(ToString::to_string).unwrap_or_default()
            )
        })
        .collect();
    println!("Maturion is up.");
    if let Target::Embedded { cluster, .. } = target {
        println!("  embedded cluster: {}", cluster.home().display());
    }
    println!(
        "  schema:           {} ({} migration(s) applied now)",
        versions.join(", "),
        applied.len()
    );
    println!("  administrator:    {}", target.url("postgres"));
    println!(
        "  application role: {}",
        target.url(maturion_schema::APP_ROLE)
    );
    println!("Try: psql \"{}\" -c '\\dt'", target.url("postgres"));
    Ok(ExitCode::SUCCESS)
}
