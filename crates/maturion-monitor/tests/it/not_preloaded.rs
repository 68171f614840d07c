//! A server whose operator did not preload pg_stat_statements: the view exists but cannot be
//! read, and monitoring says why instead of failing.

use maturion_cluster::{Cluster, ClusterOptions, StopMode};
use maturion_monitor::{Figure, Inputs};

use crate::{cluster_home, look, settings, superuser};

#[tokio::test]
async fn without_the_preloaded_library_slow_queries_are_not_available_and_the_rest_is() {
    let home = cluster_home("mnpl");
    let cluster = Cluster::new(home.path().join("c"), ClusterOptions::default()).unwrap();
    cluster.start().unwrap();
    // postgresql.auto.conf is read after the embedded cluster's own settings: another
    // library (contrib's auto_explain, idle unless configured) takes pg_stat_statements' place.
    superuser(&cluster)
        .await
        .batch_execute("ALTER SYSTEM SET shared_preload_libraries = 'auto_explain'")
        .await
        .unwrap();
    cluster.stop(StopMode::Fast).unwrap();
    cluster.start().unwrap();
    let mut client = superuser(&cluster).await;
    client
        .batch_execute("CREATE SCHEMA maturion_monitoring")
        .await
        .unwrap();

    let (snapshot, alerts) = look(&mut client, Inputs::default(), &settings()).await;
    let _ = cluster.stop(StopMode::Immediate);
    let Figure::NotAvailable(reason) = &snapshot.slow_queries else {
        panic!("{:?}", snapshot.slow_queries);
    };
    assert!(reason.contains("shared_preload_libraries"), "{reason}");
    assert!(
        snapshot.bloat.iter().all(|t| t.bloat.available().is_some()),
        "{snapshot:?}"
    );
    assert!(alerts.is_empty(), "{alerts:?}");
}
