//! Every alert of spec §13.2 fired for real on a real cluster, the figures read back, and the
//! webhook delivered to a listener.

mod archiving_and_backups;
mod figures;
mod not_preloaded;
mod replication;
mod webhook;

use maturion_config::{MonitoringSettings, Settings, Sources};
use maturion_monitor::{Alert, Inputs, Rule, Snapshot};
use tokio_postgres::Client;

/// The defaults: spec §13.2's thresholds.
pub fn settings() -> MonitoringSettings {
    Settings::load(&Sources::default()).unwrap().monitoring
}

pub async fn look(
    client: &mut Client,
    inputs: Inputs<'_>,
    settings: &MonitoringSettings,
) -> (Snapshot, Vec<Alert>) {
    let snapshot = maturion_monitor::gather(client, inputs, settings)
        .await
        .unwrap();
    let alerts = maturion_monitor::evaluate(&snapshot, settings);
    (snapshot, alerts)
}

pub fn fired(alerts: &[Alert], rule: Rule) -> Vec<&Alert> {
    alerts.iter().filter(|alert| alert.rule == rule).collect()
}
