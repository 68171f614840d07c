use std::collections::BTreeMap;

use maturion_maintenance::{maintain_logs, Log, Outcome, Policy, RefreshStats, ROLLUP_TABLES};
use maturion_tenancy::TenancyError;
use tokio_postgres::Client;
use uuid::Uuid;

use crate::{
    app_database, apply_maintenance_migrations, database, insert_audit, insert_events, organisation,
};

/// The rollup's rows and the same counts computed from the raw log, as text lines.
async fn rollup_and_truth(admin: &Client, log: Log, daily: bool) -> (Vec<String>, Vec<String>) {
    let (table, unit) = if daily {
        (log.daily_table(), "day")
    } else {
        (log.hourly_table(), "hour")
    };
    let dimensions = log.dimensions().join(", ");
    let count = log.count_column();
    let rollup = format!(
        "SELECT array_agg(x::text ORDER BY x::text) FROM (SELECT organisation_id, bucket, {dimensions}, {count} FROM {table}) x"
    );
    let truth = format!(
        "SELECT array_agg(x::text ORDER BY x::text) FROM (
           SELECT organisation_id, date_trunc('{unit}', \"timestamp\", 'UTC') AS bucket, {dimensions}, count(*) AS {count}
           FROM {log} GROUP BY 1, 2, {dimensions}) x"
    );
    let read = |row: tokio_postgres::Row| row.get::<_, Option<Vec<String>>>(0).unwrap_or_default();
    (
        read(admin.query_one(&rollup, &[]).await.unwrap()),
        read(admin.query_one(&truth, &[]).await.unwrap()),
    )
}

async fn assert_exact(admin: &Client) {
    for log in Log::ALL {
        for daily in [false, true] {
            let (rollup, truth) = rollup_and_truth(admin, log, daily).await;
            assert!(!truth.is_empty());
            assert_eq!(
                rollup,
                truth,
                "{log} {} rollup differs from GROUP BY",
                if daily { "daily" } else { "hourly" }
            );
        }
    }
}

fn refreshed(outcomes: &[Outcome], log: Log) -> RefreshStats {
    outcomes
        .iter()
        .find_map(|o| match o {
            Outcome::Refreshed(stats) if stats.log == log => Some(stats.clone()),
            _ => None,
        })
        .unwrap()
}

/// Each rollup row's version (xmin), keyed by "table organisation,bucket,dimensions" (UTC).
async fn versions(admin: &Client) -> BTreeMap<String, String> {
    admin.batch_execute("SET TimeZone = 'UTC'").await.unwrap();
    let mut all = BTreeMap::new();
    for log in Log::ALL {
        let dimensions = log.dimensions().join(", ");
        for table in [log.hourly_table(), log.daily_table()] {
            let sql = format!("SELECT concat_ws(',', organisation_id, bucket, {dimensions}), xmin::text FROM {table}");
            for row in admin.query(&sql, &[]).await.unwrap() {
                all.insert(format!("{table} {}", row.get::<_, String>(0)), row.get(1));
            }
        }
    }
    all
}

#[tokio::test]
async fn rollups_equal_group_by_and_a_refresh_touches_only_changed_buckets() {
    let db = database().await;
    let mut admin = db.admin().await;
    maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    let alpha = organisation(&db, "Alpha").await;
    let beta = organisation(&db, "Beta").await;
    // Several hours and days back; some land in last month's (default) partition and get moved.
    insert_audit(&admin, &alpha, 200, "now() - n * interval '37 minutes'").await;
    insert_audit(&admin, &beta, 90, "now() - n * interval '71 minutes'").await;
    insert_events(&admin, &alpha, 150, "now() - n * interval '53 minutes'").await;
    insert_events(&admin, &beta, 40, "now() - n * interval '2 hours'").await;

    let first = maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    assert!(
        refreshed(&first.outcomes, Log::Audit).hours > 100,
        "{first}"
    );
    assert_exact(&admin).await;
    let before = versions(&admin).await;

    // More rows as the application writes them: one existing hour of Alpha's, one new hour of
    // Beta's ten days back, in separate days.
    let app = app_database(&db);
    let insert = "INSERT INTO audit_log (organisation_id, user_id, \"timestamp\", module, entity_type, entity_id, action) \
                  SELECT $1, $2, $3::text::timestamptz, 'risks', 'risk', gen_random_uuid(), 'updated' FROM generate_series(1, $4)";
    let alpha_hour: String = admin
        .query_one("SELECT to_char(date_trunc('hour', now() - interval '3 hours', 'UTC') AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:10:00+00')", &[])
        .await
        .unwrap()
        .get(0);
    let beta_hour: String = admin
        .query_one("SELECT to_char(date_trunc('hour', now() - interval '10 days', 'UTC') AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:20:00+00')", &[])
        .await
        .unwrap()
        .get(0);
    for (tenant, at, rows) in [(&alpha, &alpha_hour, 3_i32), (&beta, &beta_hour, 2)] {
        let tx = app.transaction(&tenant.context).await.unwrap();
        tx.execute(insert, &[&tenant.organisation, &tenant.user, at, &rows])
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    let second = maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    let audit = refreshed(&second.outcomes, Log::Audit);
    assert_eq!((audit.hours, audit.days), (2, 2), "{second}");
    assert_eq!(refreshed(&second.outcomes, Log::Event).hours, 0, "{second}");
    assert_exact(&admin).await;

    // Only rows of the two hours (and their two days) changed version.
    let after = versions(&admin).await;
    let touched: Vec<&String> = after
        .iter()
        .filter(|(key, version)| before.get(*key) != Some(*version))
        .map(|(key, _)| key)
        .collect();
    for key in &touched {
        let ours = [(&alpha, &alpha_hour), (&beta, &beta_hour)]
            .iter()
            .any(|(tenant, at)| {
                // "YYYY-MM-DD HH" for the hour, "YYYY-MM-DD 00" for its day.
                let bucket = if key.contains("_hourly ") {
                    at[..13].to_owned()
                } else {
                    format!("{} 00", &at[..10])
                };
                key.contains(&tenant.organisation.to_string()) && key.contains(&bucket)
            });
        assert!(ours, "refresh touched {key}, which did not change");
        assert!(key.starts_with("audit_log_"), "refresh touched {key}");
    }
    assert!(touched.len() >= 3, "{touched:?}");
}

#[tokio::test]
async fn a_transaction_committing_after_a_refresh_is_counted_by_the_next() {
    let db = database().await;
    let mut admin = db.admin().await;
    maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    let alpha = organisation(&db, "Alpha").await;
    let app = app_database(&db);
    let late = app.transaction(&alpha.context).await.unwrap();
    late.execute(
        "INSERT INTO event_log (organisation_id, event_type, source_module) \
         SELECT $1, 'risk.created', 'risks' FROM generate_series(1, 3)",
        &[&alpha.organisation],
    )
    .await
    .unwrap();
    insert_events(&admin, &alpha, 2, "now()").await;

    maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    let total = "SELECT coalesce(sum(events), 0)::bigint FROM event_log_hourly";
    let counted: i64 = admin.query_one(total, &[]).await.unwrap().get(0);
    assert_eq!(counted, 2);

    late.commit().await.unwrap();
    maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    let counted: i64 = admin.query_one(total, &[]).await.unwrap().get(0);
    assert_eq!(counted, 5);
    let (rollup, truth) = rollup_and_truth(&admin, Log::Event, false).await;
    assert_eq!(rollup, truth);
}

#[tokio::test]
async fn the_app_reads_its_own_rollups_and_cannot_write_them() {
    let db = database().await;
    let mut admin = db.admin().await;
    let alpha = organisation(&db, "Alpha").await;
    let beta = organisation(&db, "Beta").await;
    for tenant in [&alpha, &beta] {
        insert_audit(&admin, tenant, 5, "now()").await;
        insert_events(&admin, tenant, 5, "now()").await;
    }
    maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    let app = app_database(&db);
    for table in ROLLUP_TABLES {
        let tx = app.transaction(&alpha.context).await.unwrap();
        let organisations: Vec<Uuid> = tx
            .query(
                &format!("SELECT DISTINCT organisation_id FROM {table}"),
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert_eq!(organisations, [alpha.organisation.as_uuid()], "{table}");
        tx.commit().await.unwrap();
        let (dimensions, values) = if table.starts_with("audit") {
            ("module, action", "'risks', 'viewed'")
        } else {
            ("event_type", "'risk.viewed'")
        };
        let count = if table.starts_with("audit") {
            "entries"
        } else {
            "events"
        };
        for sql in [
            format!("INSERT INTO {table} (organisation_id, bucket, {dimensions}, {count}) VALUES ($1, now(), {values}, 1)"),
            format!("UPDATE {table} SET {count} = {count} + 1 WHERE organisation_id = $1"),
            format!("DELETE FROM {table} WHERE organisation_id = $1"),
        ] {
            let tx = app.transaction(&alpha.context).await.unwrap();
            let refused = tx.execute(sql.as_str(), &[&alpha.organisation]).await.unwrap_err();
            assert!(matches!(refused, TenancyError::PermissionDenied(_)), "{sql}: {refused:?}");
        }
    }
    // Without tenant context the rollups show nothing (fail closed).
    let bare = db.connect(maturion_schema::APP_ROLE).await;
    let seen: i64 = bare
        .query_one("SELECT count(*) FROM audit_log_hourly", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(seen, 0);
}

#[tokio::test]
async fn rows_written_before_the_migration_are_counted() {
    // Platform only: rows exist before the maintenance scope (and its trigger) arrives.
    let db = maturion_testing::migrated_database().await;
    let mut admin = db.admin().await;
    let alpha = organisation(&db, "Alpha").await;
    insert_audit(&admin, &alpha, 20, "now() - n * interval '3 hours'").await;
    insert_events(&admin, &alpha, 20, "now() - n * interval '5 hours'").await;
    apply_maintenance_migrations(&mut admin).await.unwrap();
    maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    assert_exact(&admin).await;
}

#[tokio::test]
async fn daily_rollups_outlive_the_partitions_retention_drops() {
    let db = database().await;
    let mut admin = db.admin().await;
    let alpha = organisation(&db, "Alpha").await;
    insert_events(
        &admin,
        &alpha,
        6,
        "now() - interval '5 months' + n * interval '1 minute'",
    )
    .await;
    maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    let sums = "SELECT (SELECT coalesce(sum(events), 0)::bigint FROM event_log_hourly), \
                       (SELECT coalesce(sum(events), 0)::bigint FROM event_log_daily), \
                       (SELECT count(*) FROM event_log)";
    let read = |row: tokio_postgres::Row| {
        (
            row.get::<_, i64>(0),
            row.get::<_, i64>(1),
            row.get::<_, i64>(2),
        )
    };
    assert_eq!(read(admin.query_one(sums, &[]).await.unwrap()), (6, 6, 6));

    let tight = Policy {
        event_log_retention_months: Some(3),
        ..Policy::default()
    };
    let report = maintain_logs(&mut admin, &tight).await.unwrap();
    assert!(
        refreshed(&report.outcomes, Log::Event).rows_pruned > 0,
        "{report}"
    );
    // The raw rows and their hours are gone; the days stay.
    assert_eq!(read(admin.query_one(sums, &[]).await.unwrap()), (0, 6, 0));

    // A late row dated in that expired month neither shrinks nor grows the kept count.
    insert_events(&admin, &alpha, 1, "now() - interval '5 months'").await;
    let report = maintain_logs(&mut admin, &tight).await.unwrap();
    assert_eq!(
        refreshed(&report.outcomes, Log::Event).discarded,
        1,
        "{report}"
    );
    assert_eq!(read(admin.query_one(sums, &[]).await.unwrap()), (0, 6, 0));
}

/// With the audit scope, audit_log has no insert trigger: the refresh finds new rows by their
/// transaction id. A transaction still open at a refresh is counted by a later one, however
/// long it stays open, and a refresh never counts a row twice.
#[tokio::test]
async fn audit_rollups_follow_transaction_ids_and_count_a_late_commit() {
    let db = maturion_testing::migrated_database().await;
    let mut admin = db.admin().await;
    let triggers: Vec<String> = admin
        .query(
            "SELECT tgname::text FROM pg_trigger WHERE tgrelid = 'audit_log'::regclass AND NOT tgisinternal ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(
        !triggers.contains(&"invalidate_rollups_on_insert".to_owned()),
        "{triggers:?}"
    );
    maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    let alpha = organisation(&db, "Alpha").await;
    let beta = organisation(&db, "Beta").await;
    insert_audit(&admin, &alpha, 50, "now() - n * interval '13 minutes'").await;

    let beta_before = rows_of(&admin, &beta).await;
    // A writer that started before the refresh and commits after it.
    let late = db.admin().await;
    late.batch_execute("BEGIN").await.unwrap();
    insert_audit(&late, &beta, 30, "now() - n * interval '7 minutes'").await;
    let late_transaction: i64 = late
        .query_one("SELECT txid_current()", &[])
        .await
        .unwrap()
        .get(0);
    insert_audit(&admin, &alpha, 20, "now() - n * interval '5 minutes'").await;

    let first = maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    assert!(refreshed(&first.outcomes, Log::Audit).hours > 0, "{first}");
    let (rollup, truth) = rollup_and_truth(&admin, Log::Audit, false).await;
    assert_eq!(
        rollup, truth,
        "the committed rows are counted, the open ones not yet"
    );
    let watermark: i64 = admin
        .query_one(
            "SELECT transaction_id FROM maturion.rollup_watermarks WHERE log = 'audit_log'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        watermark <= late_transaction,
        "the watermark {watermark} passed the open transaction {late_transaction}"
    );
    let pending: i64 = admin
        .query_one(
            "SELECT count(*) FROM maturion.rollup_invalidations WHERE log = 'audit_log'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(pending, 0, "inserts record no invalidation");

    late.batch_execute("COMMIT").await.unwrap();
    let second = maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    assert!(
        refreshed(&second.outcomes, Log::Audit).hours > 0,
        "{second}"
    );
    for daily in [false, true] {
        let (rollup, truth) = rollup_and_truth(&admin, Log::Audit, daily).await;
        assert_eq!(rollup, truth, "after the late commit (daily: {daily})");
    }
    let beta_entries: i64 = admin
        .query_one(
            "SELECT sum(entries)::bigint FROM audit_log_daily WHERE organisation_id = $1",
            &[&beta.organisation],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        beta_entries,
        beta_before + 30,
        "the late transaction's rows are counted once"
    );

    // Nothing new: the next refresh recounts nothing.
    let third = maintain_logs(&mut admin, &Policy::default()).await.unwrap();
    assert_eq!(refreshed(&third.outcomes, Log::Audit).hours, 0, "{third}");
}

async fn rows_of(admin: &Client, tenant: &crate::Tenant) -> i64 {
    admin
        .query_one(
            "SELECT count(*) FROM audit_log WHERE organisation_id = $1",
            &[&tenant.organisation],
        )
        .await
        .unwrap()
        .get(0)
}
