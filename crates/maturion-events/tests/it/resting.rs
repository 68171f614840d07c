//! Streams that have delivered everything rest, so that claims skip them; the organisation's
//! next commit wakes them, also when it races with the acknowledgement that let them rest.

use std::time::{Duration, Instant};

use maturion_events::{StartFrom, Subscription, WorkerOptions};
use tokio_postgres::Client;

use crate::support::{self, provision, publish, Recorder};

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
    let alpha = provision(&app, "Alpha").await;
    let beta = provision(&app, "Beta").await;
    support::subscribe(&db, &Subscription::new("rest", &["*"])).await;
    let recorder = Recorder::default();
    let mut worker = support::worker(&db, &app, "rest", &recorder, WorkerOptions::default()).await;
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
    let mut late_worker = support::worker(&db, &app, "late", &late, WorkerOptions::default()).await;
    assert_eq!(support::drain(&mut late_worker).await.delivered, 0);
    assert!(resting(&maintenance, "late")
        .await
        .iter()
        .all(|(_, idle)| *idle));
    publish(&app, &beta, "risk.created", 4).await;
    assert_eq!(support::drain(&mut late_worker).await.delivered, 1);
}

/// A publisher committing while the worker acknowledges the stream's last commit: whichever
/// way they interleave, the stream never rests with a commit behind it.
#[tokio::test]
async fn no_commit_is_left_behind_a_resting_stream() {
    let db = support::database().await;
    let app = support::app(&db, 4);
    let alpha = provision(&app, "Alpha").await;
    support::subscribe(&db, &Subscription::new("race", &["*"])).await;
    let recorder = Recorder::default();
    let mut worker = support::worker(&db, &app, "race", &recorder, WorkerOptions::default()).await;

    const EVENTS: i64 = 300;
    let publisher = {
        let app = app.clone();
        tokio::spawn(async move {
            for n in 0..EVENTS {
                publish(&app, &alpha, "risk.created", n).await;
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

/// The acknowledgement that would let a stream rest waits for a publisher of the organisation
/// that is committing (it holds the organisation's ordering lock), then sees its commit and
/// keeps the stream awake.
#[tokio::test]
async fn letting_a_stream_rest_waits_for_a_committing_publisher() {
    let db = support::database().await;
    let app = support::app(&db, 4);
    let alpha = provision(&app, "Alpha").await;
    support::subscribe(&db, &Subscription::new("wait", &["*"])).await;
    let recorder = Recorder::default();
    let mut worker = support::worker(&db, &app, "wait", &recorder, WorkerOptions::default()).await;
    publish(&app, &alpha, "risk.created", 1).await;

    // A publisher in the middle of its commit: event written, ordering lock held.
    let committing = app.transaction(&alpha.context()).await.unwrap();
    maturion_events::publish(
        &committing,
        &maturion_events::NewEvent::new("risk.updated", "tests"),
    )
    .await
    .unwrap();
    committing
        .query_one(
            "SELECT pg_advisory_xact_lock(19781, hashtext($1::text))",
            &[&alpha.organisation.as_uuid().to_string()],
        )
        .await
        .unwrap();

    let round = tokio::spawn(async move {
        let round = worker.run_once().await.unwrap();
        (worker, round)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !round.is_finished(),
        "the acknowledgement waits for the committing publisher"
    );
    committing.commit().await.unwrap();
    let (mut worker, round) = round.await.unwrap();
    assert_eq!(round.delivered, 1);
    let maintenance = support::maintenance(&db).await;
    assert_eq!(
        resting(&maintenance, "wait").await,
        [(alpha.organisation.as_uuid(), false)]
    );
    assert_eq!(
        support::drain(&mut worker).await.delivered,
        1,
        "the publisher's event follows"
    );
    assert_eq!(
        resting(&maintenance, "wait").await,
        [(alpha.organisation.as_uuid(), true)]
    );
}
