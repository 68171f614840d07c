use maturion_maintenance::{maintain_logs, Log, Month, Outcome, Policy, Step};

use crate::{database, exists, insert_audit, insert_events, now, organisation, partition};

async fn count(admin: &tokio_postgres::Client, table: &str) -> i64 {
    admin
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn expired_partitions_are_dropped_whole_and_younger_ones_kept() {
    let db = database().await;
    let mut admin = db.admin().await;
    let alpha = organisation(&db, "Alpha").await;
    let now = now(&admin).await;
    let month_of = |interval: &str| {
        let months: u32 = interval.split(' ').next().unwrap().parse().unwrap();
        Month::containing(now.checked_sub_months(chrono::Months::new(months)).unwrap())
    };
    insert_events(&admin, &alpha, 3, "now() - interval '15 months'").await;
    insert_events(&admin, &alpha, 4, "now() - interval '5 months'").await;
    insert_audit(&admin, &alpha, 2, "now() - interval '96 months'").await;
    insert_audit(&admin, &alpha, 3, "now() - interval '72 months'").await;
    let (old_events, young_events) = (month_of("15 months"), month_of("5 months"));
    let (old_audit, young_audit) = (month_of("96 months"), month_of("72 months"));

    let report = maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    for (log, month, rows) in [(Log::Event, old_events, 3), (Log::Audit, old_audit, 2)] {
        let name = partition(log, month);
        assert!(
            report.outcomes.contains(&Outcome::Moved {
                partition: name.clone(),
                rows
            }),
            "{report}"
        );
        assert!(
            report.outcomes.contains(&Outcome::Dropped {
                partition: name.clone(),
                through_audit_function: false
            }),
            "{report}"
        );
        assert!(
            !exists(&admin, &name).await,
            "{name} survived its retention"
        );
    }
    for (log, month) in [(Log::Event, young_events), (Log::Audit, young_audit)] {
        let name = partition(log, month);
        assert!(
            exists(&admin, &name).await,
            "{name} was dropped before its time"
        );
        assert!(!report
            .outcomes
            .iter()
            .any(|o| matches!(o, Outcome::Dropped { partition, .. } if *partition == name)));
    }
    assert_eq!(count(&admin, "event_log").await, 4);
    assert_eq!(count(&admin, "audit_log").await, 3);

    // Retention is per log and configurable: three months for events drops the 5-month-old one.
    let tighter = Policy {
        event_log_retention_months: Some(3),
        ..Policy::default()
    };
    let dry = maintain_logs(
        &mut admin,
        &Policy {
            dry_run: true,
            ..tighter.clone()
        },
    )
    .await
    .unwrap();
    assert!(
        dry.planned.contains(&Step::DropPartition {
            log: Log::Event,
            month: young_events
        }),
        "{dry}"
    );
    assert!(exists(&admin, &partition(Log::Event, young_events)).await);
    maintain_logs(&mut admin, &tighter).await.unwrap();
    assert!(!exists(&admin, &partition(Log::Event, young_events)).await);
    assert_eq!(count(&admin, "event_log").await, 0);
    assert_eq!(count(&admin, "audit_log").await, 3);

    // No retention keeps everything.
    let forever = Policy {
        audit_log_retention_months: None,
        event_log_retention_months: None,
        ..Policy::default()
    };
    insert_audit(&admin, &alpha, 1, "now() - interval '30 years'").await;
    let report = maintain_logs(&mut admin, &forever).await.unwrap();
    assert!(
        !report
            .outcomes
            .iter()
            .any(|o| matches!(o, Outcome::Dropped { .. })),
        "{report}"
    );
    assert_eq!(count(&admin, "audit_log").await, 4);
}

#[tokio::test]
async fn audit_partitions_go_through_the_audit_functions_when_they_exist() {
    let db = database().await;
    let mut admin = db.admin().await;
    // Stand-ins for the audit crate's functions, recording their calls.
    admin
        .batch_execute(
            "SET ROLE maturion_owner;
             CREATE TABLE public.audit_function_calls (function text, partition text);
             CREATE FUNCTION maturion.protect_audit_partition(target regclass) RETURNS void LANGUAGE sql
               AS $$ INSERT INTO public.audit_function_calls VALUES ('protect', target::text) $$;
             CREATE FUNCTION maturion.drop_audit_partition(target regclass) RETURNS void LANGUAGE plpgsql
               SECURITY DEFINER SET search_path = pg_catalog AS $$
             BEGIN
               INSERT INTO public.audit_function_calls VALUES ('drop', target::text);
               EXECUTE format('DROP TABLE %s', target);
             END $$;
             RESET ROLE;",
        )
        .await
        .unwrap();
    let alpha = organisation(&db, "Alpha").await;
    insert_audit(&admin, &alpha, 2, "now() - interval '8 years'").await;
    insert_events(&admin, &alpha, 2, "now() - interval '2 years'").await;
    let expired = Month::containing(
        now(&admin)
            .await
            .checked_sub_months(chrono::Months::new(96))
            .unwrap(),
    );

    let report = maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    let name = partition(Log::Audit, expired);
    assert!(
        report.outcomes.contains(&Outcome::Dropped {
            partition: name.clone(),
            through_audit_function: true
        }),
        "{report}"
    );
    assert!(!exists(&admin, &name).await);
    // Event partitions are dropped plainly.
    assert!(report
        .outcomes
        .iter()
        .any(|o| matches!(o, Outcome::Dropped { partition, through_audit_function: false } if partition.starts_with("event_log_p"))));

    let calls: Vec<(String, String)> = admin
        .query(
            "SELECT function, partition FROM public.audit_function_calls ORDER BY 1, 2",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| {
            let partition: String = row.get(1);
            (
                row.get(0),
                partition.trim_start_matches("public.").to_owned(),
            )
        })
        .collect();
    let current = Month::containing(report.now);
    let mut expected: Vec<(String, String)> = (0..=3)
        .map(|ahead| {
            (
                "protect".to_owned(),
                partition(Log::Audit, current.plus(ahead)),
            )
        })
        .chain([
            ("protect".to_owned(), name.clone()),
            ("drop".to_owned(), name.clone()),
            // The default partition is protected again after the move re-attaches it.
            ("protect".to_owned(), "audit_log_default".to_owned()),
        ])
        .collect();
    expected.sort();
    assert_eq!(calls, expected);
}
