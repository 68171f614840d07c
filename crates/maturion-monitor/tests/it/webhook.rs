//! The webhook against a listener in the test: what started firing, then what resolved, once
//! each; a receiver that is down or silent costs a bounded wait and loses nothing.

use std::time::{Duration, Instant};

use maturion_config::Secret;
use maturion_monitor::{Inputs, Rule, Webhook};
use maturion_testing::{closed_port_url, migrated_database, WebhookReceiver};
use serde_json::Value;

use crate::{fired, look, settings};

#[tokio::test]
async fn a_slow_query_is_posted_as_firing_once_then_as_resolved() {
    let db = migrated_database().await;
    let mut admin = db.admin().await;
    admin.batch_execute("SELECT pg_sleep(1.5)").await.unwrap();
    let (_, alerts) = look(&mut admin, Inputs::default(), &settings()).await;
    assert_eq!(fired(&alerts, Rule::SlowQuery).len(), 1, "{alerts:?}");

    let mut receiver = WebhookReceiver::start(200).await;
    let mut webhook =
        Webhook::new(Secret::new(receiver.url.clone()), Duration::from_secs(5)).unwrap();
    assert_eq!(webhook.deliver(&alerts).await.unwrap(), alerts.len());
    let request = receiver.next(5).await.expect("the alert is posted");
    assert_eq!(request.request_line, "POST /hook HTTP/1.1");
    assert_eq!(request.content_type.as_deref(), Some("application/json"));
    let body: Value = serde_json::from_str(&request.body).unwrap();
    assert_eq!(body["source"], "maturion");
    let posted = &body["alerts"][0];
    assert_eq!(posted["status"], "firing");
    assert_eq!(posted["rule"], "slow_query");
    assert!(
        posted["summary"].as_str().unwrap().contains("pg_sleep"),
        "{posted}"
    );

    // Still firing: nothing new to say.
    assert_eq!(webhook.deliver(&alerts).await.unwrap(), 0);
    assert!(receiver.next(1).await.is_none());

    // Statistics reset: the slow query is gone, and it is posted as resolved.
    admin
        .batch_execute("SELECT maturion_monitoring.pg_stat_statements_reset()")
        .await
        .unwrap();
    let (_, now) = look(&mut admin, Inputs::default(), &settings()).await;
    assert!(fired(&now, Rule::SlowQuery).is_empty(), "{now:?}");
    webhook.deliver(&now).await.unwrap();
    let body: Value = serde_json::from_str(&receiver.next(5).await.unwrap().body).unwrap();
    let resolved: Vec<&Value> = body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["rule"] == "slow_query")
        .collect();
    assert_eq!(resolved.len(), 1, "{body}");
    assert_eq!(resolved[0]["status"], "resolved");
}

#[tokio::test]
async fn a_receiver_down_silent_or_refusing_is_an_error_and_the_change_is_sent_later() {
    let db = migrated_database().await;
    let mut admin = db.admin().await;
    admin.batch_execute("SELECT pg_sleep(1.5)").await.unwrap();
    let (_, alerts) = look(&mut admin, Inputs::default(), &settings()).await;
    assert!(!alerts.is_empty());

    let secret_url = format!("{}?token=hook-secret", closed_port_url());
    let mut down = Webhook::new(Secret::new(secret_url), Duration::from_secs(2)).unwrap();
    let error = down.deliver(&alerts).await.unwrap_err().to_string();
    assert!(error.contains("could not be reached"), "{error}");
    assert!(!error.contains("hook-secret"), "{error}");

    // A listener that accepts and never answers: the timeout ends the wait.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}/hook", silent.local_addr().unwrap());
    let mut webhook = Webhook::new(Secret::new(silent_url), Duration::from_secs(1)).unwrap();
    let started = Instant::now();
    assert!(webhook.deliver(&alerts).await.is_err());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    let mut refusing = WebhookReceiver::start(500).await;
    let mut webhook =
        Webhook::new(Secret::new(refusing.url.clone()), Duration::from_secs(2)).unwrap();
    let error = webhook.deliver(&alerts).await.unwrap_err().to_string();
    assert!(error.contains("HTTP 500"), "{error}");
    refusing.next(2).await.expect("the refused post arrived");
    // Not delivered, so tried again at the next evaluation.
    assert!(webhook.deliver(&alerts).await.is_err());
    assert!(refusing.next(2).await.is_some(), "the change is sent again");
}
