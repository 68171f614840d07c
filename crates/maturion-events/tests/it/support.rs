use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use maturion_config::ConnectionUrl;
use maturion_events::{
    Delivery, Event, Handler, HandlerError, Subscription, Worker, WorkerOptions,
};
use maturion_tenancy::Database;
use maturion_testing::{Tenant, TestDatabase};
use tokio_postgres::Client;
use uuid::Uuid;

/// A database with every platform migration set, the event bus among them.
pub async fn database() -> TestDatabase {
    maturion_testing::migrated_database().await
}

pub fn admin_url(db: &TestDatabase) -> ConnectionUrl {
    ConnectionUrl::parse(&db.url(db.cluster().superuser())).expect("the test database's URL parses")
}

pub fn app(db: &TestDatabase, connections: usize) -> Database {
    Database::new(db.config(maturion_schema::APP_ROLE), connections).unwrap()
}

/// An administrator connection that has become maturion_maintenance.
pub async fn maintenance(db: &TestDatabase) -> Client {
    let client = db.admin().await;
    client
        .batch_execute("SET ROLE maturion_maintenance")
        .await
        .unwrap();
    client
}

pub async fn subscribe(db: &TestDatabase, subscription: &Subscription) {
    let maintenance = maintenance(db).await;
    maturion_events::subscribe(&maintenance, subscription)
        .await
        .unwrap();
}

/// Publishes one event of `event_type` with `{"n": n}` in its own committed transaction.
pub async fn publish(app: &Database, tenant: &Tenant, event_type: &str, n: i64) -> Uuid {
    let tx = app.transaction(&tenant.context).await.unwrap();
    let event =
        maturion_events::NewEvent::new(event_type, "tests").payload(serde_json::json!({ "n": n }));
    let published = maturion_events::publish(&tx, &event).await.unwrap();
    tx.commit().await.unwrap();
    published.id
}

/// A module table that event handlers write as the platform service: its created_by is
/// nullable, since the service is no user (the trail names it instead).
pub async fn create_handled_events(db: &TestDatabase) {
    db.admin()
        .await
        .batch_execute(
            "SET ROLE maturion_owner;
             CREATE TABLE handled_events (
               id uuid PRIMARY KEY DEFAULT generate_uuidv7(),
               organisation_id uuid NOT NULL REFERENCES organisations (id),
               event_id uuid NOT NULL,
               created_at timestamptz NOT NULL DEFAULT now(), created_by uuid,
               updated_at timestamptz NOT NULL DEFAULT now(), updated_by uuid,
               deleted_at timestamptz, deleted_by uuid,
               UNIQUE (organisation_id, id),
               FOREIGN KEY (organisation_id, created_by) REFERENCES users (organisation_id, id),
               FOREIGN KEY (organisation_id, updated_by) REFERENCES users (organisation_id, id),
               FOREIGN KEY (organisation_id, deleted_by) REFERENCES users (organisation_id, id));
             SELECT maturion.enable_tenant_isolation('handled_events', module => 'tests');
             RESET ROLE;",
        )
        .await
        .unwrap();
}

/// Records what it handles; fails chosen events a given number of times first; optionally
/// records each event in `handled_events` through the tenant transaction.
#[derive(Clone, Default)]
pub struct Recorder {
    pub handled: Arc<Mutex<Vec<Event>>>,
    /// event id → failures left.
    pub failures: Arc<Mutex<HashMap<Uuid, u32>>>,
    /// Organisations whose events the handler records in `handled_events` (see
    /// [`create_handled_events`]) through the delivery's transaction, as the platform service.
    pub records_handled: Arc<Mutex<HashSet<Uuid>>>,
}

impl Recorder {
    pub fn handled(&self) -> Vec<Event> {
        self.handled.lock().unwrap().clone()
    }

    pub fn fail(&self, event: Uuid, times: u32) {
        self.failures.lock().unwrap().insert(event, times);
    }
}

impl Handler for Recorder {
    async fn handle(&self, delivery: &mut Delivery, event: &Event) -> Result<(), HandlerError> {
        let records = self
            .records_handled
            .lock()
            .unwrap()
            .contains(&event.organisation_id);
        if records {
            assert_eq!(delivery.organisation_id().as_uuid(), event.organisation_id);
            delivery
                .transaction()
                .await?
                .execute(
                    "INSERT INTO handled_events (organisation_id, event_id) VALUES ($1, $2)",
                    &[&event.organisation_id, &event.id],
                )
                .await?;
        }
        {
            let mut failures = self.failures.lock().unwrap();
            if let Some(left) = failures.get_mut(&event.id) {
                if *left > 0 {
                    *left -= 1;
                    return Err(format!("planned failure of {}", event.id).into());
                }
            }
        }
        self.handled.lock().unwrap().push(event.clone());
        Ok(())
    }
}

pub async fn worker(
    db: &TestDatabase,
    app: &Database,
    subscription: &str,
    recorder: &Recorder,
    options: WorkerOptions,
) -> Worker<Recorder> {
    Worker::new(
        &admin_url(db),
        app.clone(),
        subscription,
        recorder.clone(),
        options,
    )
    .await
    .unwrap()
}

/// Runs rounds until one claims nothing.
pub async fn drain(worker: &mut Worker<Recorder>) -> maturion_events::Round {
    let mut total = maturion_events::Round::default();
    for _ in 0..10_000 {
        let round = worker.run_once().await.unwrap();
        if !round.claimed_anything() {
            return total;
        }
        total.leases += round.leases;
        total.delivered += round.delivered;
        total.retried += round.retried;
        total.dead_lettered += round.dead_lettered;
        total.replayed += round.replayed;
        total.lost += round.lost;
    }
    panic!("the worker never ran dry");
}

pub fn payload_n(event: &Event) -> i64 {
    event
        .payload
        .as_ref()
        .and_then(|p| p["n"].as_i64())
        .expect("payload n")
}
