use std::time::Duration;

use maturion_tenancy::OrganisationId;
use tokio_postgres::Client;

use crate::event::like_pattern;
use crate::EventError;

/// Where a new subscription starts reading each organisation's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartFrom {
    /// Every event still in the log.
    Beginning,
    /// Only events committed after registration.
    Now,
}

/// A module's named subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    /// Lower case, e.g. `risks.notify_owner`; `[a-z][a-z0-9_.-]*`.
    pub name: String,
    /// Exact types (`risk.created`), prefixes (`risk.*`) or `*`.
    pub event_types: Vec<String>,
    /// Only this organisation's events; `None` for all.
    pub organisation_id: Option<OrganisationId>,
    pub start: StartFrom,
    /// Failed deliveries of one event before it is dead-lettered.
    pub max_attempts: u32,
    /// First retry delay; doubled per failed attempt up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
}

impl Subscription {
    /// A subscription for every organisation, from the beginning, 10 attempts, retries after
    /// 1 s, 2 s, 4 s… up to 10 minutes.
    pub fn new(name: impl Into<String>, event_types: &[&str]) -> Self {
        Subscription {
            name: name.into(),
            event_types: event_types.iter().map(|t| t.to_string()).collect(),
            organisation_id: None,
            start: StartFrom::Beginning,
            max_attempts: 10,
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(600),
        }
    }

    pub fn for_organisation(mut self, organisation_id: OrganisationId) -> Self {
        self.organisation_id = Some(organisation_id);
        self
    }

    pub fn starting_from(mut self, start: StartFrom) -> Self {
        self.start = start;
        self
    }

    pub fn retries(mut self, max_attempts: u32, retry_base: Duration, retry_max: Duration) -> Self {
        self.max_attempts = max_attempts;
        self.retry_base = retry_base;
        self.retry_max = retry_max;
        self
    }

    fn validate(&self) -> Result<(), EventError> {
        let name_ok = self.name.starts_with(|c: char| c.is_ascii_lowercase())
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c));
        if !name_ok {
            return Err(EventError::InvalidSubscription(format!(
                "name {:?} must match [a-z][a-z0-9_.-]*",
                self.name
            )));
        }
        if self.event_types.is_empty() {
            return Err(EventError::InvalidSubscription(
                "no event types; use \"*\" for all".into(),
            ));
        }
        if let Some(bad) = self.event_types.iter().find(|t| like_pattern(t).is_none()) {
            return Err(EventError::InvalidSubscription(format!(
                "event type {bad:?} is neither a type (risk.created), a prefix (risk.*) nor *"
            )));
        }
        if self.max_attempts == 0 || self.retry_base.is_zero() || self.retry_max < self.retry_base {
            return Err(EventError::InvalidSubscription(
                "max_attempts must be positive and 0 < retry_base <= retry_max".into(),
            ));
        }
        Ok(())
    }
}

/// Registers `subscription`, or updates its definition (its cursors stay). Returns true when
/// it is new. `maintenance` is a connection as `maturion_maintenance` (or an administrator).
pub async fn subscribe(
    maintenance: &Client,
    subscription: &Subscription,
) -> Result<bool, EventError> {
    subscription.validate()?;
    let row = maintenance
        .query_one(
            "SELECT maturion.event_subscribe($1, $2, $3, $4, $5, make_interval(secs => $6), make_interval(secs => $7))",
            &[
                &subscription.name,
                &subscription.event_types,
                &subscription.organisation_id.map(|o| o.as_uuid()),
                &(subscription.start == StartFrom::Now),
                &(subscription.max_attempts.min(i32::MAX as u32) as i32),
                &subscription.retry_base.as_secs_f64(),
                &subscription.retry_max.as_secs_f64(),
            ],
        )
        .await?;
    Ok(row.get(0))
}

/// Removes a subscription with its cursors and dead letters. Returns false if it did not exist.
pub async fn unsubscribe(maintenance: &Client, name: &str) -> Result<bool, EventError> {
    Ok(maintenance
        .query_one("SELECT maturion.event_unsubscribe($1)", &[&name])
        .await?
        .get(0))
}

/// The subscription's event types as `LIKE` patterns.
pub(crate) async fn patterns(maintenance: &Client, name: &str) -> Result<Vec<String>, EventError> {
    let row = maintenance
        .query_opt(
            "SELECT event_types FROM maturion.event_subscriptions WHERE name = $1",
            &[&name],
        )
        .await?
        .ok_or_else(|| EventError::UnknownSubscription(name.to_owned()))?;
    let types: Vec<String> = row.get(0);
    types
        .iter()
        .map(|t| {
            like_pattern(t)
                .ok_or_else(|| EventError::InvalidSubscription(format!("stored event type {t:?}")))
        })
        .collect()
}
