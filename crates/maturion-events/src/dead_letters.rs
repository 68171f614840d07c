use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Client;
use uuid::Uuid;

use crate::EventError;

/// A delivery a subscription gave up on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetter {
    pub id: Uuid,
    pub subscription: String,
    pub organisation_id: Uuid,
    pub position: i64,
    /// None for a timestamp outside the range chrono represents (an event that could not be
    /// delivered for that very reason).
    pub event_timestamp: Option<DateTime<Utc>>,
    pub event_id: Uuid,
    pub event_type: String,
    pub attempts: i32,
    pub last_error: String,
    /// `dead`, `queued` (replay requested) or `replayed`.
    pub status: String,
    pub dead_at: DateTime<Utc>,
    pub replay_requested_at: Option<DateTime<Utc>>,
    pub replayed_at: Option<DateTime<Utc>>,
}

/// Dead letters, newest first: of one subscription or all; replayed ones only if asked.
/// `maintenance` is a connection as `maturion_maintenance` or an administrator.
pub async fn dead_letters(
    maintenance: &Client,
    subscription: Option<&str>,
    include_replayed: bool,
) -> Result<Vec<DeadLetter>, EventError> {
    let rows = maintenance
        .query(
            "SELECT id, subscription, organisation_id, position, event_timestamp, event_id, event_type, attempts, \
                    last_error, status, dead_at, replay_requested_at, replayed_at \
             FROM maturion.event_dead_letters \
             WHERE ($1::text IS NULL OR subscription = $1) AND ($2 OR status <> 'replayed') \
             ORDER BY dead_at DESC, id DESC",
            &[&subscription, &include_replayed],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| DeadLetter {
            id: row.get(0),
            subscription: row.get(1),
            organisation_id: row.get(2),
            position: row.get(3),
            event_timestamp: row.try_get(4).ok(),
            event_id: row.get(5),
            event_type: row.get(6),
            attempts: row.get(7),
            last_error: row.get(8),
            status: row.get(9),
            dead_at: row.get(10),
            replay_requested_at: row.get(11),
            replayed_at: row.get(12),
        })
        .collect())
}

/// Queues a dead letter for redelivery by its subscription's workers (out of stream order).
/// False when there is no dead (not already queued or replayed) letter with that id.
pub async fn replay(maintenance: &Client, dead_letter: Uuid) -> Result<bool, EventError> {
    Ok(maintenance
        .query_one("SELECT maturion.event_replay($1)", &[&dead_letter])
        .await?
        .get(0))
}
