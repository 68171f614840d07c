use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use maturion_lint::ChangeKind;
use maturion_migrate::{MigrationSet, MigrationState, Migrator};

use crate::cli::{Bump, MigrateCommand, MigrationSource};
use crate::configuration::Target;

pub async fn run(target: &Target, command: MigrateCommand) -> Result<ExitCode> {
    match command {
        MigrateCommand::Status(source) => status(target, &source).await,
        MigrateCommand::Up { source, to } => {
            let set = load(&source)?;
            let mut admin = target.admin().await?;
            maturion_schema::bootstrap_roles(&admin).await?;
            let migrator = Migrator::new(&set, maturion_schema::migration_options());
            let progress = indicatif::ProgressBar::new_spinner().with_message(format!(
                "applying {} migrations",
                set.scope
            ));
            progress.enable_steady_tick(std::time::Duration::from_millis(120));
            let applied = migrator.up(&mut admin, to.as_ref()).await;
            progress.finish_and_clear();
            let applied = applied?;
            if applied.is_empty() {
                println!("{}: already up to date", set.scope);
            }
            for m in applied {
                println!("applied {} {} ({} ms)", m.version, m.name, m.execution_ms);
            }
            Ok(ExitCode::SUCCESS)
        }
        MigrateCommand::Down { source, to } => {
            let set = load(&source)?;
            let mut admin = target.admin().await?;
            let reverted = Migrator::new(&set, maturion_schema::migration_options())
                .down(&mut admin, &to)
                .await?;
            if reverted.is_empty() {
                println!("{}: nothing to revert above {to}", set.scope);
            }
            for m in reverted {
                println!("reverted {} {} ({} ms)", m.version, m.name, m.execution_ms);
            }
            Ok(ExitCode::SUCCESS)
        }
        MigrateCommand::New { name, dir, bump } => {
            let kind = match bump {
                Bump::Major => ChangeKind::Major,
                Bump::Minor => ChangeKind::Minor,
                Bump::Patch => ChangeKind::Patch,
            };
            let folder = maturion_migrate::scaffold(&dir, &name, kind)?;
            println!("created {}", folder.display());
            Ok(ExitCode::SUCCESS)
        }
        MigrateCommand::Lint { paths } => lint(paths),
    }
}

fn load(source: &MigrationSource) -> Result<MigrationSet> {
    match &source.dir {
        None => Ok(maturion_schema::platform_migrations()),
        Some(dir) => {
            let scope = match &source.scope {
                Some(scope) => scope.clone(),
                None => dir
                    .canonicalize()
                    .with_context(|| format!("no migration folder at {}", dir.display()))?
                    .file_name()
                    .and_then(|n| n.to_str())
                    .map(str::to_owned)
                    .context("cannot name the scope after the folder; pass --scope")?,
            };
            Ok(MigrationSet::from_dir(&scope, dir)?)
        }
    }
}

async fn status(target: &Target, source: &MigrationSource) -> Result<ExitCode> {
    let set = load(source)?;
    let mut admin = target.admin().await?;
    let statuses = Migrator::new(&set, maturion_schema::migration_options()).status(&mut admin).await?;
    println!("scope {}", set.scope);
    let mut pending = 0;
    for s in statuses {
        match s.state {
            MigrationState::Applied { applied_at, applied_by, execution_ms } => println!(
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
    println!("{pending} pending");
    Ok(ExitCode::SUCCESS)
}

/// Lints files and migration folders (default: the platform's own migrations, as embedded in
/// this binary); exit status 1 when anything is found.
fn lint(paths: Vec<PathBuf>) -> Result<ExitCode> {
    let mut results = Vec::new();
    if paths.is_empty() {
        for m in maturion_schema::platform_migrations().migrations {
            let path = Path::new(&m.folder_name()).join("up.sql");
            results.push((path, Some(maturion_lint::lint(&m.up, m.kind())?)));
        }
    } else {
        let mut files = Vec::new();
        for path in &paths {
            collect_sql(path, &mut files)?;
        }
        for path in files {
            let found = maturion_lint::lint_file(&path).with_context(|| format!("cannot lint {}", path.display()))?;
            results.push((path, found));
        }
    }
    let mut findings = 0;
    let mut linted = 0;
    for (path, found) in results {
        // `None`: a down script, which is destructive by nature and not linted.
        let Some(found) = found else { continue };
        linted += 1;
        for finding in &found {
            println!("{}", finding.render(&path));
        }
        findings += found.len();
    }
    eprintln!("{linted} file(s) linted, {findings} finding(s)");
    Ok(if findings == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn collect_sql(path: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.path());
        for entry in entries {
            collect_sql(&entry.path(), files)?;
        }
    } else if path.extension().is_some_and(|e| e == "sql") {
        files.push(path.to_path_buf());
    } else if !path.exists() {
        anyhow::bail!("no such file: {}", path.display());
    }
    Ok(())
}
