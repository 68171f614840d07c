//! §5.3: the status moves along the declared graph only, enforced by the database.

use uuid::Uuid;

use crate::{attempt, bound, new_policy, refusal, tenant};

async fn status(session: &tokio_postgres::Client, id: Uuid) -> String {
    session
        .query_one("SELECT status FROM policies WHERE id = $1", &[&id])
        .await
        .unwrap()
        .get(0)
}

async fn move_to(
    session: &tokio_postgres::Client,
    id: Uuid,
    to: &str,
) -> Result<u64, tokio_postgres::Error> {
    attempt(
        session,
        "UPDATE policies SET status = $2 WHERE id = $1",
        &[&id, &to],
    )
    .await
}

#[tokio::test]
async fn the_status_moves_only_along_the_declared_graph() {
    let db = maturion_testing::migrated_database().await;
    let alpha = tenant(&db, "Alpha").await;
    let session = bound(&db, &alpha).await;

    let graph: Vec<(Option<String>, String)> = session
        .query(
            "SELECT from_status, to_status FROM maturion.workflow_transitions('policies')",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let edge = |from: Option<&str>, to: &str| (from.map(str::to_owned), to.to_owned());
    assert_eq!(
        graph,
        [
            edge(None, "draft"),
            edge(Some("draft"), "pending_review"),
            edge(Some("pending_review"), "approved"),
            edge(Some("pending_review"), "rejected"),
            edge(Some("approved"), "archived"),
            edge(Some("rejected"), "draft"),
        ]
    );

    let (code, text) = refusal(
        attempt(
            &session,
            "INSERT INTO policies (organisation_id, title, status) VALUES ($1, 'Approved at once', 'approved')",
            &[&alpha.organisation.as_uuid()],
        )
        .await,
    );
    assert_eq!(code, "MT409", "{text}");
    assert!(text.contains("allowed: draft"), "{text}");

    let policy = new_policy(&session, &alpha, "Incident response", "Call.", "en").await;
    // Every move outside the graph, from each status the policy passes through, is refused
    // naming the allowed ones, and changes nothing.
    let statuses = [
        "draft",
        "pending_review",
        "approved",
        "rejected",
        "archived",
    ];
    let path = [
        "pending_review",
        "rejected",
        "draft",
        "pending_review",
        "approved",
        "archived",
    ];
    let mut refused = 0;
    for next in path {
        let here = status(&session, policy).await;
        let allowed: Vec<&str> = graph
            .iter()
            .filter(|(from, _)| from.as_deref() == Some(here.as_str()))
            .map(|(_, to)| to.as_str())
            .collect();
        for to in statuses
            .iter()
            .filter(|to| !allowed.contains(to) && **to != here)
        {
            let (code, text) = refusal(move_to(&session, policy, to).await);
            assert_eq!(code, "MT409", "{here} → {to}: {text}");
            assert!(
                text.contains(&format!("allowed: {}", allowed.join(", "))),
                "{here} → {to}: {text}"
            );
            assert_eq!(status(&session, policy).await, here);
            refused += 1;
        }
        move_to(&session, policy, next).await.unwrap();
    }
    assert_eq!(status(&session, policy).await, "archived");
    assert!(refused >= 15, "{refused}");
    // archived is final.
    let (code, text) = refusal(move_to(&session, policy, "draft").await);
    assert_eq!(code, "MT409");
    assert!(text.contains("nothing, it is final"), "{text}");
}

#[tokio::test]
async fn the_database_records_who_moved_the_status_and_when() {
    let db = maturion_testing::migrated_database().await;
    let alpha = tenant(&db, "Alpha").await;
    let session = bound(&db, &alpha).await;
    let policy = new_policy(&session, &alpha, "Passwords", "Long.", "en").await;
    // A client cannot write the bookkeeping itself.
    session
        .execute(
            "UPDATE policies SET status_changed_at = '2000-01-01', status_changed_by = NULL WHERE id = $1",
            &[&policy],
        )
        .await
        .unwrap();
    move_to(&session, policy, "pending_review").await.unwrap();
    let row = session
        .query_one(
            "SELECT status_changed_by, status_changed_at = now() FROM policies WHERE id = $1",
            &[&policy],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Option<Uuid>>(0), Some(alpha.user.as_uuid()));
    assert!(row.get::<_, bool>(1));
}

#[tokio::test]
async fn a_next_version_starts_its_review_again() {
    let db = maturion_testing::migrated_database().await;
    let alpha = tenant(&db, "Alpha").await;
    let session = bound(&db, &alpha).await;
    let first = new_policy(&session, &alpha, "Encryption", "AES.", "en").await;
    move_to(&session, first, "pending_review").await.unwrap();
    move_to(&session, first, "approved").await.unwrap();
    let second: Uuid = session
        .query_one(
            "SELECT maturion.create_next_version('policies', $1, '{\"content\": \"AES-256.\"}')",
            &[&first],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(status(&session, second).await, "draft");
    assert_eq!(status(&session, first).await, "approved");
    // An older version still moves along its graph (an approved one is archived).
    move_to(&session, first, "archived").await.unwrap();
}
