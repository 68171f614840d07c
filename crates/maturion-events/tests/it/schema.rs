//! The bus's schema: applies after the platform, reverts, stays out of the application's
//! reach, and passes the conformance checker except for its platform-internal tables.

use crate::support;

#[tokio::test]
async fn migrations_apply_after_the_platform_revert_and_reapply() {
    let db = maturion_testing::fresh_database().await;
    let mut admin = db.admin().await;
    maturion_platform::migrate_up(&mut admin).await.unwrap();
    // Applies 1.0.0 now, or found it applied by the platform's order.
    maturion_events::migrate_event_bus(&mut admin)
        .await
        .unwrap();
    assert!(
        maturion_events::migrate_event_bus(&mut admin)
            .await
            .unwrap()
            .is_empty(),
        "idempotent"
    );
    let ledger = async |admin: &tokio_postgres::Client| -> i64 {
        admin
            .query_one(
                "SELECT count(*) FROM maturion_migrations.schema_migrations WHERE scope = $1",
                &[&maturion_events::SCOPE],
            )
            .await
            .unwrap()
            .get(0)
    };
    let versions = maturion_events::migrations().migrations.len() as i64;
    assert_eq!(ledger(&admin).await, versions);

    let options = maturion_migrate::Options {
        owner_role: Some("maturion_owner".into()),
        ..Default::default()
    };
    maturion_migrate::Migrator::new(&maturion_events::migrations(), options)
        .down(&mut admin, &semver::Version::new(0, 0, 0))
        .await
        .unwrap();
    assert_eq!(ledger(&admin).await, 0);
    let left: i64 = admin
        .query_one(
            "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = 'maturion' AND c.relname LIKE 'event%') \
                  + (SELECT count(*) FROM information_schema.columns \
                     WHERE table_name = 'event_log' AND column_name = 'transaction_id')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "down removes everything up made");
    assert_eq!(
        maturion_events::migrate_event_bus(&mut admin)
            .await
            .unwrap()
            .len() as i64,
        versions,
        "and up applies again"
    );
}

#[tokio::test]
async fn the_application_cannot_touch_the_bookkeeping() {
    let db = support::database().await;
    let app = db.connect(maturion_schema::APP_ROLE).await;
    for table in [
        "event_streams",
        "event_commits",
        "event_subscriptions",
        "event_cursors",
        "event_dead_letters",
        "event_waiters",
    ] {
        let error = app
            .query(&format!("SELECT * FROM maturion.{table}"), &[])
            .await
            .unwrap_err();
        assert_eq!(
            error.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{table}: {error}"
        );
    }
    for call in [
        "SELECT * FROM maturion.event_claim('x', 1, 1, '1 second', 0, true)",
        "SELECT maturion.event_subscribe('x', '{*}', NULL, false, 1, '1 second', '1 second')",
        "SELECT maturion.event_replay(gen_random_uuid())",
        "SELECT maturion.event_release(gen_random_uuid(), 'x', gen_random_uuid())",
        "SELECT * FROM maturion.event_acknowledge_all('{}', 'x', '{}', '{}', '{}')",
    ] {
        let error = app.query(call, &[]).await.unwrap_err();
        assert_eq!(
            error.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{call}: {error}"
        );
    }
    // Without the lease token, acknowledging moves nothing.
    let moved: bool = app
        .query_one(
            "SELECT maturion.event_acknowledge(gen_random_uuid(), 'x', gen_random_uuid(), 1000, NULL)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!moved);
}

#[tokio::test]
async fn the_checker_finds_nothing() {
    let db = support::database().await;
    let admin = db.admin().await;
    let report = maturion_check::check(&admin, &maturion_check::CheckOptions::default())
        .await
        .unwrap();
    let found: Vec<String> = report
        .violations
        .iter()
        .map(|v| format!("{}: {}: {}", v.rule, v.object, v.message))
        .collect();
    assert!(found.is_empty(), "{found:#?}");
    // The bookkeeping passes as @internal machinery: marked, and out of maturion_app's reach.
    let unmarked: Vec<String> = admin
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'maturion' AND c.relname LIKE 'event\\_%' AND c.relkind = 'r' \
               AND coalesce(obj_description(c.oid, 'pg_class'), '') NOT LIKE '@internal %'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(unmarked.is_empty(), "{unmarked:?}");
}
