//! What a tenant (or old data) can put in event_log must not stop a worker, a tail or a
//! stream: undecodable rows are dead-lettered at once, the rest flows; the database dates
//! published events and no role but a superuser dates one out of range; the lease functions
//! fail closed without a tenant context.

use maturion_events::{Subscription, Tail, TailFilter};
use maturion_testing::{organisation_with_admin, Tenant, TestDatabase};
use tokio_postgres::NoTls;

use crate::support::{self, payload_n, Recorder};

/// JSON nested deeper than serde_json's recursion limit (128); jsonb takes it.
const TOO_DEEP: &str = "(repeat('[', 200) || repeat(']', 200))::jsonb";

/// An event of `tenant` as the superuser writes it (old data, or a repair): the payload and
/// the timestamp are SQL expressions.
async fn insert_as_superuser(db: &TestDatabase, tenant: &Tenant, payload: &str, at: &str) {
    db.admin()
        .await
        .execute(
            &format!(
                "INSERT INTO event_log (organisation_id, event_type, source_module, payload, \"timestamp\") \
                 VALUES ($1, 'risk.created', 'tests', {payload}, {at})"
            ),
            &[&tenant.organisation],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_poison_event_is_dead_lettered_at_once_and_the_rest_of_its_stream_flows() {
    let db = support::database().await;
    let app = support::app(&db, 4);
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    let beta = organisation_with_admin(&db.admin().await, "Beta")
        .await
        .unwrap();
    support::subscribe(&db, &Subscription::new("all", &["*"])).await;
    for tenant in [&alpha, &beta] {
        support::publish(&app, tenant, "risk.created", 1).await;
        insert_as_superuser(&db, tenant, TOO_DEEP, "now()").await;
        // Beyond chrono's range (which ends in 262143).
        insert_as_superuser(&db, tenant, "NULL", "'263000-01-01 00:00:00+00'").await;
        support::publish(&app, tenant, "risk.created", 2).await;
    }
    support::create_handled_events(&db).await;
    // Beta's handler writes, so its poison is settled inside the tenant transaction.
    let recorder = Recorder::default();
    recorder
        .records_handled
        .lock()
        .unwrap()
        .insert(beta.organisation.as_uuid());
    let mut worker = support::worker(&db, &app, "all", &recorder, Default::default()).await;
    let round = support::drain(&mut worker).await;

    assert_eq!(round.dead_lettered, 4, "{round:?}");
    assert_eq!(round.retried, 0, "{round:?}");
    for tenant in [&alpha, &beta] {
        let handled: Vec<i64> = recorder
            .handled()
            .iter()
            .filter(|e| e.organisation_id == tenant.organisation.as_uuid())
            .map(payload_n)
            .collect();
        assert_eq!(handled, [1, 2]);
    }
    let letters =
        maturion_events::dead_letters(&support::maintenance(&db).await, Some("all"), false)
            .await
            .unwrap();
    assert_eq!(letters.len(), 4);
    assert!(
        letters
            .iter()
            .all(|l| l.last_error.starts_with("undecodable event")),
        "{letters:?}"
    );
    assert!(letters
        .iter()
        .any(|l| l.last_error.contains("recursion limit")));
    // The out-of-range timestamp is listed, without a Rust date.
    assert_eq!(
        letters
            .iter()
            .filter(|l| l.event_timestamp.is_none())
            .count(),
        2
    );
}

#[tokio::test]
async fn tail_reports_an_undecodable_event_in_its_place_and_goes_on() {
    let db = support::database().await;
    let app = support::app(&db, 2);
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    support::publish(&app, &alpha, "risk.created", 1).await;
    insert_as_superuser(&db, &alpha, TOO_DEEP, "now()").await;
    support::publish(&app, &alpha, "risk.created", 2).await;

    let mut tail = Tail::start(&support::admin_url(&db), &TailFilter::default(), true)
        .await
        .unwrap();
    let items = tail.poll().await.unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(payload_n(&items[0].as_ref().unwrap().0), 1);
    let poison = items[1].as_ref().unwrap_err();
    assert_eq!(poison.organisation_id, alpha.organisation.as_uuid());
    assert!(poison.error.contains("recursion limit"), "{poison}");
    assert_eq!(payload_n(&items[2].as_ref().unwrap().0), 2);
    tail.close().await.unwrap();
}

#[tokio::test]
async fn the_database_dates_events_and_holds_every_role_but_a_superuser_to_a_window() {
    let db = support::database().await;
    let app = support::app(&db, 1);
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    // The application publishes only through maturion.publish_events, which takes no date.
    let published = support::publish(&app, &alpha, "risk.created", 1).await;
    let maintenance = support::maintenance(&db).await;
    let dated: bool = maintenance
        .query_one(
            "SELECT \"timestamp\" = (SELECT c.event_timestamps[1] FROM maturion.event_commits c \
                                     WHERE c.transaction_id = e.transaction_id) \
             FROM event_log e WHERE e.id = $1",
            &[&published],
        )
        .await
        .unwrap()
        .get(0);
    assert!(dated);
    // The maintenance role, which may insert, is held to the window.
    for at in [
        "'263000-01-01 00:00:00+00'",
        "'4000-01-01 00:00:00+00 BC'",
        "'infinity'",
        "'-infinity'",
        "now() + interval '1 day'",
        "now() - interval '2 years'",
    ] {
        let error = maintenance
            .execute(
                &format!(
                    "INSERT INTO event_log (organisation_id, event_type, source_module, \"timestamp\") \
                     VALUES ($1, 'risk.created', 'tests', {at})"
                ),
                &[&alpha.organisation],
            )
            .await
            .unwrap_err();
        assert!(
            format!("{error:?}").contains("outside the accepted window"),
            "{at}: {error:?}"
        );
    }
    maintenance
        .execute(
            "INSERT INTO event_log (organisation_id, event_type, source_module, \"timestamp\") \
             VALUES ($1, 'risk.created', 'tests', now() - interval '40 days')",
            &[&alpha.organisation],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_leaked_lease_is_worthless_without_the_stream_s_tenant_context() {
    let db = support::database().await;
    let app = support::app(&db, 1);
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    support::subscribe(&db, &Subscription::new("all", &["*"])).await;
    let first = support::publish(&app, &alpha, "risk.created", 1).await;
    let maintenance = support::maintenance(&db).await;
    let lease = maintenance
        .query_one(
            "SELECT lease_token, commit_position FROM maturion.event_claim('all', 1, 10, interval '30 seconds', 0, true)",
            &[],
        )
        .await
        .unwrap();
    let (token, position): (uuid::Uuid, i64) = (lease.get(0), lease.get(1));

    // The application role, with no tenant context at all.
    let (attacker, connection) = db
        .config(maturion_schema::APP_ROLE)
        .connect(NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let acknowledged: bool = attacker
        .query_one(
            "SELECT maturion.event_acknowledge($1, 'all', $2, $3, NULL)",
            &[&token, &alpha.organisation, &position],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!acknowledged);
    for function in ["event_fail", "event_dead_letter"] {
        let verdict: String = attacker
            .query_one(
                &format!(
                    "SELECT maturion.{function}($1, 'all', $2, $3, NULL, $3, $3, now(), $4, 'risk.created', 'forged')"
                ),
                &[&token, &alpha.organisation, &position, &first],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(verdict, "lost", "{function}");
    }
    // The workers' own connection (a member of maturion_maintenance) still acknowledges.
    let acknowledged: bool = maintenance
        .query_one(
            "SELECT maturion.event_acknowledge($1, 'all', $2, $3, NULL)",
            &[&token, &alpha.organisation, &position],
        )
        .await
        .unwrap()
        .get(0);
    assert!(acknowledged);
}
