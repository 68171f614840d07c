//! The periodic job of the whole platform: the logs' upkeep (maturion-maintenance), then the
//! sealing of every audit row written so far (maturion-audit). `maturion maintain` runs it;
//! the long-running server will run it on a schedule.

use maturion_audit::{AuditError, SealReport};
use maturion_maintenance::{MaintenanceError, Policy, Progress, Report};
use tokio_postgres::Client;

use crate::runtime_guard::{self, EndedTransaction, RemovedSettings, RuntimeGuard};

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error(transparent)]
    Maintenance(#[from] MaintenanceError),
    #[error("the partitions are maintained, but sealing failed: {0}")]
    Seal(#[from] AuditError),
    #[error("database error: {0}")]
    Database(#[from] tokio_postgres::Error),
    #[error(
        "cannot remove the runtime roles' stored settings or end their long transactions: {0}"
    )]
    RuntimeGuard(#[source] tokio_postgres::Error),
}

/// Sealing and verifying read every organisation's rows: the administrator's session becomes
/// the maintenance role (BYPASSRLS) when it may, else goes on as itself (a superuser reads
/// them anyway; anyone else is refused by the audit crate).
pub async fn become_maintenance(client: &Client) {
    if let Err(error) = client
        .batch_execute(&format!("SET ROLE {}", maturion_schema::MAINTENANCE_ROLE))
        .await
    {
        tracing::warn!(%error, "cannot SET ROLE maturion_maintenance; going on as the administrator");
    }
}

/// What one run of [`maintain`] did.
#[derive(Debug)]
pub struct MaintenanceRun {
    /// Settings the runtime roles had stored for themselves, removed; empty in a dry run.
    pub removed_settings: Vec<RemovedSettings>,
    /// Runtime-role sessions terminated for a transaction open too long; empty in a dry run.
    pub ended_transactions: Vec<EndedTransaction>,
    pub maintenance: Report,
    /// None in a dry run.
    pub seal: Option<SealReport>,
}

/// First guards the runtime roles (removes the settings they stored for themselves, ends
/// their transactions open longer than `guard` allows), then maintains the partitioned logs,
/// then seals the audit rows of every ended transaction, on the database `client` (an
/// administrator) is connected to. Ending stuck transactions first frees the locks the
/// partition work needs and the horizon the seal waits for. Sealing after the partition work
/// means rows the run moved are sealed where they now are; partitions it dropped were sealed
/// by `maturion.drop_audit_partition` before they went.
pub async fn maintain(
    client: &mut Client,
    policy: &Policy,
    guard: &RuntimeGuard,
    on_progress: impl FnMut(Progress<'_>),
) -> Result<MaintenanceRun, PlatformError> {
    let (removed_settings, ended_transactions) = if policy.dry_run {
        (Vec::new(), Vec::new())
    } else {
        guard_runtime_roles(client, guard).await?
    };
    let maintenance =
        maturion_maintenance::maintain_logs_with_progress(client, policy, on_progress).await?;
    let mut run = MaintenanceRun {
        removed_settings,
        ended_transactions,
        maintenance,
        seal: None,
    };
    if policy.dry_run {
        return Ok(run);
    }
    become_maintenance(client).await;
    let sealed =
        maturion_audit::seal_within(client, maturion_audit::DEFAULT_SEAL_ROWS, policy.lock_wait)
            .await;
    client.batch_execute("RESET ROLE").await?;
    run.seal = Some(sealed?);
    Ok(run)
}

/// Settings are removed as the administrator (ALTER ROLE), sessions ended as the maintenance
/// role (pg_signal_backend).
async fn guard_runtime_roles(
    client: &Client,
    guard: &RuntimeGuard,
) -> Result<(Vec<RemovedSettings>, Vec<EndedTransaction>), PlatformError> {
    let removed = runtime_guard::remove_runtime_role_settings(client)
        .await
        .map_err(PlatformError::RuntimeGuard)?;
    let Some(max_age) = guard.max_transaction_age else {
        return Ok((removed, Vec::new()));
    };
    become_maintenance(client).await;
    let ended = runtime_guard::end_long_transactions(client, max_age).await;
    client.batch_execute("RESET ROLE").await?;
    Ok((removed, ended.map_err(PlatformError::RuntimeGuard)?))
}
