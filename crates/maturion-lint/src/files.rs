//! Linting files and folders named on a command line. A named path the lint does not read is
//! an error, never a silent "0 files": a typo must not pass as a clean migration. File types
//! are checked before anything is opened, so a FIFO or a device cannot block or flood it.

use std::ffi::OsStr;
use std::fs::{self, Metadata};
use std::path::{Path, PathBuf};

use semver::Version;

use crate::{lint, ChangeKind, Finding, LintError};

/// Far above any real migration; a larger file is not one.
const MAX_SCRIPT_BYTES: u64 = 16 * 1024 * 1024;

const DOWN_SCRIPT: &str = "down.sql";

/// Lints one file, inferring its kind from its folder: a file inside `1.2.0_add_x/` gets that
/// version's kind, any other file is linted as MINOR (the strictest). Returns `Ok(None)` for
/// `down.sql`, which undoes its up script and so is destructive by nature.
pub fn lint_file(path: &Path) -> Result<Option<Vec<Finding>>, LintError> {
    if path.file_name() == Some(OsStr::new(DOWN_SCRIPT)) {
        return Ok(None);
    }
    require_script_file(path, &metadata(path)?)?;
    let sql = fs::read_to_string(path).map_err(|source| LintError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    lint(&sql, kind_of_path(path)).map(Some)
}

/// Lints the named `.sql` files and every up script under the named folders, in path order.
/// Each named path must hold something to lint.
pub fn lint_paths(paths: &[PathBuf]) -> Result<Vec<(PathBuf, Vec<Finding>)>, LintError> {
    let mut files = Vec::new();
    for path in paths {
        collect_named(path, &mut files)?;
    }
    let mut results = Vec::new();
    for file in files {
        match lint_file(&file) {
            Ok(Some(findings)) => results.push((file, findings)),
            Ok(None) => {}
            // Name the file: a parse error alone only knows its line.
            Err(LintError::Parse { line, message }) => {
                return Err(not_lintable(&file, &format!("line {line}: {message}")))
            }
            Err(other) => return Err(other),
        }
    }
    Ok(results)
}

fn collect_named(path: &Path, files: &mut Vec<PathBuf>) -> Result<(), LintError> {
    let metadata = metadata(path)?;
    if metadata.is_dir() {
        let before = files.len();
        collect_dir(path, files)?;
        if files.len() == before {
            return Err(not_lintable(
                path,
                "the folder holds no .sql script to lint (down.sql scripts are not linted)",
            ));
        }
        return Ok(());
    }
    if path.extension() != Some(OsStr::new("sql")) {
        return Err(not_lintable(path, "not a .sql file"));
    }
    if path.file_name() == Some(OsStr::new(DOWN_SCRIPT)) {
        return Err(not_lintable(
            path,
            "a down.sql script undoes its up script and is not linted; lint the up.sql beside it",
        ));
    }
    require_script_file(path, &metadata)?;
    files.push(path.to_path_buf());
    Ok(())
}

/// The `.sql` files under `dir` but its down scripts, sorted. Symbolic links to folders are
/// not followed, so a link loop cannot make the walk endless.
fn collect_dir(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), LintError> {
    let io = |source| LintError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries = fs::read_dir(dir)
        .map_err(io)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io)?;
    entries.sort_by_key(|entry| entry.path());
    for entry in entries {
        let path = entry.path();
        if entry.file_type().map_err(io)?.is_dir() {
            collect_dir(&path, files)?;
        } else if path.extension() == Some(OsStr::new("sql"))
            && path.file_name() != Some(OsStr::new(DOWN_SCRIPT))
            && !metadata(&path)?.is_dir()
        {
            files.push(path);
        }
    }
    Ok(())
}

/// The metadata of `path`, following symbolic links, without opening it.
fn metadata(path: &Path) -> Result<Metadata, LintError> {
    fs::metadata(path).map_err(|source| LintError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Refuses anything but a regular file of a plausible size: reading a FIFO waits for a
/// writer, a device may never end.
fn require_script_file(path: &Path, metadata: &Metadata) -> Result<(), LintError> {
    if !metadata.is_file() {
        return Err(not_lintable(
            path,
            &format!("{} is not a regular file", kind_of_file(metadata)),
        ));
    }
    if metadata.len() > MAX_SCRIPT_BYTES {
        return Err(not_lintable(
            path,
            &format!(
                "{} bytes is too large for a migration script",
                metadata.len()
            ),
        ));
    }
    Ok(())
}

fn kind_of_file(metadata: &Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let file_type = metadata.file_type();
    if file_type.is_dir() {
        "a folder"
    } else if file_type.is_fifo() {
        "a FIFO (named pipe)"
    } else if file_type.is_char_device() || file_type.is_block_device() {
        "a device"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "it"
    }
}

fn not_lintable(path: &Path, reason: &str) -> LintError {
    LintError::NotLintable {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn kind_of_path(path: &Path) -> ChangeKind {
    // A bare `up.sql` given from inside its migration folder still names that folder once
    // made absolute.
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    path.parent()
        .and_then(Path::file_name)
        .and_then(OsStr::to_str)
        .and_then(|folder| folder.split_once('_'))
        .and_then(|(version, _)| Version::parse(version).ok())
        .map_or(ChangeKind::Minor, |version| ChangeKind::of(&version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_comes_from_the_migration_folder() {
        assert_eq!(
            kind_of_path(Path::new("m/2.0.0_split_risks/up.sql")),
            ChangeKind::Major
        );
        assert_eq!(
            kind_of_path(Path::new("m/2.1.0_add_owner/up.sql")),
            ChangeKind::Minor
        );
        assert_eq!(
            kind_of_path(Path::new("m/2.1.4_fix_index/up.sql")),
            ChangeKind::Patch
        );
        assert_eq!(
            kind_of_path(Path::new("m/2.0_bad/up.sql")),
            ChangeKind::Minor
        );
        assert_eq!(kind_of_path(Path::new("scratch.sql")), ChangeKind::Minor);
    }
}
