//! Streams that have delivered everything rest, so that claims skip them; the organisation's
//! next commit wakes them, also when it races with the claim that let them rest.

use std::time::{Duration, Instant};

use maturion_events::{StartFrom, Subscription, WorkerOptions};
use tokio_postgres::Client;

use crate::support::{self, publish, Recorder};
use maturion_testing::organisation_with_admin;

/// Every claim discovers, and so lets caught-up streams rest.
fn discovering() -> WorkerOptions {
    WorkerOptions {
        discover_every: Duration::ZERO,
        ..WorkerOptions::default()
    }
}

async fn resting(maintenance: &Client, subscription: &str) -> Vec<(uuid::Uuid, bool)> {
    maintenance
        .query(
            "SELECT organisation_id, idle FROM maturion.event_cursors WHERE subscription = $1 ORDER BY organisation_id",
            &[&subscription],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

#[tokio::test]
async fn a_caught_up_stream_rests_and_its_next_commit_wakes_it() {
    let db = support::database().await;
    let app = support::app(&db, 2);
    let alpha = organisation_with_admin(&app, "Alpha").await.unwrap();
    let beta = organisation_with_admin(&app, "Beta").await.unwrap();
    support::subscribe(&db, &Subscription::new("rest", &["*"])).await;
    let recorder = Recorder::default();
    let mut worker = support::worker(&db, &app, "rest", &recorder, discovering()).await;
    let maintenance = support::maintenance(&db).await;

    publish(&app, &alpha, "risk.created", 1).await;
    publish(&app, &beta, "risk.created", 2).await;
    support::drain(&mut worker).await;
    let mut expected = vec![
        (alpha.organisation.as_uuid(), true),
        (beta.organisation.as_uuid(), true),
    ];
    expected.sort();
    assert_eq!(
        resting(&maintenance, "rest").await,
        expected,
        "both delivered: both rest"
    );

    publish(&app, &alpha, "risk.updated", 3).await;
    for (organisation, idle) in resting(&maintenance, "rest").await {
        assert_eq!(
            idle,
            organisation != alpha.organisation.as_uuid(),
            "alpha's commit woke alpha's stream only"
        );
    }
    assert_eq!(support::drain(&mut worker).await.delivered, 1);
    assert_eq!(recorder.handled().len(), 3);
    assert!(resting(&maintenance, "rest")
        .await
        .iter()
        .all(|(_, idle)| *idle));

    // A subscription made from now finds both streams caught up; a discovering claim lets
    // them rest, and they still wake.
    support::subscribe(
        &db,
        &Subscription::new("late", &["*"]).starting_from(StartFrom::Now),
    )
    .await;
    assert!(resting(&maintenance, "late")
        .await
        .iter()
        .all(|(_, idle)| !idle));
    let late = Recorder::default();
    let mut late_worker = support::worker(&db, &app, "late", &late, discovering()).await;
    assert_eq!(support::drain(&mut late_worker).await.delivered, 0);
    assert!(resting(&maintenance, "late")
        .await
        .iter()
        .all(|(_, idle)| *idle));
    publish(&app, &beta, "risk.created", 4).await;
    assert_eq!(support::drain(&mut late_worker).await.delivered, 1);
}

/// A publisher committing while workers deliver and let the stream rest: whichever way they
/// interleave, the stream never rests with a commit behind it.
#[tokio::test]
async fn no_commit_is_left_behind_a_resting_stream() {
    let db = support::database().await;
    let app = support::app(&db, 4);
    let alpha = organisation_with_admin(&app, "Alpha").await.unwrap();
    support::subscribe(&db, &Subscription::new("race", &["*"])).await;
    let recorder = Recorder::default();
    let mut worker = support::worker(&db, &app, "race", &recorder, discovering()).await;

    const EVENTS: i64 = 300;
    let publisher = {
        let app = app.clone();
        tokio::spawn(async move {
            for n in 0..EVENTS {
                publish(&app, &alpha, "risk.created", n).await;
                // Slower than the worker, which catches up and lets the stream rest between
                // commits, again and again.
                if n % 3 == 0 {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while (recorder.handled().len() as i64) < EVENTS {
        assert!(
            Instant::now() < deadline,
            "only {} of {EVENTS} events delivered: a stream rests with commits behind it",
            recorder.handled().len()
        );
        if !worker.run_once().await.unwrap().claimed_anything() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    publisher.await.unwrap();
    support::drain(&mut worker).await;
    let mut seen: Vec<i64> = recorder.handled().iter().map(support::payload_n).collect();
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "in commit order");
    seen.dedup();
    assert_eq!(seen.len() as i64, EVENTS);
}

/// A stream is not let rest while a publisher of its organisation is committing (it holds the
/// organisation's ordering lock, and its commit is not visible yet): else the publisher, which
/// wakes resting streams, would find it awake, and it would rest with the commit behind it.
#[tokio::test]
async fn a_stream_does_not_rest_while_its_organisation_is_committing() {
    let db = support::database().await;
    let app = support::app(&db, 4);
    let alpha = organisation_with_admin(&app, "Alpha").await.unwrap();
    support::subscribe(&db, &Subscription::new("wait", &["*"])).await;
    let recorder = Recorder::default();
    // Discovers on its first claim only: the stream is then delivered and awake.
    let mut worker = support::worker(&db, &app, "wait", &recorder, WorkerOptions::default()).await;
    publish(&app, &alpha, "risk.created", 1).await;
    assert_eq!(support::drain(&mut worker).await.delivered, 1);
    let maintenance = support::maintenance(&db).await;
    let alpha_id = alpha.organisation.as_uuid();
    assert_eq!(resting(&maintenance, "wait").await, [(alpha_id, false)]);

    // A publisher in the middle of its commit: event written, ordering lock held.
    let committing = app.transaction(&alpha.context).await.unwrap();
    maturion_events::publish(
        &committing,
        &maturion_events::NewEvent::new("risk.updated", "tests"),
    )
    .await
    .unwrap();
    // The commit-ordering trigger fires now instead of at COMMIT, and takes the lock (the
    // application may not take advisory locks itself).
    committing
        .execute("SET CONSTRAINTS ALL IMMEDIATE", &[])
        .await
        .unwrap();
    // A discovering claim in a transaction that ends after the publisher's commit.
    maintenance.batch_execute("BEGIN").await.unwrap();
    maintenance
        .query(
            "SELECT * FROM maturion.event_claim('wait', 8, 100, '30 s', 0, true)",
            &[],
        )
        .await
        .unwrap();
    committing.commit().await.unwrap();
    maintenance.batch_execute("COMMIT").await.unwrap();

    assert_eq!(
        resting(&maintenance, "wait").await,
        [(alpha_id, false)],
        "awake: a commit is behind it"
    );
    assert_eq!(
        support::drain(&mut worker).await.delivered,
        1,
        "the publisher's event is delivered"
    );
}
