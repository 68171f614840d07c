//! WAL archiving, from pg_stat_archiver: failing when the last attempt failed.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Client;

use crate::error::{db, MonitorError};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Archiving {
    /// `archive_mode`: `off`, `on` or `always`.
    pub mode: String,
    pub archived_count: i64,
    pub failed_count: i64,
    pub last_archived_at: Option<DateTime<Utc>>,
    pub last_failed_at: Option<DateTime<Utc>>,
    pub last_failed_wal: Option<String>,
    /// The last attempt to archive a segment failed: WAL piles up and point-in-time recovery
    /// stops at the last archived segment.
    pub failing: bool,
}

pub async fn archiving(client: &Client) -> Result<Archiving, MonitorError> {
    let row = client
        .query_one(
            "SELECT current_setting('archive_mode'), archived_count, failed_count,
                    last_archived_time, last_failed_time, last_failed_wal
             FROM pg_stat_archiver",
            &[],
        )
        .await
        .map_err(db("reading pg_stat_archiver"))?;
    let mode: String = row.get(0);
    let last_archived_at: Option<DateTime<Utc>> = row.get(3);
    let last_failed_at: Option<DateTime<Utc>> = row.get(4);
    let failing = mode != "off"
        && last_failed_at.is_some_and(|failed| last_archived_at.is_none_or(|done| failed > done));
    Ok(Archiving {
        mode,
        archived_count: row.get(1),
        failed_count: row.get(2),
        last_archived_at,
        last_failed_at,
        last_failed_wal: row.get(5),
        failing,
    })
}
