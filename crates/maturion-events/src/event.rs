use chrono::{DateTime, Utc};
use serde::Serialize;
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
    /// Commit position in the organisation's stream: increasing in commit order.
    pub position: i64,
}

/// The event columns in the order [`Event::from_row`] reads them, for `SELECT {EVENT_COLUMNS}`
/// over `event_log e`.
pub(crate) const EVENT_COLUMNS: &str =
    "e.id, e.organisation_id, e.timestamp, e.event_type, e.source_module, \
     e.source_entity_type, e.source_entity_id, e.target_module, e.target_entity_type, \
     e.target_entity_id, e.payload";

impl Event {
    /// Reads [`EVENT_COLUMNS`] starting at column `first`, and the position from `position`.
    pub(crate) fn from_row(row: &Row, first: usize, position: i64) -> Self {
        Event {
            id: row.get(first),
            organisation_id: row.get(first + 1),
            timestamp: row.get(first + 2),
            event_type: row.get(first + 3),
            source_module: row.get(first + 4),
            source_entity_type: row.get(first + 5),
            source_entity_id: row.get(first + 6),
            target_module: row.get(first + 7),
            target_entity_type: row.get(first + 8),
            target_entity_id: row.get(first + 9),
            payload: row.get(first + 10),
            position,
        }
    }
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
