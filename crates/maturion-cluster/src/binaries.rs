//! Finding the machine's PostgreSQL server binaries.

use std::cmp::Reverse;
use std::env;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use tracing::debug;

use crate::error::{io, ClusterError};

/// The oldest PostgreSQL major version Maturion supports.
pub(crate) const MIN_MAJOR: u32 = 15;

const PROGRAMS: [&str; 3] = ["pg_ctl", "initdb", "postgres"];

/// A PostgreSQL bin folder holding every program a cluster needs.
#[derive(Debug, Clone)]
pub struct ServerBinaries {
    pub dir: PathBuf,
    /// As `pg_ctl --version` tells it, e.g. `15.18 (Debian 15.18-0+deb12u1)`.
    pub version: String,
    pub major: u32,
}

impl ServerBinaries {
    /// `MATURION_PG_BINDIR` if set (and then nothing else), otherwise the first
    /// usable folder among: the one the cluster was initialised with, `pg_ctl`'s
    /// folder on PATH, `pg_config --bindir`, `/usr/lib/postgresql/<N>/bin` from
    /// the highest N down.
    pub fn find(recorded: Option<&Path>) -> Result<Self, ClusterError> {
        if let Some(dir) = env::var_os("MATURION_PG_BINDIR") {
            let dir = PathBuf::from(dir);
            if let Some(program) = missing_program(&dir) {
                return Err(ClusterError::IncompleteBinDir { dir, program });
            }
            return Self::inspect(dir);
        }

        let mut searched = Vec::new();
        let candidates = recorded
            .map(Path::to_path_buf)
            .into_iter()
            .chain(path_dir())
            .chain(pg_config_dir())
            .chain(debian_dirs());
        for dir in candidates {
            if let Some(program) = missing_program(&dir) {
                searched.push(format!("{} has no {program}", dir.display()));
                continue;
            }
            match Self::inspect(dir) {
                Ok(binaries) => return Ok(binaries),
                Err(error) => searched.push(error.to_string()),
            }
        }
        if searched.is_empty() {
            searched.push("none on PATH, from pg_config or in /usr/lib/postgresql".into());
        }
        Err(ClusterError::BinariesNotFound {
            searched: searched.join("; "),
        })
    }

    /// Reads the version from `pg_ctl --version` and rejects versions that are too old.
    /// Whether the server can `CREATE EXTENSION name` (contrib is a separate package on
    /// some systems).
    pub fn has_extension(&self, name: &str) -> bool {
        let control = format!("{name}.control");
        self.extension_dirs()
            .iter()
            .any(|dir| dir.join(&control).is_file())
    }

    /// Debian's layout first, then the two layouts of a source install.
    fn extension_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = vec![PathBuf::from(format!(
            "/usr/share/postgresql/{}/extension",
            self.major
        ))];
        if let Some(prefix) = self.dir.parent() {
            dirs.push(prefix.join("share/postgresql/extension"));
            dirs.push(prefix.join("share/extension"));
        }
        dirs
    }

    fn inspect(dir: PathBuf) -> Result<Self, ClusterError> {
        let program = dir.join("pg_ctl");
        let output = Command::new(&program)
            .arg("--version")
            .output()
            .map_err(io(format!("run {}", program.display())))?;
        let text = String::from_utf8_lossy(&output.stdout);
        let Some((version, major)) = parse_version(&text) else {
            return Err(ClusterError::UnknownVersion {
                program,
                output: text.into_owned(),
            });
        };
        if major < MIN_MAJOR {
            return Err(ClusterError::UnsupportedVersion { dir, version });
        }
        debug!(dir = %dir.display(), %version, "found PostgreSQL binaries");
        Ok(Self {
            dir,
            version,
            major,
        })
    }
}

/// Parses `pg_ctl (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)` into
/// `("15.18 (Debian 15.18-0+deb12u1)", 15)`.
fn parse_version(output: &str) -> Option<(String, u32)> {
    let (_, version) = output.lines().next()?.split_once("(PostgreSQL) ")?;
    let version = version.trim();
    let major = version
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    Some((version.to_string(), major))
}

fn missing_program(dir: &Path) -> Option<&'static str> {
    PROGRAMS
        .into_iter()
        .find(|program| !is_executable(&dir.join(program)))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// The real folder of the first `pg_ctl` on PATH: on Debian it is a symlink
/// into `/usr/lib/postgresql/<N>/bin`, where `initdb` and `postgres` live.
fn path_dir() -> Option<PathBuf> {
    let pg_ctl = env::split_paths(&env::var_os("PATH")?)
        .map(|dir| dir.join("pg_ctl"))
        .find(|path| is_executable(path))?;
    Some(fs::canonicalize(pg_ctl).ok()?.parent()?.to_path_buf())
}

fn pg_config_dir() -> Option<PathBuf> {
    let output = Command::new("pg_config").arg("--bindir").output().ok()?;
    let dir = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !dir.trim().is_empty()).then(|| PathBuf::from(dir.trim()))
}

/// Debian's layout, which may have no `pg_ctl` on PATH.
fn debian_dirs() -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir("/usr/lib/postgresql") else {
        return Vec::new();
    };
    let mut versions: Vec<(u32, PathBuf)> = entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let major = entry.file_name().to_str()?.parse().ok()?;
            Some((major, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by_key(|(major, _)| Reverse(*major));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_release_versions() {
        let (version, major) =
            parse_version("pg_ctl (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n").unwrap();
        assert_eq!(version, "15.18 (Debian 15.18-0+deb12u1)");
        assert_eq!(major, 15);
        assert_eq!(parse_version("pg_ctl (PostgreSQL) 9.6.24").unwrap().1, 9);
    }

    #[test]
    fn parses_development_versions() {
        assert_eq!(parse_version("pg_ctl (PostgreSQL) 17devel").unwrap().1, 17);
        assert_eq!(parse_version("pg_ctl (PostgreSQL) 16beta1").unwrap().1, 16);
    }

    #[test]
    fn rejects_other_output() {
        assert_eq!(parse_version("pg_ctl: command not found"), None);
        assert_eq!(parse_version(""), None);
        assert_eq!(parse_version("pg_ctl (PostgreSQL) devel"), None);
    }
}
