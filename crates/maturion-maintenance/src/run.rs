//! Running a plan: each step is one transaction, under a session advisory lock.

use std::fmt;

use chrono::{DateTime, Utc};
use maturion_migrate::advisory::{lock_holders, lock_session};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Transaction};
use tracing::{info, warn};

use crate::error::Context;
use crate::hold::{LegalHold, COLUMNS};
use crate::month::literal;
use crate::plan::{self, quote_ident, SESSION};
use crate::rollup::{self, RefreshStats};
use crate::{Fix, Log, MaintenanceError, Month, Plan, Policy, Step};

/// Session advisory lock held for a whole run ("Maturion" in ASCII).
const RUN_LOCK: i64 = 0x4d61_7475_7269_6f6e;

/// What a run did (or, in a dry run, would do).
#[derive(Debug, Clone)]
pub struct Report {
    pub now: DateTime<Utc>,
    pub dry_run: bool,
    pub planned: Vec<Step>,
    pub outcomes: Vec<Outcome>,
    pub notes: Vec<String>,
}

/// One change made by a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Created {
        partition: String,
    },
    /// A new partition filled with the rows the default partition held for its month.
    Moved {
        partition: String,
        rows: u64,
    },
    Hardened {
        partition: String,
        fixes: Vec<Fix>,
    },
    /// Expired, but kept: organisations with rows in it are under these legal holds.
    Held {
        partition: String,
        holds: Vec<LegalHold>,
    },
    /// `through_audit_function`: dropped by `maturion.drop_audit_partition`, which seals and
    /// records the removal.
    Dropped {
        partition: String,
        through_audit_function: bool,
    },
    Refreshed(RefreshStats),
    /// Not done this time (the next run plans it again).
    Skipped {
        step: Step,
        reason: String,
    },
}

/// Reported to the caller of [`maintain_logs_with_progress`] as the run goes.
#[derive(Debug)]
pub enum Progress<'a> {
    Planned(&'a Plan),
    Applied {
        step: &'a Step,
        outcomes: &'a [Outcome],
    },
}

/// Runs the maintenance job on the database `client` (an administrator) is connected to.
pub async fn maintain_logs(
    client: &mut Client,
    policy: &Policy,
) -> Result<Report, MaintenanceError> {
    maintain_logs_with_progress(client, policy, |_| {}).await
}

/// [`maintain_logs`], calling `on_progress` once the plan is made and after every step.
pub async fn maintain_logs_with_progress(
    client: &mut Client,
    policy: &Policy,
    mut on_progress: impl FnMut(Progress<'_>),
) -> Result<Report, MaintenanceError> {
    policy.validate()?;
    let locked = lock_session(client, RUN_LOCK, policy.lock_wait)
        .await
        .context("cannot take the maintenance lock")?;
    if !locked {
        return Err(MaintenanceError::Busy {
            holders: lock_holders(client, RUN_LOCK)
                .await
                .context("cannot tell who holds the maintenance lock")?,
            waited: policy.lock_wait,
        });
    }
    let result = run(client, policy, &mut on_progress).await;
    if let Err(error) = client
        .execute("SELECT pg_advisory_unlock($1)", &[&RUN_LOCK])
        .await
    {
        // The lock goes with the session; a broken connection releases it anyway.
        warn!(%error, "cannot release the maintenance lock");
    }
    result
}

async fn run(
    client: &mut Client,
    policy: &Policy,
    on_progress: &mut impl FnMut(Progress<'_>),
) -> Result<Report, MaintenanceError> {
    let plan = plan::plan(client, policy).await?;
    on_progress(Progress::Planned(&plan));
    let mut report = Report {
        now: plan.now,
        dry_run: policy.dry_run,
        planned: plan.steps.clone(),
        outcomes: Vec::new(),
        notes: plan.notes.clone(),
    };
    if policy.dry_run {
        return Ok(report);
    }
    for step in &plan.steps {
        let outcomes = match apply(client, step, policy).await {
            Ok(outcomes) => outcomes,
            // A long transaction on the log holds a lock the DDL needs: leave this step to the
            // next run rather than queue every reader and writer of the log behind it.
            Err(error) if error.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => {
                warn!(%step, %error, "step skipped");
                vec![Outcome::Skipped {
                    step: step.clone(),
                    reason: format!(
                        "a lock was not granted within {} ms",
                        policy.lock_timeout.as_millis()
                    ),
                }]
            }
            Err(error) => return Err(error),
        };
        for outcome in &outcomes {
            info!(%outcome, "maintenance");
        }
        on_progress(Progress::Applied {
            step,
            outcomes: &outcomes,
        });
        report.outcomes.extend(outcomes);
    }
    Ok(report)
}

async fn apply(
    client: &mut Client,
    step: &Step,
    policy: &Policy,
) -> Result<Vec<Outcome>, MaintenanceError> {
    match step {
        Step::CreatePartition { log, month } => {
            create_partition(client, *log, *month, policy).await
        }
        Step::MoveFromDefault { log, months } => {
            let months: Vec<Month> = months.iter().map(|(month, _)| *month).collect();
            move_from_default(client, *log, &months, policy).await
        }
        Step::Harden {
            log,
            partition,
            fixes,
        } => harden(client, *log, partition, fixes, policy).await,
        Step::DropPartition { log, month } => drop_partition(client, *log, *month, policy).await,
        Step::RefreshRollups { log, keep_from, .. } => Ok(vec![Outcome::Refreshed(
            rollup::refresh(client, *log, *keep_from).await?,
        )]),
    }
}

/// A transaction as the owner of the logs, which partition DDL needs.
async fn owner_transaction<'a>(
    client: &'a mut Client,
    policy: &Policy,
) -> Result<Transaction<'a>, MaintenanceError> {
    let tx = client
        .transaction()
        .await
        .context("cannot begin a maintenance transaction")?;
    tx.batch_execute(&format!(
        "SET LOCAL ROLE {owner}; SET LOCAL lock_timeout = '{timeout}ms'; {SESSION}",
        owner = maturion_schema::OWNER_ROLE,
        timeout = policy.lock_timeout.as_millis(),
    ))
    .await
    .context(format!("cannot act as {}", maturion_schema::OWNER_ROLE))?;
    Ok(tx)
}

fn qualified(name: &str) -> String {
    format!("public.{}", quote_ident(name))
}

async fn create_partition(
    client: &mut Client,
    log: Log,
    month: Month,
    policy: &Policy,
) -> Result<Vec<Outcome>, MaintenanceError> {
    let partition = month.partition_name(log);
    let tx = owner_transaction(client, policy).await?;
    // PostgreSQL checks that the default partition holds no row of the new range.
    let created = tx
        .batch_execute(&format!(
            "CREATE TABLE {} PARTITION OF public.{log} {}",
            qualified(&partition),
            month.bound_expression()
        ))
        .await;
    match created {
        Ok(()) => {
            secure_new_partition(&tx, log, &partition).await?;
            tx.commit()
                .await
                .context(format!("cannot commit the creation of {partition}"))?;
            Ok(vec![Outcome::Created { partition }])
        }
        // Rows of that month reached the default partition after planning: move them instead.
        Err(error) if error.code() == Some(&SqlState::CHECK_VIOLATION) => {
            tx.rollback().await.context("cannot roll back")?;
            info!(%partition, "rows arrived in the default partition; moving them");
            move_from_default(client, log, &[month], policy).await
        }
        Err(error) => Err(error).context(format!("cannot create {partition}")),
    }
}

/// New monthly partitions for rows held by the default partition, in one transaction:
/// detach the default, create each month's table, fill it with that month's rows, attach
/// it, delete the moved rows from the detached default, attach the default again. Writers
/// wait on the lock for that time rather than fail; readers never see a row twice or not at all.
///
/// The new table is filled before it is attached, so no trigger of the log fires for moved
/// rows (they were written once already), and its foreign keys are added first so that
/// attaching does not re-validate them with a query the owner's forced RLS would blind.
async fn move_from_default(
    client: &mut Client,
    log: Log,
    months: &[Month],
    policy: &Policy,
) -> Result<Vec<Outcome>, MaintenanceError> {
    let tx = owner_transaction(client, policy).await?;
    let parent = format!("public.{log}");
    let audit_trail = log == Log::Audit
        && function_exists(&tx, "maturion.protect_audit_partition(regclass)").await?;
    if audit_trail {
        take_back_move_privileges(&tx, &parent).await?;
    }
    tx.batch_execute(&format!("LOCK TABLE {parent} IN ACCESS EXCLUSIVE MODE"))
        .await
        .context(format!(
            "cannot lock {log} to move rows out of its default partition"
        ))?;
    let source = MoveSource::read(&tx, log, parent).await?;
    let (parent, default) = (&source.parent, &source.default);

    tx.batch_execute(&format!("ALTER TABLE {parent} DETACH PARTITION {default}"))
        .await
        .context(format!("cannot detach {default}"))?;
    let mut outcomes = Vec::new();
    for month in months {
        outcomes.push(move_month(&tx, log, *month, &source).await?);
    }
    // Validates that the default holds no row of any partition (a scan of what is left).
    tx.batch_execute(&format!(
        "ALTER TABLE {parent} ATTACH PARTITION {default} DEFAULT"
    ))
    .await
    .context(format!("cannot attach {default} again"))?;
    // With the default attached again: the new partitions take its storage parameters.
    for outcome in &outcomes {
        if let Outcome::Moved { partition, .. } = outcome {
            secure_new_partition(&tx, log, partition).await?;
        }
    }
    if audit_trail {
        give_up_move_privileges(&tx, &source).await?;
    }
    tx.commit()
        .await
        .context(format!("cannot commit the move out of {default}"))?;
    Ok(outcomes)
}

/// The owner gave up these privileges on audit_log and its partitions (audit trail): take them
/// back for this transaction only; [`give_up_move_privileges`] gives them up again before it
/// commits.
async fn take_back_move_privileges(
    tx: &Transaction<'_>,
    parent: &str,
) -> Result<(), MaintenanceError> {
    tx.batch_execute(&format!(
        "GRANT UPDATE, DELETE, TRUNCATE ON {parent} TO {owner}; \
         DO $grant$ DECLARE p regclass; BEGIN \
           FOR p IN SELECT inhrelid FROM pg_inherits WHERE inhparent = '{parent}'::regclass LOOP \
             EXECUTE format('GRANT DELETE ON %s TO {owner}', p); END LOOP; END $grant$;",
        owner = maturion_schema::OWNER_ROLE
    ))
    .await
    .context("cannot take back the privileges a move needs")
}

/// Protects the default partition again, and revokes what [`take_back_move_privileges`]
/// granted on the log.
async fn give_up_move_privileges(
    tx: &Transaction<'_>,
    source: &MoveSource,
) -> Result<(), MaintenanceError> {
    let (parent, default) = (&source.parent, &source.default);
    tx.execute(
        "SELECT maturion.protect_audit_partition($1::text::regclass)",
        &[default],
    )
    .await
    .context(format!(
        "maturion.protect_audit_partition refused {default}"
    ))?;
    tx.batch_execute(&format!(
        "REVOKE UPDATE, DELETE, TRUNCATE ON {parent} FROM {owner}",
        owner = maturion_schema::OWNER_ROLE
    ))
    .await
    .context("cannot give the move's privileges up again")
}

/// The log rows move out of: its default partition, and what a new partition copies from it.
struct MoveSource {
    /// `public.<log>`.
    parent: String,
    /// The default partition, qualified.
    default: String,
    /// The log's columns, quoted, comma-separated.
    columns: String,
    /// The log's foreign keys: name and definition.
    foreign_keys: Vec<(String, String)>,
}

impl MoveSource {
    async fn read(
        tx: &Transaction<'_>,
        log: Log,
        parent: String,
    ) -> Result<Self, MaintenanceError> {
        let default: String = tx
            .query_one(
                "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
                 WHERE i.inhparent = $1::text::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'",
                &[&parent],
            )
            .await
            .context(format!("cannot find the default partition of {log}"))?
            .get(0);
        let columns: String = tx
            .query_one(
                "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute \
                 WHERE attrelid = $1::text::regclass AND attnum > 0 AND NOT attisdropped",
                &[&parent],
            )
            .await
            .context(format!("cannot read the columns of {log}"))?
            .get(0);
        let foreign_keys = tx
            .query(
                "SELECT conname::text, pg_get_constraintdef(oid) FROM pg_constraint \
                 WHERE conrelid = $1::text::regclass AND contype = 'f' ORDER BY conname",
                &[&parent],
            )
            .await
            .context(format!("cannot read the foreign keys of {log}"))?
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        Ok(MoveSource {
            parent,
            default: qualified(&default),
            columns,
            foreign_keys,
        })
    }
}

/// Creates `month`'s partition, fills it with the month's rows of the detached default,
/// attaches it and deletes those rows from the default.
async fn move_month(
    tx: &Transaction<'_>,
    log: Log,
    month: Month,
    source: &MoveSource,
) -> Result<Outcome, MaintenanceError> {
    let MoveSource {
        parent,
        default,
        columns,
        ..
    } = source;
    let name = month.partition_name(log);
    let partition = qualified(&name);
    let range = format!(
        "\"timestamp\" >= {} AND \"timestamp\" < {}",
        literal(month.start()),
        literal(month.end())
    );
    tx.batch_execute(&create_like_parent(&partition, source))
        .await
        .context(format!("cannot create {name}"))?;
    let copied = tx
        .execute(
            &format!(
                "INSERT INTO {partition} ({columns}) SELECT {columns} FROM {default} WHERE {range}"
            ),
            &[],
        )
        .await
        .context(format!("cannot copy rows into {name}"))?;
    tx.batch_execute(&format!(
        "ALTER TABLE {parent} ATTACH PARTITION {partition} {}",
        month.bound_expression()
    ))
    .await
    .context(format!("cannot attach {name}"))?;
    let deleted = tx
        .execute(&format!("DELETE FROM {default} WHERE {range}"), &[])
        .await
        .context(format!("cannot remove the moved rows from {default}"))?;
    if deleted != copied {
        return Err(MaintenanceError::Inconsistent(format!(
            "copied {copied} rows into {name} but removed {deleted} from {default}; nothing was changed"
        )));
    }
    Ok(Outcome::Moved {
        partition: name,
        rows: copied,
    })
}

/// A table like the log, with the log's foreign keys, to be attached as a partition.
fn create_like_parent(partition: &str, source: &MoveSource) -> String {
    let parent = &source.parent;
    let mut ddl = format!(
        "CREATE TABLE {partition} (LIKE {parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS \
         INCLUDING STORAGE INCLUDING COMPRESSION);"
    );
    for (constraint, definition) in &source.foreign_keys {
        ddl.push_str(&format!(
            " ALTER TABLE {partition} ADD CONSTRAINT {} {definition};",
            quote_ident(constraint)
        ));
    }
    ddl
}

/// A new partition is reachable only through its parent: no grant (a partition is a table of
/// its own for privileges and RLS), RLS enabled without a policy in case one is ever given,
/// lz4 for its JSONB column, the storage parameters of the log's default partition (what the
/// crate that owns the log set there), and, for audit_log, the audit crate's protection when
/// installed.
async fn secure_new_partition(
    tx: &Transaction<'_>,
    log: Log,
    name: &str,
) -> Result<(), MaintenanceError> {
    let partition = qualified(name);
    tx.batch_execute(&format!(
        "REVOKE ALL ON {partition} FROM PUBLIC, {app}, {readonly}, {maintenance}; \
         ALTER TABLE {partition} ENABLE ROW LEVEL SECURITY; \
         ALTER TABLE {partition} ALTER COLUMN {column} SET COMPRESSION lz4;",
        app = maturion_schema::APP_ROLE,
        readonly = maturion_schema::READONLY_ROLE,
        maintenance = maturion_schema::MAINTENANCE_ROLE,
        column = quote_ident(log.json_column()),
    ))
    .await
    .context(format!("cannot secure {name}"))?;
    if let Some(sql) = storage_of_default(tx, log, &partition).await? {
        tx.batch_execute(&sql)
            .await
            .context(format!("cannot set the storage parameters of {name}"))?;
    }
    if log == Log::Audit
        && function_exists(tx, "maturion.protect_audit_partition(regclass)").await?
    {
        tx.execute(
            "SELECT maturion.protect_audit_partition($1::text::regclass)",
            &[&partition],
        )
        .await
        .context(format!("maturion.protect_audit_partition refused {name}"))?;
    }
    Ok(())
}

/// `ALTER TABLE partition SET (…)` with the storage parameters of the log's default
/// partition, or None when it has none.
async fn storage_of_default(
    tx: &Transaction<'_>,
    log: Log,
    partition: &str,
) -> Result<Option<String>, MaintenanceError> {
    let options: Option<String> = tx
        .query_one(
            "SELECT string_agg(format('%I = %L', split_part(o, '=', 1), substr(o, strpos(o, '=') + 1)), ', ') \
             FROM pg_inherits i JOIN pg_class d ON d.oid = i.inhrelid, unnest(d.reloptions) o \
             WHERE i.inhparent = format('public.%I', $1::text)::regclass \
               AND pg_get_expr(d.relpartbound, d.oid) = 'DEFAULT'",
            &[&log.table()],
        )
        .await
        .context(format!("cannot read the storage parameters of the default partition of {log}"))?
        .get(0);
    Ok(options.map(|options| format!("ALTER TABLE {partition} SET ({options})")))
}

/// Functions of the audit and event crates, called when their migrations are applied.
async fn function_exists(tx: &Transaction<'_>, signature: &str) -> Result<bool, MaintenanceError> {
    Ok(tx
        .query_one("SELECT to_regprocedure($1) IS NOT NULL", &[&signature])
        .await
        .context(format!("cannot look for {signature}"))?
        .get(0))
}

async fn harden(
    client: &mut Client,
    log: Log,
    name: &str,
    fixes: &[Fix],
    policy: &Policy,
) -> Result<Vec<Outcome>, MaintenanceError> {
    let tx = owner_transaction(client, policy).await?;
    let partition = qualified(name);
    for fix in fixes {
        let sql = match fix {
            Fix::RevokeGrants => {
                // Revoking a table privilege also revokes it from every column.
                let grantees: Vec<String> = tx
                    .query(
                        "SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END \
                         FROM pg_class c \
                         CROSS JOIN LATERAL (
                           SELECT (aclexplode(c.relacl)).grantee
                           UNION ALL
                           SELECT (aclexplode(col.attacl)).grantee FROM pg_attribute col
                           WHERE col.attrelid = c.oid AND col.attacl IS NOT NULL
                         ) a \
                         LEFT JOIN pg_roles r ON r.oid = a.grantee \
                         WHERE c.oid = $1::text::regclass AND a.grantee <> c.relowner",
                        &[&partition],
                    )
                    .await
                    .context(format!("cannot read the grants on {name}"))?
                    .iter()
                    .map(|row| row.get(0))
                    .collect();
                if grantees.is_empty() {
                    continue;
                }
                format!("REVOKE ALL ON {partition} FROM {}", grantees.join(", "))
            }
            Fix::EnableRowSecurity => format!("ALTER TABLE {partition} ENABLE ROW LEVEL SECURITY"),
            Fix::Lz4Compression => format!(
                "ALTER TABLE {partition} ALTER COLUMN {} SET COMPRESSION lz4",
                quote_ident(log.json_column())
            ),
            Fix::StorageParameters => match storage_of_default(&tx, log, &partition).await? {
                Some(sql) => sql,
                None => continue,
            },
        };
        tx.batch_execute(&sql)
            .await
            .context(format!("cannot {fix} on {name}"))?;
    }
    tx.commit()
        .await
        .context(format!("cannot commit the fixes to {name}"))?;
    Ok(vec![Outcome::Hardened {
        partition: name.to_owned(),
        fixes: fixes.to_vec(),
    }])
}

async fn drop_partition(
    client: &mut Client,
    log: Log,
    month: Month,
    policy: &Policy,
) -> Result<Vec<Outcome>, MaintenanceError> {
    let name = month.partition_name(log);
    let partition = qualified(&name);
    let tx = owner_transaction(client, policy).await?;
    let present: bool = tx
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&partition])
        .await
        .context(format!("cannot look for {name}"))?
        .get(0);
    if !present {
        // Its move was skipped earlier in this run.
        return Ok(vec![Outcome::Skipped {
            step: Step::DropPartition { log, month },
            reason: format!("{name} does not exist"),
        }]);
    }
    let holds = legal_holds_on(&tx, &name, &partition).await?;
    if !holds.is_empty() {
        warn!(partition = %name, holds = holds.len(), "expired partition kept for legal holds");
        return Ok(vec![Outcome::Held {
            partition: name,
            holds,
        }]);
    }
    let through_audit_function = log == Log::Audit
        && function_exists(&tx, "maturion.drop_audit_partition(regclass)").await?;
    if through_audit_function {
        drop_through_audit_function(&tx, &name, &partition).await?;
    } else {
        tx.batch_execute(&format!("DROP TABLE {partition}"))
            .await
            .context(format!("cannot drop {name}"))?;
    }
    if log == Log::Event {
        forget_commit_records(&tx, month, &name).await?;
    }
    tx.commit()
        .await
        .context(format!("cannot commit the removal of {name}"))?;
    Ok(vec![Outcome::Dropped {
        partition: name,
        through_audit_function,
    }])
}

/// The legal holds that keep the partition; none when the legal-hold migration is not applied.
async fn legal_holds_on(
    tx: &Transaction<'_>,
    name: &str,
    partition: &str,
) -> Result<Vec<LegalHold>, MaintenanceError> {
    if !function_exists(tx, "maturion.legal_holds_on(regclass)").await? {
        return Ok(Vec::new());
    }
    Ok(tx
        .query(
            &format!("SELECT {COLUMNS} FROM maturion.legal_holds_on($1::text::regclass)"),
            &[&partition],
        )
        .await
        .context(format!("cannot look for legal holds on {name}"))?
        .iter()
        .map(LegalHold::from_row)
        .collect())
}

/// Drops an audit_log partition with `maturion.drop_audit_partition`, which seals and records
/// the removal.
async fn drop_through_audit_function(
    tx: &Transaction<'_>,
    name: &str,
    partition: &str,
) -> Result<(), MaintenanceError> {
    // Sealing reads every organisation's rows: as the BYPASSRLS maintenance role.
    tx.batch_execute(&format!(
        "SET LOCAL ROLE {}",
        maturion_schema::MAINTENANCE_ROLE
    ))
    .await
    .context("cannot act as the maintenance role")?;
    tx.execute(
        "SELECT maturion.drop_audit_partition($1::text::regclass)",
        &[&partition],
    )
    .await
    .context(format!("maturion.drop_audit_partition refused {name}"))?;
    let gone: bool = tx
        .query_one("SELECT to_regclass($1) IS NULL", &[&partition])
        .await
        .context(format!("cannot check that {name} is gone"))?
        .get(0);
    if !gone {
        return Err(MaintenanceError::Inconsistent(format!(
            "maturion.drop_audit_partition({name}) returned but the partition still exists"
        )));
    }
    Ok(())
}

/// The bus orders events by their commit records; those of events gone with the month are no
/// longer needed once every cursor is past them. Nothing to do before the bus is installed.
async fn forget_commit_records(
    tx: &Transaction<'_>,
    month: Month,
    name: &str,
) -> Result<(), MaintenanceError> {
    if !function_exists(tx, "maturion.event_prune_commits(timestamptz)").await? {
        return Ok(());
    }
    let pruned: i64 = tx
        .query_one("SELECT maturion.event_prune_commits($1)", &[&month.end()])
        .await
        .context(format!("cannot forget the commit records of {name}"))?
        .get(0);
    info!(partition = %name, pruned, "commit records of dropped events forgotten");
    Ok(())
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Created { partition } => write!(f, "created {partition}"),
            Outcome::Moved { partition, rows } => {
                write!(
                    f,
                    "created {partition} and moved {rows} rows into it from the default partition"
                )
            }
            Outcome::Hardened { partition, fixes } => {
                let list: Vec<String> = fixes.iter().map(ToString::to_string).collect();
                write!(f, "fixed {partition}: {}", list.join(", "))
            }
            Outcome::Dropped {
                partition,
                through_audit_function: true,
            } => {
                write!(f, "dropped {partition} (expired; sealed and recorded by maturion.drop_audit_partition)")
            }
            Outcome::Dropped {
                partition,
                through_audit_function: false,
            } => write!(f, "dropped {partition} (expired)"),
            Outcome::Held { partition, holds } => {
                let list: Vec<String> = holds
                    .iter()
                    .map(|h| {
                        format!(
                            "{} on organisation {} ({})",
                            h.id, h.organisation_id, h.reason
                        )
                    })
                    .collect();
                write!(
                    f,
                    "kept {partition} past its retention: legal hold {}",
                    list.join("; ")
                )
            }
            Outcome::Refreshed(stats) => write!(f, "{stats}"),
            Outcome::Skipped { step, reason } => {
                write!(f, "skipped: {step} ({reason}; the next run tries again)")
            }
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dry_run {
            writeln!(
                f,
                "dry run at {}: would",
                self.now.format("%Y-%m-%d %H:%M:%S UTC")
            )?;
            for step in &self.planned {
                writeln!(f, "  {step}")?;
            }
        } else {
            writeln!(
                f,
                "maintenance at {}:",
                self.now.format("%Y-%m-%d %H:%M:%S UTC")
            )?;
            for outcome in &self.outcomes {
                writeln!(f, "  {outcome}")?;
            }
        }
        for note in &self.notes {
            writeln!(f, "  note: {note}")?;
        }
        Ok(())
    }
}
