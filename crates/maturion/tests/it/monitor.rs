//! `maturion monitor` and the server's monitoring: the figures, `--alerts`, `/metrics` against
//! the shipped Prometheus rules, and the webhook.

use std::collections::BTreeSet;
use std::path::Path;

use maturion_testing::{closed_port_url, WebhookReceiver};
use serde_json::Value;

use crate::server::RunningServer;
use crate::{describe, maturion, stdout};

const RULES_FILE: &str = "deploy/prometheus/maturion-alerts.yml";

#[tokio::test]
async fn monitor_reports_the_figures_and_alerts_exits_non_zero_when_one_fires() {
    let db = maturion_testing::migrated_database().await;
    let url = db.url("postgres");
    let calm = maturion(&["monitor", "--alerts"], None, Some(&url));
    assert!(calm.status.success(), "{}", describe(&calm));
    let table = stdout(&calm);
    for heading in [
        "slow queries",
        "connections",
        "index usage",
        "bloat",
        "WAL archiving",
    ] {
        assert!(table.contains(heading), "{table}");
    }
    assert!(table.contains("backups: not available"), "{table}");

    db.admin()
        .await
        .batch_execute("SELECT pg_sleep(1.5)")
        .await
        .unwrap();
    let firing = maturion(
        &["monitor", "--alerts", "--format", "json"],
        None,
        Some(&url),
    );
    assert_eq!(firing.status.code(), Some(1), "{}", describe(&firing));
    let report: Value = serde_json::from_str(&stdout(&firing)).unwrap();
    let alerts = report["alerts"].as_array().unwrap();
    assert!(alerts.iter().any(|a| a["rule"] == "slow_query"), "{report}");
    let statements = report["slow_queries"]["available"].as_array().unwrap();
    assert!(
        statements[0]["query"]
            .as_str()
            .unwrap()
            .contains("pg_sleep"),
        "{report}"
    );
    assert!(report["connections"]["max_connections"].as_i64().unwrap() > 0);
    assert!(report["pool"]["not_available"].is_string(), "{report}");

    // Without --alerts the same state is a report, not a failure.
    let reported = maturion(&["monitor"], None, Some(&url));
    assert!(reported.status.success(), "{}", describe(&reported));
    assert!(
        stdout(&reported).contains("FIRING slow_query"),
        "{}",
        stdout(&reported)
    );

    // The extensions the first look created are no finding of the conformance check.
    let check = maturion(&["check"], None, Some(&url));
    assert!(check.status.success(), "{}", describe(&check));
}

#[tokio::test]
async fn the_server_exports_every_metric_the_rules_name_and_posts_alerts_to_the_webhook() {
    let db = maturion_testing::migrated_database().await;
    db.admin()
        .await
        .batch_execute("SELECT pg_sleep(1.5)")
        .await
        .unwrap();
    let mut receiver = WebhookReceiver::start(200).await;
    let server = RunningServer::start_with(
        &db,
        &[
            ("MATURION_MONITORING_INTERVAL_SECONDS", "1"),
            ("MATURION_MONITORING_WEBHOOK_URL", &receiver.url),
        ],
    );

    let posted = receiver
        .next(30)
        .await
        .expect("the server posts the firing alert");
    let body: Value = serde_json::from_str(&posted.body).unwrap();
    let slow = body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["rule"] == "slow_query")
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(slow["status"], "firing");

    let metrics = server.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("maturion_alerts_firing{rule=\"slow_query\"} 1"),
        "{metrics}"
    );
    let exported = metric_names(&metrics);
    let referenced = rule_metrics();
    assert!(referenced.len() >= 8, "{referenced:?}");
    let missing: Vec<&String> = referenced.difference(&exported).collect();
    assert!(
        missing.is_empty(),
        "{RULES_FILE} names metrics /metrics lacks: {missing:?}"
    );
}

/// Every metric family `/metrics` declares or has samples of.
fn metric_names(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter_map(|line| match line.strip_prefix("# TYPE ") {
            Some(declared) => declared.split_whitespace().next(),
            None if line.starts_with('#') => None,
            None => line.split(['{', ' ']).next(),
        })
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The `maturion_*` metrics the expressions of the rules file name, read as YAML.
fn rule_metrics() -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(RULES_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let rules: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let mut names = BTreeSet::new();
    for group in rules["groups"].as_sequence().expect("groups") {
        for rule in group["rules"].as_sequence().expect("rules") {
            let expr = rule["expr"].as_str().expect("every rule has an expr");
            assert!(rule["alert"].as_str().is_some(), "{rule:?}");
            let named: Vec<&str> = expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|token| token.starts_with("maturion_"))
                .collect();
            assert!(!named.is_empty(), "a rule over no Maturion metric: {expr}");
            names.extend(named.into_iter().map(str::to_owned));
        }
    }
    names
}

#[tokio::test]
async fn a_webhook_that_is_down_never_stops_the_server() {
    let db = maturion_testing::migrated_database().await;
    db.admin()
        .await
        .batch_execute("SELECT pg_sleep(1.5)")
        .await
        .unwrap();
    let server = RunningServer::start_with(
        &db,
        &[
            ("MATURION_MONITORING_INTERVAL_SECONDS", "1"),
            ("MATURION_MONITORING_WEBHOOK_TIMEOUT_SECONDS", "1"),
            ("MATURION_MONITORING_WEBHOOK_URL", &closed_port_url()),
        ],
    );
    let mut evaluations = BTreeSet::new();
    for _ in 0..100 {
        let metrics = server.get("/metrics").await.text().await.unwrap();
        evaluations.extend(
            metrics
                .lines()
                .filter(|line| {
                    line.starts_with("maturion_monitor_last_evaluation_timestamp_seconds ")
                })
                .map(str::to_owned),
        );
        if evaluations.len() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        evaluations.len() >= 3,
        "the server kept evaluating: {evaluations:?}"
    );
    assert_eq!(server.json("/healthz").await.0, 200);
    let stopped = server.terminate();
    assert!(stopped.status.success(), "{}", crate::stderr(&stopped));
}
