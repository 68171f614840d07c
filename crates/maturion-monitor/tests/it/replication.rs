//! A primary of its own with a streaming replica (`pg_basebackup -R`) that applies WAL 8 s late
//! (`recovery_min_apply_delay`): the replica is found, and its lag fires replication_lag.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::time::Duration;

use maturion_cluster::{Cluster, ClusterOptions, ServerBinaries, StopMode};
use maturion_monitor::{Inputs, Rule};
use tempfile::TempDir;

use crate::{cluster_home, fired, look, settings, superuser};

struct Pair {
    _home: TempDir,
    clusters: Vec<Cluster>,
}

impl Drop for Pair {
    fn drop(&mut self) {
        for cluster in self.clusters.iter().rev() {
            let _ = cluster.stop(StopMode::Immediate);
        }
    }
}

fn primary_and_delayed_replica() -> Pair {
    let home = cluster_home("mrep");
    let primary = Cluster::new(home.path().join("p"), ClusterOptions::default()).unwrap();
    primary.start().unwrap();
    let replica = Cluster::new(home.path().join("r"), ClusterOptions::default()).unwrap();
    replica.prepare_restore().unwrap();
    let binaries = ServerBinaries::find(None).unwrap();
    let status = primary.status().unwrap();
    let copied = replica
        .owner_command(binaries.dir.join("pg_basebackup"))
        .arg("--pgdata")
        .arg(replica.data_dir())
        .arg("--host")
        .arg(&status.socket_dir)
        .args(["--port", &status.port.unwrap().to_string()])
        .args([
            "--username",
            "postgres",
            "--write-recovery-conf",
            "--checkpoint=fast",
        ])
        .args(["--wal-method=stream", "--no-sync"])
        .output()
        .unwrap();
    assert!(copied.status.success(), "{copied:?}");
    let mut settings = OpenOptions::new()
        .append(true)
        .open(replica.data_dir().join("postgresql.auto.conf"))
        .unwrap();
    writeln!(settings, "recovery_min_apply_delay = '8s'").unwrap();
    replica.adopt_restored().unwrap();
    replica.start().unwrap();
    Pair {
        _home: home,
        clusters: vec![primary, replica],
    }
}

#[tokio::test]
async fn a_replica_further_behind_than_5_seconds_fires_replication_lag() {
    let pair = primary_and_delayed_replica();
    let primary = &pair.clusters[0];
    let mut client = superuser(primary).await;

    client
        .batch_execute("CREATE TABLE written (x int); INSERT INTO written VALUES (1)")
        .await
        .unwrap();
    // The replica replays that commit 8 s after the primary flushed it, and reports it.
    for _ in 0..200 {
        let (snapshot, alerts) = look(&mut client, Inputs::default(), &settings()).await;
        let lagging = fired(&alerts, Rule::ReplicationLag);
        if !lagging.is_empty() {
            assert_eq!(snapshot.replication.len(), 1, "{:?}", snapshot.replication);
            assert_eq!(
                lagging[0].subject,
                format!("replica {}", snapshot.replication[0].name)
            );
            assert!(lagging[0].value.unwrap() > 5.0, "{lagging:?}");
            assert_eq!(lagging[0].threshold, Some(5.0));
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the replica's lag never showed");
}
