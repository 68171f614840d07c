//! A cluster of its own with pgBackRest (the shared test cluster must not archive): no backup,
//! then a backup too old, a broken archive_command and the backup it makes fail.

use std::time::Duration;

use maturion_backup::{BackupKind, BackupSettings, Passphrase};
use maturion_cluster::{Cluster, ClusterOptions, StopMode};
use maturion_monitor::{Figure, Inputs, Rule};
use tempfile::TempDir;
use tokio_postgres::Client;

use crate::{cluster_home, fired, look, settings, superuser};

struct Scene {
    _home: TempDir,
    cluster: Cluster,
}

impl Drop for Scene {
    fn drop(&mut self) {
        let _ = self.cluster.stop(StopMode::Immediate);
    }
}

async fn backed_up_scene() -> Scene {
    let home = cluster_home("mmon");
    let cluster = Cluster::new(home.path().join("c"), ClusterOptions::default()).unwrap();
    cluster.start().unwrap();
    let mut settings = BackupSettings::for_home(cluster.home());
    settings.repositories = vec![home.path().join("repo1")];
    settings.archive_wait_secs = 5;
    let passphrase = Passphrase::new("a passphrase for the monitoring tests").unwrap();
    maturion_backup::setup(&cluster, &settings, &passphrase)
        .await
        .unwrap();
    Scene {
        _home: home,
        cluster,
    }
}

async fn reload(client: &Client) {
    client
        .batch_execute("SELECT pg_reload_conf()")
        .await
        .unwrap();
}

/// Until pg_stat_archiver has counted a failure.
async fn wait_for_archive_failure(client: &Client) {
    client
        .batch_execute("CREATE TABLE IF NOT EXISTS filler (x int); INSERT INTO filler VALUES (1)")
        .await
        .unwrap();
    client
        .batch_execute("SELECT pg_switch_wal()")
        .await
        .unwrap();
    for _ in 0..300 {
        let failed: i64 = client
            .query_one("SELECT failed_count FROM pg_stat_archiver", &[])
            .await
            .unwrap()
            .get(0);
        if failed > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the archiver never failed");
}

#[tokio::test]
async fn overdue_and_failed_backups_and_failing_wal_archiving_fire() {
    let scene = backed_up_scene().await;
    let mut client = superuser(&scene.cluster).await;
    let inputs = || Inputs {
        cluster: Some(&scene.cluster),
        ..Inputs::default()
    };

    // Set up, never backed up: overdue, not failed.
    let (snapshot, alerts) = look(&mut client, inputs(), &settings()).await;
    assert!(
        matches!(snapshot.backups, Figure::Available(_)),
        "{snapshot:?}"
    );
    let overdue = fired(&alerts, Rule::BackupOverdue);
    assert_eq!(overdue.len(), 1, "{alerts:?}");
    assert_eq!(overdue[0].summary, "there is no backup");
    assert!(fired(&alerts, Rule::BackupFailed).is_empty(), "{alerts:?}");
    assert!(
        fired(&alerts, Rule::WalArchivingFailing).is_empty(),
        "{alerts:?}"
    );

    // A fresh full backup is on time; older than a tight maximum age, it is overdue.
    maturion_backup::run(&scene.cluster, BackupKind::Full)
        .await
        .unwrap();
    let (snapshot, alerts) = look(&mut client, inputs(), &settings()).await;
    assert!(fired(&alerts, Rule::BackupOverdue).is_empty(), "{alerts:?}");
    assert!(snapshot
        .backups
        .available()
        .unwrap()
        .newest_full_at
        .is_some());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut tight = settings();
    tight.backup_max_age = Duration::from_secs(1);
    let (_, alerts) = look(&mut client, inputs(), &tight).await;
    let overdue = fired(&alerts, Rule::BackupOverdue);
    assert_eq!(overdue.len(), 1, "{alerts:?}");
    assert!(overdue[0].value.unwrap() >= 2.0, "{overdue:?}");

    // archive_command broken: archiving fails, and so does the next backup.
    client
        .batch_execute("ALTER SYSTEM SET archive_command = 'false'")
        .await
        .unwrap();
    reload(&client).await;
    wait_for_archive_failure(&client).await;
    let failed_run = maturion_backup::run(&scene.cluster, BackupKind::Incr)
        .await
        .expect_err("a backup without WAL archiving fails");
    let broken = Inputs {
        backup_run_failure: Some(failed_run.to_string()),
        ..inputs()
    };
    let (snapshot, alerts) = look(&mut client, broken, &settings()).await;
    assert!(
        snapshot.wal_archiving.failing,
        "{:?}",
        snapshot.wal_archiving
    );
    let archiving = fired(&alerts, Rule::WalArchivingFailing);
    assert_eq!(archiving.len(), 1, "{alerts:?}");
    let failed = fired(&alerts, Rule::BackupFailed);
    assert_eq!(failed.len(), 1, "{alerts:?}");
    assert!(
        failed[0]
            .summary
            .starts_with("the last scheduled backup failed: pgbackrest backup"),
        "{failed:?}"
    );

    // Repaired: the next archived segment resolves the archiving alert.
    client
        .batch_execute("ALTER SYSTEM RESET archive_command")
        .await
        .unwrap();
    reload(&client).await;
    for _ in 0..300 {
        let (_, alerts) = look(&mut client, inputs(), &settings()).await;
        if fired(&alerts, Rule::WalArchivingFailing).is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("WAL archiving never recovered");
}
