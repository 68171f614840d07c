//! Slow queries, the pool, key ages, index use and bloat on a migrated database of the shared
//! test cluster (which preloads pg_stat_statements like every embedded cluster).

use std::time::Duration;

use maturion_crypto::{KeyOwner, Keyring, MasterKey, MasterKeys};
use maturion_monitor::{Figure, Inputs, Rule};
use maturion_tenancy::Database;
use maturion_testing::{migrated_database, organisation_with_admin};
use tokio_postgres::error::SqlState;

use crate::{fired, look, settings};

#[tokio::test]
async fn a_statement_slower_than_a_second_fires_slow_query_and_stays_private() {
    let db = migrated_database().await;
    let mut admin = db.admin().await;
    let (_, before) = look(&mut admin, Inputs::default(), &settings()).await;
    assert!(fired(&before, Rule::SlowQuery).is_empty(), "{before:?}");

    admin.batch_execute("SELECT pg_sleep(1.5)").await.unwrap();
    let (snapshot, alerts) = look(&mut admin, Inputs::default(), &settings()).await;
    let Figure::Available(statements) = &snapshot.slow_queries else {
        panic!("pg_stat_statements is loaded: {:?}", snapshot.slow_queries);
    };
    let sleep = statements
        .iter()
        .find(|s| s.query.contains("pg_sleep"))
        .expect("the sleep is listed");
    assert!(
        sleep.mean_seconds >= 1.5 && sleep.max_seconds >= 1.5,
        "{sleep:?}"
    );
    assert_eq!(statements[0].queryid, sleep.queryid, "slowest first");
    let slow = fired(&alerts, Rule::SlowQuery);
    assert_eq!(slow.len(), 1, "{alerts:?}");
    assert_eq!(slow[0].subject, format!("queryid {}", sleep.queryid));
    assert_eq!(slow[0].threshold, Some(1.0));

    // The extension the look created lives where the runtime roles cannot look.
    for role in ["maturion_app", "maturion_readonly"] {
        let attacker = db.connect(role).await;
        for sql in [
            "SELECT query FROM maturion_monitoring.pg_stat_statements",
            "SELECT * FROM maturion_monitoring.pgstattuple_approx('organisations')",
            "SELECT maturion_monitoring.pg_stat_statements_reset()",
        ] {
            let error = attacker.batch_execute(sql).await.expect_err(sql);
            assert_eq!(
                error.code(),
                Some(&SqlState::INSUFFICIENT_PRIVILEGE),
                "{role}: {sql}"
            );
        }
    }
}

#[tokio::test]
async fn a_pool_held_exhausted_fires_pool_exhausted_until_released() {
    let db = migrated_database().await;
    let mut admin = db.admin().await;
    let tenant = organisation_with_admin(&admin, "Busy").await.unwrap();
    let pool = Database::new(db.config("maturion_app"), 2).unwrap();
    let held = [
        pool.transaction(&tenant.context).await.unwrap(),
        pool.transaction(&tenant.context).await.unwrap(),
    ];
    let waiting = tokio::spawn({
        let (pool, context) = (pool.clone(), tenant.context.clone());
        async move { pool.transaction(&context).await.map(|_| ()) }
    });
    while pool.status().waiting == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let inputs = Inputs {
        pool: Some(pool.status()),
        ..Inputs::default()
    };
    let (_, alerts) = look(&mut admin, inputs, &settings()).await;
    let exhausted = fired(&alerts, Rule::PoolExhausted);
    assert_eq!(exhausted.len(), 1, "{alerts:?}");
    assert!(exhausted[0].summary.contains("2 of 2"), "{exhausted:?}");
    assert!(
        exhausted[0].summary.contains("1 caller(s) waiting"),
        "{exhausted:?}"
    );

    drop(held);
    waiting.await.unwrap().unwrap();
    let inputs = Inputs {
        pool: Some(pool.status()),
        ..Inputs::default()
    };
    let (_, alerts) = look(&mut admin, inputs, &settings()).await;
    assert!(fired(&alerts, Rule::PoolExhausted).is_empty(), "{alerts:?}");
}

#[tokio::test]
async fn a_data_key_older_than_90_days_fires_key_overdue() {
    let db = migrated_database().await;
    let mut admin = db.admin().await;
    let tenant = organisation_with_admin(&admin, "Keyed").await.unwrap();
    let masters = MasterKeys::new(MasterKey::from_hex(&"ab".repeat(32)).unwrap());
    let pool = Database::new(db.config("maturion_app"), 1).unwrap();
    let tx = pool.transaction(&tenant.context).await.unwrap();
    let mut keyring = Keyring::open(&tx, &masters).await.unwrap();
    keyring
        .encrypt(&tx, KeyOwner::Organisation, "notes.body", b"sensitive")
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let (snapshot, alerts) = look(&mut admin, Inputs::default(), &settings()).await;
    assert!(fired(&alerts, Rule::KeyOverdue).is_empty(), "{alerts:?}");
    assert_eq!(snapshot.keys.available().unwrap().key_lines, 1);

    admin
        .batch_execute("UPDATE maturion.data_keys SET created_at = now() - interval '91 days'")
        .await
        .unwrap();
    let (snapshot, alerts) = look(&mut admin, Inputs::default(), &settings()).await;
    let overdue = fired(&alerts, Rule::KeyOverdue);
    assert_eq!(overdue.len(), 1, "{alerts:?}");
    assert_eq!(overdue[0].value, Some(91.0));
    assert_eq!(snapshot.keys.available().unwrap().oldest_age_days, Some(91));
}

#[tokio::test]
async fn dead_tuples_sequential_scans_and_unused_indexes_are_reported() {
    let db = migrated_database().await;
    let mut admin = db.admin().await;
    admin
        .batch_execute(
            "CREATE TABLE scanned (id int, note text);
             INSERT INTO scanned SELECT i, repeat('x', 100) FROM generate_series(1, 20000) i;
             CREATE INDEX scanned_note ON scanned (note);
             DELETE FROM scanned WHERE id % 2 = 0;
             ANALYZE scanned;
             SELECT count(*) FROM scanned WHERE id > 5;
             SELECT pg_stat_force_next_flush();",
        )
        .await
        .unwrap();
    // Statistics reach the shared view when the session reports them, a moment later.
    for _ in 0..100 {
        let dead: i64 = admin
            .query_one(
                "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'scanned'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if dead == 10_000 {
            break;
        }
        admin
            .batch_execute("SELECT pg_stat_clear_snapshot()")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (snapshot, _) = look(&mut admin, Inputs::default(), &settings()).await;

    let table = snapshot
        .bloat
        .iter()
        .find(|t| t.table == "public.scanned")
        .expect("the table with the most dead tuples is listed");
    assert_eq!(table.dead_tuples, 10_000, "{table:?}");
    let Figure::Available(bloat) = &table.bloat else {
        panic!("pgstattuple is installed with contrib: {table:?}");
    };
    assert!(bloat.ratio > 0.3 && bloat.bytes > 500_000, "{bloat:?}");

    let scans = snapshot
        .indexes
        .sequential_scans
        .iter()
        .find(|t| t.table == "public.scanned")
        .expect("a large table read sequentially is listed");
    assert!(scans.seq_rows_read >= 10_000, "{scans:?}");
    assert!(
        snapshot
            .indexes
            .unused
            .iter()
            .any(|i| i.index == "public.scanned_note"),
        "{:?}",
        snapshot.indexes
    );
    assert!(snapshot.connections.in_use >= 1 && snapshot.connections.max_connections > 0);
}

#[tokio::test]
async fn a_role_that_may_not_create_the_extensions_gets_the_rest_and_why_not() {
    let db = migrated_database().await;
    // A monitoring login of an external server's operator: reads every statistic, no superuser.
    let role = format!("reader_{}", db.name());
    db.admin()
        .await
        .batch_execute(&format!("CREATE ROLE {role} LOGIN IN ROLE pg_monitor"))
        .await
        .unwrap();
    let mut reader = db.connect(&role).await;
    let (snapshot, _) = look(&mut reader, Inputs::default(), &settings()).await;
    let Figure::NotAvailable(reason) = &snapshot.slow_queries else {
        panic!("{:?}", snapshot.slow_queries);
    };
    assert!(
        reason.contains(
            "CREATE EXTENSION IF NOT EXISTS pg_stat_statements WITH SCHEMA maturion_monitoring"
        ),
        "{reason}"
    );
    assert!(snapshot
        .bloat
        .iter()
        .all(|t| matches!(t.bloat, Figure::NotAvailable(_))));
    assert!(
        snapshot.connections.in_use >= 1,
        "{:?}",
        snapshot.connections
    );
    assert!(!snapshot.bloat.is_empty(), "the tables are still listed");
}
