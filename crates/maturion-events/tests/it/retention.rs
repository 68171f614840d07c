//! The maintenance job on the bus's log: monthly partitions keep event_log's fillfactor (so
//! that setting processed_at stays on the row's page), and a month dropped by retention takes
//! the commit records of its events with it.

use maturion_maintenance::{maintain_logs, Fix, Outcome, Policy};
use tokio_postgres::Client;

use crate::support::{self, publish};
use maturion_testing::organisation_with_admin;

/// Every partition of event_log with its storage parameters.
async fn storage(admin: &Client) -> Vec<(String, Vec<String>)> {
    admin
        .query(
            "SELECT c.relname::text, coalesce(c.reloptions, '{}') FROM pg_inherits i \
             JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'public.event_log'::regclass ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

#[tokio::test]
async fn monthly_partitions_keep_the_fillfactor_of_the_default_partition() {
    let db = support::database().await;
    let mut admin = db.admin().await;
    maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    let partitions = storage(&admin).await;
    assert_eq!(
        partitions.len(),
        5,
        "the default, this month and three ahead: {partitions:?}"
    );
    for (name, options) in &partitions {
        assert!(
            options.contains(&"fillfactor=90".to_owned()),
            "{name}: {options:?}"
        );
    }

    // Drift (a partition made by hand, or before this rule) is repaired by the next run.
    let (drifted, _) = partitions
        .iter()
        .find(|(name, _)| name != "event_log_default")
        .unwrap();
    admin
        .batch_execute(&format!("ALTER TABLE public.{drifted} RESET (fillfactor)"))
        .await
        .unwrap();
    let report = maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    assert!(
        report.outcomes.contains(&Outcome::Hardened {
            partition: drifted.clone(),
            fixes: vec![Fix::StorageParameters]
        }),
        "{:?}",
        report.outcomes
    );
    assert_eq!(storage(&admin).await, partitions);
}

#[tokio::test]
async fn a_dropped_month_forgets_the_commit_records_of_its_events() {
    let db = support::database().await;
    let app = support::app(&db, 1);
    let mut admin = db.admin().await;
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    publish(&app, &alpha, "risk.created", 1).await;
    // An event of three years ago, its commit record dated to then.
    admin
        .execute(
            "INSERT INTO event_log (organisation_id, \"timestamp\", event_type, source_module) \
             VALUES ($1, now() - interval '3 years', 'risk.created', 'tests')",
            &[&alpha.organisation],
        )
        .await
        .unwrap();
    let backdated = admin
        .execute(
            "UPDATE maturion.event_commits SET committed_at = committed_at - interval '3 years' \
             WHERE event_timestamps[1] < now() - interval '1 year'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(backdated, 1);
    let report = maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    assert!(
        report
            .outcomes
            .iter()
            .any(|o| matches!(o, Outcome::Dropped { partition, .. } if partition.starts_with("event_log_p"))),
        "{:?}",
        report.outcomes
    );
    let left: Vec<bool> = admin
        .query(
            "SELECT committed_at > now() - interval '1 day' FROM maturion.event_commits ORDER BY position",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(left, [true], "only the recent commit record is left");
}
