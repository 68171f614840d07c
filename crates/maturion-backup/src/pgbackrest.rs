//! Running the `pgbackrest` program as the server's user with our configuration file.

use std::process::Output;

use maturion_cluster::Cluster;
use tracing::debug;

use crate::config::{config_file, STANZA};
use crate::error::{io, BackupError};

const PROGRAM: &str = "pgbackrest";

/// Runs `pgbackrest --config=… --stanza=maturion <command> <args>`; a non-zero exit is an
/// error carrying what pgBackRest printed. The passphrase is in the configuration file,
/// never in the arguments.
pub async fn run(cluster: &Cluster, command: &str, args: &[String]) -> Result<String, BackupError> {
    let config = config_file(cluster);
    if !config.exists() {
        return Err(BackupError::NotConfigured {
            home: cluster.home().to_path_buf(),
        });
    }
    let mut process = cluster.owner_command(PROGRAM);
    process
        .arg(format!("--config={}", config.display()))
        .arg(format!("--stanza={STANZA}"))
        .arg(command)
        .args(args);
    debug!(command, ?args, "running pgbackrest");
    let output = tokio::process::Command::from(process)
        .output()
        .await
        .map_err(io(format!("run {PROGRAM} (is pgBackRest installed?)")))?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    Err(BackupError::Pgbackrest {
        command: std::iter::once(command.to_owned())
            .chain(args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" "),
        status: output.status,
        output: output_text(&output),
    })
}

fn output_text(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    format!("{stdout}{stderr}").trim_end().to_owned()
}
