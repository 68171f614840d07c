//! What the periodic job does about the runtime roles where privileges cannot stop them:
//! defaults they store for their own sessions (`ALTER ROLE <self> SET …`, which PostgreSQL 15
//! lets every role do), and transactions they hold open, which keep their locks (a `LOCK
//! TABLE` stalls every tenant) and hold back the seal horizon and the rollups for everyone.

use std::time::Duration;

use tokio_postgres::Client;

/// The roles that run tenants' SQL.
const RUNTIME_ROLES: [&str; 2] = [maturion_schema::APP_ROLE, maturion_schema::READONLY_ROLE];

/// How the job treats the runtime roles' sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeGuard {
    /// A runtime-role transaction open longer than this has its session terminated; `None`
    /// leaves them all.
    pub max_transaction_age: Option<Duration>,
}

impl Default for RuntimeGuard {
    fn default() -> Self {
        RuntimeGuard {
            max_transaction_age: Some(Duration::from_secs(10 * 60)),
        }
    }
}

/// Defaults a runtime role had stored, now removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedSettings {
    pub role: String,
    /// `None` for the defaults of every database (`ALTER ROLE r SET`).
    pub database: Option<String>,
    /// `name=value`.
    pub settings: Vec<String>,
}

/// A runtime-role session whose transaction was open too long, now terminated.
#[derive(Debug, Clone, PartialEq)]
pub struct EndedTransaction {
    pub pid: i32,
    pub role: String,
    pub open_for: Duration,
}

/// Removes the defaults the runtime roles stored for their sessions, for every database and
/// for this one, and logs a warning for each: the connection pool sets the settings it needs
/// at connection start, so nothing of the platform's is lost. Needs an administrator (ALTER
/// ROLE on the runtime roles).
pub async fn remove_runtime_role_settings(
    client: &Client,
) -> Result<Vec<RemovedSettings>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT r.rolname::text AS role, d.datname::text AS database, s.setconfig AS settings,
                    format('ALTER ROLE %I%s RESET ALL', r.rolname,
                           CASE WHEN d.datname IS NULL THEN '' ELSE format(' IN DATABASE %I', d.datname) END)
                      AS reset
             FROM pg_db_role_setting s
             JOIN pg_roles r ON r.oid = s.setrole
             LEFT JOIN pg_database d ON d.oid = s.setdatabase
             WHERE r.rolname = ANY($1)
               AND (s.setdatabase = 0 OR d.datname = current_database())
             ORDER BY 1, 2 NULLS FIRST",
            &[&&RUNTIME_ROLES[..]],
        )
        .await?;
    let mut removed = Vec::with_capacity(rows.len());
    for row in rows {
        client.batch_execute(row.get("reset")).await?;
        let found = RemovedSettings {
            role: row.get("role"),
            database: row.get("database"),
            settings: row.get("settings"),
        };
        tracing::warn!(
            role = %found.role,
            database = ?found.database,
            settings = ?found.settings,
            "removed defaults a runtime role had stored for its sessions (ALTER ROLE … SET)"
        );
        removed.push(found);
    }
    Ok(removed)
}

/// Terminates the sessions of the runtime roles in this database whose transaction has been
/// open longer than `max_age`, and logs a warning for each. The caller must be allowed to
/// signal them: `maturion_maintenance` is (pg_signal_backend, pg_read_all_stats), as is a
/// superuser.
pub async fn end_long_transactions(
    client: &Client,
    max_age: Duration,
) -> Result<Vec<EndedTransaction>, tokio_postgres::Error> {
    let rows = client
        .query(
            // Chosen first, signalled after: in one WHERE the planner could order the
            // terminating call before the conditions that pick the sessions.
            "WITH stuck AS MATERIALIZED (
               SELECT pid, usename::text AS role,
                      extract(epoch FROM clock_timestamp() - xact_start)::float8 AS open_for
               FROM pg_stat_activity
               WHERE usename = ANY($1) AND datname = current_database() AND pid <> pg_backend_pid()
                 AND xact_start < clock_timestamp() - make_interval(secs => $2)
             )
             SELECT pid, role, open_for, pg_terminate_backend(pid) AS ended FROM stuck",
            &[&&RUNTIME_ROLES[..], &max_age.as_secs_f64()],
        )
        .await?;
    Ok(rows
        .iter()
        .filter(|row| row.get::<_, bool>("ended"))
        .map(|row| {
            let ended = EndedTransaction {
                pid: row.get("pid"),
                role: row.get("role"),
                open_for: Duration::from_secs_f64(row.get::<_, f64>("open_for").max(0.0)),
            };
            tracing::warn!(
                pid = ended.pid,
                role = %ended.role,
                open_for_seconds = ended.open_for.as_secs(),
                "terminated a runtime-role session whose transaction was open too long"
            );
            ended
        })
        .collect())
}
