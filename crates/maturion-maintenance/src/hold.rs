//! Legal holds (spec §10.3): an organisation under hold keeps every log partition holding any
//! of its rows past that log's retention, until the hold is released. Placed and released by
//! an administrator; never deleted (the table is the record of every hold).

use std::fmt;

use chrono::{DateTime, Utc};
use tokio_postgres::{Client, Row};
use uuid::Uuid;

use crate::error::Context;
use crate::MaintenanceError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalHold {
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub reason: String,
    pub placed_at: DateTime<Utc>,
    pub placed_by: String,
    /// None while the hold is in force.
    pub released_at: Option<DateTime<Utc>>,
    pub released_by: Option<String>,
}

impl LegalHold {
    pub(crate) fn from_row(row: &Row) -> Self {
        LegalHold {
            id: row.get("id"),
            organisation_id: row.get("organisation_id"),
            reason: row.get("reason"),
            placed_at: row.get("placed_at"),
            placed_by: row.get("placed_by"),
            released_at: row.get("released_at"),
            released_by: row.get("released_by"),
        }
    }
}

impl fmt::Display for LegalHold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} on organisation {} since {} by {}: {}",
            self.id,
            self.organisation_id,
            self.placed_at.format("%Y-%m-%d %H:%M UTC"),
            self.placed_by,
            self.reason
        )?;
        if let (Some(at), Some(by)) = (self.released_at, &self.released_by) {
            write!(f, " (released {} by {by})", at.format("%Y-%m-%d %H:%M UTC"))?;
        }
        Ok(())
    }
}

pub(crate) const COLUMNS: &str =
    "id, organisation_id, reason, placed_at, placed_by, released_at, released_by";

/// Places a hold on `organisation` for `reason`; refused for an unknown organisation or an
/// empty reason.
pub async fn place_legal_hold(
    client: &Client,
    organisation: Uuid,
    reason: &str,
) -> Result<LegalHold, MaintenanceError> {
    let id: Uuid = client
        .query_one(
            "SELECT maturion.place_legal_hold($1, $2)",
            &[&organisation, &reason],
        )
        .await
        .context("cannot place the legal hold")?
        .get(0);
    let row = client
        .query_one(
            &format!("SELECT {COLUMNS} FROM maturion.legal_holds WHERE id = $1"),
            &[&id],
        )
        .await
        .context("cannot read the placed hold")?;
    Ok(LegalHold::from_row(&row))
}

/// Releases the hold `id`; None when no such hold is in force.
pub async fn release_legal_hold(
    client: &Client,
    id: Uuid,
) -> Result<Option<LegalHold>, MaintenanceError> {
    let released: bool = client
        .query_one("SELECT maturion.release_legal_hold($1)", &[&id])
        .await
        .context("cannot release the legal hold")?
        .get(0);
    if !released {
        return Ok(None);
    }
    let row = client
        .query_one(
            &format!("SELECT {COLUMNS} FROM maturion.legal_holds WHERE id = $1"),
            &[&id],
        )
        .await
        .context("cannot read the released hold")?;
    Ok(Some(LegalHold::from_row(&row)))
}

/// The holds in force, or with `include_released` every hold ever placed, oldest first.
pub async fn legal_holds(
    client: &Client,
    include_released: bool,
) -> Result<Vec<LegalHold>, MaintenanceError> {
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM maturion.legal_holds WHERE $1 OR released_at IS NULL ORDER BY placed_at, id"
            ),
            &[&include_released],
        )
        .await
        .context("cannot list the legal holds")?;
    Ok(rows.iter().map(LegalHold::from_row).collect())
}
