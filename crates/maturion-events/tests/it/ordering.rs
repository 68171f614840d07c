//! Commit order per organisation, and no event skipped when its transaction commits late.

use std::sync::Arc;
use std::time::{Duration, Instant};

use maturion_events::{publish, NewEvent, Subscription, WorkerOptions};
use serde_json::json;
use tokio::sync::Mutex;

use crate::support::{self, payload_n, Recorder};
use maturion_testing::organisation_with_admin;

/// The classic outbox bug: T1 publishes first but commits last. A cursor over ids or
/// timestamps would move past T1's event when it delivers T2's, and never see T1's.
#[tokio::test]
async fn an_event_whose_transaction_commits_late_is_not_skipped() {
    let db = support::database().await;
    let app = support::app(&db, 4);
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    support::subscribe(&db, &Subscription::new("audit.mirror", &["risk.*"])).await;
    let recorder = Recorder::default();
    let mut worker = support::worker(
        &db,
        &app,
        "audit.mirror",
        &recorder,
        WorkerOptions::default(),
    )
    .await;

    let early = app.transaction(&alpha.context).await.unwrap();
    publish(
        &early,
        &NewEvent::new("risk.created", "risks").payload(json!({"n": 1})),
    )
    .await
    .unwrap();

    support::publish(&app, &alpha, "risk.updated", 2).await;
    support::drain(&mut worker).await;
    // Not blocked by the open transaction: what is committed is delivered at once.
    assert_eq!(
        recorder.handled().iter().map(payload_n).collect::<Vec<_>>(),
        [2]
    );

    early.commit().await.unwrap();
    support::publish(&app, &alpha, "risk.deleted", 3).await;
    support::drain(&mut worker).await;
    // Commit order: 2, then 1, then 3 — and nothing skipped.
    assert_eq!(
        recorder.handled().iter().map(payload_n).collect::<Vec<_>>(),
        [2, 1, 3]
    );
}

/// The window that makes the per-organisation lock necessary: a transaction has drawn its
/// position at COMMIT but is not visible yet (here a later deferred trigger sleeps). Another
/// transaction of the same organisation must not become visible with a larger position
/// meanwhile, or a consumer would move past the first one for good.
#[tokio::test]
async fn a_commit_in_progress_holds_back_the_next_one_of_its_organisation() {
    let db = support::database().await;
    let app = support::app(&db, 4);
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    let beta = organisation_with_admin(&db.admin().await, "Beta")
        .await
        .unwrap();
    support::subscribe(&db, &Subscription::new("window", &["*"])).await;
    db.admin()
        .await
        .batch_execute(
            "CREATE TABLE commit_delay (id int); \
             CREATE FUNCTION commit_delay() RETURNS trigger LANGUAGE plpgsql AS \
               $$ BEGIN PERFORM pg_sleep(0.6); RETURN NULL; END $$; \
             CREATE CONSTRAINT TRIGGER commit_delay AFTER INSERT ON commit_delay \
               DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION commit_delay(); \
             GRANT INSERT ON commit_delay TO maturion_app",
        )
        .await
        .unwrap();

    // Both organisations have streams already (a first commit creates one, and that insert
    // alone would make the second transaction wait).
    let recorder = Recorder::default();
    let mut worker =
        support::worker(&db, &app, "window", &recorder, WorkerOptions::default()).await;
    support::publish(&app, &alpha, "risk.created", 0).await;
    support::publish(&app, &beta, "risk.created", 10).await;
    support::drain(&mut worker).await;

    // Queued after the event's sequencing trigger, so it fires after it, inside COMMIT.
    let slow = app.transaction(&alpha.context).await.unwrap();
    publish(
        &slow,
        &NewEvent::new("risk.created", "risks").payload(json!({"n": 1})),
    )
    .await
    .unwrap();
    slow.execute("INSERT INTO commit_delay VALUES (1)", &[])
        .await
        .unwrap();
    let slow_commit = tokio::spawn(slow.commit());
    tokio::time::sleep(Duration::from_millis(150)).await;
    let fast_commit = {
        let app = app.clone();
        let alpha = alpha.clone();
        tokio::spawn(async move { support::publish(&app, &alpha, "risk.updated", 2).await })
    };
    // Another organisation is not held back.
    support::publish(&app, &beta, "risk.created", 3).await;
    tokio::time::sleep(Duration::from_millis(150)).await;

    support::drain(&mut worker).await;
    assert_eq!(
        recorder.handled().iter().map(payload_n).collect::<Vec<_>>(),
        [0, 10, 3],
        "alpha's second commit waits for the first"
    );

    slow_commit.await.unwrap().unwrap();
    fast_commit.await.unwrap();
    support::drain(&mut worker).await;
    assert_eq!(
        recorder.handled().iter().map(payload_n).collect::<Vec<_>>(),
        [0, 10, 3, 1, 2]
    );
}

/// Many concurrent publishers per organisation, each holding its transaction open for a random
/// while. For any two transactions where one's COMMIT returned before the other's started, the
/// subscriber must see the first one's event first; and it must see every event exactly once.
#[tokio::test]
async fn concurrent_publishers_are_delivered_in_commit_order() {
    let db = support::database().await;
    let app = support::app(&db, 12);
    let tenants = [
        organisation_with_admin(&db.admin().await, "Alpha")
            .await
            .unwrap(),
        organisation_with_admin(&db.admin().await, "Beta")
            .await
            .unwrap(),
    ];
    support::subscribe(&db, &Subscription::new("order.check", &["*"])).await;

    // (organisation, n, commit started, commit returned)
    type Commits = Vec<(usize, i64, Instant, Instant)>;
    let log: Arc<Mutex<Commits>> = Arc::default();
    let mut publishers = Vec::new();
    for publisher in 0..8 {
        let app = app.clone();
        let tenants = tenants.clone();
        let log = log.clone();
        publishers.push(tokio::spawn(async move {
            for k in 0..25 {
                let which = (publisher + k) % 2;
                let n = (publisher * 1000 + k) as i64;
                let tx = app.transaction(&tenants[which].context).await.unwrap();
                publish(
                    &tx,
                    &NewEvent::new("order.tick", "tests").payload(json!({"n": n})),
                )
                .await
                .unwrap();
                tokio::time::sleep(Duration::from_micros(rand::random::<u64>() % 3000)).await;
                let started = Instant::now();
                tx.commit().await.unwrap();
                log.lock().await.push((which, n, started, Instant::now()));
            }
        }));
    }

    // Consume while they publish, with two workers sharing the subscription.
    let recorder = Recorder::default();
    let options = WorkerOptions {
        max_events: 7,
        ..WorkerOptions::default()
    };
    let mut first = support::worker(&db, &app, "order.check", &recorder, options.clone()).await;
    let mut second = support::worker(&db, &app, "order.check", &recorder, options).await;
    let consume = async {
        let mut idle = 0;
        while idle < 20 {
            let (a, b) = tokio::join!(first.run_once(), second.run_once());
            if a.unwrap().claimed_anything() || b.unwrap().claimed_anything() {
                idle = 0;
            } else {
                idle += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    let (_, joined) = tokio::join!(consume, futures_util::future::join_all(publishers));
    joined.into_iter().for_each(|r| r.unwrap());
    support::drain(&mut first).await;

    let handled = recorder.handled();
    let log = log.lock().await;
    assert_eq!(handled.len(), log.len(), "every event exactly once");
    for (which, tenant) in tenants.iter().enumerate() {
        let delivered: Vec<i64> = handled
            .iter()
            .filter(|e| e.organisation_id == tenant.organisation.as_uuid())
            .map(payload_n)
            .collect();
        let positions: Vec<i64> = handled
            .iter()
            .filter(|e| e.organisation_id == tenant.organisation.as_uuid())
            .map(|e| e.position)
            .collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "positions increase: {positions:?}"
        );
        let index = |n: i64| delivered.iter().position(|d| *d == n).unwrap();
        let commits: Vec<_> = log.iter().filter(|(w, ..)| *w == which).collect();
        for a in &commits {
            for b in &commits {
                if a.3 < b.2 {
                    assert!(
                        index(a.1) < index(b.1),
                        "{} committed before {} began committing",
                        a.1,
                        b.1
                    );
                }
            }
        }
    }
}
