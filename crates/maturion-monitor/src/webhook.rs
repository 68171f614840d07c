//! Alerts delivered by webhook: each evaluation POSTs, as JSON, the alerts that started firing
//! and those that resolved since the last delivery that succeeded; a failed delivery is tried
//! again at the next evaluation, so no change is lost while the receiver is down.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use maturion_config::Secret;
use serde::Serialize;

use crate::error::MonitorError;
use crate::rules::{Alert, Rule};

pub struct Webhook {
    url: Secret<String>,
    http: reqwest::Client,
    /// The firing alerts the receiver was last told about.
    notified: BTreeMap<(Rule, String), Alert>,
}

#[derive(Debug, Serialize)]
struct Delivery<'a> {
    source: &'static str,
    sent_at: String,
    alerts: Vec<Change<'a>>,
}

#[derive(Debug, Serialize)]
struct Change<'a> {
    /// `firing` or `resolved`.
    status: &'static str,
    #[serde(flatten)]
    alert: &'a Alert,
}

impl Webhook {
    pub fn new(url: Secret<String>, timeout: Duration) -> Result<Self, MonitorError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|error| MonitorError::WebhookUnreachable {
                reason: error.to_string(),
            })?;
        Ok(Self {
            url,
            http,
            notified: BTreeMap::new(),
        })
    }

    /// Sends what changed against the last delivery; returns how many changes were sent
    /// (0: nothing to say, nothing sent).
    pub async fn deliver(&mut self, firing: &[Alert]) -> Result<usize, MonitorError> {
        let current: BTreeMap<(Rule, String), Alert> = firing
            .iter()
            .map(|alert| ((alert.rule, alert.subject.clone()), alert.clone()))
            .collect();
        let started = current
            .iter()
            .filter(|(key, _)| !self.notified.contains_key(*key))
            .map(|(_, alert)| Change {
                status: "firing",
                alert,
            });
        let resolved = self
            .notified
            .iter()
            .filter(|(key, _)| !current.contains_key(*key))
            .map(|(_, alert)| Change {
                status: "resolved",
                alert,
            });
        let alerts: Vec<Change> = started.chain(resolved).collect();
        let sent = alerts.len();
        if sent > 0 {
            self.post(&Delivery {
                source: "maturion",
                sent_at: Utc::now().to_rfc3339(),
                alerts,
            })
            .await?;
        }
        self.notified = current;
        Ok(sent)
    }

    async fn post(&self, delivery: &Delivery<'_>) -> Result<(), MonitorError> {
        let response = self
            .http
            .post(self.url.expose())
            .json(delivery)
            .send()
            .await
            .map_err(|error| MonitorError::WebhookUnreachable {
                // Without the URL, which may carry a token.
                reason: error.without_url().to_string(),
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(MonitorError::WebhookStatus {
                status: status.as_u16(),
            })
        }
    }
}
