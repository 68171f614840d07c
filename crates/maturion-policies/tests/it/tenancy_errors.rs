//! Through `maturion_tenancy`, as module code and the REST layer see them: each refusal of a
//! pattern is its own error, the workflow's with the statuses it allows.

use maturion_tenancy::{Database, TenancyError};
use uuid::Uuid;

use crate::tenant;

#[tokio::test]
async fn pattern_refusals_are_errors_of_their_own() {
    let db = maturion_testing::migrated_database().await;
    let alpha = tenant(&db, "Alpha").await;
    let beta = tenant(&db, "Beta").await;
    let database = Database::new(db.config(maturion_schema::APP_ROLE), 2).unwrap();
    let tx = database.transaction(&alpha.context).await.unwrap();
    let first: Uuid = tx
        .query_one(
            "INSERT INTO policies (organisation_id, title) VALUES ($1, 'Vendors') RETURNING id",
            &[&alpha.organisation.as_uuid()],
        )
        .await
        .unwrap()
        .get(0);
    tx.query_one(
        "SELECT maturion.create_next_version('policies', $1, '{}')",
        &[&first],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let refusals = [
        (
            "UPDATE policies SET status = 'approved' WHERE is_current_version",
            "transition",
        ),
        (
            "SELECT maturion.create_next_version('policies', $1, '{}')",
            "stale",
        ),
        (
            "UPDATE policies SET title = 'Suppliers' WHERE id = $1",
            "immutable",
        ),
        (
            "UPDATE policies SET is_legally_protected = true, deleted_at = now() WHERE id = $1",
            "retained",
        ),
        (
            &format!("SELECT maturion.bind_tenant('{}')", beta.token.expose()),
            "bound",
        ),
    ];
    for (sql, kind) in refusals {
        let tx = database.transaction(&alpha.context).await.unwrap();
        let params: &[&(dyn tokio_postgres::types::ToSql + Sync)] =
            if sql.contains("$1") { &[&first] } else { &[] };
        let error = tx.execute(sql, params).await.expect_err(sql);
        let expected = match (&error, kind) {
            (TenancyError::TransitionRefused { allowed, .. }, "transition") => {
                allowed == &["pending_review"]
            }
            (TenancyError::NotCurrentVersion(_), "stale") => true,
            (TenancyError::Immutable(_), "immutable") => true,
            (TenancyError::Retained(_), "retained") => true,
            (TenancyError::AlreadyBound(_), "bound") => true,
            _ => false,
        };
        assert!(expected, "{sql}: {error:?}");
        tx.rollback().await.unwrap();
    }
}
