use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use maturion_config::{DatabaseSettings, DatabaseTarget};
use maturion_lint::ChangeKind;
use maturion_migrate::{MigrationSet, MigrationState, Migrator};

use crate::cli::{Bump, MigrateCommand, MigrationSource};

/// `new` and `lint` work on files alone: they need no database and no PostgreSQL binaries.
pub async fn run(
    database: &DatabaseSettings,
    command: MigrateCommand,
    lock_wait: Duration,
) -> Result<ExitCode> {
    match command {
        MigrateCommand::New {
            name,
            dir,
            scope,
            bump,
        } => new(&name, &dir, scope.as_deref(), bump),
        MigrateCommand::Lint { paths } => lint(paths),
        MigrateCommand::Status(source) => {
            status(&super::open(database).await?, &source, lock_wait).await
        }
        MigrateCommand::Up { source, to } => {
            up(
                &super::open(database).await?,
                &source,
                to.as_ref(),
                lock_wait,
            )
            .await
        }
        MigrateCommand::Down { source, to } => {
            down(&super::open(database).await?, &source, &to, lock_wait).await
        }
    }
}

async fn up(
    target: &DatabaseTarget,
    source: &MigrationSource,
    to: Option<&semver::Version>,
    lock_wait: Duration,
) -> Result<ExitCode> {
    let sets = load(source)?;
    ensure!(
        to.is_none() || sets.len() == 1,
        "--to names a version of one set: add --scope"
    );
    let mut admin = target.admin().await?;
    maturion_schema::bootstrap_roles(&admin).await?;
    let progress = indicatif::ProgressBar::new(sets.len() as u64).with_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} sets")?,
    );
    for set in &sets {
        progress.set_message(format!("migrating {}", set.scope));
        let applied = Migrator::new(set, options_for(source, set, lock_wait))
            .up(&mut admin, to)
            .await?;
        progress.suspend(|| {
            if applied.is_empty() {
                println!("{}: already up to date", set.scope);
            }
            for m in applied {
                println!(
                    "{}: applied {} {} ({} ms)",
                    set.scope, m.version, m.name, m.execution_ms
                );
            }
        });
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(ExitCode::SUCCESS)
}

async fn down(
    target: &DatabaseTarget,
    source: &MigrationSource,
    to: &semver::Version,
    lock_wait: Duration,
) -> Result<ExitCode> {
    let sets = load(source)?;
    ensure!(
        *to == semver::Version::new(0, 0, 0) || sets.len() == 1,
        "--to {to} names a version of one set: add --scope (or revert everything with --to 0.0.0)"
    );
    let mut admin = target.admin().await?;
    // Later sets build on earlier ones: revert them first.
    for set in sets.iter().rev() {
        let reverted = Migrator::new(set, options_for(source, set, lock_wait))
            .down(&mut admin, to)
            .await?;
        if reverted.is_empty() {
            println!("{}: nothing to revert above {to}", set.scope);
        }
        for m in reverted {
            println!(
                "{}: reverted {} {} ({} ms)",
                set.scope, m.version, m.name, m.execution_ms
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn new(name: &str, dir: &Path, scope: Option<&str>, bump: Bump) -> Result<ExitCode> {
    let kind = match bump {
        Bump::Major => ChangeKind::Major,
        Bump::Minor => ChangeKind::Minor,
        Bump::Patch => ChangeKind::Patch,
    };
    let scope = scope_of(dir, scope)?;
    let folder = maturion_migrate::scaffold(dir, &scope, name, kind)?;
    println!("created {}", folder.display());
    Ok(ExitCode::SUCCESS)
}

/// A module's folder is run as that module; the embedded sets as the platform says (its own
/// as the platform, the bundled modules as modules).
fn options_for(
    source: &MigrationSource,
    set: &MigrationSet,
    lock_wait: Duration,
) -> maturion_migrate::Options {
    let options = match source.dir {
        Some(_) => maturion_schema::module_migration_options(&set.scope),
        None => maturion_platform::migration_options(set),
    };
    maturion_migrate::Options {
        lock_wait,
        ..options
    }
}

/// The sets a command works on: a module's folder, one platform set, or all platform sets.
fn load(source: &MigrationSource) -> Result<Vec<MigrationSet>> {
    let Some(dir) = &source.dir else {
        let sets = maturion_platform::migration_sets();
        return match &source.scope {
            None => Ok(sets),
            Some(scope) => {
                let known: Vec<String> = sets.iter().map(|s| s.scope.clone()).collect();
                let set = sets.into_iter().find(|s| s.scope == *scope);
                set.map(|s| vec![s]).with_context(|| {
                    format!(
                        "no platform migration set '{scope}' (known: {})",
                        known.join(", ")
                    )
                })
            }
        };
    };
    let scope = scope_of(dir, source.scope.as_deref())?;
    Ok(vec![MigrationSet::from_dir(&scope, dir)?])
}

/// A module's migrations are its own scope, named by `--scope` or after their folder.
fn scope_of(dir: &Path, explicit: Option<&str>) -> Result<String> {
    if let Some(scope) = explicit {
        return Ok(scope.to_owned());
    }
    dir.canonicalize()
        .or_else(|_| std::path::absolute(dir))
        .with_context(|| format!("cannot resolve {}", dir.display()))?
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .context("cannot name the scope after the folder; pass --scope")
}

async fn status(
    target: &DatabaseTarget,
    source: &MigrationSource,
    lock_wait: Duration,
) -> Result<ExitCode> {
    let mut admin = target.admin().await?;
    let mut pending = 0;
    for set in load(source)? {
        let statuses = Migrator::new(&set, options_for(source, &set, lock_wait))
            .status(&mut admin)
            .await?;
        println!("scope {}", set.scope);
        for s in statuses {
            match s.state {
                MigrationState::Applied {
                    applied_at,
                    applied_by,
                    execution_ms,
                } => println!(
                    "  applied  {:<10} {:<32} {} by {applied_by} ({execution_ms} ms)",
                    s.version.to_string(),
                    s.name,
                    applied_at.format("%Y-%m-%d %H:%M:%S UTC")
                ),
                MigrationState::Pending => {
                    pending += 1;
                    println!("  pending  {:<10} {}", s.version.to_string(), s.name);
                }
            }
        }
    }
    println!("{pending} pending");
    Ok(ExitCode::SUCCESS)
}

/// Lints files and migration folders as a module's (default: the migrations embedded in this
/// binary, the platform's own as the platform's and the bundled modules' as modules'); exit
/// status 1 when anything is found. A named path holding nothing to lint is an error.
fn lint(paths: Vec<PathBuf>) -> Result<ExitCode> {
    let mut results = Vec::new();
    if paths.is_empty() {
        for set in maturion_platform::migration_sets() {
            let scope = match maturion_platform::is_bundled_module(&set) {
                true => maturion_lint::Scope::Module,
                false => maturion_lint::Scope::Platform,
            };
            for m in set.migrations {
                let path = Path::new(&set.scope).join(m.folder_name()).join("up.sql");
                let found = maturion_lint::lint_as(&m.up, m.kind(), scope)
                    .with_context(|| format!("cannot lint {}", path.display()))?;
                results.push((path, found));
            }
        }
    } else {
        results = maturion_lint::lint_paths(&paths)?;
    }
    let mut findings = 0;
    for (path, found) in &results {
        for finding in found {
            println!("{}", finding.render(path));
        }
        findings += found.len();
    }
    eprintln!("{} file(s) linted, {findings} finding(s)", results.len());
    Ok(if findings == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
