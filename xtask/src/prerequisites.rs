//! The system packages the build, the run command and the tests need: the one list, and
//! how they get installed.

use std::env;
use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use maturion_cluster::ServerBinaries;

/// Something the machine must have, and the Debian packages that provide it.
struct Prerequisite {
    what: &'static str,
    why: &'static str,
    present: fn() -> bool,
    /// Tried in order: the first package the archive knows is installed.
    debian_packages: &'static [&'static [&'static str]],
}

const PREREQUISITES: &[Prerequisite] = &[
    Prerequisite {
        what: "PostgreSQL 15+ server binaries (initdb, pg_ctl, postgres) with contrib",
        why: "the embedded cluster and the test cluster",
        present: postgres_server_present,
        debian_packages: &[&["postgresql-15"], &["postgresql", "postgresql-contrib"]],
    },
    Prerequisite {
        what: "libclang",
        why: "building the PostgreSQL parser (pg_query) that the migration lint uses",
        present: libclang_present,
        debian_packages: &[&["libclang-dev"]],
    },
    Prerequisite {
        what: "pgBackRest",
        why: "`maturion backup` and `maturion restore`, and their tests",
        present: pgbackrest_present,
        debian_packages: &[&["pgbackrest"]],
    },
    Prerequisite {
        what: "Python 3 with venv",
        why:
            "installing schemathesis (PyPI), which tests the HTTP API against its OpenAPI document",
        present: python_venv_present,
        debian_packages: &[&["python3-venv"]],
    },
];

/// Checks every prerequisite and installs the missing ones with apt-get when that is
/// possible here (root on Debian); otherwise fails with the command to run.
pub fn ensure() -> Result<()> {
    let missing: Vec<&Prerequisite> = PREREQUISITES
        .iter()
        .filter(|prerequisite| !(prerequisite.present)())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    for prerequisite in &missing {
        eprintln!(
            "xtask: missing {}, needed for {}",
            prerequisite.what, prerequisite.why
        );
    }
    if !is_debian() {
        bail!("install the above with your system's package manager, then run this again");
    }
    let packages = packages_for(&missing);
    if !running_as_root() {
        bail!(
            "install them with:\n    sudo apt-get update && sudo apt-get install -y --no-install-recommends {}",
            packages.join(" ")
        );
    }
    install(&packages)?;
    let still_missing: Vec<&str> = missing
        .iter()
        .filter(|prerequisite| !(prerequisite.present)())
        .map(|prerequisite| prerequisite.what)
        .collect();
    if !still_missing.is_empty() {
        bail!(
            "still missing after apt-get install: {}",
            still_missing.join(", ")
        );
    }
    Ok(())
}

fn postgres_server_present() -> bool {
    ServerBinaries::find(None).is_ok_and(|binaries| binaries.has_extension("pg_trgm"))
}

fn pgbackrest_present() -> bool {
    which("pgbackrest")
}

/// Debian's python3 has the venv module but not the ensurepip it needs (python3-venv).
fn python_venv_present() -> bool {
    Command::new("python3")
        .args(["-c", "import ensurepip, venv"])
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Where bindgen (clang-sys) looks: `LIBCLANG_PATH`, else the system's LLVM folders.
fn libclang_present() -> bool {
    let mut dirs: Vec<std::path::PathBuf> = env::var_os("LIBCLANG_PATH")
        .map(|path| vec![path.into()])
        .unwrap_or_default();
    dirs.extend(llvm_lib_dirs());
    dirs.extend(["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"].map(Into::into));
    dirs.iter().any(|dir| has_libclang(dir))
}

fn llvm_lib_dirs() -> Vec<std::path::PathBuf> {
    let Ok(entries) = fs::read_dir("/usr/lib") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("llvm-"))
        .map(|entry| entry.path().join("lib"))
        .collect()
}

/// `libclang.so` or a versioned `libclang-14.so.1`, as clang-sys accepts.
fn has_libclang(dir: &Path) -> bool {
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    entries.filter_map(Result::ok).any(|entry| {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        name.starts_with("libclang") && name.contains(".so") && !name.starts_with("libclang-cpp")
    })
}

fn is_debian() -> bool {
    Path::new("/etc/debian_version").exists() && which("apt-get")
}

fn running_as_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn which(program: &str) -> bool {
    env::var_os("PATH")
        .is_some_and(|path| env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// For each prerequisite, the first of its package sets that the archive offers.
fn packages_for(missing: &[&Prerequisite]) -> Vec<&'static str> {
    let mut packages = Vec::new();
    for prerequisite in missing {
        let choice = prerequisite
            .debian_packages
            .iter()
            .find(|set| set.iter().all(|package| apt_knows(package)))
            .unwrap_or(&prerequisite.debian_packages[0]);
        packages.extend_from_slice(choice);
    }
    packages
}

fn apt_knows(package: &str) -> bool {
    Command::new("apt-cache")
        .args(["show", "--no-all-versions", package])
        .output()
        .is_ok_and(|output| output.status.success() && !output.stdout.is_empty())
}

/// Debian's PostgreSQL package would start a server of its own at install; ours are
/// started by Maturion, so services are kept from starting for the install's duration.
fn install(packages: &[&str]) -> Result<()> {
    eprintln!(
        "xtask: installing with apt-get: {} (running as root on Debian)",
        packages.join(" ")
    );
    let _no_services = NoServiceStarts::begin()?;
    apt_get(&["update", "-qq"])?;
    let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
    install.extend_from_slice(packages);
    apt_get(&install)
}

fn apt_get(args: &[&str]) -> Result<()> {
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("cannot run apt-get")?;
    if !status.success() {
        bail!("apt-get {} failed ({status})", args.join(" "));
    }
    Ok(())
}

/// `/usr/sbin/policy-rc.d` exiting 101 tells Debian's maintainer scripts not to start
/// services. One that was there already is left alone.
struct NoServiceStarts {
    created: bool,
}

const POLICY_RC_D: &str = "/usr/sbin/policy-rc.d";

impl NoServiceStarts {
    fn begin() -> Result<Self> {
        if Path::new(POLICY_RC_D).exists() {
            return Ok(Self { created: false });
        }
        fs::write(POLICY_RC_D, "#!/bin/sh\nexit 101\n")
            .with_context(|| format!("cannot write {POLICY_RC_D}"))?;
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(POLICY_RC_D, fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot make {POLICY_RC_D} executable"))?;
        Ok(Self { created: true })
    }
}

impl Drop for NoServiceStarts {
    fn drop(&mut self) {
        if self.created {
            let _ = fs::remove_file(POLICY_RC_D);
        }
    }
}
