//! A pooled connection carries nothing from one tenant transaction into the next: SQL of the
//! attacker's choosing in one tenant's transaction leaves session settings, cursors and its own
//! prepared statements behind, and the next transaction on that pool sees none of it (or gets
//! another connection). (Session advisory locks are released too; the runtime roles may no
//! longer take them, sql/roles.sql.)

use maturion_tenancy::Database;
use maturion_testing::organisation_with_admin;

#[tokio::test]
async fn session_state_left_by_one_tenant_does_not_reach_the_next() {
    let db = maturion_testing::migrated_database().await;
    // One connection: every transaction below would run on the same session if it were kept.
    let database = Database::new(db.config(maturion_schema::APP_ROLE), 1).unwrap();
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    let beta = organisation_with_admin(&db.admin().await, "Beta")
        .await
        .unwrap();

    let tx = database.transaction(&alpha.context).await.unwrap();
    let attacker_pid: i32 = tx
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    let row = tx
        .query_one(
            "SELECT current_setting('maturion.binding'), current_setting('synchronous_commit')",
            &[],
        )
        .await
        .unwrap();
    let (binding, synchronous_commit): (String, String) = (row.get(0), row.get(1));
    tx.execute(
        "SELECT set_config('maturion.binding', $1, false), \
                set_config('app.current_organisation_id', $2, false), \
                set_config('search_path', 'maturion', false), \
                set_config('synchronous_commit', 'remote_apply', false)",
        &[&binding, &alpha.organisation.to_string()],
    )
    .await
    .unwrap();
    tx.execute("DECLARE kept CURSOR WITH HOLD FOR SELECT 1", &[])
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let tx = database.transaction(&beta.context).await.unwrap();
    let row = tx
        .query_one(
            "SELECT pg_backend_pid(), current_setting('search_path'), current_setting('synchronous_commit'), \
                    current_setting('app.current_organisation_id', true), \
                    (SELECT count(*) FROM pg_cursors WHERE name = 'kept'), \
                    (SELECT string_agg(name, ',') FROM organisations)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, i32>(0),
        attacker_pid,
        "the connection was kept: it was clean"
    );
    assert_eq!(row.get::<_, String>(1), "\"$user\", public");
    assert_eq!(row.get::<_, String>(2), synchronous_commit);
    assert_eq!(row.get::<_, Option<String>>(3).unwrap_or_default(), "");
    assert_eq!(row.get::<_, i64>(4), 0, "no cursor left");
    assert_eq!(row.get::<_, String>(5), "Beta");
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_connection_with_a_statement_prepared_in_sql_is_closed() {
    let db = maturion_testing::migrated_database().await;
    let database = Database::new(db.config(maturion_schema::APP_ROLE), 1).unwrap();
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    let beta = organisation_with_admin(&db.admin().await, "Beta")
        .await
        .unwrap();

    // SQL PREPARE shares the namespace of the protocol's named statements: a statement of the
    // attacker's could stand in for the pool's own the next time it runs.
    let tx = database.transaction(&alpha.context).await.unwrap();
    let attacker_pid: i32 = tx
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    let bind: String = tx
        .query_one(
            "SELECT name FROM pg_prepared_statements \
             WHERE statement LIKE '%bind_tenant%' AND statement NOT LIKE '%pg_prepared_statements%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    // The pool's own binding statement, replaced under its name by one that binds nothing and
    // answers with alpha's ids whatever the token.
    tx.execute(&format!("DEALLOCATE {bind}"), &[])
        .await
        .unwrap();
    let replacement = format!(
        "PREPARE {bind}(text, text, text) AS SELECT '{}'::uuid, '{}'::uuid, $2, $3",
        alpha.organisation, alpha.user
    );
    tx.execute(&replacement, &[]).await.unwrap();
    tx.commit().await.unwrap();

    let tx = database.transaction(&beta.context).await.unwrap();
    let row = tx
        .query_one(
            "SELECT pg_backend_pid(), (SELECT count(*) FROM pg_prepared_statements WHERE from_sql), \
                    (SELECT string_agg(name, ',') FROM organisations)",
            &[],
        )
        .await
        .unwrap();
    assert_ne!(
        row.get::<_, i32>(0),
        attacker_pid,
        "the tainted connection was closed"
    );
    assert_eq!(row.get::<_, i64>(1), 0);
    assert_eq!(row.get::<_, String>(2), "Beta");
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn runtime_connections_carry_their_own_timeouts() {
    let db = maturion_testing::migrated_database().await;
    let database = Database::new(db.config(maturion_schema::APP_ROLE), 1).unwrap();
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    let tx = database.transaction(&alpha.context).await.unwrap();
    let row = tx
        .query_one(
            "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'), \
                    current_setting('idle_in_transaction_session_timeout'), \
                    (SELECT source FROM pg_settings WHERE name = 'statement_timeout')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "30s");
    assert_eq!(row.get::<_, String>(1), "5s");
    assert_eq!(row.get::<_, String>(2), "1min");
    assert_eq!(
        row.get::<_, String>(3),
        "client",
        "set by the connection, not the role"
    );
    tx.commit().await.unwrap();
}
