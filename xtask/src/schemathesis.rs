//! Schemathesis (PyPI), which the API's property-based test runs against `/openapi.json`:
//! installed at a pinned version into a Python virtual environment of the target dir, and
//! handed to the tests as `MATURION_SCHEMATHESIS`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The version the test's options and findings were made with.
pub const VERSION: &str = "4.32.5";

/// The variable that tells the tests where the `schemathesis` program is.
pub const VARIABLE: &str = "MATURION_SCHEMATHESIS";

/// The `schemathesis` program, installed first if it is missing. `None` when it cannot be
/// (no network, no PyPI): said loudly here, and the test then fails in CI and is skipped
/// elsewhere.
pub fn ensure(target_dir: &Path) -> Option<PathBuf> {
    let venv = target_dir.join(format!("schemathesis-{VERSION}"));
    let program = venv.join("bin").join("schemathesis");
    if is_installed(&program) {
        return Some(program);
    }
    eprintln!(
        "xtask: installing schemathesis {VERSION} into {}",
        venv.display()
    );
    match install(&venv) {
        Ok(()) if is_installed(&program) => Some(program),
        outcome => {
            let why = outcome
                .err()
                .unwrap_or_else(|| "it does not run".to_owned());
            eprintln!(
                "xtask: WARNING: cannot install schemathesis {VERSION}: {why}\n\
                 xtask: WARNING: the API's schemathesis test fails in CI (CI=true) and is skipped elsewhere"
            );
            let _ = fs::remove_dir_all(&venv);
            None
        }
    }
}

fn is_installed(program: &Path) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|output| {
            output.status.success() && String::from_utf8_lossy(&output.stdout).contains(VERSION)
        })
}

fn install(venv: &Path) -> Result<(), String> {
    let _ = fs::remove_dir_all(venv);
    run(Command::new("python3").args(["-m", "venv"]).arg(venv))?;
    let requirement = format!("schemathesis=={VERSION}");
    run(Command::new(venv.join("bin").join("pip")).args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--timeout",
        "30",
        "--retries",
        "2",
        &requirement,
    ]))
}

fn run(command: &mut Command) -> Result<(), String> {
    let what = format!("{command:?}");
    let status = command
        .status()
        .map_err(|error| format!("cannot run {what}: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}
