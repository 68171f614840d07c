//! Black-box tests of the `maturion` binary.

mod commands;
mod embedded;

use std::path::Path;
use std::process::{Command, Output};

/// Runs `maturion` with `args`; `home` is MATURION_HOME, or None to use `database_url`.
pub fn maturion(args: &[&str], home: Option<&Path>, database_url: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_maturion"));
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .env("MATURION_LOG", "warn");
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

pub fn describe(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
