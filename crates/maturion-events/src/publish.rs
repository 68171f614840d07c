use chrono::{DateTime, Utc};
use maturion_tenancy::TenantTransaction;
use uuid::Uuid;

use crate::event::is_event_type;
use crate::EventError;

/// An event to publish. The organisation and the publishing user are the transaction's
/// verified binding's (`maturion.publish_events` reads them; no argument names them); the id
/// is a UUIDv7 made here (monotonic within the process, so a transaction's events are
/// delivered in publication order); the timestamp is the transaction's start, set by the
/// database. `permission.*` events and the `platform` module are the platform's own: the
/// database refuses them ([`crate::permissions`]).
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event_type: String,
    pub source_module: String,
    pub source_entity_type: Option<String>,
    pub source_entity_id: Option<Uuid>,
    pub target_module: Option<String>,
    pub target_entity_type: Option<String>,
    pub target_entity_id: Option<Uuid>,
    pub payload: Option<serde_json::Value>,
}

impl NewEvent {
    /// `event_type` is dotted lower case, e.g. `risk.created`; `source_module` the publisher.
    pub fn new(event_type: impl Into<String>, source_module: impl Into<String>) -> Self {
        NewEvent {
            event_type: event_type.into(),
            source_module: source_module.into(),
            source_entity_type: None,
            source_entity_id: None,
            target_module: None,
            target_entity_type: None,
            target_entity_id: None,
            payload: None,
        }
    }

    /// The entity the event is about.
    pub fn source(mut self, entity_type: impl Into<String>, entity_id: Uuid) -> Self {
        self.source_entity_type = Some(entity_type.into());
        self.source_entity_id = Some(entity_id);
        self
    }

    /// The module, and optionally the entity, the event is addressed to.
    pub fn target(mut self, module: impl Into<String>, entity: Option<(String, Uuid)>) -> Self {
        self.target_module = Some(module.into());
        if let Some((entity_type, entity_id)) = entity {
            self.target_entity_type = Some(entity_type);
            self.target_entity_id = Some(entity_id);
        }
        self
    }

    pub fn payload(mut self, payload: serde_json::Value) -> Self {
        self.payload = Some(payload);
        self
    }

    fn validate(&self) -> Result<(), EventError> {
        if !is_event_type(&self.event_type) {
            return Err(EventError::InvalidEvent(format!(
                "event type {:?} must be dotted lower-case words, e.g. risk.created",
                self.event_type
            )));
        }
        if self.source_module.trim().is_empty() {
            return Err(EventError::InvalidEvent("source_module is empty".into()));
        }
        Ok(())
    }
}

/// Where a published event landed: `(timestamp, id)` is its key in `event_log`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedEvent {
    pub id: Uuid,
    pub timestamp: DateTime<Utc>,
}

/// Publishes one event in `tx`: it exists if and only if `tx` commits.
pub async fn publish(
    tx: &TenantTransaction,
    event: &NewEvent,
) -> Result<PublishedEvent, EventError> {
    let mut published = publish_all(tx, std::slice::from_ref(event)).await?;
    Ok(published.remove(0))
}

/// Publishes several events in `tx` with one call of `maturion.publish_events`, in this order.
pub async fn publish_all(
    tx: &TenantTransaction,
    events: &[NewEvent],
) -> Result<Vec<PublishedEvent>, EventError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    for event in events {
        event.validate()?;
    }
    let ids: Vec<Uuid> = events.iter().map(|_| Uuid::now_v7()).collect();
    let column = |f: fn(&NewEvent) -> Option<String>| events.iter().map(f).collect::<Vec<_>>();
    let event_types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let source_modules: Vec<&str> = events.iter().map(|e| e.source_module.as_str()).collect();
    let source_entity_types = column(|e| e.source_entity_type.clone());
    let source_entity_ids: Vec<Option<Uuid>> = events.iter().map(|e| e.source_entity_id).collect();
    let target_modules = column(|e| e.target_module.clone());
    let target_entity_types = column(|e| e.target_entity_type.clone());
    let target_entity_ids: Vec<Option<Uuid>> = events.iter().map(|e| e.target_entity_id).collect();
    let payloads: Vec<Option<serde_json::Value>> =
        events.iter().map(|e| e.payload.clone()).collect();

    // The organisation and the publishing user are the binding's, read by the database.
    let statement = tx
        .prepare(
            "SELECT maturion.publish_events($1::uuid[], $2::text[], $3::text[], $4::text[], $5::uuid[], \
                                            $6::text[], $7::text[], $8::uuid[], $9::jsonb[])",
        )
        .await?;
    let rows = tx
        .query(
            &statement,
            &[
                &ids,
                &event_types,
                &source_modules,
                &source_entity_types,
                &source_entity_ids,
                &target_modules,
                &target_entity_types,
                &target_entity_ids,
                &payloads,
            ],
        )
        .await?;
    let timestamp: DateTime<Utc> = rows
        .first()
        .and_then(|row| row.try_get(0).ok())
        .ok_or_else(|| EventError::Malformed("publish_events returned no timestamp".into()))?;
    Ok(ids
        .into_iter()
        .map(|id| PublishedEvent { id, timestamp })
        .collect())
}
