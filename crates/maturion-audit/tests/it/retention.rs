//! Retention removes whole sealed partitions on the record; anything else that removes rows
//! shows as a break.

use tokio_postgres::Client;

use crate::support::{self, activity, code, provision, Tenant};

/// An old monthly partition, protected as the partition job does, with `rows` rows dated in it.
async fn old_partition(
    admin: &Client,
    name: &str,
    month: &str,
    next: &str,
    tenant: &Tenant,
    rows: i64,
) {
    admin
        .batch_execute(&format!(
            "SET ROLE maturion_owner;
             CREATE TABLE {name} PARTITION OF audit_log FOR VALUES FROM ('{month}') TO ('{next}');
             RESET ROLE;
             SELECT maturion.protect_audit_partition('{name}');"
        ))
        .await
        .unwrap();
    admin
        .execute(
            "INSERT INTO audit_log (organisation_id, user_id, timestamp, module, entity_type, entity_id, action) \
             SELECT $1, $2, $3::text::timestamptz + n * interval '1 hour', 'platform', 'users', $2, 'viewed' \
             FROM generate_series(1, $4::bigint) n",
            &[&tenant.organisation, &tenant.user, &month, &rows],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn an_expired_partition_is_removed_on_the_record_and_the_chain_stays_intact() {
    let db = support::database().await;
    let app = support::app(&db).await;
    let alpha = provision(&db, "Alpha").await;
    let admin = db.admin().await;
    old_partition(
        &admin,
        "audit_log_2020_01",
        "2020-01-01 00:00:00+00",
        "2020-02-01 00:00:00+00",
        &alpha,
        5,
    )
    .await;
    activity(&app, &alpha, 2).await;

    // The retention job: as maintenance, seal and drop in one call.
    let maintenance = support::maintenance(&db).await;
    support::settle(&maintenance).await;
    let seal: i64 = maintenance
        .query_one(
            "SELECT maturion.drop_audit_partition('audit_log_2020_01')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let gone: bool = admin
        .query_one("SELECT to_regclass('audit_log_2020_01') IS NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert!(gone);
    let (rows, name, range_from): (i64, String, String) = {
        let r = admin
            .query_one(
                "SELECT row_count, partition_name, to_char(range_from AT TIME ZONE 'UTC', 'YYYY-MM-DD') \
                 FROM maturion.audit_retention_log WHERE seal_seq = $1",
                &[&seal],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1), r.get(2))
    };
    assert_eq!(
        (rows, name.as_str(), range_from.as_str()),
        (5, "public.audit_log_2020_01", "2020-01-01")
    );

    let report = maturion_audit::verify(&maintenance, None).await.unwrap();
    assert!(report.intact, "{}", report.render_human());
    assert_eq!((report.rows_expired, report.rows_verified), (5, 2 + 2 * 2));

    // The chain goes on after a removal.
    activity(&app, &alpha, 1).await;
    assert_eq!(support::seal(&maintenance).await.rows, 2);
    let report = maturion_audit::verify(&maintenance, None).await.unwrap();
    assert!(report.intact, "{}", report.render_human());
}

#[tokio::test]
async fn a_partition_dropped_behind_the_retention_job_is_caught() {
    let db = support::database().await;
    let alpha = provision(&db, "Alpha").await;
    let admin = db.admin().await;
    old_partition(
        &admin,
        "audit_log_2020_02",
        "2020-02-01 00:00:00+00",
        "2020-03-01 00:00:00+00",
        &alpha,
        3,
    )
    .await;
    let maintenance = support::maintenance(&db).await;
    support::seal(&maintenance).await;

    // The owner can drop its table; the chain shows every row that went with it.
    admin
        .batch_execute("SET ROLE maturion_owner; DROP TABLE audit_log_2020_02; RESET ROLE;")
        .await
        .unwrap();
    let report = maturion_audit::verify(&maintenance, None).await.unwrap();
    assert_eq!(report.break_count, 3, "{}", report.render_human());
    assert!(report
        .breaks
        .iter()
        .all(|b| b.kind == maturion_audit::BreakKind::RowMissing));
}

#[tokio::test]
async fn only_sealed_bounded_partitions_can_be_removed() {
    let db = support::database().await;
    let alpha = provision(&db, "Alpha").await;
    let admin = db.admin().await;
    old_partition(
        &admin,
        "audit_log_2020_03",
        "2020-03-01 00:00:00+00",
        "2020-04-01 00:00:00+00",
        &alpha,
        2,
    )
    .await;
    let maintenance = support::maintenance(&db).await;

    let error = maintenance
        .execute(
            "SELECT maturion.remove_sealed_audit_partition('audit_log_2020_03')",
            &[],
        )
        .await
        .unwrap_err();
    assert!(
        format!("{error:?}").contains("unsealed audit rows"),
        "{error}"
    );
    let error = maintenance
        .execute(
            "SELECT maturion.drop_audit_partition('audit_log_default')",
            &[],
        )
        .await
        .unwrap_err();
    assert!(
        format!("{error:?}").contains("only a bounded range partition"),
        "{error}"
    );
    let error = maintenance
        .execute("SELECT maturion.drop_audit_partition('users')", &[])
        .await
        .unwrap_err();
    assert!(
        format!("{error:?}").contains("not a partition of audit_log"),
        "{error}"
    );

    // The owner, blinded by the forced RLS, would seal a range as if it were empty: refused.
    let owner = db.admin().await;
    owner
        .batch_execute("SET ROLE maturion_owner")
        .await
        .unwrap();
    let error = owner
        .execute(
            "SELECT maturion.drop_audit_partition('audit_log_2020_03')",
            &[],
        )
        .await
        .unwrap_err();
    assert!(
        format!("{error:?}").contains("must run as a role that bypasses row-level security"),
        "{error:?}"
    );

    // The application may not call any of it.
    let app_client = db.connect(maturion_schema::APP_ROLE).await;
    for sql in [
        "SELECT maturion.drop_audit_partition('audit_log_2020_03')",
        "SELECT maturion.remove_sealed_audit_partition('audit_log_2020_03')",
        "SELECT maturion.seal_audit_log()",
        "SELECT maturion.protect_audit_partition('audit_log_2020_03')",
    ] {
        let error = app_client.execute(sql, &[]).await.unwrap_err();
        assert_eq!(code(&error), "42501", "{sql}");
    }
}

#[tokio::test]
async fn a_forged_retention_record_is_caught() {
    let db = support::database().await;
    let app = support::app(&db).await;
    let alpha = provision(&db, "Alpha").await;
    activity(&app, &alpha, 1).await;
    let maintenance = support::maintenance(&db).await;
    support::seal(&maintenance).await;
    // Someone deletes a row and invents a removal to excuse it.
    let admin = db.admin().await;
    admin
        .batch_execute(
            "BEGIN;
             ALTER TABLE audit_log_default DISABLE TRIGGER audit_log_append_only;
             DELETE FROM audit_log WHERE id = (SELECT id FROM audit_log ORDER BY id LIMIT 1);
             ALTER TABLE audit_log_default ENABLE ALWAYS TRIGGER audit_log_append_only;
             INSERT INTO maturion.audit_retention_log
               SELECT 1, 'audit_log_old', '2000-01-01 00:00:00+00', '2100-01-01 00:00:00+00', 1, previous_digest, 'postgres'
               FROM maturion.audit_seals WHERE seq = 1;
             COMMIT;",
        )
        .await
        .unwrap();
    let report = maturion_audit::verify(&maintenance, None).await.unwrap();
    assert!(!report.intact);
    assert_eq!(
        report.first_break().unwrap().kind,
        maturion_audit::BreakKind::SealDigest,
        "{}",
        report.render_human()
    );
}

#[tokio::test]
async fn a_partition_with_rows_under_legal_hold_is_refused_until_the_hold_is_released() {
    let db = support::database().await;
    let alpha = provision(&db, "Alpha").await;
    let admin = db.admin().await;
    old_partition(
        &admin,
        "audit_log_2020_01",
        "2020-01-01 00:00:00+00",
        "2020-02-01 00:00:00+00",
        &alpha,
        3,
    )
    .await;
    let hold =
        maturion_maintenance::place_legal_hold(&admin, alpha.organisation.as_uuid(), "Matter 12")
            .await
            .unwrap();

    let maintenance = support::maintenance(&db).await;
    let error = maintenance
        .query_one(
            "SELECT maturion.drop_audit_partition('audit_log_2020_01')",
            &[],
        )
        .await
        .expect_err("a held partition is kept");
    assert_eq!(error.code().map(|c| c.code()), Some("MT423"), "{error}");
    let message = error
        .as_db_error()
        .map(|e| e.message().to_owned())
        .unwrap_or_default();
    assert!(message.contains(&hold.id.to_string()), "{message}");
    let kept: bool = admin
        .query_one("SELECT to_regclass('audit_log_2020_01') IS NOT NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert!(kept);

    maturion_maintenance::release_legal_hold(&admin, hold.id)
        .await
        .unwrap()
        .unwrap();
    support::settle(&maintenance).await;
    maintenance
        .query_one(
            "SELECT maturion.drop_audit_partition('audit_log_2020_01')",
            &[],
        )
        .await
        .unwrap();
    let report = maturion_audit::verify(&maintenance, None).await.unwrap();
    assert!(report.intact, "{}", report.render_human());
    assert_eq!(report.rows_expired, 3);
}
