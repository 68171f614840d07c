pub(crate) mod audit;
pub(crate) mod backup;
pub(crate) mod bench;
mod check;
mod db;
pub(crate) mod events;
pub(crate) mod hold;
pub(crate) mod keys;
pub(crate) mod maintain;
mod migrate;
pub(crate) mod monitor;
pub(crate) mod restore;
pub(crate) mod serve;
pub(crate) mod tenants;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use maturion_config::{DatabaseSettings, DatabaseTarget, PlatformRole, Settings};

use crate::cli::Command;

/// Commands that need no database (`migrate new`, `migrate lint`) never look for one.
/// `lock_wait` bounds the wait for another run's lock (migrations, maintenance, the seal).
pub async fn run(
    command: Option<Command>,
    lock_wait: Duration,
    settings: Settings,
) -> Result<ExitCode> {
    let database = &settings.database;
    match command.unwrap_or_else(|| Command::Serve(serve::ServeArgs { listen: None })) {
        Command::Up => up(&open(database).await?, lock_wait).await,
        Command::Serve(args) => {
            serve::run(&settings, &open(database).await?, args, lock_wait).await
        }
        Command::Db(command) => db::run(&open(database).await?, command).await,
        Command::Migrate(command) => migrate::run(database, command, lock_wait).await,
        Command::Check(args) => check::run(&open(database).await?, args).await,
        Command::Maintain(args) => maintain::run(&open(database).await?, args, lock_wait).await,
        Command::LegalHold(command) => hold::run(&open(database).await?, command).await,
        Command::Events(command) => events::run(&open(database).await?, command).await,
        Command::Audit(command) => audit::run(&open(database).await?, command, lock_wait).await,
        Command::Org(command) => tenants::run_org(&open(database).await?, command).await,
        Command::Token(command) => tenants::run_token(&open(database).await?, command).await,
        Command::Bench(command) => bench::run(&open(database).await?, command).await,
        Command::Backup(command) => backup::run(&settings, &open(database).await?, command).await,
        Command::Restore(args) => restore::run(&open(database).await?, args).await,
        Command::Keys(command) => keys::run(&open(database).await?, command).await,
        Command::Monitor(args) => monitor::run(&settings, &open(database).await?, args).await,
    }
}

/// The database the settings name. Finding the embedded cluster's PostgreSQL binaries runs
/// programs, so it happens off the async worker threads.
async fn open(settings: &DatabaseSettings) -> Result<DatabaseTarget> {
    let settings = settings.clone();
    Ok(tokio::task::spawn_blocking(move || DatabaseTarget::new(&settings)).await??)
}

/// The main job: database up, schema current, and where to find it.
async fn up(target: &DatabaseTarget, lock_wait: Duration) -> Result<ExitCode> {
    let mut admin = target.admin().await?;
    let applied = maturion_platform::migrate_up_waiting(&mut admin, lock_wait).await?;
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
    if let DatabaseTarget::Embedded { cluster, .. } = target {
        println!("  embedded cluster: {}", cluster.home().display());
    }
    println!(
        "  schema:           {} ({} migration(s) applied now)",
        versions.join(", "),
        applied.len()
    );
    // Passwords are masked here; `maturion db url` prints the URL as configured.
    let admin_url = target.admin_url();
    println!("  administrator:    {admin_url}");
    let app = PlatformRole::App;
    match target.url_for(app.name()) {
        Ok(url) => println!("  application role: {url}"),
        Err(_) => println!(
            "  application role: no URL configured ({}, {})",
            app.key(),
            app.variable()
        ),
    }
    if admin_url.config().get_password().is_some() {
        println!("Try: psql \"$(maturion db url)\" -c '\\dt'");
    } else {
        println!("Try: psql \"{admin_url}\" -c '\\dt'");
    }
    Ok(ExitCode::SUCCESS)
}
