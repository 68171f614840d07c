//! An organisation following its own events, in commit order, from inside its tenant
//! transactions (`maturion.event_stream_head` / `maturion.event_stream_after`, events 3.3.0):
//! what the HTTP API's live stream reads. Each read is a short transaction of its own, so a
//! follower holds no connection between reads, and the binding decides the organisation.

use std::fmt;
use std::str::FromStr;

use maturion_tenancy::TenantTransaction;
use uuid::Uuid;

use crate::event::{like_pattern, Event, UndecodableEvent};
use crate::EventError;

/// The most events (and commits) one read returns.
pub const MAX_READ: i32 = 1000;

/// A place in an organisation's stream: after commit `position` entirely, or after event
/// `event_id` inside it. Written `position` or `position-event_id` (an SSE event id).
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

impl fmt::Display for StreamCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.event_id {
            Some(id) => write!(f, "{}-{id}", self.position),
            None => write!(f, "{}", self.position),
        }
    }
}

impl FromStr for StreamCursor {
    type Err = EventError;

    fn from_str(text: &str) -> Result<Self, EventError> {
        let invalid = || {
            EventError::InvalidCursor(format!(
                "{text:?} is neither a commit position nor position-event_id"
            ))
        };
        let (position, event_id) = match text.split_once('-') {
            Some((position, id)) => (position, Some(Uuid::try_parse(id).map_err(|_| invalid())?)),
            None => (text, None),
        };
        let position: i64 = position.parse().map_err(|_| invalid())?;
        if position < 0 {
            return Err(invalid());
        }
        Ok(StreamCursor { position, event_id })
    }
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
    fn cursors_are_a_position_or_a_position_and_an_event() {
        let id = Uuid::now_v7();
        for cursor in [
            StreamCursor::START,
            StreamCursor {
                position: 42,
                event_id: Some(id),
            },
        ] {
            assert_eq!(cursor.to_string().parse::<StreamCursor>().unwrap(), cursor);
        }
        for bad in ["", "-1", "x", "12-", "12-nope", "1.5", "-5-0"] {
            assert!(bad.parse::<StreamCursor>().is_err(), "{bad}");
        }
    }
}
