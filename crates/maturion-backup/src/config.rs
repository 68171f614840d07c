//! The files that set pgBackRest and WAL archiving up: `<home>/pgbackrest/pgbackrest.conf`
//! (mode 0600, owned by the server's user: it holds the repository passphrase, which
//! `archive-push` run by the server must read) and the cluster's `archiving.conf`.

use std::fmt::Write as _;
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use maturion_cluster::Cluster;

use crate::error::{io, BackupError};
use crate::passphrase::Passphrase;

pub const STANZA: &str = "maturion";
const CIPHER: &str = "aes-256-cbc";

/// How backups of a cluster are kept.
#[derive(Debug, Clone)]
pub struct BackupSettings {
    /// repo1, then the optional repo2 (the cross-region copy): every backup and all WAL
    /// go to each.
    pub repositories: Vec<PathBuf>,
    /// The server's `archive_timeout`: a WAL segment is archived at least this often when
    /// anything was written, which bounds the RPO.
    pub archive_timeout_secs: u32,
    /// How long pgBackRest waits for a segment to reach the archive before calling a
    /// backup or check failed.
    pub archive_wait_secs: u32,
    pub retention_full_days: u32,
}

impl BackupSettings {
    /// repo1 in `<home>/backups/repo1`; 60 s archive timeout; 30 days of full backups.
    pub fn for_home(home: &Path) -> Self {
        Self {
            repositories: vec![home.join("backups").join("repo1")],
            archive_timeout_secs: 60,
            archive_wait_secs: 60,
            retention_full_days: 30,
        }
    }
}

pub fn config_dir(cluster: &Cluster) -> PathBuf {
    cluster.home().join("pgbackrest")
}

pub fn config_file(cluster: &Cluster) -> PathBuf {
    config_dir(cluster).join("pgbackrest.conf")
}

/// Writes both files (and the repository folders), all owned by the server's user.
pub fn write(
    cluster: &Cluster,
    settings: &BackupSettings,
    passphrase: &Passphrase,
) -> Result<(), BackupError> {
    let dir = config_dir(cluster);
    for folder in [dir.clone(), dir.join("log"), dir.join("lock")] {
        private_dir(cluster, &folder)?;
    }
    for repository in &settings.repositories {
        private_dir(cluster, repository)?;
    }
    let text = pgbackrest_conf(cluster, settings, passphrase)?;
    write_private(cluster, &config_file(cluster), &text)?;
    let archiving = archiving_conf(&config_file(cluster), settings.archive_timeout_secs);
    write_private(cluster, &cluster.archiving_settings_file(), &archiving)
}

fn pgbackrest_conf(
    cluster: &Cluster,
    settings: &BackupSettings,
    passphrase: &Passphrase,
) -> Result<String, BackupError> {
    let status = cluster.status()?;
    let dir = config_dir(cluster);
    let mut text =
        String::from("# Written by `maturion backup setup`: changes here are lost.\n[global]\n");
    for (index, repository) in settings.repositories.iter().enumerate() {
        let key = index + 1;
        let path = std::path::absolute(repository).map_err(io("resolve a repository path"))?;
        let _ = writeln!(text, "repo{key}-path={}", path.display());
        let _ = writeln!(text, "repo{key}-cipher-type={CIPHER}");
        let _ = writeln!(text, "repo{key}-cipher-pass={}", passphrase.expose());
        let _ = writeln!(text, "repo{key}-retention-full-type=time");
        let _ = writeln!(
            text,
            "repo{key}-retention-full={}",
            settings.retention_full_days
        );
    }
    let _ = write!(
        text,
        "log-path={}\nlock-path={}\nlog-level-console=warn\nlog-level-stderr=off\n\
         log-level-file=info\ncompress-type=lz4\nstart-fast=y\nprocess-max=2\n\
         archive-timeout={}\n\n[{STANZA}]\npg1-path={}\npg1-socket-path={}\npg1-port={}\n\
         pg1-user={}\n",
        dir.join("log").display(),
        dir.join("lock").display(),
        settings.archive_wait_secs,
        status.data_dir.display(),
        status.socket_dir.display(),
        status.port.unwrap_or(5432),
        cluster.superuser(),
    );
    Ok(text)
}

/// `archive_mode` only changes with a restart; the rest with a reload.
fn archiving_conf(config_file: &Path, archive_timeout_secs: u32) -> String {
    let command = format!(
        "pgbackrest --config={} --stanza={STANZA} archive-push %p",
        shell_quote(&config_file.to_string_lossy())
    );
    format!(
        "# Written by `maturion backup setup`: WAL archiving into pgBackRest's repositories.\n\
         wal_level = replica\narchive_mode = on\narchive_command = {}\narchive_timeout = {archive_timeout_secs}\n",
        conf_literal(&command)
    )
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn conf_literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', r"\\").replace('\'', "''"))
}

/// Every folder it creates goes to the server's user, so that user can reach the last one.
fn private_dir(cluster: &Cluster, dir: &Path) -> Result<(), BackupError> {
    let missing: Vec<&Path> = dir
        .ancestors()
        .take_while(|folder| !folder.exists())
        .collect();
    for folder in missing.into_iter().rev() {
        DirBuilder::new()
            .mode(0o700)
            .create(folder)
            .map_err(io(format!("create {}", folder.display())))?;
        cluster.give_to_owner(folder)?;
    }
    Ok(())
}

/// Created 0600 before anything is written, so the passphrase is never readable by others.
fn write_private(cluster: &Cluster, path: &Path, text: &str) -> Result<(), BackupError> {
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io(format!("open {}", path.display())))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
        .map_err(io(format!("restrict {}", path.display())))?;
    file.write_all(text.as_bytes())
        .map_err(io(format!("write {}", path.display())))?;
    cluster.give_to_owner(path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_command_survives_quotes_in_the_path() {
        let text = archiving_conf(Path::new("/srv/it's here/pgbackrest.conf"), 60);
        assert!(text.contains(
            r"archive_command = 'pgbackrest --config=''/srv/it''\\''''s here/pgbackrest.conf'' --stanza=maturion archive-push %p'"
        ));
        assert!(text.contains("archive_mode = on\n"));
        assert!(text.contains("archive_timeout = 60\n"));
    }
}
