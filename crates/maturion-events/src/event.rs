use std::error::Error;
use std::fmt;

use bytes::{BufMut, BytesMut};
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
use tokio_postgres::Row;
use uuid::Uuid;

/// An event as a subscriber (or `tail`) receives it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub timestamp: DateTime<Utc>,
    pub event_type: String,
    pub source_module: String,
    pub source_entity_type: Option<String>,
    pub source_entity_id: Option<Uuid>,
    pub target_module: Option<String>,
    pub target_entity_type: Option<String>,
    pub target_entity_id: Option<Uuid>,
    pub payload: Option<serde_json::Value>,
    /// The user whose verified binding published it (set by the database); `None` for the
    /// platform service or an operator.
    pub published_by: Option<Uuid>,
    /// Commit position in the organisation's stream: increasing in commit order.
    pub position: i64,
}

/// The event columns in the order [`Event::from_row`] reads them, for `SELECT {EVENT_COLUMNS}`
/// over `event_log e`.
pub(crate) const EVENT_COLUMNS: &str =
    "e.id, e.organisation_id, e.timestamp, e.event_type, e.source_module, \
     e.source_entity_type, e.source_entity_id, e.target_module, e.target_entity_type, \
     e.target_entity_id, e.payload, e.published_by";

impl Event {
    /// Reads [`EVENT_COLUMNS`] starting at column `first`, and the position from `position`.
    /// A row no [`Event`] can hold (a payload nested deeper than the JSON decoder allows, a
    /// timestamp outside chrono's range) is an error that names it, never a panic.
    pub(crate) fn from_row(
        row: &Row,
        first: usize,
        position: i64,
    ) -> Result<Self, UndecodableEvent> {
        let undecodable = |error: tokio_postgres::Error| UndecodableEvent {
            id: row.try_get(first).unwrap_or_default(),
            organisation_id: row.try_get(first + 1).unwrap_or_default(),
            position,
            event_type: row.try_get(first + 3).unwrap_or_default(),
            error: error_text(&error),
        };
        Ok(Event {
            id: row.try_get(first).map_err(undecodable)?,
            organisation_id: row.try_get(first + 1).map_err(undecodable)?,
            timestamp: row.try_get(first + 2).map_err(undecodable)?,
            event_type: row.try_get(first + 3).map_err(undecodable)?,
            source_module: row.try_get(first + 4).map_err(undecodable)?,
            source_entity_type: row.try_get(first + 5).map_err(undecodable)?,
            source_entity_id: row.try_get(first + 6).map_err(undecodable)?,
            target_module: row.try_get(first + 7).map_err(undecodable)?,
            target_entity_type: row.try_get(first + 8).map_err(undecodable)?,
            target_entity_id: row.try_get(first + 9).map_err(undecodable)?,
            payload: row.try_get(first + 10).map_err(undecodable)?,
            published_by: row.try_get(first + 11).map_err(undecodable)?,
            position,
        })
    }
}

/// A row of `event_log` that cannot be read as an [`Event`]: what identifies it, and why.
/// Workers dead-letter it at once; `tail` reports it and goes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UndecodableEvent {
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub position: i64,
    /// Empty if even that could not be read.
    pub event_type: String,
    pub error: String,
}

impl fmt::Display for UndecodableEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "event {} ({}) of organisation {} at #{} cannot be read: {}",
            self.id, self.event_type, self.organisation_id, self.position, self.error
        )
    }
}

/// The error with its cause (tokio-postgres says only "error deserializing column N").
fn error_text(error: &tokio_postgres::Error) -> String {
    match std::error::Error::source(error) {
        Some(cause) => format!("{error}: {cause}"),
        None => error.to_string(),
    }
}

/// An `event_log` timestamp as PostgreSQL sends it (microseconds from 2000-01-01 UTC, with
/// ±infinity at the ends): the bus's key of an event, read and sent back without chrono,
/// whose range is narrower than PostgreSQL's, so that no stored value can stop a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct StoredTimestamp(i64);

impl From<DateTime<Utc>> for StoredTimestamp {
    fn from(instant: DateTime<Utc>) -> Self {
        let epoch_2000 = DateTime::from_timestamp(946_684_800, 0).unwrap_or_default();
        // chrono's whole range fits in i64 microseconds from 2000.
        let micros = instant.signed_duration_since(epoch_2000).num_microseconds();
        StoredTimestamp(micros.unwrap_or(i64::MAX))
    }
}

impl<'a> FromSql<'a> for StoredTimestamp {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        let bytes: [u8; 8] = raw.try_into().map_err(|_| "a timestamptz takes 8 bytes")?;
        Ok(StoredTimestamp(i64::from_be_bytes(bytes)))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }
}

impl ToSql for StoredTimestamp {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        out.put_i64(self.0);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }

    to_sql_checked!();
}

/// Whether `name` is a dotted event type as `event_log` accepts it: lower-case words of
/// `[a-z0-9_]` starting with a letter, at least two of them, e.g. `risk.created`.
pub(crate) fn is_event_type(name: &str) -> bool {
    let mut words = 0;
    for word in name.split('.') {
        let mut chars = word.chars();
        let starts_well = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        if !starts_well || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return false;
        }
        words += 1;
    }
    words >= 2
}

/// Turns subscription event types into `LIKE` patterns: `risk.created` exactly, `risk.*` every
/// type under `risk.`, `*` everything. `None` for anything else.
pub(crate) fn like_pattern(selector: &str) -> Option<String> {
    if selector == "*" {
        return Some("%".into());
    }
    let (exact, prefix) = match selector.strip_suffix(".*") {
        Some(prefix) => (false, prefix),
        None => (true, selector),
    };
    // A prefix may be a single word (`risk.*`); an exact type needs two.
    let valid = if exact {
        is_event_type(prefix)
    } else {
        is_event_type(&format!("{prefix}.x"))
    };
    if !valid {
        return None;
    }
    // `_` is a LIKE wildcard; the default escape character is the backslash.
    let escaped = prefix.replace('_', "\\_");
    Some(if exact {
        escaped
    } else {
        format!("{escaped}.%")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_follow_the_log_check() {
        for good in ["risk.created", "risk_register.item.updated", "a1.b2"] {
            assert!(is_event_type(good), "{good}");
        }
        for bad in [
            "risk",
            "Risk.created",
            "risk.",
            ".created",
            "risk..created",
            "risk.1st",
            "risk.cre-ated",
            "",
        ] {
            assert!(!is_event_type(bad), "{bad}");
        }
    }

    #[test]
    fn selectors_become_escaped_like_patterns() {
        assert_eq!(like_pattern("*").as_deref(), Some("%"));
        assert_eq!(
            like_pattern("risk.created").as_deref(),
            Some("risk.created")
        );
        assert_eq!(like_pattern("risk.*").as_deref(), Some("risk.%"));
        assert_eq!(
            like_pattern("user_permission.*").as_deref(),
            Some("user\\_permission.%")
        );
        assert_eq!(like_pattern("risk").as_deref(), None);
        assert_eq!(like_pattern("risk.%").as_deref(), None);
        assert_eq!(like_pattern("*.created").as_deref(), None);
    }
}
