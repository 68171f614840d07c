//! §5.2: every version is a row, a version's content never changes, one version is current.

use uuid::Uuid;

use crate::{attempt, bound, new_policy, refusal, tenant};

#[tokio::test]
async fn previous_versions_are_kept_as_they_were_and_only_the_newest_is_current() {
    let db = maturion_testing::migrated_database().await;
    let alpha = tenant(&db, "Alpha").await;
    let session = bound(&db, &alpha).await;
    let first = new_policy(&session, &alpha, "Access control", "Version one.", "en").await;
    let second: Uuid = session
        .query_one(
            "SELECT maturion.create_next_version('policies', $1, '{\"content\": \"Version two.\"}')",
            &[&first],
        )
        .await
        .unwrap()
        .get(0);
    let third: Uuid = session
        .query_one(
            "SELECT maturion.create_next_version('policies', $1, '{\"title\": \"Access control policy\"}')",
            &[&second],
        )
        .await
        .unwrap()
        .get(0);

    let versions: Vec<(Uuid, i32, bool, String, String)> = session
        .query(
            "SELECT h.id, h.version_number, h.is_current_version, p.title, p.content \
             FROM maturion.version_history('policies', $1) h JOIN policies p ON p.id = h.id",
            &[&second],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4)))
        .collect();
    assert_eq!(
        versions,
        [
            (
                first,
                1,
                false,
                "Access control".into(),
                "Version one.".into()
            ),
            (
                second,
                2,
                false,
                "Access control".into(),
                "Version two.".into()
            ),
            (
                third,
                3,
                true,
                "Access control policy".into(),
                "Version two.".into()
            ),
        ]
    );

    // Content does not change in place, on an old version or the current one.
    for (id, column) in [(first, "content"), (third, "title"), (third, "language")] {
        let (code, text) = refusal(
            attempt(
                &session,
                &format!("UPDATE policies SET {column} = 'fr' WHERE id = $1"),
                &[&id],
            )
            .await,
        );
        assert_eq!(code, "MT405", "{text}");
        assert!(
            text.contains(column) && text.contains("create_next_version"),
            "{text}"
        );
    }
    // Nor does the bookkeeping of versions.
    for sql in [
        "UPDATE policies SET is_current_version = false WHERE id = $1",
        "UPDATE policies SET version_number = 9 WHERE id = $1",
        "UPDATE policies SET parent_version_id = NULL WHERE id = $1",
    ] {
        assert_eq!(
            refusal(attempt(&session, sql, &[&third]).await).0,
            "MT405",
            "{sql}"
        );
    }
    assert_eq!(
        refusal(
            attempt(
                &session,
                "UPDATE policies SET is_current_version = true WHERE id = $1",
                &[&first]
            )
            .await
        )
        .0,
        "MT405"
    );
    // A next version follows the current one only.
    let (code, text) = refusal(
        attempt(
            &session,
            "SELECT maturion.create_next_version('policies', $1, '{}')",
            &[&second],
        )
        .await,
    );
    assert_eq!(code, "MT412", "{text}");
    // Whatever a client sends, the database numbers the versions.
    let (code, _) = refusal(
        attempt(
            &session,
            "SELECT maturion.create_next_version('policies', $1, '{\"version_number\": 1}')",
            &[&third],
        )
        .await,
    );
    assert_eq!(code, "22023");
    let direct: (i32, bool) = {
        let row = session
            .query_one(
                "INSERT INTO policies (organisation_id, title, parent_version_id, version_number, is_current_version) \
                 VALUES ($1, 'Direct', $2, 42, false) RETURNING version_number, is_current_version",
                &[&alpha.organisation.as_uuid(), &third],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(direct, (4, true));
    let current: i64 = session
        .query_one(
            "SELECT count(*) FROM maturion.version_history('policies', $1) WHERE is_current_version",
            &[&first],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(current, 1);
}

#[tokio::test]
async fn concurrent_edits_of_one_version_make_one_next_version() {
    let db = maturion_testing::migrated_database().await;
    let alpha = tenant(&db, "Alpha").await;
    let setup = bound(&db, &alpha).await;
    let first = new_policy(&setup, &alpha, "Backups", "Daily.", "en").await;
    setup.batch_execute("COMMIT").await.unwrap();

    let mut editors = Vec::new();
    for editor in 0..4 {
        let session = bound(&db, &alpha).await;
        editors.push(tokio::spawn(async move {
            let changes = serde_json::json!({ "content": format!("Edit {editor}.") });
            let outcome = session
                .query_one(
                    "SELECT maturion.create_next_version('policies', $1, $2)",
                    &[&first, &changes],
                )
                .await;
            session
                .batch_execute(if outcome.is_ok() {
                    "COMMIT"
                } else {
                    "ROLLBACK"
                })
                .await
                .unwrap();
            outcome.map(|row| row.get::<_, Uuid>(0)).map_err(|error| {
                error
                    .as_db_error()
                    .map(|e| e.code().code().to_owned())
                    .unwrap_or_default()
            })
        }));
    }
    let mut made = Vec::new();
    for editor in editors {
        match editor.await.unwrap() {
            Ok(id) => made.push(id),
            Err(code) => assert_eq!(code, "MT412"),
        }
    }
    assert_eq!(made.len(), 1, "exactly one edit wins: {made:?}");

    let admin = db.admin().await;
    let current: Vec<Uuid> = admin
        .query("SELECT id FROM policies WHERE is_current_version", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(current, made);
}

#[tokio::test]
async fn another_organisations_version_is_like_one_that_does_not_exist() {
    let db = maturion_testing::migrated_database().await;
    let alpha = tenant(&db, "Alpha").await;
    let beta = tenant(&db, "Beta").await;
    let beta_session = bound(&db, &beta).await;
    let betas = new_policy(&beta_session, &beta, "Beta's", "Secret.", "en").await;
    beta_session.batch_execute("COMMIT").await.unwrap();

    let session = bound(&db, &alpha).await;
    let (theirs, _) = refusal(
        attempt(
            &session,
            "SELECT maturion.create_next_version('policies', $1, '{}')",
            &[&betas],
        )
        .await,
    );
    let (nobodys, _) = refusal(
        attempt(
            &session,
            "SELECT maturion.create_next_version('policies', $1, '{}')",
            &[&Uuid::now_v7()],
        )
        .await,
    );
    assert_eq!((theirs.as_str(), nobodys.as_str()), ("P0002", "P0002"));
    // As the parent of a new row of one's own, it is refused as a version that does not exist.
    let (code, _) = refusal(
        attempt(
            &session,
            "INSERT INTO policies (organisation_id, title, parent_version_id) VALUES ($1, 'Fork', $2)",
            &[&alpha.organisation.as_uuid(), &betas],
        )
        .await,
    );
    assert_eq!(code, "MT412");
    let history = session
        .query(
            "SELECT * FROM maturion.version_history('policies', $1)",
            &[&betas],
        )
        .await
        .unwrap();
    assert!(history.is_empty());
    let unchanged: (i32, bool) = {
        let row = db
            .admin()
            .await
            .query_one(
                "SELECT version_number, is_current_version FROM policies WHERE id = $1",
                &[&betas],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(unchanged, (1, true));
}

/// §3.5 on a versioned table: a soft delete hides the policy and is on the record; a deleted
/// policy gets no next version until it is restored.
#[tokio::test]
async fn a_deleted_policy_is_kept_and_gets_no_next_version_until_restored() {
    let db = maturion_testing::migrated_database().await;
    let alpha = tenant(&db, "Alpha").await;
    let session = bound(&db, &alpha).await;
    let policy = new_policy(&session, &alpha, "Clean desk", "Clear it.", "en").await;
    session
        .execute(
            "UPDATE policies SET deleted_at = now() WHERE id = $1",
            &[&policy],
        )
        .await
        .unwrap();
    let deleted_by: Option<Uuid> = session
        .query_one("SELECT deleted_by FROM policies WHERE id = $1", &[&policy])
        .await
        .unwrap()
        .get(0);
    assert_eq!(deleted_by, Some(alpha.user.as_uuid()));
    let (code, _) = refusal(
        attempt(
            &session,
            "SELECT maturion.create_next_version('policies', $1, '{}')",
            &[&policy],
        )
        .await,
    );
    assert_eq!(code, "MT412");
    session
        .execute(
            "UPDATE policies SET deleted_at = NULL WHERE id = $1",
            &[&policy],
        )
        .await
        .unwrap();
    session
        .query_one(
            "SELECT maturion.create_next_version('policies', $1, '{}')",
            &[&policy],
        )
        .await
        .unwrap();
    let actions: Vec<String> = session
        .query(
            "SELECT action FROM audit_log WHERE module = 'policies' AND entity_id = $1 ORDER BY timestamp, id",
            &[&policy],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(actions, ["created", "deleted", "updated", "updated"]);
}
