use std::process::ExitCode;

use anyhow::Result;
use maturion_check::CheckOptions;
use maturion_config::DatabaseTarget;

use crate::cli::{CheckArgs, Format};

/// Exit status 1 when anything breaks the architecture, so CI and scripts can gate on it.
pub async fn run(target: &DatabaseTarget, args: CheckArgs) -> Result<ExitCode> {
    let admin = target.admin().await?;
    let report = maturion_check::check(&admin, &CheckOptions::default()).await?;
    match args.format {
        Format::Human => print!("{}", report.render_human()),
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
