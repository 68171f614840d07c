//! Sealing: what gets sealed when, and that writers never wait for it.

use std::time::Duration;

use tokio_postgres::NoTls;

use crate::support::{self, activity, provision};

#[tokio::test]
async fn a_clean_chain_verifies_and_grows_seal_after_seal() {
    let db = support::database().await;
    let app = support::app(&db).await;
    let alpha = provision(&db, "Alpha").await;
    let beta = provision(&db, "Beta").await;
    activity(&app, &alpha, 5).await;
    activity(&app, &beta, 3).await;
    let maintenance = support::maintenance(&db).await;

    let first = support::seal(&maintenance).await;
    // 2 provisioning rows each, then 2 rows per activity transaction.
    assert_eq!(first.rows, 2 + 2 + 2 * 5 + 2 * 3);
    assert_eq!(first.seals.len(), 1);
    assert_eq!(first.pending_rows, 0);
    let head = first.head.clone().unwrap();
    assert_eq!((head.seq, head.digest.len()), (1, 64));

    let report = maturion_audit::verify(&maintenance, None).await.unwrap();
    assert!(report.intact, "{}", report.render_human());
    assert_eq!(
        (report.seals, report.rows_verified, report.rows_unsealed),
        (1, first.rows, 0)
    );

    // Nothing new: nothing to seal.
    assert!(support::seal(&maintenance).await.seals.is_empty());

    // Rows written afterwards wait for the next seal, which continues the chain.
    activity(&app, &alpha, 2).await;
    let report = maturion_audit::verify(&maintenance, None).await.unwrap();
    assert!(report.intact, "{}", report.render_human());
    assert_eq!(report.rows_unsealed, 4);
    let second = support::seal(&maintenance).await;
    assert_eq!((second.rows, second.seals[0].seq), (4, 2));
    assert_eq!(
        second.seals[0].xid_from, first.seals[0].xid_to,
        "ranges are contiguous"
    );
    let report = maturion_audit::verify(&maintenance, None).await.unwrap();
    assert!(report.intact, "{}", report.render_human());
    assert_eq!(
        (report.seals, report.rows_verified, report.rows_unsealed),
        (2, first.rows + 4, 0)
    );

    // One organisation alone.
    let alpha_only = maturion_audit::verify(&maintenance, Some(alpha.organisation))
        .await
        .unwrap();
    assert!(alpha_only.intact, "{}", alpha_only.render_human());
    assert_eq!(alpha_only.rows_verified, 2 + 2 * 7);
}

#[tokio::test]
async fn seals_cut_at_transaction_boundaries() {
    let db = support::database().await;
    let app = support::app(&db).await;
    let alpha = provision(&db, "Alpha").await;
    activity(&app, &alpha, 6).await;
    let maintenance = support::maintenance(&db).await;
    // 14 rows in 7 transactions of 2 rows; about 4 rows per seal means 2 transactions each.
    let report = support::seal_with(&maintenance, 4).await;
    let sizes: Vec<i64> = report.seals.iter().map(|s| s.rows).collect();
    assert_eq!(sizes, [4, 4, 4, 2]);
    for pair in report.seals.windows(2) {
        assert_eq!(pair[0].xid_to, pair[1].xid_from);
    }
    let verified = maturion_audit::verify(&maintenance, None).await.unwrap();
    assert!(verified.intact, "{}", verified.render_human());
    assert_eq!((verified.seals, verified.rows_verified), (4, 14));
}

/// A transaction that is still running holds back every row committed after it started
/// writing: sealing them now would let its rows land in a sealed range when it commits.
#[tokio::test]
async fn rows_wait_for_an_earlier_transaction_that_is_still_running() {
    let db = support::database().await;
    let app = support::app(&db).await;
    let alpha = provision(&db, "Alpha").await;
    let maintenance = support::maintenance(&db).await;
    support::seal(&maintenance).await;

    // T1 writes (and so gets a transaction id) but does not commit.
    let slow = app.transaction(&alpha.context).await.unwrap();
    slow.execute(
        "INSERT INTO organisation_settings (organisation_id, setting_key, setting_value, created_by) \
         VALUES ($1, 'slow', '1', $2)",
        &[&alpha.organisation, &alpha.user],
    )
    .await
    .unwrap();
    // T2 starts later and commits.
    activity(&app, &alpha, 1).await;

    let report = maturion_audit::seal(&maintenance).await.unwrap();
    assert_eq!(report.rows, 0, "T2's rows must wait for T1");
    assert_eq!(report.pending_rows, 2);

    slow.commit().await.unwrap();
    let report = support::seal(&maintenance).await;
    assert_eq!(report.rows, 3);
    let verified = maturion_audit::verify(&maintenance, None).await.unwrap();
    assert!(verified.intact, "{}", verified.render_human());
}

/// Transactions of other databases in the cluster cannot write here and do not hold the
/// horizon back.
#[tokio::test]
async fn a_transaction_in_another_database_does_not_hold_sealing_back() {
    let db = support::database().await;
    let other = support::database().await;
    let app = support::app(&db).await;
    let alpha = provision(&db, "Alpha").await;

    let (elsewhere, connection) = other
        .config(&superuser(&other))
        .connect(NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    elsewhere
        .batch_execute("BEGIN; SELECT txid_current();")
        .await
        .unwrap();

    activity(&app, &alpha, 1).await;
    let maintenance = support::maintenance(&db).await;
    let report = support::seal(&maintenance).await;
    assert_eq!((report.rows, report.pending_rows), (4, 0));
    elsewhere.batch_execute("ROLLBACK").await.unwrap();
}

fn superuser(db: &maturion_testing::TestDatabase) -> String {
    db.cluster().superuser().to_owned()
}

/// The sealer holds its lock for its whole transaction; writers go on meanwhile.
#[tokio::test]
async fn writers_never_wait_for_the_sealer() {
    let db = support::database().await;
    let app = support::app(&db).await;
    let alpha = provision(&db, "Alpha").await;
    activity(&app, &alpha, 3).await;

    let sealer = support::maintenance(&db).await;
    sealer.batch_execute("BEGIN").await.unwrap();
    let sealed: i64 = sealer
        .query_one(
            "SELECT coalesce(sum(sealed_rows), 0)::bigint FROM maturion.seal_audit_log()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(sealed, 8);

    // While the seal is uncommitted and its lock held, a business transaction commits.
    tokio::time::timeout(Duration::from_secs(5), activity(&app, &alpha, 2))
        .await
        .expect("a writer waited for the sealer");

    // A second sealer would wait for the first, not write a competing seal.
    let second = support::maintenance(&db).await;
    let waiting = tokio::spawn(async move { maturion_audit::seal(&second).await.unwrap() });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "sealers take turns");
    sealer.batch_execute("COMMIT").await.unwrap();
    let report = waiting.await.unwrap();
    assert_eq!((report.seals[0].seq, report.rows), (2, 4));

    let verified = maturion_audit::verify(&sealer, None).await.unwrap();
    assert!(verified.intact, "{}", verified.render_human());
}

#[tokio::test]
async fn sealing_and_verifying_need_to_see_every_organisation() {
    let db = support::database().await;
    let app_client = db.connect(maturion_schema::APP_ROLE).await;
    let error = maturion_audit::seal(&app_client).await.unwrap_err();
    assert!(
        matches!(error, maturion_audit::AuditError::NotPrivileged(_)),
        "{error}"
    );
    let error = maturion_audit::verify(&app_client, None).await.unwrap_err();
    assert!(
        matches!(error, maturion_audit::AuditError::NotPrivileged(_)),
        "{error}"
    );
}
