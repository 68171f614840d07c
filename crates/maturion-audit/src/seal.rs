//! The sealer: `maturion.seal_audit_log()` does the work inside the database (no row leaves
//! it); this is the call the CLI, the maintenance job and the server make.

use std::time::Duration;

use serde::Serialize;
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use crate::{AuditError, DEFAULT_SEAL_ROWS};

/// One seal made by a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SealMade {
    pub seq: i64,
    /// Transaction ids covered: `[xid_from, xid_to)`.
    pub xid_from: i64,
    pub xid_to: i64,
    pub rows: i64,
    /// Hex.
    pub digest: String,
}

/// The newest seal: what an operator may copy elsewhere (an external anchor) so that even a
/// rewrite of the whole chain by a superuser would show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainHead {
    pub seq: i64,
    pub xid_to: i64,
    /// Hex.
    pub digest: String,
    /// RFC 3339.
    pub sealed_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SealReport {
    pub seals: Vec<SealMade>,
    pub rows: i64,
    pub head: Option<ChainHead>,
    /// Audit rows left unsealed: written by transactions still running, or committed after
    /// one that still runs (the horizon waits for it).
    pub pending_rows: i64,
}

/// Seals every audit row of ended transactions not sealed yet, in seals of about
/// [`DEFAULT_SEAL_ROWS`] rows. `client` must read every organisation's rows: a superuser, or
/// a session that did `SET ROLE maturion_maintenance`.
pub async fn seal(client: &Client) -> Result<SealReport, AuditError> {
    seal_with(client, DEFAULT_SEAL_ROWS).await
}

/// How long a sealer waits for another one's lock by default.
pub const DEFAULT_SEAL_WAIT: Duration = Duration::from_secs(30);

/// [`seal`] with another target size per seal.
pub async fn seal_with(client: &Client, max_rows: i32) -> Result<SealReport, AuditError> {
    seal_within(client, max_rows, DEFAULT_SEAL_WAIT).await
}

/// [`seal_with`], waiting at most `wait` for another sealer's lock (and any other lock the
/// seal needs) before giving up with who holds it. The seal is a transaction of its own:
/// `client` must not be inside one.
pub async fn seal_within(
    client: &Client,
    max_rows: i32,
    wait: Duration,
) -> Result<SealReport, AuditError> {
    require_bypass(client, "the sealer").await?;
    client
        .batch_execute(&format!(
            "BEGIN; SET LOCAL lock_timeout = '{}ms'",
            wait.as_millis().clamp(1, i32::MAX as u128)
        ))
        .await?;
    let rows = match client
        .query("SELECT * FROM maturion.seal_audit_log($1)", &[&max_rows])
        .await
    {
        Ok(rows) => {
            client.batch_execute("COMMIT").await?;
            rows
        }
        Err(error) => {
            client.batch_execute("ROLLBACK").await?;
            return Err(seal_refused(client, error, wait).await);
        }
    };
    let seals: Vec<SealMade> = rows
        .iter()
        .map(|row| SealMade {
            seq: row.get(0),
            xid_from: row.get(1),
            xid_to: row.get(2),
            rows: row.get(3),
            digest: hex::encode(row.get::<_, Vec<u8>>(4)),
        })
        .collect();
    let sealed = seals.iter().map(|s| s.rows).sum();
    let head = head(client).await?;
    let pending_rows: i64 = client
        .query_one(
            "SELECT count(*) FROM public.audit_log WHERE transaction_id >= $1",
            &[&head.as_ref().map_or(0, |h| h.xid_to)],
        )
        .await?
        .get(0);
    tracing::info!(
        seals = seals.len(),
        rows = sealed,
        pending_rows,
        "sealed audit rows"
    );
    Ok(SealReport {
        seals,
        rows: sealed,
        head,
        pending_rows,
    })
}

pub(crate) async fn head(client: &Client) -> Result<Option<ChainHead>, AuditError> {
    let row = client
        .query_opt(
            "SELECT seq, xid_to, digest, sealed_at FROM maturion.audit_seals ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .await
        .map_err(not_installed)?;
    Ok(row.map(|row| ChainHead {
        seq: row.get(0),
        xid_to: row.get(1),
        digest: hex::encode(row.get::<_, Vec<u8>>(2)),
        sealed_at: row
            .get::<_, chrono::DateTime<chrono::Utc>>(3)
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    }))
}

/// Under RLS the sealer and the verifier would see only one organisation (or nothing) and
/// report nonsense; refuse instead.
pub(crate) async fn require_bypass(client: &Client, what: &str) -> Result<(), AuditError> {
    let bypass: bool = client
        .query_one(
            "SELECT rolsuper OR rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = current_user",
            &[],
        )
        .await?
        .get(0);
    if bypass {
        Ok(())
    } else {
        let user: String = client
            .query_one("SELECT current_user::text", &[])
            .await?
            .get(0);
        Err(AuditError::NotPrivileged(format!(
            "{what} (running as {user})"
        )))
    }
}

/// A seal that timed out on its lock names who holds it.
async fn seal_refused(
    client: &Client,
    error: tokio_postgres::Error,
    waited: Duration,
) -> AuditError {
    if error.code() != Some(&SqlState::LOCK_NOT_AVAILABLE) {
        return not_installed(error);
    }
    let holders = match client
        .query_one("SELECT hashtext('maturion.audit_seals')::bigint", &[])
        .await
    {
        Ok(row) => maturion_migrate::advisory::lock_holders(client, row.get(0)).await,
        Err(error) => Err(error),
    };
    match holders {
        Ok(holders) => AuditError::SealBusy { holders, waited },
        Err(error) => AuditError::Database(error),
    }
}

pub(crate) fn not_installed(error: tokio_postgres::Error) -> AuditError {
    match error.code() {
        Some(code)
            if *code == SqlState::UNDEFINED_TABLE || *code == SqlState::UNDEFINED_FUNCTION =>
        {
            AuditError::NotInstalled(
                error
                    .as_db_error()
                    .map_or_else(|| error.to_string(), |e| e.message().to_owned()),
            )
        }
        _ => AuditError::Database(error),
    }
}
