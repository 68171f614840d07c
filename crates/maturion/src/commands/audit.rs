//! `maturion audit seal | verify`.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use maturion_config::DatabaseTarget;
use maturion_tenancy::OrganisationId;
use tokio_postgres::Client;

use crate::cli::Format;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Seal every audit row written so far into the hash chain (`maturion maintain` does this
    /// too, after the partitions). Rows of transactions still running wait for the next seal.
    Seal {
        /// Rows per seal (whole transactions are never split).
        #[arg(long, default_value_t = maturion_audit::DEFAULT_SEAL_ROWS)]
        max_rows: i32,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Recompute every row hash and seal digest; report the first broken link and where it is.
    /// Exit status 1 on any break.
    Verify {
        /// Check this organisation's rows only (and the chain's seal digests).
        #[arg(long)]
        organisation: Option<OrganisationId>,
        /// A seal digest kept elsewhere, as SEQ:DIGEST (printed by `audit seal`); repeatable.
        /// Catches a chain rewritten or cut by someone who could also recompute it.
        #[arg(long = "anchor", value_name = "SEQ:DIGEST")]
        anchors: Vec<maturion_audit::Anchor>,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
}

pub async fn run(target: &DatabaseTarget, command: AuditCommand) -> Result<ExitCode> {
    let client = maintenance(target).await?;
    match command {
        AuditCommand::Seal { max_rows, format } => {
            let report = maturion_audit::seal_with(&client, max_rows).await?;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
                Format::Human => {
                    let range = match (report.seals.first(), report.seals.last()) {
                        (Some(first), Some(last)) => format!(": seal {}..{}", first.seq, last.seq),
                        _ => String::new(),
                    };
                    println!(
                        "sealed {} row(s) in {} seal(s){range}",
                        report.rows,
                        report.seals.len()
                    );
                    if let Some(head) = &report.head {
                        println!("head: seal {} digest {}", head.seq, head.digest);
                        println!(
                            "keep it elsewhere; `maturion audit verify --anchor {}:{}` then proves the chain up to it was not rewritten",
                            head.seq, head.digest
                        );
                    }
                    if report.pending_rows > 0 {
                        println!(
                            "{} row(s) wait for transactions still running",
                            report.pending_rows
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify {
            organisation,
            anchors,
            format,
        } => {
            let report = maturion_audit::verify_anchored(&client, organisation, &anchors).await?;
            match format {
                Format::Human => print!("{}", report.render_human()),
                Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
            }
            Ok(if report.intact {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// An administrator session that reads every organisation's audit rows.
async fn maintenance(target: &DatabaseTarget) -> Result<Client> {
    let client = target.admin().await?;
    maturion_platform::become_maintenance(&client).await;
    Ok(client)
}
