//! The ids of audit rows: UUIDv7 from maturion.audit_entry_id(), expanded into the INSERT.

use tokio_postgres::Client;
use uuid::Uuid;

use crate::support::{self, provision};

/// (microseconds before, id, microseconds after), read in one statement.
async fn stamped_id(admin: &Client) -> (i64, Uuid, i64) {
    let row = admin
        .query_one(
            "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, maturion.audit_entry_id(), \
                    (extract(epoch FROM clock_timestamp()) * 1000000)::bigint",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

/// The clock reading an id carries, in 1/4096 ms: 48 bits of Unix milliseconds, then (past
/// the version nibble) 12 bits of sub-millisecond fraction.
fn ticks(id: Uuid) -> i64 {
    let bits = id.as_u128();
    ((bits >> 80) as i64) * 4096 + ((bits >> 64) & 0xfff) as i64
}

#[tokio::test]
async fn an_entry_id_is_a_uuidv7_of_the_microsecond_it_was_made_in() {
    let db = support::database().await;
    let admin = db.admin().await;
    for _ in 0..200 {
        let (before, id, after) = stamped_id(&admin).await;
        assert_eq!(id.get_version_num(), 7);
        assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
        // Give or take two steps: the epoch goes through a float on its way.
        assert!(
            before * 4096 / 1000 - 2 <= ticks(id) && ticks(id) <= after * 4096 / 1000 + 2,
            "{id} carries {} ticks, made between {before} and {after} µs",
            ticks(id)
        );
    }
}

#[tokio::test]
async fn entry_ids_follow_the_clock_and_do_not_repeat() {
    let db = support::database().await;
    let admin = db.admin().await;
    let ids: Vec<Uuid> = admin
        .query(
            "SELECT maturion.audit_entry_id() FROM generate_series(1, 100000)",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        ids.windows(2).all(|w| ticks(w[0]) <= ticks(w[1])),
        "ids made one after another carry clock readings in that order"
    );
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), ids.len());
    let (_, later, _) = stamped_id(&admin).await;
    assert!(
        ids.iter().all(|id| *id < later),
        "a later statement's id sorts after"
    );
}

#[tokio::test]
async fn audit_rows_take_their_id_from_the_inlined_expression() {
    let db = support::database().await;
    let admin = db.admin().await;
    let app = support::app(&db).await;
    let alpha = provision(&db, "Alpha").await;
    let tx = app.transaction(&alpha.context).await.unwrap();
    let before = Uuid::now_v7();
    maturion_audit::record_views(&tx, "policies", "policy", &[Uuid::now_v7(), Uuid::now_v7()])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let ids: Vec<Uuid> = admin
        .query(
            "SELECT id FROM audit_log WHERE organisation_id = $1 AND action = 'viewed'",
            &[&alpha.organisation],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids
        .iter()
        .all(|id| id.get_version_num() == 7 && *id > before));

    // The default is expanded into the statement, not called as a function per row.
    let plan: String = admin
        .query(
            "EXPLAIN (VERBOSE, COSTS OFF) INSERT INTO audit_log \
               (organisation_id, module, entity_type, entity_id, action) \
             VALUES (gen_random_uuid(), 'm', 'e', gen_random_uuid(), 'viewed')",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    assert!(
        plan.contains("clock_timestamp()") && !plan.contains("audit_entry_id"),
        "{plan}"
    );
}
