//! `maturion backup setup | run | list | verify | drill`: pgBackRest for the embedded
//! cluster. An external server runs pgBackRest on its own host (see the README).

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Result};
use chrono::NaiveTime;
use clap::{Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use maturion_backup::{BackupKind, BackupSet, BackupSettings, Passphrase, Schedule};
use maturion_cluster::Cluster;
use maturion_config::{DatabaseTarget, Settings};

use crate::cli::Format;

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Turn WAL archiving on (restarting the cluster when needed), create the pgBackRest
    /// stanza in each repository and check that WAL reaches them. The repository passphrase
    /// comes from MATURION_BACKUP_PASSPHRASE_FILE (a key file) or MATURION_BACKUP_PASSPHRASE.
    Setup {
        /// repo1 (default: <home>/backups/repo1).
        #[arg(long, value_name = "PATH")]
        repo: Option<PathBuf>,
        /// repo2, the cross-region copy: every backup and all WAL go to it too.
        #[arg(long, value_name = "PATH")]
        repo2: Option<PathBuf>,
        /// The server's archive_timeout in seconds: the longest a written WAL segment waits
        /// before it is archived (the RPO is at most this plus the push).
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=900))]
        archive_timeout: u32,
    },
    /// Take a backup into every repository, or with --scheduled, the one that is due.
    Run {
        #[arg(long = "type", value_enum, required_unless_present = "scheduled")]
        kind: Option<Kind>,
        /// Take what the schedule says is due (nothing when nothing is): full daily at
        /// --full-at, incremental every --incremental-hours.
        #[arg(long, conflicts_with = "kind")]
        scheduled: bool,
        /// UTC time of the daily full backup (default: jobs.backup_full_at, 02:00).
        #[arg(long, value_parser = parse_time_of_day)]
        full_at: Option<NaiveTime>,
        /// Default: jobs.backup_incremental_hours, 4.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=168))]
        incremental_hours: Option<u32>,
    },
    /// The backups and archived WAL in each repository. Exit status 1 when pgBackRest
    /// reports a repository or the stanza as not ok.
    List {
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Check every file in the repositories against its checksum (`pgbackrest verify`).
    Verify,
    /// Restore the latest backup and WAL into a scratch folder, start it, run the
    /// conformance check and the audit verification on it, compare every table with the
    /// source, and report the achieved RPO and RTO. Exit status 1 when a check fails.
    Drill {
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Move the backups to new repositories encrypted with a new passphrase (from
    /// MATURION_BACKUP_NEW_PASSPHRASE_FILE or MATURION_BACKUP_NEW_PASSPHRASE) and take a
    /// full backup into each. The previous repositories become repo3 (and repo4): readable
    /// for restores, sent no backup and no WAL. Later, --retire drops them.
    RotatePassphrase {
        /// The new repo1: a new or empty folder.
        #[arg(long, value_name = "PATH", required_unless_present = "retire")]
        new_repo: Option<PathBuf>,
        /// The new repo2, needed when there is a cross-region repo2.
        #[arg(long, value_name = "PATH", conflicts_with = "retire")]
        new_repo2: Option<PathBuf>,
        /// Drop the previous passphrase's repositories from the configuration, once the new
        /// ones' backups cover the retention window (their files are left to delete).
        #[arg(long, conflicts_with = "new_repo")]
        retire: bool,
        /// With --retire: even while the previous repositories hold the only backups of
        /// part of the retention window.
        #[arg(long, requires = "retire")]
        force: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    Full,
    Diff,
    Incr,
}

impl From<Kind> for BackupKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Full => Self::Full,
            Kind::Diff => Self::Diff,
            Kind::Incr => Self::Incr,
        }
    }
}

pub async fn run(
    settings: &Settings,
    target: &DatabaseTarget,
    command: BackupCommand,
) -> Result<ExitCode> {
    let (cluster, database) = embedded(target)?;
    match command {
        BackupCommand::Setup {
            repo,
            repo2,
            archive_timeout,
        } => setup(cluster, repo, repo2, archive_timeout).await,
        BackupCommand::Run {
            kind,
            scheduled,
            full_at,
            incremental_hours,
        } => {
            target.ensure_running().await?;
            let made = match kind.filter(|_| !scheduled) {
                Some(kind) => {
                    let step = maturion_backup::run(cluster, kind.into());
                    with_spinner("backing up", step).await?
                }
                None => {
                    let configured = &settings.jobs.backup;
                    let full_at = full_at.unwrap_or_else(|| {
                        let at = configured.full_at;
                        NaiveTime::from_hms_opt(at.hour.into(), at.minute.into(), 0)
                            .expect("a TimeOfDay is a valid time")
                    });
                    let incremental_every = match incremental_hours {
                        Some(hours) => chrono::Duration::hours(hours.into()),
                        None => chrono::Duration::from_std(configured.incremental_every)
                            .expect("the settings bound the incremental interval to a week"),
                    };
                    let schedule = Schedule {
                        full_at,
                        incremental_every,
                    };
                    let step = maturion_backup::run_scheduled(cluster, &schedule);
                    with_spinner("running what is due", step).await?
                }
            };
            print_made(&made);
            Ok(ExitCode::SUCCESS)
        }
        BackupCommand::List { format } => {
            let info = maturion_backup::list(cluster).await?;
            match format {
                Format::Human => print!("{}", info.render_human()),
                Format::Json => println!("{}", serde_json::to_string_pretty(&info)?),
            }
            Ok(if info.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        BackupCommand::Verify => {
            let output = with_spinner("verifying", maturion_backup::verify(cluster)).await?;
            print!("{output}");
            println!("every file in the repositories matches its checksum");
            Ok(ExitCode::SUCCESS)
        }
        BackupCommand::Drill { format } => {
            target.ensure_running().await?;
            drill(cluster, database, format).await
        }
        BackupCommand::RotatePassphrase {
            new_repo,
            new_repo2,
            retire: false,
            ..
        } => {
            let repositories: Vec<PathBuf> = new_repo.into_iter().chain(new_repo2).collect();
            rotate_passphrase(cluster, &repositories).await
        }
        BackupCommand::RotatePassphrase {
            retire: true,
            force,
            ..
        } => {
            let retired = maturion_backup::retire_previous(cluster, force).await?;
            for path in retired {
                println!(
                    "retired {}: no longer read; delete it when nothing needs it",
                    path.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn rotate_passphrase(cluster: &Cluster, repositories: &[PathBuf]) -> Result<ExitCode> {
    let passphrase = Passphrase::new_from_environment()?;
    let step = maturion_backup::rotate_passphrase(cluster, repositories, &passphrase);
    let rotation = with_spinner("starting the new repositories and backing up", step).await?;
    for (key, path) in (1..).zip(repositories) {
        println!("repo{key}: {} (new passphrase)", path.display());
    }
    let first_retiring = maturion_backup::LAST_LIVE_KEY + 1;
    for (key, path) in (first_retiring..).zip(&rotation.retiring) {
        println!(
            "repo{key}: {} (previous passphrase): restores only, no backup or WAL any more",
            path.display()
        );
    }
    print_made(&rotation.backups);
    println!(
        "Point MATURION_BACKUP_PASSPHRASE_FILE at the new key file. After {}, retire the \
         previous repositories: maturion backup rotate-passphrase --retire",
        rotation.retire_after.format("%Y-%m-%d %H:%M UTC")
    );
    Ok(ExitCode::SUCCESS)
}

/// The embedded cluster and the platform database's name.
pub(crate) fn embedded(target: &DatabaseTarget) -> Result<(&Cluster, &str)> {
    match target {
        DatabaseTarget::Embedded { cluster, database } => Ok((cluster, database)),
        DatabaseTarget::External(_) => bail!(
            "`maturion backup` and `maturion restore` drive the embedded cluster; on an external \
             server run pgBackRest on the database host as the README shows"
        ),
    }
}

async fn setup(
    cluster: &Cluster,
    repo: Option<PathBuf>,
    repo2: Option<PathBuf>,
    archive_timeout: u32,
) -> Result<ExitCode> {
    let passphrase = Passphrase::from_environment()?;
    let mut settings = BackupSettings::for_home(cluster.home());
    if let Some(repo) = repo {
        settings.repositories[0] = repo;
    }
    settings.repositories.extend(repo2);
    settings.archive_timeout_secs = archive_timeout;
    let step = maturion_backup::setup(cluster, &settings, &passphrase);
    let outcome = with_spinner("setting up WAL archiving and the stanza", step).await?;
    if outcome.restarted {
        println!("restarted the embedded cluster to turn WAL archiving on");
    }
    for (index, path) in settings.repositories.iter().enumerate() {
        println!("repo{}: {} (aes-256-cbc)", index + 1, path.display());
    }
    println!(
        "configuration: {} (mode 0600: it holds the passphrase)",
        maturion_backup::config_file(cluster).display()
    );
    println!("WAL archiving works. Next: maturion backup run --type full");
    Ok(ExitCode::SUCCESS)
}

async fn drill(cluster: &Cluster, database: &str, format: Format) -> Result<ExitCode> {
    let step = maturion_backup::drill(cluster, database);
    let report = with_spinner("restoring into a scratch folder and checking it", step).await?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Human => {
            println!(
                "{}",
                if report.passed {
                    "drill passed"
                } else {
                    "drill FAILED"
                }
            );
            println!(
                "  RPO {:.1} s (target {:.0} s), RTO {:.1} s (target {:.0} s)",
                report.rpo_seconds,
                report.rpo_target_seconds,
                report.rto_seconds,
                report.rto_target_seconds
            );
            let matching = report.tables.iter().filter(|t| t.checksum_matches).count();
            println!(
                "  tables matching the source: {matching}/{}",
                report.tables.len()
            );
            for table in report.tables.iter().filter(|t| !t.checksum_matches) {
                let restored = table
                    .restored_rows
                    .map_or("missing".to_owned(), |n| n.to_string());
                println!(
                    "    {}: {} row(s) at the loss, {restored} restored",
                    table.table, table.source_rows
                );
            }
            println!(
                "  conformance violations: {}, audit chain intact: {} ({} rows)",
                report.conformance_violations, report.audit_intact, report.audit_rows_verified
            );
            for failure in &report.failures {
                println!("  failed: {failure}");
            }
        }
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_made(made: &[BackupSet]) {
    if made.is_empty() {
        println!("no backup is due");
    }
    for set in made {
        println!(
            "repo{}: {} backup {} ({} B stored)",
            set.repository,
            set.kind.as_str(),
            set.label,
            set.stored_bytes
        );
    }
}

/// A spinner on stderr while `step` runs.
pub(crate) async fn with_spinner<T, E>(
    message: &str,
    step: impl Future<Output = Result<T, E>>,
) -> Result<T>
where
    anyhow::Error: From<E>,
{
    let spinner = ProgressBar::new_spinner().with_message(message.to_owned());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        spinner.set_style(style);
    }
    spinner.enable_steady_tick(Duration::from_millis(120));
    let outcome = step.await;
    spinner.finish_and_clear();
    Ok(outcome?)
}

fn parse_time_of_day(text: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(text, "%H:%M").map_err(|_| format!("`{text}` is not HH:MM"))
}
