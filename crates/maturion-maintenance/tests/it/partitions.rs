use std::collections::BTreeSet;

use maturion_maintenance::{
    maintain_logs, maintain_logs_with_progress, Fix, Log, Month, Outcome, Policy, Progress, Step,
};
use maturion_tenancy::TenancyError;

use crate::{
    app_database, database, exists, insert_audit, insert_events, now, organisation, partition,
    rows_in,
};

fn changes(outcomes: &[Outcome]) -> Vec<&Outcome> {
    outcomes
        .iter()
        .filter(|o| !matches!(o, Outcome::Refreshed(_)))
        .collect()
}

#[tokio::test]
async fn creates_the_current_month_and_three_ahead_once() {
    let db = database().await;
    let mut admin = db.admin().await;
    let report = maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    let current = Month::containing(report.now);
    admin.batch_execute("SET TimeZone = 'UTC'").await.unwrap();
    for log in Log::ALL {
        for ahead in 0..=3 {
            let month = current.plus(ahead);
            let name = partition(log, month);
            assert!(exists(&admin, &name).await, "{name} missing");
            let bound: String = admin
                .query_one(
                    "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = $1",
                    &[&name],
                )
                .await
                .unwrap()
                .get(0);
            let expected = format!(
                "FOR VALUES FROM ('{}') TO ('{}')",
                month.start().format("%Y-%m-%d %H:%M:%S+00"),
                month.end().format("%Y-%m-%d %H:%M:%S+00")
            );
            assert_eq!(bound, expected, "{name}");
        }
        assert!(!exists(&admin, &partition(log, current.plus(4))).await);
    }
    let created = report
        .outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Created { .. }))
        .count();
    assert_eq!(created, 8, "{report}");

    let again = maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    assert!(
        changes(&again.outcomes).is_empty(),
        "a second run changed things:\n{again}"
    );
}

#[tokio::test]
async fn months_ahead_is_configurable_and_a_dry_run_changes_nothing() {
    let db = database().await;
    let mut admin = db.admin().await;
    let policy = Policy {
        months_ahead: 1,
        dry_run: true,
        ..Policy::default()
    };
    let report = maintain_logs(&mut admin, &policy).await.unwrap();
    let current = Month::containing(report.now);
    let planned: BTreeSet<String> = report
        .planned
        .iter()
        .filter_map(|step| match step {
            Step::CreatePartition { log, month } => Some(partition(*log, *month)),
            _ => None,
        })
        .collect();
    let expected: BTreeSet<String> = Log::ALL
        .iter()
        .flat_map(|log| [partition(*log, current), partition(*log, current.plus(1))])
        .collect();
    assert_eq!(planned, expected);
    assert!(report.outcomes.is_empty());
    for name in &expected {
        assert!(!exists(&admin, name).await, "a dry run created {name}");
    }
    assert!(report.to_string().contains("would"), "{report}");
}

#[tokio::test]
async fn an_insert_never_fails_for_lack_of_a_partition() {
    let db = database().await;
    let mut admin = db.admin().await;
    maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    let alpha = organisation(&db, "Alpha").await;
    let app = app_database(&db);
    let tx = app.transaction(&alpha.context).await.unwrap();
    for at in ["1999-01-01 12:00:00+00", "2099-06-01 12:00:00+00"] {
        tx.execute(
            "INSERT INTO audit_log (organisation_id, \"timestamp\", module, entity_type, entity_id, action) \
             VALUES ($1, $2::text::timestamptz, 'risks', 'risk', gen_random_uuid(), 'viewed')",
            &[&alpha.organisation, &at],
        )
        .await
        .unwrap();
        tx.execute(
            "INSERT INTO event_log (organisation_id, \"timestamp\", event_type, source_module) \
             VALUES ($1, $2::text::timestamptz, 'risk.viewed', 'risks')",
            &[&alpha.organisation, &at],
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    assert_eq!(rows_in(&admin, "audit_log_default").await, 2);
    assert_eq!(rows_in(&admin, "event_log_default").await, 2);

    // The next run moves what it can (1999 is then past retention and dropped whole); rows
    // beyond the horizon stay in the default partition, and the run says so.
    let report = maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    assert_eq!(rows_in(&admin, "audit_log_default").await, 1);
    assert_eq!(rows_in(&admin, "event_log_default").await, 1);
    assert!(
        report
            .notes
            .iter()
            .any(|note| note.contains("1 rows of audit_log dated 2099-06")),
        "{report}"
    );
    assert!(!exists(&admin, "audit_log_p1999_01").await);
}

#[tokio::test]
async fn rows_caught_by_the_default_partition_move_into_their_month() {
    let db = database().await;
    let mut admin = db.admin().await;
    let alpha = organisation(&db, "Alpha").await;
    let beta = organisation(&db, "Beta").await;
    let current = Month::containing(now(&admin).await);
    let in_month = |month: Month| {
        format!(
            "'{}'::timestamptz + n * interval '1 minute'",
            month.start().to_rfc3339()
        )
    };
    // No partition exists yet: every row lands in the default partitions.
    insert_audit(&admin, &alpha, 30, &in_month(current)).await;
    insert_audit(&admin, &beta, 20, &in_month(current)).await;
    insert_audit(&admin, &alpha, 30, &in_month(current.plus(2))).await;
    insert_audit(&admin, &beta, 5, &in_month(current.plus(10))).await;
    insert_events(&admin, &alpha, 20, &in_month(current)).await;
    insert_events(&admin, &beta, 10, &in_month(current.plus(-1))).await;
    let fingerprint = "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t.id)) FROM ";
    let audit_before: (i64, String) = admin
        .query_one(&format!("{fingerprint} audit_log t"), &[])
        .await
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    let events_before: (i64, String) = admin
        .query_one(&format!("{fingerprint} event_log t"), &[])
        .await
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();

    let report = maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    let outcomes = changes(&report.outcomes);
    for expected in [
        Outcome::Moved {
            partition: partition(Log::Audit, current),
            rows: 50,
        },
        Outcome::Moved {
            partition: partition(Log::Audit, current.plus(2)),
            rows: 30,
        },
        Outcome::Created {
            partition: partition(Log::Audit, current.plus(1)),
        },
        Outcome::Created {
            partition: partition(Log::Audit, current.plus(3)),
        },
        Outcome::Moved {
            partition: partition(Log::Event, current),
            rows: 20,
        },
        Outcome::Moved {
            partition: partition(Log::Event, current.plus(-1)),
            rows: 10,
        },
    ] {
        assert!(
            outcomes.contains(&&expected),
            "missing {expected}:\n{report}"
        );
    }
    assert!(
        report
            .notes
            .iter()
            .any(|note| note.contains("5 rows of audit_log")),
        "{report}"
    );

    // The same rows, each in its month's partition; the default keeps only what is beyond the horizon.
    let audit_after: (i64, String) = admin
        .query_one(&format!("{fingerprint} audit_log t"), &[])
        .await
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    let events_after: (i64, String) = admin
        .query_one(&format!("{fingerprint} event_log t"), &[])
        .await
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!(audit_after, audit_before);
    assert_eq!(events_after, events_before);
    assert_eq!(rows_in(&admin, &partition(Log::Audit, current)).await, 50);
    assert_eq!(
        rows_in(&admin, &partition(Log::Audit, current.plus(2))).await,
        30
    );
    assert_eq!(rows_in(&admin, "audit_log_default").await, 5);
    assert_eq!(
        rows_in(&admin, &partition(Log::Event, current.plus(-1))).await,
        10
    );
    assert_eq!(rows_in(&admin, "event_log_default").await, 0);

    // A moved-into partition is a full partition: its keys and indexes belong to the parent's.
    let moved = partition(Log::Audit, current);
    let detached_constraints: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = $1::text::regclass AND contype IN ('f', 'p', 'u') AND conparentid = 0",
            &[&moved],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        detached_constraints, 0,
        "{moved} has constraints of its own instead of the parent's"
    );
    let (parent_indexes, partition_indexes): (i64, i64) = admin
        .query_one(
            "SELECT (SELECT count(*) FROM pg_index WHERE indrelid = 'audit_log'::regclass),
                    (SELECT count(*) FROM pg_index i JOIN pg_inherits h ON h.inhrelid = i.indexrelid
                     WHERE i.indrelid = $1::text::regclass)",
            &[&moved],
        )
        .await
        .map(|row| (row.get(0), row.get(1)))
        .unwrap();
    assert_eq!(partition_indexes, parent_indexes);

    // And the application reads them through the parent as before.
    let app = app_database(&db);
    let tx = app.transaction(&alpha.context).await.unwrap();
    let visible: i64 = tx
        .query_one("SELECT count(*) FROM audit_log", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(visible, 60);
    tx.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_arriving_after_planning_are_moved_instead_of_failing_the_run() {
    let db = database().await;
    let mut admin = db.admin().await;
    let writer = db.admin().await;
    let alpha = organisation(&db, "Alpha").await;
    let next = Month::containing(now(&writer).await).plus(1);
    let runtime = tokio::runtime::Handle::current();
    let report = maintain_logs_with_progress(&mut admin, &Policy::default(), |progress| {
        if let Progress::Planned(plan) = progress {
            assert!(plan.steps.contains(&Step::CreatePartition {
                log: Log::Audit,
                month: next
            }));
            // A row of next month commits between planning and the creation of its partition.
            tokio::task::block_in_place(|| {
                runtime.block_on(insert_audit(
                    &writer,
                    &alpha,
                    1,
                    &format!(
                        "'{}'::timestamptz + n * interval '1 second'",
                        next.start().to_rfc3339()
                    ),
                ))
            });
        }
    })
    .await
    .unwrap();
    let name = partition(Log::Audit, next);
    assert!(
        report.outcomes.contains(&Outcome::Moved {
            partition: name.clone(),
            rows: 1
        }),
        "{report}"
    );
    assert_eq!(rows_in(&admin, &name).await, 1);
    assert_eq!(rows_in(&admin, "audit_log_default").await, 0);
}

/// Every privilege an app role could hold on a table.
const PRIVILEGES: &str = "SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER";

#[tokio::test]
async fn partitions_have_no_grants_and_the_app_is_refused_on_them() {
    let db = database().await;
    let mut admin = db.admin().await;
    let alpha = organisation(&db, "Alpha").await;
    let current = Month::containing(now(&admin).await);
    // A careless default that would hand every new table of the owner to the app roles.
    admin
        .batch_execute(
            "ALTER DEFAULT PRIVILEGES FOR ROLE maturion_owner IN SCHEMA public \
             GRANT ALL ON TABLES TO maturion_app, maturion_readonly, maturion_maintenance, PUBLIC",
        )
        .await
        .unwrap();
    // One partition made by moving rows, the others created empty.
    insert_audit(
        &admin,
        &alpha,
        3,
        &format!(
            "'{}'::timestamptz + n * interval '1 hour'",
            current.start().to_rfc3339()
        ),
    )
    .await;
    maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    insert_events(&admin, &alpha, 3, "now()").await;

    let partitions: Vec<String> = admin
        .query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent IN ('audit_log'::regclass, 'event_log'::regclass) ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(partitions.len(), 10, "{partitions:?}");
    for name in &partitions {
        for role in [
            "maturion_app",
            "maturion_readonly",
            "maturion_maintenance",
            "public",
        ] {
            let row = admin
                .query_one(
                    "SELECT has_table_privilege($1, $2::text::regclass, $3), has_any_column_privilege($1, $2::text::regclass, 'SELECT, INSERT, UPDATE, REFERENCES'), \
                            (SELECT relrowsecurity FROM pg_class WHERE oid = $2::text::regclass)",
                    &[&role, name, &PRIVILEGES],
                )
                .await
                .unwrap();
            assert!(
                !row.get::<_, bool>(0) && !row.get::<_, bool>(1),
                "{role} holds a privilege on {name}"
            );
            assert!(row.get::<_, bool>(2), "{name} has RLS disabled");
        }
    }

    // maturion_app, in a proper tenant transaction, reads its rows through the parents only.
    let app = app_database(&db);
    let tx = app.transaction(&alpha.context).await.unwrap();
    let own: i64 = tx
        .query_one(
            "SELECT (SELECT count(*) FROM audit_log) + (SELECT count(*) FROM event_log)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(own, 6);
    tx.commit().await.unwrap();
    for name in &partitions {
        for sql in [
            format!("SELECT * FROM {name}"),
            format!("UPDATE {name} SET organisation_id = organisation_id"),
            format!("DELETE FROM {name}"),
            format!("TRUNCATE {name}"),
            format!("COPY {name} TO STDOUT"),
        ] {
            let tx = app.transaction(&alpha.context).await.unwrap();
            let refused = tx.execute(sql.as_str(), &[]).await.unwrap_err();
            assert!(
                matches!(refused, TenancyError::PermissionDenied(_)),
                "{sql}: {refused:?}"
            );
        }
    }
    let insert = format!(
        "INSERT INTO {} (organisation_id, module, entity_type, entity_id, action) VALUES ($1, 'risks', 'risk', $1, 'viewed')",
        partition(Log::Audit, current)
    );
    let tx = app.transaction(&alpha.context).await.unwrap();
    let refused = tx
        .execute(insert.as_str(), &[&alpha.organisation])
        .await
        .unwrap_err();
    assert!(
        matches!(refused, TenancyError::PermissionDenied(_)),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_leaked_grant_shows_no_row_and_the_next_run_repairs_drift() {
    let db = database().await;
    let mut admin = db.admin().await;
    maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    let alpha = organisation(&db, "Alpha").await;
    insert_audit(&admin, &alpha, 4, "now()").await;
    let current = Month::containing(now(&admin).await);
    let leaked = partition(Log::Audit, current);
    let drifted = partition(Log::Event, current.plus(1));
    admin.batch_execute(&format!("GRANT SELECT, INSERT ON {leaked} TO maturion_app; GRANT SELECT (id) ON {leaked} TO maturion_readonly")).await.unwrap();
    admin
        .batch_execute(&format!(
            "ALTER TABLE {drifted} DISABLE ROW LEVEL SECURITY; ALTER TABLE {drifted} ALTER COLUMN payload SET COMPRESSION pglz"
        ))
        .await
        .unwrap();

    // Even with a grant, the partition's own RLS (enabled, no policy) lets no row through.
    let app = app_database(&db);
    let tx = app.transaction(&alpha.context).await.unwrap();
    let seen: i64 = tx
        .query_one(&format!("SELECT count(*) FROM {leaked}"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(seen, 0);
    tx.commit().await.unwrap();

    let report = maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    assert!(
        report.outcomes.contains(&Outcome::Hardened {
            partition: leaked.clone(),
            fixes: vec![Fix::RevokeGrants]
        }),
        "{report}"
    );
    assert!(
        report.outcomes.contains(&Outcome::Hardened {
            partition: drifted.clone(),
            fixes: vec![Fix::EnableRowSecurity, Fix::Lz4Compression]
        }),
        "{report}"
    );
    let tx = app.transaction(&alpha.context).await.unwrap();
    let refused = tx
        .query_one(&format!("SELECT count(*) FROM {leaked}"), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(refused, TenancyError::PermissionDenied(_)),
        "{refused:?}"
    );
    let readonly_column: bool = admin
        .query_one(
            "SELECT has_column_privilege('maturion_readonly', $1::text::regclass, 'id', 'SELECT')",
            &[&leaked],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!readonly_column);
    let again = maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    assert!(changes(&again.outcomes).is_empty(), "{again}");
}

/// Names of the relations a plan reads.
fn relations(plan: &serde_json::Value, into: &mut BTreeSet<String>) {
    match plan {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::String(name)) = map.get("Relation Name") {
                into.insert(name.clone());
            }
            map.values().for_each(|value| relations(value, into));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|value| relations(value, into)),
        _ => {}
    }
}

#[tokio::test]
async fn a_one_month_query_of_one_organisation_reads_one_partition() {
    let db = database().await;
    let mut admin = db.admin().await;
    maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    let alpha = organisation(&db, "Alpha").await;
    let beta = organisation(&db, "Beta").await;
    let current = Month::containing(now(&admin).await);
    for ahead in 0..=3 {
        let month = current.plus(ahead);
        let spread = format!(
            "'{}'::timestamptz + n * interval '10 minutes'",
            month.start().to_rfc3339()
        );
        for tenant in [&alpha, &beta] {
            insert_audit(&admin, tenant, 500, &spread).await;
            insert_events(&admin, tenant, 500, &spread).await;
        }
    }
    admin
        .batch_execute("ANALYZE audit_log; ANALYZE event_log")
        .await
        .unwrap();

    let app = app_database(&db);
    let month = current.plus(1);
    let (from, to) = (month.start().to_rfc3339(), month.end().to_rfc3339());
    for log in Log::ALL {
        for filter in [
            format!("organisation_id = '{}' AND ", alpha.organisation),
            String::new(),
        ] {
            let sql = format!(
                "EXPLAIN (FORMAT JSON) SELECT count(*) FROM {log} WHERE {filter}\"timestamp\" >= '{from}' AND \"timestamp\" < '{to}'"
            );
            let tx = app.transaction(&alpha.context).await.unwrap();
            let plan: serde_json::Value = tx.query_one(sql.as_str(), &[]).await.unwrap().get(0);
            let counted: i64 = tx
                .query_one(&format!("SELECT count(*) FROM {log} WHERE \"timestamp\" >= '{from}' AND \"timestamp\" < '{to}'"), &[])
                .await
                .unwrap()
                .get(0);
            tx.commit().await.unwrap();
            let mut read = BTreeSet::new();
            relations(&plan, &mut read);
            assert_eq!(
                read,
                BTreeSet::from([partition(log, month)]),
                "{sql}\n{plan:#}"
            );
            assert_eq!(counted, 500, "RLS must still limit the rows to Alpha's");
        }
    }
}

#[tokio::test]
async fn a_step_that_cannot_get_its_lock_is_left_for_the_next_run() {
    let db = database().await;
    let mut admin = db.admin().await;
    let alpha = organisation(&db, "Alpha").await;
    insert_events(&admin, &alpha, 2, "now()").await;
    // A long transaction reading audit_log holds a lock that partition DDL on it must wait for.
    let mut reader = db.admin().await;
    let long = reader.transaction().await.unwrap();
    long.query_one("SELECT count(*) FROM audit_log", &[])
        .await
        .unwrap();

    let impatient = Policy {
        lock_timeout: std::time::Duration::from_millis(200),
        ..Policy::default()
    };
    let report = maintain_logs(&mut admin, &impatient).await.unwrap();
    let skipped = report
        .outcomes
        .iter()
        .filter(|o| {
            matches!(
                o,
                Outcome::Skipped {
                    step: Step::CreatePartition {
                        log: Log::Audit,
                        ..
                    },
                    ..
                }
            )
        })
        .count();
    assert_eq!(skipped, 4, "{report}");
    // The other log and the rollups were still done.
    let made = report
        .outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Created { .. } | Outcome::Moved { .. }))
        .count();
    assert_eq!(made, 4, "{report}");
    let events: i64 = admin
        .query_one(
            "SELECT coalesce(sum(events), 0)::bigint FROM event_log_hourly",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(events, 2);

    long.commit().await.unwrap();
    let report = maintain_logs(&mut admin, &impatient).await.unwrap();
    assert_eq!(
        report
            .outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Created { .. }))
            .count(),
        4,
        "{report}"
    );
}
