//! `maturion monitor`: the figures of spec §13 and the alerts of §13.2 that fire, once, as the
//! administrator (what the server's `/metrics` and webhook report every interval).

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use maturion_config::{DatabaseTarget, Settings};
use maturion_monitor::Inputs;

use crate::cli::Format;
use crate::printable::printable;

#[derive(Debug, Args)]
pub struct MonitorArgs {
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Exit status 1 when an alert is firing (thresholds: the [monitoring] settings).
    #[arg(long)]
    pub alerts: bool,
    /// How many statements, indexes and tables each list shows.
    #[arg(long, default_value_t = maturion_monitor::DEFAULT_TOP as u16, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub top: u16,
}

pub async fn run(
    settings: &Settings,
    target: &DatabaseTarget,
    args: MonitorArgs,
) -> Result<ExitCode> {
    let mut admin = target.admin().await?;
    let inputs = Inputs {
        cluster: match target {
            DatabaseTarget::Embedded { cluster, .. } => Some(cluster),
            DatabaseTarget::External(_) => None,
        },
        top: args.top.into(),
        ..Inputs::default()
    };
    let snapshot = maturion_monitor::gather(&mut admin, inputs, &settings.monitoring).await?;
    let alerts = maturion_monitor::evaluate(&snapshot, &settings.monitoring);
    match args.format {
        Format::Json => {
            let mut report = serde_json::to_value(&snapshot)?;
            report["alerts"] = serde_json::to_value(&alerts)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Format::Human => print!(
            "{}",
            maturion_monitor::render_human(&snapshot, &alerts, |text| printable(text).into_owned())
        ),
    }
    Ok(if args.alerts && !alerts.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
