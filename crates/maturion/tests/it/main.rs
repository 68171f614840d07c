//! Black-box tests of the `maturion` binary.

mod api;
mod api_patterns;
mod backup;
mod commands;
mod configuration;
mod docs;
mod embedded;
mod events_api;
mod hostile;
mod https;
mod monitor;
mod openapi;
mod schemathesis;
mod server;

use std::path::Path;
use std::process::{Command, Output};

/// Variables of the settings that the test runner's own environment must not leak in.
const SETTINGS_VARIABLES: [&str; 8] = [
    "MATURION_HOME",
    "MATURION_CONFIG",
    "MATURION_DATABASE_",
    "MATURION_SERVER_",
    "MATURION_JOBS_",
    "MATURION_MONITORING_",
    "MATURION_LOG_",
    "DATABASE_URL",
];

/// `maturion` with `args`, none of the runner's settings, and warnings only in its logs.
pub fn maturion_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_maturion"));
    command.args(args).env("MATURION_LOG", "warn");
    for (name, _) in std::env::vars_os() {
        let leaks = name
            .to_str()
            .is_some_and(|name| SETTINGS_VARIABLES.iter().any(|v| name.starts_with(v)));
        if leaks {
            command.env_remove(name);
        }
    }
    command
}

/// Runs `maturion` with `args`; `home` is MATURION_HOME, or None to use `database_url`.
pub fn maturion(args: &[&str], home: Option<&Path>, database_url: Option<&str>) -> Output {
    let mut command = maturion_command(args);
    if let Some(home) = home {
        command.env("MATURION_HOME", home);
    }
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    command.output().expect("maturion runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn describe(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
