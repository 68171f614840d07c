//! What the repositories hold, from `pgbackrest info --output=json`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::LAST_LIVE_KEY;
use crate::error::BackupError;

const STATUS_OK: &str = "ok";

/// One backup set in one repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupSet {
    pub label: String,
    pub kind: BackupKind,
    pub repository: u32,
    pub started_at: DateTime<Utc>,
    pub stopped_at: DateTime<Utc>,
    /// Of the database at backup time.
    pub database_bytes: u64,
    /// Stored in the repository (compressed, encrypted, only the changes for diff/incr).
    pub stored_bytes: u64,
    /// The WAL segments the backup needs to be consistent.
    pub wal_start: Option<String>,
    pub wal_stop: Option<String>,
    /// pgBackRest found checksum errors in data pages while copying.
    pub page_errors: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupKind {
    Full,
    Diff,
    Incr,
}

impl BackupKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Diff => "diff",
            Self::Incr => "incr",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepositoryStatus {
    pub key: u32,
    pub cipher: String,
    pub status: String,
    /// A previous passphrase's repository (repo3 on): read for restores, written no more.
    pub retiring: bool,
    /// The archived WAL range, oldest and newest segment.
    pub wal_min: Option<String>,
    pub wal_max: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepositoryInfo {
    pub status: String,
    pub repositories: Vec<RepositoryStatus>,
    /// Oldest first.
    pub backups: Vec<BackupSet>,
}

impl RepositoryInfo {
    /// The latest backup (of `kind`, when given) in any repository.
    pub fn last(&self, kind: Option<BackupKind>) -> Option<&BackupSet> {
        self.last_matching(|set| kind.is_none_or(|kind| set.kind == kind))
    }

    /// The latest backup (of `kind`, when given) in repository `key`.
    pub fn last_in(&self, key: u32, kind: Option<BackupKind>) -> Option<&BackupSet> {
        self.last_matching(|set| set.repository == key && kind.is_none_or(|kind| set.kind == kind))
    }

    fn last_matching(&self, wanted: impl Fn(&BackupSet) -> bool) -> Option<&BackupSet> {
        self.backups
            .iter()
            .filter(|set| wanted(set))
            .max_by_key(|set| set.started_at)
    }

    /// pgBackRest's own verdict on the stanza and every repository.
    pub fn is_ok(&self) -> bool {
        self.status == STATUS_OK
            && self
                .repositories
                .iter()
                .all(|repo| repo.status == STATUS_OK)
    }

    pub fn render_human(&self) -> String {
        let mut text = format!("stanza maturion: {}\n", self.status);
        for repository in &self.repositories {
            text.push_str(&format!(
                "repo{}: {} ({}{}), WAL {} .. {}\n",
                repository.key,
                repository.status,
                repository.cipher,
                if repository.retiring {
                    ", previous passphrase: restores only"
                } else {
                    ""
                },
                repository.wal_min.as_deref().unwrap_or("-"),
                repository.wal_max.as_deref().unwrap_or("-"),
            ));
        }
        if self.backups.is_empty() {
            text.push_str("no backups\n");
        }
        for set in &self.backups {
            text.push_str(&format!(
                "repo{} {:<4} {}  {} .. {}  database {} B, stored {} B{}\n",
                set.repository,
                set.kind.as_str(),
                set.label,
                set.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
                set.stopped_at.format("%H:%M:%S"),
                set.database_bytes,
                set.stored_bytes,
                if set.page_errors { "  PAGE ERRORS" } else { "" },
            ));
        }
        text
    }
}

#[derive(Deserialize)]
struct RawStanza {
    #[serde(default)]
    backup: Vec<RawBackup>,
    #[serde(default)]
    archive: Vec<RawArchive>,
    #[serde(default)]
    repo: Vec<RawRepo>,
    status: RawStatus,
}

#[derive(Deserialize)]
struct RawBackup {
    label: String,
    #[serde(rename = "type")]
    kind: BackupKind,
    timestamp: RawTimes,
    database: RawDatabase,
    info: RawSizes,
    archive: Option<RawWalRange>,
    #[serde(default)]
    error: bool,
}

#[derive(Deserialize)]
struct RawTimes {
    start: i64,
    stop: i64,
}

#[derive(Deserialize)]
struct RawDatabase {
    #[serde(rename = "repo-key")]
    repo_key: u32,
}

#[derive(Deserialize)]
struct RawSizes {
    size: u64,
    repository: RawStored,
}

#[derive(Deserialize)]
struct RawStored {
    delta: u64,
}

#[derive(Deserialize)]
struct RawWalRange {
    start: Option<String>,
    stop: Option<String>,
}

#[derive(Deserialize)]
struct RawArchive {
    database: RawDatabase,
    min: Option<String>,
    max: Option<String>,
}

#[derive(Deserialize)]
struct RawRepo {
    key: u32,
    cipher: String,
    status: RawStatus,
}

#[derive(Deserialize)]
struct RawStatus {
    message: String,
}

pub fn parse(json: &str) -> Result<RepositoryInfo, BackupError> {
    let stanzas: Vec<RawStanza> = serde_json::from_str(json).map_err(BackupError::Info)?;
    let Some(stanza) = stanzas.into_iter().next() else {
        return Ok(RepositoryInfo {
            status: "missing".into(),
            repositories: Vec::new(),
            backups: Vec::new(),
        });
    };
    let repositories = stanza
        .repo
        .iter()
        .map(|repo| {
            let archive = stanza
                .archive
                .iter()
                .find(|a| a.database.repo_key == repo.key);
            RepositoryStatus {
                key: repo.key,
                cipher: repo.cipher.clone(),
                status: repo.status.message.clone(),
                retiring: repo.key > LAST_LIVE_KEY,
                wal_min: archive.and_then(|a| a.min.clone()),
                wal_max: archive.and_then(|a| a.max.clone()),
            }
        })
        .collect();
    let mut backups: Vec<BackupSet> = stanza.backup.into_iter().map(backup_set).collect();
    backups.sort_by_key(|set| (set.started_at, set.repository));
    Ok(RepositoryInfo {
        status: stanza.status.message,
        repositories,
        backups,
    })
}

fn backup_set(raw: RawBackup) -> BackupSet {
    let time = |seconds| DateTime::from_timestamp(seconds, 0).unwrap_or_default();
    BackupSet {
        label: raw.label,
        kind: raw.kind,
        repository: raw.database.repo_key,
        started_at: time(raw.timestamp.start),
        stopped_at: time(raw.timestamp.stop),
        database_bytes: raw.info.size,
        stored_bytes: raw.info.repository.delta,
        wal_start: raw.archive.as_ref().and_then(|a| a.start.clone()),
        wal_stop: raw.archive.and_then(|a| a.stop),
        page_errors: raw.error,
    }
}
