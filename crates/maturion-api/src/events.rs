//! The event bus over HTTP (§4.4): `GET /v1/events` (the organisation's events, newest first),
//! `POST /v1/events` (publish one) and `GET /v1/events/stream` (Server-Sent Events, in commit
//! order). Routes of the platform that no table generates.
//!
//! Permissions: the bus is module `platform`'s: listing and following it need `platform`
//! `read`, publishing `platform` `write`. An event also belongs to the module that published
//! it (its `source_module`): a caller sees only the events of modules it may read, and
//! publishes only for a module it may write. The platform's own events (`permission.*`, source
//! module `platform`) come from the changes they describe, never from a client.

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::model::{Level, Method, Operation, Route, PLATFORM_MODULE};
use crate::ApiError;

/// The path segment of the event routes (`/v1/events`).
pub const EVENTS: &str = "events";

/// The table behind the listing, read-only.
pub const EVENT_LOG: &str = "event_log";

/// Fields of a published event the database sets: its id, organisation, publisher and time.
const SET_BY_SERVER: [&str; 6] = [
    "id",
    "organisation_id",
    "published_by",
    "timestamp",
    "processed_at",
    "transaction_id",
];

/// `GET /v1/events`, `POST /v1/events`, `GET /v1/events/stream`.
pub fn event_routes() -> Vec<Route> {
    let route = |method, path: &str, operation, requires| Route {
        method,
        path: path.to_owned(),
        resource: EVENTS.to_owned(),
        module: PLATFORM_MODULE.to_owned(),
        operation,
        requires,
    };
    vec![
        route(Method::Get, "/v1/events", Operation::List, Level::Read),
        route(Method::Post, "/v1/events", Operation::Create, Level::Write),
        route(
            Method::Get,
            "/v1/events/stream",
            Operation::Stream,
            Level::Read,
        ),
    ]
}

/// The body of `POST /v1/events`: what the event says. Who published it, for which
/// organisation and when, the database takes from the request's binding.
#[derive(Debug, Clone, PartialEq)]
pub struct EventToPublish {
    pub event_type: String,
    pub source_module: String,
    pub source_entity_type: Option<String>,
    pub source_entity_id: Option<Uuid>,
    pub target_module: Option<String>,
    pub target_entity_type: Option<String>,
    pub target_entity_id: Option<Uuid>,
    pub payload: Option<Value>,
}

impl EventToPublish {
    /// `{"event_type": "risk.created", "source_module": "risks", …}`; unknown fields, the
    /// server's fields, a malformed type, the platform's own events and bad ids are refused
    /// naming the field.
    pub fn parse(body: &Value) -> Result<EventToPublish, ApiError> {
        let Value::Object(fields) = body else {
            return Err(ApiError::MalformedBody("expected a JSON object".to_owned()));
        };
        for name in fields.keys() {
            if SET_BY_SERVER.contains(&name.as_str()) {
                return Err(ApiError::ReadOnlyField {
                    field: name.clone(),
                });
            }
            if !KNOWN.contains(&name.as_str()) {
                return Err(ApiError::UnknownField {
                    resource: EVENTS.to_owned(),
                    field: name.clone(),
                });
            }
        }
        let event_type = required_text(fields, "event_type")?;
        if !is_event_type(&event_type) {
            return Err(ApiError::invalid(
                "event_type",
                "expected dotted lower-case words, e.g. risk.created",
            ));
        }
        if event_type.starts_with("permission.") {
            return Err(ApiError::invalid(
                "event_type",
                "permission.* events are the platform's own: changes of user_permissions publish them",
            ));
        }
        let source_module = required_text(fields, "source_module")?;
        if source_module == PLATFORM_MODULE {
            return Err(ApiError::invalid(
                "source_module",
                "the platform module's events are the platform's own",
            ));
        }
        Ok(EventToPublish {
            event_type,
            source_module,
            source_entity_type: optional_text(fields, "source_entity_type")?,
            source_entity_id: optional_uuid(fields, "source_entity_id")?,
            target_module: optional_text(fields, "target_module")?,
            target_entity_type: optional_text(fields, "target_entity_type")?,
            target_entity_id: optional_uuid(fields, "target_entity_id")?,
            payload: fields.get("payload").filter(|p| !p.is_null()).cloned(),
        })
    }
}

/// The fields a client may send.
const KNOWN: [&str; 8] = [
    "event_type",
    "source_module",
    "source_entity_type",
    "source_entity_id",
    "target_module",
    "target_entity_type",
    "target_entity_id",
    "payload",
];

/// The longest text field (a module, a type, an entity kind).
const MAX_NAME: usize = 200;

fn required_text(fields: &Map<String, Value>, name: &str) -> Result<String, ApiError> {
    optional_text(fields, name)?.ok_or_else(|| ApiError::MissingField {
        field: name.to_owned(),
    })
}

fn optional_text(fields: &Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => {
            let plain = !text.trim().is_empty()
                && text.len() <= MAX_NAME
                && !text.chars().any(char::is_control);
            if plain {
                Ok(Some(text.clone()))
            } else {
                Err(ApiError::invalid(
                    name,
                    format!("expected a non-empty name of at most {MAX_NAME} bytes, without control characters"),
                ))
            }
        }
        Some(_) => Err(ApiError::invalid(name, "expected a string")),
    }
}

fn optional_uuid(fields: &Map<String, Value>, name: &str) -> Result<Option<Uuid>, ApiError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_str()
            .and_then(|text| Uuid::try_parse(text).ok())
            .map(Some)
            .ok_or_else(|| ApiError::invalid(name, "expected a UUID")),
    }
}

/// As `event_log`'s CHECK: lower-case words of `[a-z0-9_]` starting with a letter, at least
/// two, dotted.
fn is_event_type(name: &str) -> bool {
    let words: Vec<&str> = name.split('.').collect();
    words.len() >= 2
        && words.iter().all(|word| {
            let mut chars = word.chars();
            chars.next().is_some_and(|c| c.is_ascii_lowercase())
                && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_event_names_its_type_and_module_and_nothing_the_server_sets() {
        let entity = Uuid::now_v7();
        let parsed = EventToPublish::parse(&json!({
            "event_type": "risk.created", "source_module": "risks",
            "source_entity_type": "risk", "source_entity_id": entity, "payload": {"score": 3},
        }))
        .unwrap();
        assert_eq!(
            (parsed.source_entity_id, parsed.payload),
            (Some(entity), Some(json!({"score": 3})))
        );
        for (body, field) in [
            (json!({"source_module": "risks"}), "event_type"),
            (json!({"event_type": "risk.created"}), "source_module"),
            (
                json!({"event_type": "Risk", "source_module": "risks"}),
                "event_type",
            ),
            (
                json!({"event_type": "permission.granted", "source_module": "risks"}),
                "event_type",
            ),
            (
                json!({"event_type": "a.b", "source_module": "platform"}),
                "source_module",
            ),
            (
                json!({"event_type": "a.b", "source_module": ""}),
                "source_module",
            ),
            (
                json!({"event_type": "a.b", "source_module": 7}),
                "source_module",
            ),
            (
                json!({"event_type": "a.b", "source_module": "m", "source_entity_id": "x"}),
                "source_entity_id",
            ),
            (
                json!({"event_type": "a.b", "source_module": "m", "organisation_id": entity}),
                "organisation_id",
            ),
            (
                json!({"event_type": "a.b", "source_module": "m", "published_by": entity}),
                "published_by",
            ),
            (
                json!({"event_type": "a.b", "source_module": "m", "colour": "red"}),
                "colour",
            ),
            (json!(["a.b"]), "body"),
        ] {
            assert_eq!(
                EventToPublish::parse(&body).unwrap_err().field(),
                field,
                "{body}"
            );
        }
    }
}
