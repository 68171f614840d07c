//! The periodic job of the whole platform: the logs' upkeep (maturion-maintenance), then the
//! sealing of every audit row written so far (maturion-audit). `maturion maintain` runs it;
//! the long-running server will run it on a schedule.

use maturion_audit::{AuditError, SealReport};
use maturion_maintenance::{MaintenanceError, Policy, Progress, Report};
use tokio_postgres::Client;

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error(transparent)]
    Maintenance(#[from] MaintenanceError),
    #[error("the partitions are maintained, but sealing failed: {0}")]
    Seal(#[from] AuditError),
    #[error("database error: {0}")]
    Database(#[from] tokio_postgres::Error),
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
    pub maintenance: Report,
    /// None in a dry run.
    pub seal: Option<SealReport>,
}

/// Maintains the partitioned logs, then seals the audit rows of every ended transaction, on
/// the database `client` (an administrator) is connected to. Sealing after the partition work
/// means rows the run moved are sealed where they now are; partitions it dropped were sealed
/// by `maturion.drop_audit_partition` before they went.
pub async fn maintain(
    client: &mut Client,
    policy: &Policy,
    on_progress: impl FnMut(Progress<'_>),
) -> Result<MaintenanceRun, PlatformError> {
    let maintenance =
        maturion_maintenance::maintain_logs_with_progress(client, policy, on_progress).await?;
    if policy.dry_run {
        return Ok(MaintenanceRun {
            maintenance,
            seal: None,
        });
    }
    become_maintenance(client).await;
    let sealed =
        maturion_audit::seal_within(client, maturion_audit::DEFAULT_SEAL_ROWS, policy.lock_wait)
            .await;
    client.batch_execute("RESET ROLE").await?;
    Ok(MaintenanceRun {
        maintenance,
        seal: Some(sealed?),
    })
}
