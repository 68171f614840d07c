//! `maturion keys status | rotate`: the ages of the data keys of envelope encryption, and
//! their rotation (spec §10.1: every 90 days), as the maintenance role.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use maturion_config::DatabaseTarget;
use maturion_crypto::{KeyLine, MasterKeys, ROTATION_AGE};

use crate::cli::Format;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Each key line's newest version and its age; a key older than 90 days is overdue.
    /// Needs no master key.
    Status {
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Exit status 1 when a key is overdue for rotation (the 90-day alert).
        #[arg(long)]
        alerts: bool,
    },
    /// Re-wrap every data key the previous master key wrapped with the current one (master key
    /// rotation), then give every key line older than 90 days a new version. The current
    /// master key comes from MATURION_MASTER_KEY_FILE (or MATURION_MASTER_KEY), the previous
    /// one from MATURION_PREVIOUS_MASTER_KEY_FILE.
    Rotate {
        /// Give every key line a new version now, whatever its age.
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
}

pub async fn run(target: &DatabaseTarget, command: KeysCommand) -> Result<ExitCode> {
    let mut admin = target.admin().await?;
    match command {
        KeysCommand::Status { format, alerts } => {
            let status = maturion_crypto::status(&mut admin, ROTATION_AGE).await?;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&status)?),
                Format::Human => {
                    println!(
                        "{} key line(s), {} overdue (older than {} days); master key(s) in use: {}",
                        status.lines.len(),
                        status.overdue,
                        status.rotation_age_days,
                        list_or_none(&status.master_key_ids),
                    );
                    status.lines.iter().for_each(print_line);
                }
            }
            Ok(if alerts && status.overdue > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        KeysCommand::Rotate { all, format } => {
            let masters = MasterKeys::from_environment()?;
            let age = if all {
                chrono::Duration::zero()
            } else {
                ROTATION_AGE
            };
            let report = maturion_crypto::rotate(&mut admin, &masters, age).await?;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
                Format::Human => {
                    println!(
                        "{} data key(s) re-wrapped by master key {}; {} key line(s) got a new version",
                        report.rewrapped,
                        report.master_key_id,
                        report.rotated.len(),
                    );
                    report.rotated.iter().for_each(print_line);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_line(line: &KeyLine) {
    let owner = line.subject_id.map_or_else(
        || "organisation".to_owned(),
        |subject| format!("subject {subject}"),
    );
    println!(
        "  {}  {owner:<44}  v{:<3} {:>4} days{}",
        line.organisation_id,
        line.version,
        line.age_days,
        if line.overdue { "  OVERDUE" } else { "" },
    );
}

fn list_or_none(ids: &[String]) -> String {
    if ids.is_empty() {
        "none".to_owned()
    } else {
        ids.join(", ")
    }
}
