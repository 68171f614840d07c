use std::fs;
use std::path::{Path, PathBuf};

use include_dir::Dir;
use maturion_lint::{ChangeKind, Directives};
use semver::Version;
use sha2::{Digest, Sha256};

use crate::MigrateError;

/// One migration: a version, a name and its up/down scripts.
#[derive(Debug, Clone)]
pub struct Migration {
    pub version: Version,
    pub name: String,
    pub up: String,
    pub down: Option<String>,
}

impl Migration {
    /// SHA-256 of the up script: what `schema_migrations.checksum` stores.
    pub fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.up.as_bytes()))
    }

    pub fn kind(&self) -> ChangeKind {
        ChangeKind::of(&self.version)
    }

    pub fn directives(&self) -> Directives {
        maturion_lint::parse_directives(&self.up)
    }

    /// `1.2.0_add_risks`: the folder name of this migration.
    pub fn folder_name(&self) -> String {
        format!("{}_{}", self.version, self.name)
    }
}

/// All migrations of one scope ("platform" for the global schema, else a module's name),
/// sorted by version.
#[derive(Debug, Clone)]
pub struct MigrationSet {
    pub scope: String,
    pub migrations: Vec<Migration>,
}

impl MigrationSet {
    /// Reads `<version>_<name>/{up,down}.sql` folders from a directory on disk.
    pub fn from_dir(scope: &str, dir: &Path) -> Result<Self, MigrateError> {
        let io = |source| MigrateError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut migrations = Vec::new();
        for entry in fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if !path.is_dir() {
                continue;
            }
            let folder = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let (version, name) =
                parse_folder_name(folder).map_err(|reason| MigrateError::Layout {
                    path: path.clone(),
                    reason,
                })?;
            let read = |file: &str| -> Result<Option<String>, MigrateError> {
                let file_path = path.join(file);
                // Reading a FIFO or a device would wait or read for ever.
                if fs::metadata(&file_path).is_ok_and(|m| !m.is_file()) {
                    return Err(MigrateError::Layout {
                        path: file_path,
                        reason: "not a regular file (a folder, FIFO or device)".into(),
                    });
                }
                match fs::read_to_string(&file_path) {
                    Ok(text) => Ok(Some(text)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(source) => Err(MigrateError::Io {
                        path: file_path,
                        source,
                    }),
                }
            };
            let up = read("up.sql")?.ok_or_else(|| MigrateError::Layout {
                path: path.clone(),
                reason: "missing up.sql".into(),
            })?;
            migrations.push(Migration {
                version,
                name,
                up,
                down: read("down.sql")?,
            });
        }
        Self::new(scope, migrations, dir)
    }

    /// Reads the same layout from a folder embedded in the binary with `include_dir!`.
    pub fn from_embedded(scope: &str, dir: &Dir<'_>) -> Result<Self, MigrateError> {
        let mut migrations = Vec::new();
        for folder in dir.dirs() {
            let path = folder.path().to_path_buf();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let (version, name) =
                parse_folder_name(name).map_err(|reason| MigrateError::Layout {
                    path: path.clone(),
                    reason,
                })?;
            let text = |file: &str| {
                folder
                    .get_file(folder.path().join(file))
                    .and_then(|f| f.contents_utf8())
                    .map(str::to_owned)
            };
            let up = text("up.sql").ok_or_else(|| MigrateError::Layout {
                path: path.clone(),
                reason: "missing up.sql".into(),
            })?;
            migrations.push(Migration {
                version,
                name,
                up,
                down: text("down.sql"),
            });
        }
        Self::new(scope, migrations, dir.path())
    }

    fn new(
        scope: &str,
        mut migrations: Vec<Migration>,
        origin: &Path,
    ) -> Result<Self, MigrateError> {
        migrations.sort_by(|a, b| a.version.cmp(&b.version));
        for pair in migrations.windows(2) {
            if pair[0].version == pair[1].version {
                return Err(MigrateError::DuplicateVersion {
                    version: pair[0].version.clone(),
                    first: pair[0].folder_name(),
                    second: pair[1].folder_name(),
                });
            }
        }
        if scope.is_empty() {
            return Err(MigrateError::Layout {
                path: PathBuf::from(origin),
                reason: "a migration set needs a scope name".into(),
            });
        }
        Ok(Self {
            scope: scope.to_owned(),
            migrations,
        })
    }

    pub fn latest(&self) -> Option<&Version> {
        self.migrations.last().map(|m| &m.version)
    }

    /// A short digest of every migration's version and checksum: equal sets give equal
    /// fingerprints, so a prepared database can be reused while the set is unchanged.
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        for m in &self.migrations {
            hasher.update(m.version.to_string());
            hasher.update(m.checksum());
            hasher.update(m.down.as_deref().unwrap_or_default());
        }
        hex::encode(hasher.finalize())[..16].to_owned()
    }
}

/// `1.2.0_add_risks` → (1.2.0, "add_risks"). Pre-release and build metadata are refused:
/// a schema version is plain MAJOR.MINOR.PATCH.
fn parse_folder_name(folder: &str) -> Result<(Version, String), String> {
    let (version, name) = folder
        .split_once('_')
        .ok_or_else(|| format!("'{folder}' is not named <MAJOR.MINOR.PATCH>_<name>"))?;
    let version = Version::parse(version)
        .map_err(|e| format!("'{folder}': '{version}' is not a semantic version: {e}"))?;
    if !version.pre.is_empty() || !version.build.is_empty() {
        return Err(format!("'{folder}': use a plain MAJOR.MINOR.PATCH version"));
    }
    let valid_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid_name {
        return Err(format!("'{folder}': the name must be lower_snake_case"));
    }
    Ok((version, name.to_owned()))
}

/// Creates `<next version>_<name>/{up,down}.sql` in `dir` (the version bumped from the newest
/// migration there as `kind` says) and returns the new folder. `scope` is the module the set
/// belongs to, which the template's tenant table is labelled with.
pub fn scaffold(
    dir: &Path,
    scope: &str,
    name: &str,
    kind: ChangeKind,
) -> Result<PathBuf, MigrateError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| MigrateError::Io { path, source }
    };
    fs::create_dir_all(dir).map_err(io(dir))?;
    let set = MigrationSet::from_dir(scope, dir)?;
    let version = next_version(set.latest(), kind);
    let folder = dir.join(format!("{version}_{name}"));
    parse_folder_name(&format!("{version}_{name}")).map_err(|reason| MigrateError::Layout {
        path: folder.clone(),
        reason,
    })?;
    fs::create_dir(&folder).map_err(io(&folder))?;
    let up = format!(
        "-- {version} {name}: {kind:?} change of the {scope} module.\n\
         -- Tenant tables: organisation_id + the standard audit fields, then\n\
         -- SELECT maturion.enable_tenant_isolation('my_table', module => '{}');\n\
         -- and, for versioning, workflow or retention columns (spec §5):\n\
         -- SELECT maturion.enable_shared_patterns('my_table');\n",
        scope.replace('\'', "''")
    );
    fs::write(folder.join("up.sql"), up).map_err(io(&folder))?;
    fs::write(
        folder.join("down.sql"),
        format!("-- Reverts {version} {name}.\n"),
    )
    .map_err(io(&folder))?;
    Ok(folder)
}

/// The next version for a new migration after `latest`, bumped as `kind` says.
fn next_version(latest: Option<&Version>, kind: ChangeKind) -> Version {
    let Some(v) = latest else {
        return Version::new(1, 0, 0);
    };
    match kind {
        ChangeKind::Major => Version::new(v.major + 1, 0, 0),
        ChangeKind::Minor => Version::new(v.major, v.minor + 1, 0),
        ChangeKind::Patch => Version::new(v.major, v.minor, v.patch + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_parse() {
        let (v, n) = parse_folder_name("1.2.3_add_risks").unwrap();
        assert_eq!(v, Version::new(1, 2, 3));
        assert_eq!(n, "add_risks");
        assert!(parse_folder_name("1.2_add").is_err());
        assert!(parse_folder_name("1.2.3").is_err());
        assert!(parse_folder_name("1.2.3_Add-Risks").is_err());
        assert!(parse_folder_name("1.2.3-beta_add").is_err());
    }

    #[test]
    fn the_template_names_the_module() {
        let dir = tempfile::tempdir().unwrap();
        let folder = scaffold(dir.path(), "risks", "add_risks", ChangeKind::Minor).unwrap();
        assert!(folder.ends_with("1.0.0_add_risks"));
        let up = fs::read_to_string(folder.join("up.sql")).unwrap();
        assert!(
            up.contains("maturion.enable_tenant_isolation('my_table', module => 'risks')"),
            "{up}"
        );
    }

    #[test]
    fn next_versions_bump() {
        let v = Version::new(1, 4, 2);
        assert_eq!(next_version(None, ChangeKind::Minor), Version::new(1, 0, 0));
        assert_eq!(
            next_version(Some(&v), ChangeKind::Major),
            Version::new(2, 0, 0)
        );
        assert_eq!(
            next_version(Some(&v), ChangeKind::Minor),
            Version::new(1, 5, 0)
        );
        assert_eq!(
            next_version(Some(&v), ChangeKind::Patch),
            Version::new(1, 4, 3)
        );
    }

    #[test]
    fn sets_sort_and_refuse_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        for folder in ["1.1.0_b", "1.0.0_a"] {
            std::fs::create_dir(dir.path().join(folder)).unwrap();
            std::fs::write(dir.path().join(folder).join("up.sql"), "select 1;").unwrap();
        }
        let set = MigrationSet::from_dir("m", dir.path()).unwrap();
        let versions: Vec<_> = set
            .migrations
            .iter()
            .map(|m| m.version.to_string())
            .collect();
        assert_eq!(versions, ["1.0.0", "1.1.0"]);
        assert!(set.migrations[0].down.is_none());

        std::fs::create_dir(dir.path().join("1.1.0_c")).unwrap();
        std::fs::write(dir.path().join("1.1.0_c").join("up.sql"), "select 1;").unwrap();
        let err = MigrationSet::from_dir("m", dir.path()).unwrap_err();
        assert!(
            matches!(err, MigrateError::DuplicateVersion { .. }),
            "{err}"
        );
    }
}
