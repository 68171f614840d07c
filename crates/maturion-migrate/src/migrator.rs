use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use semver::Version;
use tokio_postgres::Client;
use tracing::info;

use crate::error::Checksums;
use crate::{MigrateError, Migration, MigrationSet};

const LEDGER_SQL: &str = include_str!("../sql/ledger.sql");

/// The setting that tells a running migration its module.
const MODULE_SETTING: &str = "maturion.migration_scope";
/// Undoes `session_setup(false)` on a connection that goes on being used.
const SESSION_RESET: &str =
    "RESET ROLE; RESET lock_timeout; RESET search_path; RESET maturion.migration_scope";

/// Key of the session advisory lock that serialises migrators (any scope, any process).
const MIGRATION_LOCK_KEY: i64 = 0x6d61_7475_7269_6f6e; // "maturion"

/// How migrations run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Role that runs the scripts (`SET ROLE`), so that it owns every object they create.
    /// `None` runs them as the connected user.
    pub owner_role: Option<String>,
    /// `lock_timeout` for each migration: a migration waiting on a busy table gives up rather
    /// than queueing every query behind its lock.
    pub lock_timeout: String,
    /// The module the set belongs to, which its scripts read as `maturion.migration_scope`
    /// (so that what they create can be labelled with it). `None`: the setting stays unset.
    pub module: Option<String>,
    /// How long to wait for another migrator's lock before giving up with who holds it.
    pub lock_wait: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            owner_role: None,
            lock_timeout: "10s".into(),
            module: None,
            lock_wait: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum MigrationState {
    Applied {
        applied_at: DateTime<Utc>,
        applied_by: String,
        execution_ms: i64,
    },
    Pending,
}

#[derive(Debug, Clone)]
pub struct MigrationStatus {
    pub version: Version,
    pub name: String,
    pub state: MigrationState,
}

#[derive(Debug, Clone)]
pub struct AppliedMigration {
    pub version: Version,
    pub name: String,
    pub execution_ms: i64,
}

struct LedgerRow {
    name: String,
    checksum: String,
    applied_at: DateTime<Utc>,
    applied_by: String,
    execution_ms: i64,
}

/// Applies and reverts one [`MigrationSet`] on one database.
pub struct Migrator<'a> {
    set: &'a MigrationSet,
    options: Options,
}

impl<'a> Migrator<'a> {
    pub fn new(set: &'a MigrationSet, options: Options) -> Self {
        Self { set, options }
    }

    /// Every migration of the set with whether it is applied. Fails on drift.
    pub async fn status(&self, client: &mut Client) -> Result<Vec<MigrationStatus>, MigrateError> {
        lock(client, self.options.lock_wait).await?;
        let result = self.verified_ledger(client).await;
        unlock(client).await?;
        let ledger = result?;
        Ok(self
            .set
            .migrations
            .iter()
            .map(|m| MigrationStatus {
                version: m.version.clone(),
                name: m.name.clone(),
                state: match ledger.get(&m.version) {
                    Some(row) => MigrationState::Applied {
                        applied_at: row.applied_at,
                        applied_by: row.applied_by.clone(),
                        execution_ms: row.execution_ms,
                    },
                    None => MigrationState::Pending,
                },
            })
            .collect())
    }

    /// Applies pending migrations in version order, up to and including `target` (all when
    /// `None`). Each runs in its own transaction; the first failure stops the run.
    pub async fn up(
        &self,
        client: &mut Client,
        target: Option<&Version>,
    ) -> Result<Vec<AppliedMigration>, MigrateError> {
        if let Some(target) = target {
            self.require_version(target)?;
        }
        lock(client, self.options.lock_wait).await?;
        let result = self.up_locked(client, target).await;
        unlock(client).await?;
        result
    }

    async fn up_locked(
        &self,
        client: &mut Client,
        target: Option<&Version>,
    ) -> Result<Vec<AppliedMigration>, MigrateError> {
        let ledger = self.verified_ledger(client).await?;
        let pending: Vec<&Migration> = self
            .set
            .migrations
            .iter()
            .filter(|m| !ledger.contains_key(&m.version))
            .filter(|m| target.is_none_or(|t| m.version <= *t))
            .collect();
        for m in &pending {
            lint(m)?;
        }
        let mut applied = Vec::new();
        for m in pending {
            applied.push(self.apply(client, m).await?);
        }
        Ok(applied)
    }

    /// Reverts applied migrations newer than `target`, newest first, each in its own
    /// transaction. `0.0.0` reverts everything.
    pub async fn down(
        &self,
        client: &mut Client,
        target: &Version,
    ) -> Result<Vec<AppliedMigration>, MigrateError> {
        if *target != Version::new(0, 0, 0) {
            self.require_version(target)?;
        }
        lock(client, self.options.lock_wait).await?;
        let result = self.down_locked(client, target).await;
        unlock(client).await?;
        result
    }

    async fn down_locked(
        &self,
        client: &mut Client,
        target: &Version,
    ) -> Result<Vec<AppliedMigration>, MigrateError> {
        let ledger = self.verified_ledger(client).await?;
        let mut reverted = Vec::new();
        for m in self.set.migrations.iter().rev() {
            if m.version > *target && ledger.contains_key(&m.version) {
                reverted.push(self.revert(client, m).await?);
            }
        }
        Ok(reverted)
    }

    fn require_version(&self, version: &Version) -> Result<(), MigrateError> {
        if self.set.migrations.iter().any(|m| m.version == *version) {
            Ok(())
        } else {
            Err(MigrateError::NoSuchVersion(version.clone()))
        }
    }

    /// The applied migrations of this scope, after checking that each is still in the set
    /// with the checksum it had when it ran.
    async fn verified_ledger(
        &self,
        client: &Client,
    ) -> Result<BTreeMap<Version, LedgerRow>, MigrateError> {
        let rows = client
            .query(
                "SELECT version, name, checksum, applied_at, applied_by, execution_ms \
                 FROM maturion_migrations.schema_migrations WHERE scope = $1",
                &[&self.set.scope],
            )
            .await?;
        let mut ledger = BTreeMap::new();
        for row in rows {
            let version_text: String = row.get(0);
            let version = Version::parse(&version_text).map_err(|e| MigrateError::Layout {
                path: "maturion_migrations.schema_migrations".into(),
                reason: format!("recorded version '{version_text}' is not semantic: {e}"),
            })?;
            let entry = LedgerRow {
                name: row.get(1),
                checksum: row.get(2),
                applied_at: row.get(3),
                applied_by: row.get(4),
                execution_ms: row.get(5),
            };
            let Some(migration) = self.set.migrations.iter().find(|m| m.version == version) else {
                return Err(MigrateError::UnknownApplied {
                    scope: self.set.scope.clone(),
                    version,
                    name: entry.name,
                });
            };
            let current = migration.checksum();
            if current != entry.checksum {
                return Err(MigrateError::Drift {
                    scope: self.set.scope.clone(),
                    version,
                    name: entry.name,
                    checksums: Box::new(Checksums {
                        applied: entry.checksum,
                        current,
                    }),
                });
            }
            ledger.insert(version, entry);
        }
        Ok(ledger)
    }

    async fn apply(
        &self,
        client: &mut Client,
        m: &Migration,
    ) -> Result<AppliedMigration, MigrateError> {
        info!(scope = %self.set.scope, version = %m.version, name = %m.name, "applying migration");
        let started = Instant::now();
        if m.directives().no_transaction {
            self.run_without_transaction(client, m, &m.up).await?;
            let tx = client.transaction().await?;
            record(&tx, &self.set.scope, m, started).await?;
            tx.commit().await?;
        } else {
            let tx = client.transaction().await?;
            let failed = |source| MigrateError::Failed {
                version: m.version.clone(),
                name: m.name.clone(),
                source,
            };
            tx.batch_execute(&self.session_setup(true))
                .await
                .map_err(failed)?;
            tx.batch_execute(&m.up).await.map_err(failed)?;
            tx.batch_execute("RESET ROLE").await.map_err(failed)?;
            record(&tx, &self.set.scope, m, started)
                .await
                .map_err(failed)?;
            tx.commit().await.map_err(failed)?;
        }
        let execution_ms = started.elapsed().as_millis() as i64;
        info!(version = %m.version, execution_ms, "applied migration");
        Ok(AppliedMigration {
            version: m.version.clone(),
            name: m.name.clone(),
            execution_ms,
        })
    }

    /// `CREATE INDEX CONCURRENTLY` and friends refuse to run in a transaction block, so a
    /// script declared with `-- maturion:no-transaction` (an up or a down script) runs
    /// statement by statement.
    async fn run_without_transaction(
        &self,
        client: &mut Client,
        m: &Migration,
        script: &str,
    ) -> Result<(), MigrateError> {
        let statements = pg_query::split_with_parser(script).map_err(|e| MigrateError::Split {
            version: m.version.clone(),
            name: m.name.clone(),
            reason: e.to_string(),
        })?;
        client.batch_execute(&self.session_setup(false)).await?;
        for (index, statement) in statements.iter().enumerate() {
            if let Err(source) = client.batch_execute(statement).await {
                client.batch_execute(SESSION_RESET).await?;
                return Err(MigrateError::FailedWithoutTransaction {
                    version: m.version.clone(),
                    name: m.name.clone(),
                    statement: index + 1,
                    source,
                });
            }
        }
        client.batch_execute(SESSION_RESET).await?;
        Ok(())
    }

    async fn revert(
        &self,
        client: &mut Client,
        m: &Migration,
    ) -> Result<AppliedMigration, MigrateError> {
        let down = m
            .down
            .as_deref()
            .ok_or_else(|| MigrateError::NoDownScript {
                version: m.version.clone(),
                name: m.name.clone(),
            })?;
        info!(scope = %self.set.scope, version = %m.version, name = %m.name, "reverting migration");
        let started = Instant::now();
        let failed = |source| MigrateError::Failed {
            version: m.version.clone(),
            name: m.name.clone(),
            source,
        };
        let no_transaction = maturion_lint::parse_directives(down).no_transaction;
        if no_transaction {
            self.run_without_transaction(client, m, down).await?;
        }
        let tx = client.transaction().await?;
        if !no_transaction {
            tx.batch_execute(&self.session_setup(true))
                .await
                .map_err(failed)?;
            tx.batch_execute(down).await.map_err(failed)?;
            tx.batch_execute("RESET ROLE").await.map_err(failed)?;
        }
        tx.execute(
            "DELETE FROM maturion_migrations.schema_migrations WHERE scope = $1 AND version = $2",
            &[&self.set.scope, &m.version.to_string()],
        )
        .await
        .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        Ok(AppliedMigration {
            version: m.version.clone(),
            name: m.name.clone(),
            execution_ms: started.elapsed().as_millis() as i64,
        })
    }

    fn session_setup(&self, local: bool) -> String {
        let scope = if local { "LOCAL " } else { "" };
        let mut sql = format!(
            "SET {scope}lock_timeout = '{}'; SET {scope}search_path = public;",
            self.options.lock_timeout.replace('\'', "''")
        );
        if let Some(module) = &self.options.module {
            sql.push_str(&format!(
                " SET {scope}{MODULE_SETTING} = '{}';",
                module.replace('\'', "''")
            ));
        }
        if let Some(role) = &self.options.owner_role {
            sql.push_str(&format!(
                " SET {scope}ROLE \"{}\";",
                role.replace('"', "\"\"")
            ));
        }
        sql
    }
}

async fn record(
    tx: &tokio_postgres::Transaction<'_>,
    scope: &str,
    m: &Migration,
    started: Instant,
) -> Result<(), tokio_postgres::Error> {
    tx.execute(
        "INSERT INTO maturion_migrations.schema_migrations \
         (scope, version, name, checksum, execution_ms) VALUES ($1, $2, $3, $4, $5)",
        &[
            &scope,
            &m.version.to_string(),
            &m.name,
            &m.checksum(),
            &(started.elapsed().as_millis() as i64),
        ],
    )
    .await?;
    Ok(())
}

fn lint(m: &Migration) -> Result<(), MigrateError> {
    let findings =
        maturion_lint::lint(&m.up, m.kind()).map_err(|source| MigrateError::Unparsable {
            version: m.version.clone(),
            name: m.name.clone(),
            source,
        })?;
    if findings.is_empty() {
        return Ok(());
    }
    let path = Path::new(&m.folder_name()).join("up.sql");
    Err(MigrateError::Lint {
        version: m.version.clone(),
        name: m.name.clone(),
        findings: findings
            .iter()
            .map(|f| f.render(&path))
            .collect::<Vec<_>>()
            .join("\n"),
    })
}

/// Takes the migration lock (waiting up to `wait` for another migrator to finish) and makes
/// sure the ledger table exists.
async fn lock(client: &Client, wait: Duration) -> Result<(), MigrateError> {
    if !crate::advisory::lock_session(client, MIGRATION_LOCK_KEY, wait).await? {
        return Err(MigrateError::Locked {
            holders: crate::advisory::lock_holders(client, MIGRATION_LOCK_KEY).await?,
            waited: wait,
        });
    }
    if let Err(e) = client.batch_execute(LEDGER_SQL).await {
        unlock(client).await?;
        return Err(e.into());
    }
    Ok(())
}

async fn unlock(client: &Client) -> Result<(), MigrateError> {
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
        .await?;
    Ok(())
}
