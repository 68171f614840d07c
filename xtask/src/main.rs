//! Project chores, and the README's two commands:
//! - `cargo xtask run [-- <maturion args>]`: installs what is missing, builds and runs `maturion`;
//! - `cargo xtask test [-- <cargo test args>]`: installs what is missing, then runs the
//!   workspace's tests against one fresh, throwaway PostgreSQL cluster;
//! - `cargo xtask setup`: only the first step of both.

mod prerequisites;
mod schemathesis;

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result};
use maturion_cluster::{Cluster, ClusterError, ClusterOptions, StopMode};
use nix::sys::signal::{signal, SigHandler, Signal};

const USAGE: &str = "usage: cargo xtask run [-- <maturion args>]
       cargo xtask test [-- <cargo test args>]
       cargo xtask setup";

fn main() -> Result<ExitCode> {
    let args: Vec<String> = env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        return usage();
    };
    let forwarded = match rest.split_first() {
        Some((first, rest)) if first == "--" => rest,
        _ => rest,
    };
    match command.as_str() {
        "run" => run(forwarded),
        "test" => test(forwarded),
        "setup" => prerequisites::ensure().map(|()| ExitCode::SUCCESS),
        _ => usage(),
    }
}

fn usage() -> Result<ExitCode> {
    eprintln!("{USAGE}");
    Ok(ExitCode::from(2))
}

fn run(forwarded: &[String]) -> Result<ExitCode> {
    prerequisites::ensure()?;
    let status = cargo()
        .args(["run", "--release", "--package", "maturion", "--"])
        .args(forwarded)
        .status()
        .context("cannot run cargo run")?;
    Ok(exit_code(status.code()))
}

fn test(forwarded: &[String]) -> Result<ExitCode> {
    prerequisites::ensure()?;
    let schemathesis = schemathesis::ensure(&target_dir());
    survive_ctrl_c()?;
    let cluster = start_cluster()?;
    eprintln!("xtask: test cluster in {}", cluster.home().display());

    let names_packages = forwarded
        .iter()
        .any(|arg| arg == "-p" || arg.starts_with("--package"));
    let status = cargo()
        .arg("test")
        .args((!names_packages).then_some("--workspace"))
        .args(forwarded)
        .env("MATURION_TEST_CLUSTER_HOME", cluster.home())
        .envs(schemathesis.map(|program| (schemathesis::VARIABLE, program)))
        .status();
    clean_up(&cluster);
    Ok(exit_code(status.context("cannot run cargo test")?.code()))
}

fn cargo() -> Command {
    let mut cargo = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo.current_dir(workspace_root());
    cargo
}

fn exit_code(code: Option<i32>) -> ExitCode {
    ExitCode::from(code.and_then(|code| u8::try_from(code).ok()).unwrap_or(1))
}

/// Ctrl-C reaches cargo test and us alike, and we must outlive it to stop the
/// cluster. Unlike ignoring the signal, a handler is reset by exec, so cargo
/// test still stops.
fn survive_ctrl_c() -> Result<()> {
    extern "C" fn do_nothing(_: nix::libc::c_int) {}
    // SAFETY: the handler does nothing, so it is async-signal-safe.
    unsafe { signal(Signal::SIGINT, SigHandler::Handler(do_nothing)) }
        .context("cannot handle Ctrl-C")?;
    Ok(())
}

/// In the target dir, unless the server's user cannot reach it there (as root,
/// the server runs as `postgres`) or the socket path would be too long.
fn start_cluster() -> Result<Cluster> {
    let name = format!("maturion-test-cluster-{}", std::process::id());
    let home = target_dir().join(&name);
    let cluster = match start(&home) {
        Err(
            error @ (ClusterError::NotTraversable { .. } | ClusterError::SocketPathTooLong { .. }),
        ) => {
            eprintln!("xtask: {error}\nxtask: using the temp dir instead");
            start(&env::temp_dir().join(&name))
        }
        started => started,
    };
    cluster.context("cannot start the test cluster")
}

fn target_dir() -> PathBuf {
    env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn start(home: &Path) -> Result<Cluster, ClusterError> {
    let options = ClusterOptions {
        durable: false,
        ..ClusterOptions::default()
    };
    let started = Cluster::new(home, options).and_then(|cluster| cluster.start().map(|_| cluster));
    if started.is_err() {
        let _ = fs::remove_dir_all(home);
    }
    started
}

fn clean_up(cluster: &Cluster) {
    let stopped = cluster
        .stop(StopMode::Fast)
        .or_else(|_| cluster.stop(StopMode::Immediate));
    match stopped {
        Ok(_) => {
            if let Err(error) = fs::remove_dir_all(cluster.home()) {
                eprintln!("xtask: cannot remove {}: {error}", cluster.home().display());
            }
        }
        // Removing the data of a running server would strand it.
        Err(error) => eprintln!(
            "xtask: cannot stop the test cluster, so {} is kept: {error}",
            cluster.home().display()
        ),
    }
}

fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
}
