//! The files that set pgBackRest and WAL archiving up: `<home>/pgbackrest/pgbackrest.conf`
//! (mode 0600, owned by the server's user: it holds the repository passphrase, which
//! `archive-push` run by the server must read) and the cluster's `archiving.conf`.

use std::collections::BTreeMap;
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
/// repo1 and repo2 take backups and WAL. The repositories of a previous passphrase follow
/// from repo3, in a section of their own for each command that reads them, so that
/// `backup`, `check`, `stanza-create` and the server's `archive-push` never see them.
pub const LAST_LIVE_KEY: u32 = 2;
const FIRST_RETIRING_KEY: u32 = LAST_LIVE_KEY + 1;
const READERS_OF_RETIRING: [&str; 4] = ["archive-get", "info", "restore", "verify"];

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

/// The repositories a configuration file names and how they are kept.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// repo1 (and repo2): every backup and all WAL.
    pub live: Vec<PathBuf>,
    pub passphrase: Passphrase,
    /// From repo3: a previous passphrase's repositories, kept readable for restores.
    pub retiring: Vec<PathBuf>,
    pub retiring_passphrase: Option<Passphrase>,
    pub archive_wait_secs: u32,
    pub retention_full_days: u32,
}

impl Layout {
    /// `new` repositories with `passphrase` take over; the live ones become the retiring.
    pub fn rotated(&self, new: &[PathBuf], passphrase: &Passphrase) -> Self {
        Self {
            live: new.to_vec(),
            passphrase: passphrase.clone(),
            retiring: self.live.clone(),
            retiring_passphrase: Some(self.passphrase.clone()),
            ..self.clone()
        }
    }

    /// The same without the retiring repositories.
    pub fn retired(&self) -> Self {
        Self {
            retiring: Vec::new(),
            retiring_passphrase: None,
            ..self.clone()
        }
    }

    /// Reads back what [`pgbackrest_conf`] wrote: the retiring repositories appear once in
    /// each section that reads them.
    fn parse(text: &str) -> Result<Self, BackupError> {
        let mut paths = BTreeMap::new();
        let mut passphrases = BTreeMap::new();
        let (mut archive_wait_secs, mut retention_full_days) = (None, None);
        for (name, value) in text.lines().filter_map(|line| line.split_once('=')) {
            match repository_option(name) {
                Some((key, "path")) => {
                    paths.insert(key, PathBuf::from(value));
                }
                Some((key, "cipher-pass")) => {
                    passphrases.insert(key, value);
                }
                Some((1, "retention-full")) => retention_full_days = value.parse().ok(),
                _ if name == "archive-timeout" => archive_wait_secs = value.parse().ok(),
                _ => {}
            }
        }
        let passphrase = |key: u32| {
            passphrases
                .get(&key)
                .ok_or(BackupError::BadConfig("a repository has no passphrase"))
                .and_then(|text| Passphrase::new(text))
        };
        let live: Vec<PathBuf> = paths
            .range(..=LAST_LIVE_KEY)
            .map(|(_, p)| p.clone())
            .collect();
        let retiring: Vec<PathBuf> = paths
            .range(FIRST_RETIRING_KEY..)
            .map(|(_, p)| p.clone())
            .collect();
        if live.is_empty() {
            return Err(BackupError::BadConfig("it names no repository"));
        }
        Ok(Self {
            passphrase: passphrase(1)?,
            retiring_passphrase: (!retiring.is_empty())
                .then(|| passphrase(FIRST_RETIRING_KEY))
                .transpose()?,
            live,
            retiring,
            archive_wait_secs: archive_wait_secs
                .ok_or(BackupError::BadConfig("it has no archive-timeout"))?,
            retention_full_days: retention_full_days
                .ok_or(BackupError::BadConfig("repo1 has no retention"))?,
        })
    }
}

/// `repo3-cipher-pass` → (3, "cipher-pass").
fn repository_option(name: &str) -> Option<(u32, &str)> {
    let (key, option) = name.strip_prefix("repo")?.split_once('-')?;
    Some((key.parse().ok()?, option))
}

pub fn config_dir(cluster: &Cluster) -> PathBuf {
    cluster.home().join("pgbackrest")
}

pub fn config_file(cluster: &Cluster) -> PathBuf {
    config_dir(cluster).join("pgbackrest.conf")
}

/// Writes both files (and the repository folders), all owned by the server's user. The
/// repositories of a previous passphrase, if any, are dropped: `setup` names every
/// repository there is.
pub fn write(
    cluster: &Cluster,
    settings: &BackupSettings,
    passphrase: &Passphrase,
) -> Result<(), BackupError> {
    let layout = Layout {
        live: settings.repositories.clone(),
        passphrase: passphrase.clone(),
        retiring: Vec::new(),
        retiring_passphrase: None,
        archive_wait_secs: settings.archive_wait_secs,
        retention_full_days: settings.retention_full_days,
    };
    write_layout(cluster, &layout)?;
    let archiving = archiving_conf(&config_file(cluster), settings.archive_timeout_secs);
    write_private(cluster, &cluster.archiving_settings_file(), &archiving)
}

/// Writes pgbackrest.conf for `layout` (and its folders).
pub(crate) fn write_layout(cluster: &Cluster, layout: &Layout) -> Result<(), BackupError> {
    let dir = config_dir(cluster);
    for folder in [dir.clone(), dir.join("log"), dir.join("lock")] {
        private_dir(cluster, &folder)?;
    }
    for repository in &layout.live {
        private_dir(cluster, repository)?;
    }
    let text = pgbackrest_conf(cluster, layout)?;
    write_private(cluster, &config_file(cluster), &text)
}

/// Puts back a configuration file's earlier text (a rotation that failed half-way).
pub(crate) fn restore_text(cluster: &Cluster, text: &str) -> Result<(), BackupError> {
    write_private(cluster, &config_file(cluster), text)
}

/// The repositories of the configuration file and how they are kept: what a rotation
/// starts from.
pub(crate) fn read(cluster: &Cluster) -> Result<Layout, BackupError> {
    let path = config_file(cluster);
    if !path.exists() {
        return Err(BackupError::NotConfigured {
            home: cluster.home().to_path_buf(),
        });
    }
    let text = fs::read_to_string(&path).map_err(io(format!("read {}", path.display())))?;
    Layout::parse(&text)
}

fn pgbackrest_conf(cluster: &Cluster, layout: &Layout) -> Result<String, BackupError> {
    let status = cluster.status()?;
    let dir = config_dir(cluster);
    let mut text =
        String::from("# Written by `maturion backup`: changes here are lost.\n[global]\n");
    for (key, repository) in (1..).zip(&layout.live) {
        repository_lines(&mut text, key, repository, &layout.passphrase)?;
        let _ = writeln!(text, "repo{key}-retention-full-type=time");
        let _ = writeln!(
            text,
            "repo{key}-retention-full={}",
            layout.retention_full_days
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
        layout.archive_wait_secs,
        status.data_dir.display(),
        status.socket_dir.display(),
        status.port.unwrap_or(5432),
        cluster.superuser(),
    );
    if let Some(passphrase) = &layout.retiring_passphrase {
        for command in READERS_OF_RETIRING {
            let _ = write!(
                text,
                "\n# The previous passphrase's repositories: read for restores, written no more.\n\
                 [{STANZA}:{command}]\n"
            );
            for (key, repository) in (FIRST_RETIRING_KEY..).zip(&layout.retiring) {
                repository_lines(&mut text, key, repository, passphrase)?;
            }
        }
    }
    Ok(text)
}

fn repository_lines(
    text: &mut String,
    key: u32,
    repository: &Path,
    passphrase: &Passphrase,
) -> Result<(), BackupError> {
    let path = std::path::absolute(repository).map_err(io("resolve a repository path"))?;
    let _ = writeln!(text, "repo{key}-path={}", path.display());
    let _ = writeln!(text, "repo{key}-cipher-type={CIPHER}");
    let _ = writeln!(text, "repo{key}-cipher-pass={}", passphrase.expose());
    Ok(())
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

    fn layout() -> Layout {
        Layout {
            live: vec!["/srv/new1".into(), "/srv/new2".into()],
            passphrase: Passphrase::new("the new passphrase, long").unwrap(),
            retiring: vec!["/srv/old1".into(), "/srv/old2".into()],
            retiring_passphrase: Some(Passphrase::new("the old passphrase, long").unwrap()),
            archive_wait_secs: 60,
            retention_full_days: 30,
        }
    }

    #[test]
    fn a_rotated_layout_reads_back_as_written() {
        let layout = layout();
        let mut text = "[global]\n".to_owned();
        for (key, path) in (1..).zip(&layout.live) {
            repository_lines(&mut text, key, path, &layout.passphrase).unwrap();
        }
        text.push_str("repo1-retention-full=30\narchive-timeout=60\n");
        for command in READERS_OF_RETIRING {
            text.push_str(&format!("[maturion:{command}]\n"));
            for (key, path) in (FIRST_RETIRING_KEY..).zip(&layout.retiring) {
                repository_lines(
                    &mut text,
                    key,
                    path,
                    layout.retiring_passphrase.as_ref().unwrap(),
                )
                .unwrap();
            }
        }
        let read = Layout::parse(&text).unwrap();
        assert_eq!(read.live, layout.live);
        assert_eq!(read.retiring, layout.retiring);
        assert_eq!(read.passphrase.expose(), "the new passphrase, long");
        assert_eq!(
            read.retiring_passphrase.as_ref().unwrap().expose(),
            "the old passphrase, long"
        );
        assert!(text.contains("[maturion:archive-get]\nrepo3-path=/srv/old1\n"));
        let retired = read
            .retired()
            .rotated(&["/srv/newer".into()], &layout.passphrase);
        assert_eq!(retired.retiring, layout.live);
    }

    #[test]
    fn a_configuration_without_repositories_is_refused() {
        assert!(Layout::parse("[global]\narchive-timeout=60\n").is_err());
        assert!(Layout::parse("[global]\nrepo1-path=/srv/r\narchive-timeout=60\n").is_err());
    }

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
