//! How far each subscription is behind, for the server's metrics.

use tokio_postgres::Client;

use crate::EventError;

/// One subscription's undelivered work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backlog {
    pub subscription: String,
    /// Committed publishing transactions (of every organisation it follows) past its cursors.
    pub commits: i64,
    /// Dead letters not replayed yet.
    pub dead_letters: i64,
}

/// Every registered subscription's backlog. `maintenance` is a connection as
/// `maturion_maintenance` (or an administrator). One index range per cursor.
pub async fn backlog(maintenance: &Client) -> Result<Vec<Backlog>, EventError> {
    let rows = maintenance
        .query(
            "SELECT s.name, \
                    coalesce((SELECT sum((SELECT count(*) FROM maturion.event_commits c \
                                          WHERE c.organisation_id = k.organisation_id AND c.position > k.position)) \
                              FROM maturion.event_cursors k WHERE k.subscription = s.name), 0)::bigint, \
                    (SELECT count(*) FROM maturion.event_dead_letters d \
                     WHERE d.subscription = s.name AND d.status <> 'replayed') \
             FROM maturion.event_subscriptions s ORDER BY s.name",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| Backlog {
            subscription: row.get(0),
            commits: row.get(1),
            dead_letters: row.get(2),
        })
        .collect())
}

/// The names of the registered subscriptions.
pub async fn subscriptions(maintenance: &Client) -> Result<Vec<String>, EventError> {
    let rows = maintenance
        .query(
            "SELECT name FROM maturion.event_subscriptions ORDER BY name",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}
