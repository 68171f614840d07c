//! The outbox: an event exists if and only if its transaction commits.

use maturion_events::{publish, publish_all, EventError, NewEvent};
use maturion_tenancy::TenancyError;
use serde_json::json;

use crate::support;
use maturion_testing::organisation_with_admin;

#[tokio::test]
async fn an_event_exists_iff_its_transaction_commits() {
    let db = support::database().await;
    let app = support::app(&db, 2);
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    let admin = db.admin().await;

    let committed = {
        let tx = app.transaction(&alpha.context).await.unwrap();
        let event = NewEvent::new("risk.created", "risks")
            .source("risk", uuid::Uuid::now_v7())
            .payload(json!({"title": "Flood"}));
        let published = publish(&tx, &event).await.unwrap();
        tx.commit().await.unwrap();
        published
    };
    let rolled_back = {
        let tx = app.transaction(&alpha.context).await.unwrap();
        let published = publish(&tx, &NewEvent::new("risk.created", "risks"))
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        published
    };
    let dropped = {
        let tx = app.transaction(&alpha.context).await.unwrap();
        publish(&tx, &NewEvent::new("risk.created", "risks"))
            .await
            .unwrap()
        // dropped without commit
    };

    let count = async |id: uuid::Uuid| -> i64 {
        admin
            .query_one("SELECT count(*) FROM event_log WHERE id = $1", &[&id])
            .await
            .unwrap()
            .get(0)
    };
    assert_eq!(count(committed.id).await, 1);
    assert_eq!(count(rolled_back.id).await, 0);
    assert_eq!(count(dropped.id).await, 0);

    // The committed event carries the transaction's organisation, and exactly one commit row
    // describes its transaction; the rolled-back ones left no bookkeeping.
    let row = admin
        .query_one(
            "SELECT e.organisation_id, e.event_type, e.payload, e.timestamp, \
                    (SELECT count(*) FROM maturion.event_commits c \
                     WHERE c.transaction_id = e.transaction_id AND e.timestamp = ANY (c.event_timestamps)) \
             FROM event_log e WHERE e.id = $1",
            &[&committed.id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, uuid::Uuid>(0), alpha.organisation.as_uuid());
    assert_eq!(row.get::<_, String>(1), "risk.created");
    assert_eq!(
        row.get::<_, serde_json::Value>(2),
        json!({"title": "Flood"})
    );
    assert_eq!(
        row.get::<_, chrono::DateTime<chrono::Utc>>(3),
        committed.timestamp
    );
    assert_eq!(row.get::<_, i64>(4), 1);
    let commits: i64 = admin
        .query_one("SELECT count(*) FROM maturion.event_commits", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(commits, 1);
}

#[tokio::test]
async fn a_batch_is_one_commit_and_keeps_its_order() {
    let db = support::database().await;
    let app = support::app(&db, 2);
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    let tx = app.transaction(&alpha.context).await.unwrap();
    let events: Vec<NewEvent> = (0..100)
        .map(|n| NewEvent::new("bench.tick", "tests").payload(json!({"n": n})))
        .collect();
    let published = publish_all(&tx, &events).await.unwrap();
    // A second statement in the same transaction joins the same commit.
    publish(&tx, &NewEvent::new("bench.tock", "tests"))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let admin = db.admin().await;
    let commits: i64 = admin
        .query_one("SELECT count(*) FROM maturion.event_commits", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(commits, 1);
    let ids: Vec<uuid::Uuid> = admin
        .query(
            "SELECT id FROM event_log WHERE event_type = 'bench.tick' ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let expected: Vec<uuid::Uuid> = published.iter().map(|p| p.id).collect();
    assert_eq!(ids, expected, "ids are in publication order");
}

#[tokio::test]
async fn invalid_or_forged_events_are_refused() {
    let db = support::database().await;
    let app = support::app(&db, 2);
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    let beta = organisation_with_admin(&db.admin().await, "Beta")
        .await
        .unwrap();

    let tx = app.transaction(&alpha.context).await.unwrap();
    let error = publish(&tx, &NewEvent::new("Risk Created", "risks"))
        .await
        .unwrap_err();
    assert!(matches!(error, EventError::InvalidEvent(_)), "{error}");
    tx.rollback().await.unwrap();

    // The application does not write event_log itself, for its organisation or another one.
    for organisation in [alpha.organisation, beta.organisation] {
        let tx = app.transaction(&alpha.context).await.unwrap();
        let error = tx
            .execute(
                "INSERT INTO event_log (organisation_id, event_type, source_module) VALUES ($1, 'risk.created', 'risks')",
                &[&organisation],
            )
            .await
            .unwrap_err();
        assert!(
            matches!(error, TenancyError::PermissionDenied(_)),
            "{error}"
        );
    }

    // transaction_id is the database's: a forged one (by a superuser, who may insert) fails at
    // commit.
    let admin = db.admin().await;
    admin.batch_execute("BEGIN").await.unwrap();
    admin
        .execute(
            "INSERT INTO event_log (organisation_id, event_type, source_module, transaction_id) \
             VALUES ($1, 'risk.created', 'risks', '1')",
            &[&alpha.organisation],
        )
        .await
        .unwrap();
    let error = admin.batch_execute("COMMIT").await.unwrap_err();
    assert!(
        format!("{error:?}").contains("transaction_id is set by the database"),
        "{error:?}"
    );
}

#[tokio::test]
async fn events_with_explicit_timestamps_are_still_found() {
    let db = support::database().await;
    let app = support::app(&db, 2);
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    support::subscribe(&db, &maturion_events::Subscription::new("all", &["*"])).await;
    // Published events carry their transaction's start; an operator's import may date rows.
    support::maintenance(&db)
        .await
        .execute(
            "INSERT INTO event_log (organisation_id, event_type, source_module, timestamp, payload) VALUES \
             ($1, 'import.row', 'tests', now() - interval '40 days', '{\"n\": 1}'), \
             ($1, 'import.row', 'tests', now() - interval '3 days', '{\"n\": 2}'), \
             ($1, 'import.row', 'tests', now(), '{\"n\": 3}')",
            &[&alpha.organisation],
        )
        .await
        .unwrap();
    let recorder = support::Recorder::default();
    let mut worker = support::worker(&db, &app, "all", &recorder, Default::default()).await;
    support::drain(&mut worker).await;
    let mut seen: Vec<i64> = recorder.handled().iter().map(support::payload_n).collect();
    seen.sort();
    assert_eq!(seen, [1, 2, 3]);
}
