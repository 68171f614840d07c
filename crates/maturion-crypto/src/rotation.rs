//! Key ages and rotation, across organisations, as the maintenance role (an administrator's
//! session that may `SET ROLE maturion_maintenance`).
//!
//! - Data keys: a line (an organisation's key, or a subject's) whose newest version is older
//!   than the rotation age gets a new version; new values use it, and the older versions stay
//!   to decrypt what they encrypted.
//! - Master key: every data key wrapped by another master key the caller holds (the previous
//!   one) is unwrapped and wrapped again by the current one, in one transaction; afterwards
//!   the previous master key opens nothing.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use tokio_postgres::{Client, Transaction};
use uuid::Uuid;

use crate::cipher;
use crate::error::CryptoError;
use crate::keyring::unwrap_key;
use crate::master::MasterKeys;

/// Spec §10.1: data keys are rotated every 90 days.
pub const ROTATION_AGE: Duration = Duration::days(90);

/// The newest version of one key line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyLine {
    pub organisation_id: Uuid,
    /// `None` for the organisation's own key.
    pub subject_id: Option<Uuid>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub age_days: i64,
    /// Older than the rotation age: `maturion keys rotate` is due.
    pub overdue: bool,
    pub master_key_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyStatus {
    pub lines: Vec<KeyLine>,
    pub overdue: usize,
    /// Fingerprints of the master keys that wrap live data keys.
    pub master_key_ids: Vec<String>,
    pub rotation_age_days: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RotationReport {
    /// Data keys re-wrapped by the current master key.
    pub rewrapped: usize,
    /// Lines that got a new version.
    pub rotated: Vec<KeyLine>,
    pub master_key_id: String,
}

/// The newest live version of every key line, with its age against `rotation_age`.
pub async fn status(client: &mut Client, rotation_age: Duration) -> Result<KeyStatus, CryptoError> {
    let tx = maintenance_transaction(client).await?;
    let lines = newest_versions(&tx, rotation_age, Utc::now()).await?;
    let mut master_key_ids: Vec<String> = tx
        .query(
            "SELECT DISTINCT master_key_id FROM maturion.data_keys WHERE destroyed_at IS NULL",
            &[],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    master_key_ids.sort();
    tx.commit().await?;
    Ok(KeyStatus {
        overdue: lines.iter().filter(|line| line.overdue).count(),
        lines,
        master_key_ids,
        rotation_age_days: rotation_age.num_days(),
    })
}

/// Re-wraps every data key not wrapped by `masters.current`, then gives every line whose
/// newest version is older than `rotation_age` a new version (every line when it is zero).
/// One transaction: all of it happens, or none.
pub async fn rotate(
    client: &mut Client,
    masters: &MasterKeys,
    rotation_age: Duration,
) -> Result<RotationReport, CryptoError> {
    let tx = maintenance_transaction(client).await?;
    // Keeps tenant transactions from adding a version while the lines are read and extended.
    tx.batch_execute("LOCK TABLE maturion.data_keys IN SHARE ROW EXCLUSIVE MODE")
        .await?;
    let rewrapped = rewrap(&tx, masters).await?;
    let now = Utc::now();
    let mut rotated = Vec::new();
    for line in newest_versions(&tx, rotation_age, now).await? {
        if now - line.created_at < rotation_age {
            continue;
        }
        rotated.push(add_version(&tx, masters, &line).await?);
    }
    tx.commit().await?;
    Ok(RotationReport {
        rewrapped,
        rotated,
        master_key_id: masters.current.id().to_owned(),
    })
}

async fn rewrap(tx: &Transaction<'_>, masters: &MasterKeys) -> Result<usize, CryptoError> {
    let current = &masters.current;
    let rows = tx
        .query(
            "SELECT id, organisation_id, subject_id, version, wrapped_key, master_key_id \
             FROM maturion.data_keys \
             WHERE destroyed_at IS NULL AND master_key_id <> $1",
            &[&current.id()],
        )
        .await?;
    for row in &rows {
        let id: Uuid = row.get(0);
        let (organisation, subject, version) = (row.get(1), row.get(2), row.get(3));
        let wrapped_by: String = row.get(5);
        let previous = masters
            .find(&wrapped_by)
            .ok_or_else(|| CryptoError::WrongMasterKey {
                key: id,
                wrapped_by: wrapped_by.clone(),
                configured: current.id().to_owned(),
            })?;
        let wrapped: Vec<u8> = row.get(4);
        let secret = unwrap_key(
            previous.bytes(),
            id,
            organisation,
            subject,
            version,
            &wrapped,
        )?;
        let aad = cipher::wrapping_aad(organisation, subject, version);
        let rewrapped = cipher::seal(current.bytes(), &aad, secret.as_ref());
        tx.execute(
            "UPDATE maturion.data_keys \
             SET wrapped_key = $2, master_key_id = $3, rewrapped_at = now() WHERE id = $1",
            &[&id, &rewrapped, &current.id()],
        )
        .await?;
    }
    Ok(rows.len())
}

async fn add_version(
    tx: &Transaction<'_>,
    masters: &MasterKeys,
    line: &KeyLine,
) -> Result<KeyLine, CryptoError> {
    let version = line.version + 1;
    let secret = cipher::new_key();
    let aad = cipher::wrapping_aad(line.organisation_id, line.subject_id, version);
    let wrapped = cipher::seal(masters.current.bytes(), &aad, secret.as_ref());
    let created_at: DateTime<Utc> = tx
        .query_one(
            "INSERT INTO maturion.data_keys \
               (organisation_id, subject_id, version, wrapped_key, master_key_id) \
             VALUES ($1, $2, $3, $4, $5) RETURNING created_at",
            &[
                &line.organisation_id,
                &line.subject_id,
                &version,
                &wrapped,
                &masters.current.id(),
            ],
        )
        .await?
        .get(0);
    Ok(KeyLine {
        version,
        created_at,
        age_days: 0,
        overdue: false,
        master_key_id: masters.current.id().to_owned(),
        ..line.clone()
    })
}

/// Lines whose every version was destroyed are over: they get no new version.
async fn newest_versions(
    tx: &Transaction<'_>,
    rotation_age: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<KeyLine>, CryptoError> {
    let rows = tx
        .query(
            "SELECT DISTINCT ON (organisation_id, subject_id) \
               organisation_id, subject_id, version, created_at, master_key_id \
             FROM maturion.data_keys WHERE destroyed_at IS NULL \
             ORDER BY organisation_id, subject_id, version DESC",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let created_at: DateTime<Utc> = row.get(3);
            KeyLine {
                organisation_id: row.get(0),
                subject_id: row.get(1),
                version: row.get(2),
                created_at,
                age_days: (now - created_at).num_days(),
                overdue: now - created_at >= rotation_age,
                master_key_id: row.get(4),
            }
        })
        .collect())
}

/// The maintenance role reads every organisation's keys (BYPASSRLS) and may change them.
async fn maintenance_transaction(client: &mut Client) -> Result<Transaction<'_>, CryptoError> {
    let tx = client.transaction().await?;
    tx.batch_execute("SET LOCAL ROLE maturion_maintenance")
        .await?;
    Ok(tx)
}
