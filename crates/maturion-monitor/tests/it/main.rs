//! Every alert of spec §13.2 fired for real on a real cluster, the figures read back, and the
//! webhook delivered to a listener.

mod archiving_and_backups;
mod figures;
mod not_preloaded;
mod replication;
mod webhook;

use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt;

use maturion_cluster::Cluster;
use maturion_config::{MonitoringSettings, Settings, Sources};
use maturion_monitor::{Alert, Inputs, Rule, Snapshot};
use tempfile::TempDir;
use tokio_postgres::Client;

/// A folder for a test's own clusters, which the server's user may enter.
pub fn cluster_home(prefix: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .permissions(Permissions::from_mode(0o755))
        .tempdir()
        .unwrap()
}

/// The superuser of a test's own cluster, on its socket.
pub async fn superuser(cluster: &Cluster) -> Client {
    let config = cluster.config(cluster.superuser(), "postgres");
    maturion_config::connect(&config).await.unwrap()
}

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
