//! Rows dated where no monthly partition can go (before year 1, after 9998, infinite) stay in
//! the default partition, are reported, and stop nothing: partitions, retention and rollups go
//! on, run after run.

use maturion_maintenance::{maintain_logs, Log, Month, Outcome, Policy};

use crate::{database, insert_audit, insert_events, now, organisation, partition, rows_in};

const UNPLACEABLE: [&str; 4] = [
    "'263000-06-01 00:00:00+00'::timestamptz",
    "'4000-01-01 00:00:00+00 BC'::timestamptz",
    "'infinity'::timestamptz",
    "'-infinity'::timestamptz",
];

#[tokio::test]
async fn rows_no_partition_can_hold_are_quarantined_and_maintenance_goes_on() {
    let db = database().await;
    let mut admin = db.admin().await;
    let alpha = organisation(&db, "Alpha").await;
    for at in UNPLACEABLE {
        insert_audit(&admin, &alpha, 1, at).await;
        insert_events(&admin, &alpha, 1, at).await;
    }
    insert_events(&admin, &alpha, 3, "now()").await;

    for run in 0..2 {
        let report = maintain_logs(&mut admin, &Policy::default())
            .await
            .unwrap_or_else(|error| panic!("run {run}: {error}"));
        for log in ["audit_log", "event_log"] {
            assert!(
                report.notes.iter().any(|note| note.contains(&format!(
                    "4 rows of {log} are dated where no monthly partition can hold them"
                )) && note.contains("quarantined")),
                "run {run}: {report}"
            );
            assert_eq!(rows_in(&admin, &format!("{log}_default")).await, 4);
        }
        let refreshed: Vec<_> = report
            .outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Refreshed(_)))
            .collect();
        assert_eq!(refreshed.len(), 2, "run {run}: {report}");
    }
    // The placeable rows went to their month as usual.
    let current = Month::containing(now(&admin).await);
    assert_eq!(rows_in(&admin, &partition(Log::Event, current)).await, 3);
}
