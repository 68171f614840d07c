//! `maturion legal-hold place | release | list`: legal holds that keep an organisation's log
//! partitions past their retention (spec §10.3).

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use maturion_config::DatabaseTarget;
use maturion_tenancy::OrganisationId;
use uuid::Uuid;

use crate::printable::printable;

#[derive(Debug, Subcommand)]
pub enum HoldCommand {
    /// Place a legal hold on an organisation: `maturion maintain` keeps every log partition
    /// holding any of its rows until the hold is released.
    Place {
        #[arg(long, value_name = "ID")]
        organisation: String,
        /// Why (matter, case or request reference); kept on record.
        #[arg(long)]
        reason: String,
    },
    /// Release a hold (it stays on record).
    Release { id: Uuid },
    /// The holds in force.
    List {
        /// Released holds too.
        #[arg(long)]
        all: bool,
    },
}

pub async fn run(target: &DatabaseTarget, command: HoldCommand) -> Result<ExitCode> {
    let client = target.admin().await?;
    match command {
        HoldCommand::Place {
            organisation,
            reason,
        } => {
            let organisation: OrganisationId = organisation.parse()?;
            let hold =
                maturion_maintenance::place_legal_hold(&client, organisation.as_uuid(), &reason)
                    .await?;
            println!("placed legal hold {hold}");
        }
        HoldCommand::Release { id } => {
            match maturion_maintenance::release_legal_hold(&client, id).await? {
                Some(hold) => println!("released legal hold {hold}"),
                None => {
                    eprintln!("no legal hold {id} in force (unknown or already released)");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        HoldCommand::List { all } => {
            let holds = maturion_maintenance::legal_holds(&client, all)
                .await
                .context(
                    "cannot list the legal holds (apply the migrations first: maturion migrate up)",
                )?;
            if holds.is_empty() {
                eprintln!("no legal holds{}", if all { "" } else { " in force" });
            }
            for hold in holds {
                println!("{}", printable(&hold.to_string()));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
