//! At-least-once delivery: retries with back-off, dead letters, replay, cursors that survive
//! restarts, handler writes committed with the cursor, shared work and fairness.

use std::time::Duration;

use maturion_config::ConnectionUrl;
use maturion_events::{dead_letters, replay, Subscription, Worker, WorkerOptions};

use crate::support::{self, payload_n, Recorder};
use maturion_testing::organisation_with_admin;

fn fast_retries(name: &str, attempts: u32) -> Subscription {
    Subscription::new(name, &["*"]).retries(
        attempts,
        Duration::from_millis(50),
        Duration::from_millis(200),
    )
}

#[tokio::test]
async fn failures_are_retried_with_back_off_then_dead_lettered_and_replayable() {
    let db = support::database().await;
    let app = support::app(&db, 4);
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    support::subscribe(&db, &fast_retries("flaky", 3)).await;
    let recorder = Recorder::default();
    let mut worker = support::worker(&db, &app, "flaky", &recorder, WorkerOptions::default()).await;

    support::publish(&app, &alpha, "risk.created", 1).await;
    support::drain(&mut worker).await;
    let poison = support::publish(&app, &alpha, "risk.created", 2).await;
    support::publish(&app, &alpha, "risk.created", 3).await;
    recorder.fail(poison, 100);

    // 2 fails; the stream waits (order!) during the back-off, 3 is not delivered before it.
    let round = worker.run_once().await.unwrap();
    assert_eq!((round.delivered, round.retried), (0, 1));
    assert_eq!(
        recorder.handled().iter().map(payload_n).collect::<Vec<_>>(),
        [1]
    );
    assert!(
        !worker.run_once().await.unwrap().claimed_anything(),
        "backing off"
    );
    let maintenance = support::maintenance(&db).await;
    let (attempts, error, retry_in): (i32, String, f64) = {
        let row = maintenance
            .query_one(
                "SELECT attempts, last_error, extract(epoch FROM retry_at - clock_timestamp())::float8 \
                 FROM maturion.event_cursors WHERE subscription = 'flaky'",
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1), row.get(2))
    };
    assert_eq!(attempts, 1);
    assert!(error.contains("planned failure"), "{error}");
    assert!(
        retry_in > 0.0 && retry_in <= 0.06,
        "first back-off is about 50 ms: {retry_in}"
    );

    // Second failure doubles the delay; the third dead-letters and moves on to 3.
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(worker.run_once().await.unwrap().retried, 1);
    let retry_in: f64 = maintenance
        .query_one("SELECT extract(epoch FROM retry_at - clock_timestamp())::float8 FROM maturion.event_cursors", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        retry_in > 0.06 && retry_in <= 0.11,
        "second back-off is about 100 ms: {retry_in}"
    );
    tokio::time::sleep(Duration::from_millis(120)).await;
    let round = worker.run_once().await.unwrap();
    assert_eq!((round.dead_lettered, round.delivered), (1, 0));
    support::drain(&mut worker).await;
    assert_eq!(
        recorder.handled().iter().map(payload_n).collect::<Vec<_>>(),
        [1, 3]
    );

    let letters = dead_letters(&maintenance, Some("flaky"), false)
        .await
        .unwrap();
    assert_eq!(letters.len(), 1);
    let letter = &letters[0];
    assert_eq!(
        (letter.event_id, letter.attempts, letter.status.as_str()),
        (poison, 3, "dead")
    );
    assert_eq!(letter.organisation_id, alpha.organisation.as_uuid());

    // Replay: the handler is fixed; the letter is delivered again (after 3, out of order).
    recorder.fail(poison, 0);
    assert!(replay(&maintenance, letter.id).await.unwrap());
    assert!(
        !replay(&maintenance, letter.id).await.unwrap(),
        "already queued"
    );
    let round = support::drain(&mut worker).await;
    assert_eq!(round.replayed, 1);
    assert_eq!(
        recorder.handled().iter().map(payload_n).collect::<Vec<_>>(),
        [1, 3, 2]
    );
    let letters = dead_letters(&maintenance, Some("flaky"), true)
        .await
        .unwrap();
    assert_eq!(letters[0].status, "replayed");
    assert!(dead_letters(&maintenance, Some("flaky"), false)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn handler_writes_commit_with_the_cursor_and_roll_back_with_a_failure() {
    let db = support::database().await;
    let app = support::app(&db, 4);
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    support::subscribe(&db, &fast_retries("settings.writer", 5)).await;
    support::create_handled_events(&db).await;
    let recorder = Recorder::default();
    recorder
        .records_handled
        .lock()
        .unwrap()
        .insert(alpha.organisation.as_uuid());
    let mut worker = support::worker(
        &db,
        &app,
        "settings.writer",
        &recorder,
        WorkerOptions::default(),
    )
    .await;

    let first = support::publish(&app, &alpha, "risk.created", 1).await;
    let second = support::publish(&app, &alpha, "risk.created", 2).await;
    recorder.fail(second, 1);
    let round = worker.run_once().await.unwrap();
    assert_eq!((round.delivered, round.retried), (1, 1));

    let admin = db.admin().await;
    let recorded = async || -> Vec<uuid::Uuid> {
        admin
            .query("SELECT event_id FROM handled_events ORDER BY 1", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    // The failed handler's write is gone; the first one's is there, exactly once, although
    // the first event's handler ran twice (once in the failed transaction).
    assert_eq!(recorded().await, [first]);
    let processed: Vec<(uuid::Uuid, bool)> = admin
        .query(
            "SELECT id, processed_at IS NOT NULL FROM event_log ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(processed, [(first, true), (second, false)]);

    tokio::time::sleep(Duration::from_millis(60)).await;
    support::drain(&mut worker).await;
    assert_eq!(recorded().await.len(), 2);
    let unprocessed: i64 = admin
        .query_one(
            "SELECT count(*) FROM event_log WHERE processed_at IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(unprocessed, 0);
}

#[tokio::test]
async fn cursors_survive_a_restart_and_filters_apply() {
    let db = support::database().await;
    let app = support::app(&db, 4);
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    let beta = organisation_with_admin(&db.admin().await, "Beta")
        .await
        .unwrap();
    support::subscribe(
        &db,
        &Subscription::new("alpha.risks", &["risk.*"]).for_organisation(alpha.organisation),
    )
    .await;

    for n in 1..=3 {
        support::publish(&app, &alpha, "risk.created", n).await;
        support::publish(&app, &alpha, "policy.created", 100 + n).await;
        support::publish(&app, &beta, "risk.created", 200 + n).await;
    }
    let recorder = Recorder::default();
    {
        let mut worker = support::worker(
            &db,
            &app,
            "alpha.risks",
            &recorder,
            WorkerOptions::default(),
        )
        .await;
        support::drain(&mut worker).await;
    }
    assert_eq!(
        recorder.handled().iter().map(payload_n).collect::<Vec<_>>(),
        [1, 2, 3]
    );

    // A new worker (a restart) starts where the cursor is.
    support::publish(&app, &alpha, "risk.updated", 4).await;
    let mut worker = support::worker(
        &db,
        &app,
        "alpha.risks",
        &recorder,
        WorkerOptions::default(),
    )
    .await;
    support::drain(&mut worker).await;
    assert_eq!(
        recorder.handled().iter().map(payload_n).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );

    // A subscription registered "from now" skips the past.
    let later = Subscription::new("later", &["*"]).starting_from(maturion_events::StartFrom::Now);
    support::subscribe(&db, &later).await;
    support::publish(&app, &beta, "risk.created", 300).await;
    let recorder = Recorder::default();
    let mut worker = support::worker(&db, &app, "later", &recorder, WorkerOptions::default()).await;
    support::drain(&mut worker).await;
    assert_eq!(
        recorder.handled().iter().map(payload_n).collect::<Vec<_>>(),
        [300]
    );
}

#[tokio::test]
async fn workers_share_streams_without_double_processing() {
    let db = support::database().await;
    let app = support::app(&db, 16);
    let mut tenants = Vec::new();
    for name in ["Alpha", "Beta", "Gamma", "Delta", "Epsilon", "Zeta"] {
        tenants.push(
            organisation_with_admin(&db.admin().await, name)
                .await
                .unwrap(),
        );
    }
    support::subscribe(&db, &Subscription::new("shared", &["*"])).await;
    for n in 0..300 {
        support::publish(&app, &tenants[n as usize % tenants.len()], "work.item", n).await;
    }
    let recorder = Recorder::default();
    let options = WorkerOptions {
        streams_per_claim: 2,
        max_events: 10,
        ..WorkerOptions::default()
    };
    let mut workers = Vec::new();
    for _ in 0..3 {
        workers.push(support::worker(&db, &app, "shared", &recorder, options.clone()).await);
    }
    let mut busy = vec![0usize; workers.len()];
    loop {
        let rounds = futures_util::future::join_all(workers.iter_mut().map(|w| w.run_once())).await;
        let mut any = false;
        for (i, round) in rounds.into_iter().enumerate() {
            let round = round.unwrap();
            busy[i] += round.delivered;
            any |= round.claimed_anything();
        }
        if !any {
            break;
        }
    }
    let mut seen: Vec<i64> = recorder.handled().iter().map(payload_n).collect();
    seen.sort();
    assert_eq!(
        seen,
        (0..300).collect::<Vec<_>>(),
        "each event exactly once"
    );
    assert!(
        busy.iter().all(|&n| n > 0),
        "every worker got a share: {busy:?}"
    );
}

/// One organisation floods the bus; another's few events must not wait behind the flood.
#[tokio::test]
async fn a_flooding_organisation_does_not_starve_the_others() {
    let db = support::database().await;
    let app = support::app(&db, 4);
    let flood = organisation_with_admin(&db.admin().await, "Flood")
        .await
        .unwrap();
    let quiet = organisation_with_admin(&db.admin().await, "Quiet")
        .await
        .unwrap();
    support::subscribe(&db, &Subscription::new("fair", &["*"])).await;
    let tx = app.transaction(&flood.context).await.unwrap();
    let events: Vec<_> = (0..5000)
        .map(|n| {
            maturion_events::NewEvent::new("flood.item", "tests")
                .payload(serde_json::json!({"n": n}))
        })
        .collect();
    for chunk in events.chunks(500) {
        maturion_events::publish_all(&tx, chunk).await.unwrap();
    }
    tx.commit().await.unwrap();
    for n in 0..5 {
        support::publish(&app, &flood, "flood.item", 10_000 + n).await;
    }
    support::publish(&app, &quiet, "quiet.item", -1).await;

    let recorder = Recorder::default();
    let options = WorkerOptions {
        streams_per_claim: 1,
        max_events: 100,
        ..WorkerOptions::default()
    };
    let mut worker = support::worker(&db, &app, "fair", &recorder, options).await;
    for _ in 0..2 {
        worker.run_once().await.unwrap();
    }
    let handled = recorder.handled();
    assert!(
        handled
            .iter()
            .any(|e| e.organisation_id == quiet.organisation.as_uuid()),
        "within two single-stream rounds the quiet organisation was served ({} events handled)",
        handled.len()
    );
    support::drain(&mut worker).await;
    assert_eq!(recorder.handled().len(), 5006);
}

#[tokio::test]
async fn a_lost_lease_rolls_the_handler_back() {
    let db = support::database().await;
    let app = support::app(&db, 4);
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    support::subscribe(&db, &Subscription::new("slow", &["*"])).await;
    support::create_handled_events(&db).await;

    // A handler that takes longer than the lease, while another worker takes the stream over.
    #[derive(Clone)]
    struct Slow(Recorder);
    impl maturion_events::Handler for Slow {
        async fn handle(
            &self,
            delivery: &mut maturion_events::Delivery,
            event: &maturion_events::Event,
        ) -> Result<(), maturion_events::HandlerError> {
            tokio::time::sleep(Duration::from_millis(400)).await;
            maturion_events::Handler::handle(&self.0, delivery, event).await
        }
    }
    let slow_recorder = Recorder::default();
    slow_recorder
        .records_handled
        .lock()
        .unwrap()
        .insert(alpha.organisation.as_uuid());
    let options = WorkerOptions {
        lease: Duration::from_millis(100),
        ..WorkerOptions::default()
    };
    let mut slow = maturion_events::Worker::new(
        &support::admin_url(&db),
        app.clone(),
        "slow",
        Slow(slow_recorder.clone()),
        options.clone(),
    )
    .await
    .unwrap();
    let fast_recorder = Recorder::default();
    fast_recorder
        .records_handled
        .lock()
        .unwrap()
        .insert(alpha.organisation.as_uuid());
    let mut fast = support::worker(&db, &app, "slow", &fast_recorder, options).await;

    support::publish(&app, &alpha, "risk.created", 1).await;
    let (slow_round, fast_round) = tokio::join!(slow.run_once(), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        fast.run_once().await
    });
    assert_eq!(slow_round.unwrap().lost, 1);
    assert_eq!(fast_round.unwrap().delivered, 1);
    let admin = db.admin().await;
    let settings: i64 = admin
        .query_one("SELECT count(*) FROM handled_events", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        settings, 1,
        "only the worker holding the lease committed its write"
    );
}

#[tokio::test]
async fn processed_at_is_the_first_processing() {
    let db = support::database().await;
    let app = support::app(&db, 4);
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    support::subscribe(&db, &Subscription::new("first", &["*"])).await;
    support::subscribe(&db, &Subscription::new("second", &["*"])).await;
    support::publish(&app, &alpha, "risk.created", 1).await;
    let admin = db.admin().await;
    let processed_at = async || -> Option<chrono::DateTime<chrono::Utc>> {
        admin
            .query_one("SELECT processed_at FROM event_log", &[])
            .await
            .unwrap()
            .get(0)
    };
    assert_eq!(processed_at().await, None);

    let recorder = Recorder::default();
    let mut first = support::worker(&db, &app, "first", &recorder, WorkerOptions::default()).await;
    support::drain(&mut first).await;
    let first_time = processed_at().await.expect("set by the first subscription");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut second =
        support::worker(&db, &app, "second", &recorder, WorkerOptions::default()).await;
    support::drain(&mut second).await;
    assert_eq!(recorder.handled().len(), 2, "both subscriptions got it");
    assert_eq!(
        processed_at().await,
        Some(first_time),
        "the second one left processed_at alone"
    );
}

/// The same race when the handler writes nothing: the late bulk acknowledgement is refused.
#[tokio::test]
async fn a_lost_lease_is_not_acknowledged_in_bulk() {
    let db = support::database().await;
    let app = support::app(&db, 4);
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    support::subscribe(&db, &Subscription::new("slow.bulk", &["*"])).await;

    struct Slow;
    impl maturion_events::Handler for Slow {
        async fn handle(
            &self,
            _delivery: &mut maturion_events::Delivery,
            _event: &maturion_events::Event,
        ) -> Result<(), maturion_events::HandlerError> {
            tokio::time::sleep(Duration::from_millis(400)).await;
            Ok(())
        }
    }
    let options = WorkerOptions {
        lease: Duration::from_millis(100),
        ..WorkerOptions::default()
    };
    let mut slow = maturion_events::Worker::new(
        &support::admin_url(&db),
        app.clone(),
        "slow.bulk",
        Slow,
        options.clone(),
    )
    .await
    .unwrap();
    let recorder = Recorder::default();
    let mut fast = support::worker(&db, &app, "slow.bulk", &recorder, options).await;

    support::publish(&app, &alpha, "risk.created", 1).await;
    let (slow_round, fast_round) = tokio::join!(slow.run_once(), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        fast.run_once().await
    });
    let (slow_round, fast_round) = (slow_round.unwrap(), fast_round.unwrap());
    assert_eq!((slow_round.lost, slow_round.delivered), (1, 0));
    assert_eq!(fast_round.delivered, 1);
    assert!(
        !fast.run_once().await.unwrap().claimed_anything(),
        "the cursor moved once, past the event"
    );
}

/// The worker's connections follow the TLS its administrator's URL asks for: over TCP, TLS 1.3
/// verified against the cluster's own authority, delivering as over the socket.
#[tokio::test]
async fn a_worker_whose_url_asks_for_tls_connects_with_tls_1_3_and_delivers() {
    let db = support::database().await;
    let app = support::app(&db, 2);
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    let admin = db.admin().await;
    // Roles are the cluster's: only this test makes this one.
    admin
        .batch_execute(&format!(
            "DO $$ BEGIN \
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'events_over_tls') THEN \
                 CREATE ROLE events_over_tls LOGIN PASSWORD 'tls-password'; \
               END IF; \
             END $$; \
             GRANT maturion_maintenance TO events_over_tls; \
             GRANT CONNECT ON DATABASE \"{}\" TO events_over_tls",
            db.name()
        ))
        .await
        .unwrap();
    support::subscribe(&db, &Subscription::new("over_tls", &["*"])).await;
    let port = db.cluster().status().unwrap().port.unwrap();
    let url = ConnectionUrl::parse(&format!(
        "postgresql://events_over_tls:tls-password@localhost:{port}/{}\
         ?sslmode=verify-full&sslrootcert={}",
        db.name(),
        db.cluster().root_certificate().display()
    ))
    .unwrap();
    let recorder = Recorder::default();
    let options = WorkerOptions::default();
    let mut worker = Worker::new(&url, app.clone(), "over_tls", recorder.clone(), options)
        .await
        .unwrap();

    support::publish(&app, &alpha, "risk.created", 1).await;
    support::drain(&mut worker).await;
    let handled: Vec<i64> = recorder.handled().iter().map(payload_n).collect();
    assert_eq!(handled, [1]);
    let sessions: Vec<String> = admin
        .query(
            "SELECT s.version FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.usename = 'events_over_tls' AND a.datname = current_database() \
               AND s.ssl ORDER BY a.pid",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        sessions,
        ["TLSv1.3", "TLSv1.3"],
        "the listener and the binder"
    );
}
