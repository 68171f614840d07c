//! `maturion audit seal | verify`.

use std::process::ExitCode;
use std::time::Duration;

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
        #[arg(long, default_value_t = maturion_audit::DEFAULT_SEAL_ROWS,
              value_parser = clap::value_parser!(i32).range(1..))]
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

pub async fn run(
    target: &DatabaseTarget,
    command: AuditCommand,
    lock_wait: Duration,
) -> Result<ExitCode> {
    let client = maintenance(target).await?;
    match command {
        AuditCommand::Seal { max_rows, format } => {
            let report = maturion_audit::seal_within(&client, max_rows, lock_wait).await?;
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
            if let Some(organisation) = organisation {
                if !organisation_known(&client, organisation).await? {
                    eprintln!(
                        "no such organisation {organisation}: no organisation, audit row or seal has that id"
                    );
                    return Ok(ExitCode::FAILURE);
                }
            }
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

/// Whether the trail knows `organisation`: it exists, or rows or seals of it remain (the
/// trail outlives an erased organisation). Verifying an unknown one would find nothing to
/// break and call that intact.
async fn organisation_known(client: &Client, organisation: OrganisationId) -> Result<bool> {
    let id = organisation.as_uuid();
    Ok(client
        .query_one(
            "SELECT EXISTS (SELECT FROM public.organisations WHERE id = $1) \
                 OR EXISTS (SELECT FROM public.audit_log WHERE organisation_id = $1) \
                 OR EXISTS (SELECT FROM maturion.audit_seal_organisations WHERE organisation_id = $1)",
            &[&id],
        )
        .await?
        .get(0))
}

/// An administrator session that reads every organisation's audit rows.
async fn maintenance(target: &DatabaseTarget) -> Result<Client> {
    let client = target.admin().await?;
    maturion_platform::become_maintenance(&client).await;
    Ok(client)
}
