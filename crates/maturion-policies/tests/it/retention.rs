//! §5.4: retention dates with their reasons, legal protection, no deletion before the date.

use crate::{attempt, bound, new_policy, refusal, tenant};

#[tokio::test]
async fn retained_and_protected_rows_are_kept() {
    let db = maturion_testing::migrated_database().await;
    let alpha = tenant(&db, "Alpha").await;
    let session = bound(&db, &alpha).await;
    let policy = new_policy(&session, &alpha, "Records", "Keep.", "en").await;
    let expired = new_policy(&session, &alpha, "Old records", "Gone.", "en").await;

    let (code, text) = refusal(
        attempt(
            &session,
            "UPDATE policies SET retention_until = now() + interval '7 years' WHERE id = $1",
            &[&policy],
        )
        .await,
    );
    assert_eq!(code, "23514", "{text}");
    assert!(text.contains("retention_reason"), "{text}");
    session
        .execute(
            "UPDATE policies SET retention_until = now() + interval '7 years', \
             retention_reason = 'ISO 27001 A.5.33', is_legally_protected = true WHERE id = $1",
            &[&policy],
        )
        .await
        .unwrap();
    // A protected row is not soft-deleted, even when the same change lifts the protection.
    for sql in [
        "UPDATE policies SET deleted_at = now() WHERE id = $1",
        "UPDATE policies SET deleted_at = now(), is_legally_protected = false WHERE id = $1",
    ] {
        assert_eq!(
            refusal(attempt(&session, sql, &[&policy]).await).0,
            "MT423",
            "{sql}"
        );
    }
    session
        .execute(
            "UPDATE policies SET retention_until = now() - interval '1 day', retention_reason = 'Superseded', \
             deleted_at = now() WHERE id = $1",
            &[&expired],
        )
        .await
        .unwrap();
    // The next version keeps the retention of the one it follows.
    let next: uuid::Uuid = session
        .query_one(
            "SELECT maturion.create_next_version('policies', $1, '{}')",
            &[&policy],
        )
        .await
        .unwrap()
        .get(0);
    let kept: (bool, String) = {
        let row = session
            .query_one(
                "SELECT is_legally_protected, retention_reason FROM policies WHERE id = $1",
                &[&next],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(kept, (true, "ISO 27001 A.5.33".to_owned()));
    session.batch_execute("COMMIT").await.unwrap();

    // Hard deletes are the maintenance side's, and it too keeps what is retained.
    let admin = db.admin().await;
    admin
        .batch_execute(&format!("SET ROLE {}", maturion_schema::MAINTENANCE_ROLE))
        .await
        .unwrap();
    let (code, text) = refusal(
        admin
            .execute("DELETE FROM policies WHERE id = $1", &[&next])
            .await,
    );
    assert_eq!(code, "MT423", "{text}");
    assert!(text.contains("legally protected"), "{text}");
    admin
        .execute(
            "UPDATE policies SET is_legally_protected = false WHERE id = $1",
            &[&next],
        )
        .await
        .unwrap();
    let (code, text) = refusal(
        admin
            .execute("DELETE FROM policies WHERE id = $1", &[&next])
            .await,
    );
    assert_eq!(code, "MT423", "{text}");
    assert!(text.contains("retained until"), "{text}");
    assert_eq!(
        admin
            .execute("DELETE FROM policies WHERE id = $1", &[&expired])
            .await
            .unwrap(),
        1
    );
}
