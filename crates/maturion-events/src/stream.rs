//! An organisation following its own events, in commit order, from inside its tenant
//! transactions (`maturion.event_stream_head` / `maturion.event_stream_after`, events 3.3.0):
//! what the HTTP API's live stream reads. Each read is a short transaction of its own, so a
//! follower holds no connection between reads, and the binding decides the organisation.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use maturion_tenancy::TenantTransaction;
use uuid::Uuid;

use crate::event::{like_pattern, Event, UndecodableEvent};
use crate::EventError;

/// The most events (and commits) one read returns.
pub const MAX_READ: i32 = 1000;

/// A place in an organisation's stream: after commit `position` entirely, or after event
/// `event_id` inside it. Positions come from one sequence for every organisation: keep them
/// from clients (their gaps count other organisations' commits), who hold [`EventKey`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamCursor {
    pub position: i64,
    pub event_id: Option<Uuid>,
}

impl StreamCursor {
    /// Before the first commit.
    pub const START: StreamCursor = StreamCursor {
        position: 0,
        event_id: None,
    };
}

/// An event's key in `event_log`, `timestamp/id` (the timestamp in RFC 3339 with
/// microseconds): what a client resumes after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventKey {
    pub timestamp: DateTime<Utc>,
    pub id: Uuid,
}

impl EventKey {
    pub fn of(event: &Event) -> Self {
        EventKey {
            timestamp: event.timestamp,
            id: event.id,
        }
    }
}

impl fmt::Display for EventKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let timestamp = self.timestamp.to_rfc3339_opts(SecondsFormat::Micros, true);
        write!(f, "{timestamp}/{}", self.id)
    }
}

impl FromStr for EventKey {
    type Err = EventError;

    fn from_str(text: &str) -> Result<Self, EventError> {
        let invalid = || {
            EventError::InvalidCursor(format!(
                "{text:?} is not an event's key (timestamp/id, an SSE id of the stream)"
            ))
        };
        let (timestamp, id) = text.split_once('/').ok_or_else(invalid)?;
        Ok(EventKey {
            timestamp: DateTime::parse_from_rfc3339(timestamp)
                .map_err(|_| invalid())?
                .with_timezone(&Utc),
            id: Uuid::try_parse(id).map_err(|_| invalid())?,
        })
    }
}

/// Where the bound organisation's event `key` sits in its stream: just past it. `None` when
/// the organisation has no such event (never had, or dropped with its partition).
pub async fn stream_position(
    tx: &TenantTransaction,
    key: EventKey,
) -> Result<Option<StreamCursor>, EventError> {
    let statement = tx
        .prepare("SELECT maturion.event_stream_position($1, $2)")
        .await?;
    let position: Option<i64> = tx
        .query_one(&statement, &[&key.timestamp, &key.id])
        .await?
        .get(0);
    Ok(position.map(|position| StreamCursor {
        position,
        event_id: Some(key.id),
    }))
}

/// What one read found: each event (or row no event can hold) with the cursor just past it,
/// and where the next read starts (past commits with no matching event too).
#[derive(Debug, Default)]
pub struct StreamRead {
    pub items: Vec<(StreamCursor, Result<Event, UndecodableEvent>)>,
    pub next: Option<StreamCursor>,
}

/// The selectors a follower asked for as `LIKE` patterns: exact types (`risk.created`),
/// prefixes (`risk.*`) or `*`. `None` (every type) for none.
pub fn type_patterns(selectors: &[String]) -> Result<Option<Vec<String>>, EventError> {
    if selectors.is_empty() {
        return Ok(None);
    }
    selectors
        .iter()
        .map(|selector| {
            like_pattern(selector).ok_or_else(|| {
                EventError::InvalidSubscription(format!(
                    "event type {selector:?} is neither a type (risk.created), a prefix (risk.*) nor *"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The end of the bound organisation's stream now: following from here shows only what
/// commits later.
pub async fn stream_head(tx: &TenantTransaction) -> Result<StreamCursor, EventError> {
    let statement = tx.prepare("SELECT maturion.event_stream_head()").await?;
    let position: i64 = tx.query_one(&statement, &[]).await?.get(0);
    Ok(StreamCursor {
        position,
        event_id: None,
    })
}

/// The bound organisation's events after `after`, in commit order: at most `limit` (1 to
/// [`MAX_READ`]), only of `patterns` (see [`type_patterns`]) and of `modules` (their
/// `source_module`; `None` for every module).
pub async fn stream_after(
    tx: &TenantTransaction,
    after: StreamCursor,
    patterns: Option<&[String]>,
    modules: Option<&[String]>,
    limit: i32,
) -> Result<StreamRead, EventError> {
    let statement = tx
        .prepare("SELECT * FROM maturion.event_stream_after($1, $2, $3::text[], $4::text[], $5)")
        .await?;
    let limit = limit.clamp(1, MAX_READ);
    let rows = tx
        .query(
            &statement,
            &[
                &after.position,
                &after.event_id,
                &patterns,
                &modules,
                &limit,
            ],
        )
        .await?;
    let mut read = StreamRead::default();
    for row in &rows {
        let position: i64 = row.get(0);
        let id: Option<Uuid> = row.try_get(1).ok().flatten();
        let cursor = StreamCursor {
            position,
            event_id: id,
        };
        if id.is_some() {
            read.items.push((cursor, Event::from_row(row, 1, position)));
        }
        read.next = Some(cursor);
    }
    // A full read may have stopped inside a commit: the last cursor keeps its event id, so
    // the next read resumes after that event; otherwise the last commit is done.
    if rows.len() < limit as usize {
        if let Some(next) = &mut read.next {
            next.event_id = None;
        }
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_key_is_its_timestamp_and_id() {
        let key = EventKey {
            timestamp: DateTime::parse_from_rfc3339("2026-12-03T10:00:00.123456Z")
                .unwrap()
                .with_timezone(&Utc),
            id: Uuid::now_v7(),
        };
        let text = key.to_string();
        assert!(text.starts_with("2026-12-03T10:00:00.123456Z/"), "{text}");
        assert_eq!(text.parse::<EventKey>().unwrap(), key);
        for bad in [
            "",
            "0",
            "x/y",
            "2026-12-03T10:00:00Z/",
            "2026-13-03T10:00:00Z/0190",
        ] {
            assert!(bad.parse::<EventKey>().is_err(), "{bad}");
        }
    }
}
