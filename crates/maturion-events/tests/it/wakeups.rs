//! Wake-ups: a sleeping worker reacts within milliseconds; publishers NOTIFY only while one
//! sleeps.

use std::time::{Duration, Instant};

use maturion_events::{Subscription, WorkerOptions};
use tokio_postgres::AsyncMessage;

use crate::support::{self, Recorder};
use maturion_testing::organisation_with_admin;

/// Counts NOTIFYs on the bus channel, seen by a plain LISTEN connection.
async fn notification_counter(
    db: &maturion_testing::TestDatabase,
) -> (
    tokio_postgres::Client,
    tokio::sync::mpsc::UnboundedReceiver<()>,
) {
    use futures_util::StreamExt;
    let (client, mut connection) = support::admin_url(db)
        .config()
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap();
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(_) = message {
                let _ = sender.send(());
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN {}", maturion_events::NOTIFY_CHANNEL))
        .await
        .unwrap();
    (client, receiver)
}

async fn count(receiver: &mut tokio::sync::mpsc::UnboundedReceiver<()>) -> usize {
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut n = 0;
    while receiver.try_recv().is_ok() {
        n += 1;
    }
    n
}

#[tokio::test]
async fn publishers_notify_only_while_a_worker_sleeps() {
    let db = support::database().await;
    let app = support::app(&db, 2);
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    let (_listening, mut notifications) = notification_counter(&db).await;

    support::publish(&app, &alpha, "risk.created", 1).await;
    assert_eq!(
        count(&mut notifications).await,
        0,
        "nobody sleeps: no NOTIFY"
    );

    let maintenance = support::maintenance(&db).await;
    let worker = uuid::Uuid::new_v4();
    maintenance
        .execute(
            "INSERT INTO maturion.event_waiters (worker_id, waiting_since) VALUES ($1, clock_timestamp())",
            &[&worker],
        )
        .await
        .unwrap();
    support::publish(&app, &alpha, "risk.created", 2).await;
    assert_eq!(
        count(&mut notifications).await,
        1,
        "a sleeper: one NOTIFY per publishing transaction"
    );

    maintenance
        .execute(
            "UPDATE maturion.event_waiters SET heartbeat_at = now() - interval '2 minutes'",
            &[],
        )
        .await
        .unwrap();
    support::publish(&app, &alpha, "risk.created", 3).await;
    assert_eq!(
        count(&mut notifications).await,
        0,
        "a silent (crashed) sleeper is ignored"
    );
}

#[tokio::test]
async fn a_sleeping_worker_wakes_within_milliseconds() {
    let db = support::database().await;
    let app = support::app(&db, 4);
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    support::subscribe(&db, &Subscription::new("wake", &["*"])).await;
    let recorder = Recorder::default();
    let options = WorkerOptions {
        listen_after: Duration::from_millis(50),
        listen_timeout: Duration::from_secs(30),
        ..WorkerOptions::default()
    };
    let worker = support::worker(&db, &app, "wake", &recorder, options).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async {
        let _ = stopped.await;
    }));

    let maintenance = support::maintenance(&db).await;
    let mut latencies = Vec::new();
    for n in 0..5 {
        // Let the worker fall asleep on LISTEN.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let sleeping: i64 = maintenance
                .query_one(
                    "SELECT count(*) FROM maturion.event_waiters WHERE waiting_since IS NOT NULL",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            if sleeping == 1 {
                break;
            }
            assert!(Instant::now() < deadline, "the worker never went to sleep");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let published = Instant::now();
        support::publish(&app, &alpha, "risk.created", n).await;
        while recorder.handled().len() <= n as usize {
            assert!(
                published.elapsed() < Duration::from_secs(2),
                "not woken (the listen timeout is 30 s)"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        latencies.push(published.elapsed());
    }
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
    latencies.sort();
    assert!(
        latencies[2] < Duration::from_millis(100),
        "median wake-up latency {:?}",
        latencies[2]
    );
    let left: i64 = maintenance
        .query_one("SELECT count(*) FROM maturion.event_waiters", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "a stopped worker removes its row");
}
