//! Following the bus as an operator: every organisation's new events, as they commit.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use maturion_config::ConnectionUrl;
use maturion_tenancy::OrganisationId;
use tokio_postgres::{Row, Statement};
use uuid::Uuid;

use crate::event::{like_pattern, Event, UndecodableEvent, EVENT_COLUMNS};
use crate::listen::{self, Listener};
use crate::EventError;

/// One item a [`Tail`] shows: an event and when it committed, or a row it cannot read.
pub type Tailed = Result<(Event, DateTime<Utc>), UndecodableEvent>;

/// The event with its commit time.
fn committed(row: &Row, event: Event) -> Tailed {
    match row.try_get(2) {
        Ok(at) => Ok((event, at)),
        Err(error) => Err(UndecodableEvent {
            id: event.id,
            organisation_id: event.organisation_id,
            position: event.position,
            event_type: event.event_type,
            error: format!("its commit time cannot be read: {error}"),
        }),
    }
}

/// Which events a [`Tail`] shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TailFilter {
    /// Types, prefixes (`risk.*`) or `*`; empty for all.
    pub event_types: Vec<String>,
    pub organisation_id: Option<OrganisationId>,
}

/// Reads new events of every organisation in commit order per organisation, as the
/// maintenance role. It keeps its cursors in memory: nothing durable, nothing acknowledged.
pub struct Tail {
    id: Uuid,
    listener: Listener,
    statement: Statement,
    patterns: Vec<String>,
    organisation: Option<Uuid>,
    /// Per organisation, the last commit position shown.
    seen: HashMap<Uuid, i64>,
}

const NEW_EVENTS: &str = "SELECT st.organisation_id, c.position, c.committed_at, {EVENT_COLUMNS} \
     FROM maturion.event_streams st \
     LEFT JOIN unnest($1::uuid[], $2::bigint[]) AS seen(organisation_id, position) \
            ON seen.organisation_id = st.organisation_id \
     CROSS JOIN LATERAL ( \
       SELECT c.position, c.transaction_id, c.event_timestamps, c.committed_at \
       FROM maturion.event_commits c \
       WHERE c.organisation_id = st.organisation_id AND c.position > coalesce(seen.position, 0) \
       ORDER BY c.position LIMIT $5) c \
     LEFT JOIN event_log e \
            ON e.timestamp = ANY (c.event_timestamps) AND e.transaction_id = c.transaction_id \
           AND e.organisation_id = st.organisation_id AND e.event_type LIKE ANY ($3::text[]) \
     WHERE $4::uuid IS NULL OR st.organisation_id = $4 \
     ORDER BY c.committed_at, st.organisation_id, c.position, e.id";

impl Tail {
    /// Connects with `admin` (a role that may `SET ROLE maturion_maintenance`). Shows events
    /// committed from now on, or every event still in the log with `from_beginning`.
    pub async fn start(
        admin: &ConnectionUrl,
        filter: &TailFilter,
        from_beginning: bool,
    ) -> Result<Self, EventError> {
        let listener = listen::connect(admin).await?;
        let patterns = if filter.event_types.is_empty() {
            vec!["%".to_owned()]
        } else {
            filter
                .event_types
                .iter()
                .map(|t| {
                    like_pattern(t).ok_or_else(|| {
                        EventError::InvalidSubscription(format!(
                            "event type {t:?} is neither a type, a prefix (x.*) nor *"
                        ))
                    })
                })
                .collect::<Result<_, _>>()?
        };
        let mut seen = HashMap::new();
        if !from_beginning {
            for row in listener
                .client
                .query(
                    "SELECT st.organisation_id, (SELECT max(c.position) FROM maturion.event_commits c \
                                                 WHERE c.organisation_id = st.organisation_id) \
                     FROM maturion.event_streams st",
                    &[],
                )
                .await?
            {
                if let Some(position) = row.get::<_, Option<i64>>(1) {
                    seen.insert(row.get(0), position);
                }
            }
        }
        let statement = listener
            .client
            .prepare(&NEW_EVENTS.replace("{EVENT_COLUMNS}", EVENT_COLUMNS))
            .await?;
        let id = Uuid::new_v4();
        listener.set_waiting(id, "tail", false).await?;
        Ok(Tail {
            id,
            listener,
            statement,
            patterns,
            organisation: filter.organisation_id.map(|o| o.as_uuid()),
            seen,
        })
    }

    /// The events committed since the last call (at most about 1,000 commits per organisation),
    /// without waiting. A row that cannot be read is an item of its own, in its place.
    pub async fn poll(&mut self) -> Result<Vec<Tailed>, EventError> {
        let (organisations, positions): (Vec<Uuid>, Vec<i64>) =
            self.seen.iter().map(|(o, p)| (*o, *p)).unzip();
        let rows = self
            .listener
            .client
            .query(
                &self.statement,
                &[
                    &organisations,
                    &positions,
                    &self.patterns,
                    &self.organisation,
                    &1000_i64,
                ],
            )
            .await?;
        let mut events = Vec::new();
        for row in rows {
            let organisation: Uuid = row.get(0);
            let position: i64 = row.get(1);
            let seen = self.seen.entry(organisation).or_insert(position);
            *seen = (*seen).max(position);
            // A commit without a matching event comes back once, with a NULL event.
            if row.get::<_, Option<Uuid>>(3).is_some() {
                let event = Event::from_row(&row, 3, position);
                events.push(event.and_then(|event| committed(&row, event)));
            }
        }
        Ok(events)
    }

    /// Waits up to `timeout` for new events: polls briefly, then sleeps on LISTEN (as a waiter,
    /// so publishers NOTIFY). Returns an empty list on timeout.
    pub async fn next(&mut self, timeout: Duration) -> Result<Vec<Tailed>, EventError> {
        let deadline = Instant::now() + timeout;
        let mut sleep = Duration::from_millis(2);
        loop {
            self.listener.drain();
            let events = self.poll().await?;
            let left = deadline.saturating_duration_since(Instant::now());
            if !events.is_empty() || left.is_zero() {
                return Ok(events);
            }
            if sleep < Duration::from_millis(50) {
                tokio::time::sleep(sleep.min(left)).await;
                sleep *= 2;
                continue;
            }
            self.listener.set_waiting(self.id, "tail", true).await?;
            let events = self.poll().await?;
            if events.is_empty() {
                let _ = tokio::time::timeout(
                    left.min(Duration::from_secs(1)),
                    self.listener.notifications.recv(),
                )
                .await;
            }
            self.listener.set_waiting(self.id, "tail", false).await?;
            if !events.is_empty() {
                return Ok(events);
            }
        }
    }

    /// Removes this tail's waiter row.
    pub async fn close(self) -> Result<(), EventError> {
        self.listener.forget(self.id).await
    }
}
