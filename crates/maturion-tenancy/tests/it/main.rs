//! Tenant transactions against a real PostgreSQL, as the runtime role.

mod context_setters;
mod pooled_sessions;
mod provision;

use maturion_tenancy::{Database, TenancyError, TenantConnection};
use maturion_testing::{organisation_with_admin, TestDatabase};

async fn app_database(db: &TestDatabase, connections: usize) -> Database {
    Database::new(db.config(maturion_schema::APP_ROLE), connections).unwrap()
}

#[tokio::test]
async fn a_transaction_sees_only_its_organisation() {
    let db = maturion_testing::migrated_database().await;
    let database = app_database(&db, 2).await;
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    let beta = organisation_with_admin(&db.admin().await, "Beta")
        .await
        .unwrap();

    let tx = database.transaction(&alpha.context).await.unwrap();
    let names: Vec<String> = tx
        .query("SELECT name FROM organisations", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(names, ["Alpha"]);
    let users: i64 = tx
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(users, 1);
    let settings: (String, String) = {
        let row = tx
            .query_one(
                "SELECT maturion.current_organisation_id()::text, maturion.current_user_id()::text",
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(settings.0, alpha.context.organisation_id.to_string());
    assert_eq!(settings.1, alpha.context.user_id.unwrap().to_string());
    tx.commit().await.unwrap();
    drop(beta);
}

#[tokio::test]
async fn context_is_transaction_local_on_a_reused_connection() {
    let db = maturion_testing::migrated_database().await;
    // One connection: every transaction below runs on the same server session.
    let database = app_database(&db, 1).await;
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    let beta = organisation_with_admin(&db.admin().await, "Beta")
        .await
        .unwrap();
    for tenant in [&alpha, &beta, &alpha] {
        let tx = database.transaction(&tenant.context).await.unwrap();
        let name: String = tx
            .query_one("SELECT name FROM organisations", &[])
            .await
            .unwrap()
            .get(0);
        let expected = if std::ptr::eq(tenant, &alpha) {
            "Alpha"
        } else {
            "Beta"
        };
        assert_eq!(name, expected);
        tx.commit().await.unwrap();
    }
    // A session of the runtime role that has not bound has no tenant.
    let raw = db.connect(maturion_schema::APP_ROLE).await;
    let setting: Option<String> = raw
        .query_one("SELECT maturion.current_organisation_id()::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(setting, None);
}

#[tokio::test]
async fn a_dropped_transaction_rolls_back_and_poisons_nothing() {
    let db = maturion_testing::migrated_database().await;
    let database = app_database(&db, 1).await;
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    {
        let tx = database.transaction(&alpha.context).await.unwrap();
        tx.execute("UPDATE organisations SET name = 'Renamed'", &[])
            .await
            .unwrap();
        // Dropped without commit, e.g. a handler returned early with `?`.
    }
    let tx = database.transaction(&alpha.context).await.unwrap();
    let name: String = tx
        .query_one("SELECT name FROM organisations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        name, "Alpha",
        "the update of the dropped transaction is gone"
    );
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn a_write_for_another_organisation_is_a_clear_error() {
    let db = maturion_testing::migrated_database().await;
    let database = app_database(&db, 2).await;
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    let beta = organisation_with_admin(&db.admin().await, "Beta")
        .await
        .unwrap();
    let tx = database.transaction(&alpha.context).await.unwrap();
    let error = tx
        .execute(
            "INSERT INTO organisation_settings (organisation_id, setting_key, setting_value) VALUES ($1, 'theme', '\"dark\"')",
            &[&beta.context.organisation_id],
        )
        .await
        .unwrap_err();
    assert!(matches!(error, TenancyError::CrossTenant(_)), "{error}");
    assert!(
        error.to_string().contains("cross-tenant write refused"),
        "{error}"
    );
}

#[tokio::test]
async fn duplicates_and_dangling_references_say_nothing_about_other_tenants() {
    let db = maturion_testing::migrated_database().await;
    let database = app_database(&db, 2).await;
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    let beta = organisation_with_admin(&db.admin().await, "Beta")
        .await
        .unwrap();

    let tx = database.transaction(&alpha.context).await.unwrap();
    let error = tx
        .execute(
            "INSERT INTO users (organisation_id, email, full_name, role) VALUES ($1, 'first@alpha.example', 'Dup', 'member')",
            &[&alpha.context.organisation_id],
        )
        .await
        .unwrap_err();
    assert!(matches!(error, TenancyError::Conflict { .. }), "{error}");
    drop(tx);

    // Beta's user exists, but not in Alpha: the composite key refuses it, generically.
    let tx = database.transaction(&alpha.context).await.unwrap();
    let error = tx
        .execute(
            "INSERT INTO user_permissions (organisation_id, user_id, module, permission) VALUES ($1, $2, 'risks', 'read')",
            &[&alpha.context.organisation_id, &beta.context.user_id.unwrap()],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, TenancyError::ReferenceNotFound { .. }),
        "{error}"
    );
    assert!(
        !error
            .to_string()
            .contains(&beta.context.user_id.unwrap().to_string()),
        "{error}"
    );
}

#[tokio::test]
async fn audit_fields_are_stamped_from_the_context() {
    let db = maturion_testing::migrated_database().await;
    let database = app_database(&db, 1).await;
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    let actor = alpha.context.user_id.unwrap();
    let tx = database.transaction(&alpha.context).await.unwrap();
    let row = tx
        .query_one(
            "INSERT INTO organisation_settings (organisation_id, setting_key, setting_value) \
             VALUES ($1, 'theme', '\"dark\"') RETURNING created_by, updated_by",
            &[&alpha.context.organisation_id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, uuid::Uuid>(0), actor.as_uuid());
    assert_eq!(row.get::<_, uuid::Uuid>(1), actor.as_uuid());
    let row = tx
        .query_one(
            "UPDATE organisation_settings SET deleted_at = now() WHERE setting_key = 'theme' \
             RETURNING deleted_by, updated_at >= created_at",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, uuid::Uuid>(0), actor.as_uuid());
    assert!(row.get::<_, bool>(1));
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_connection_of_its_own_opens_the_same_tenant_transactions() {
    let db = maturion_testing::migrated_database().await;
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    let beta = organisation_with_admin(&db.admin().await, "Beta")
        .await
        .unwrap();
    let mut connection = TenantConnection::new(db.connect(maturion_schema::APP_ROLE).await)
        .await
        .unwrap();
    for tenant in [&alpha, &beta, &alpha] {
        let tx = connection.transaction(&tenant.context).await.unwrap();
        let row = tx
            .query_one(
                "SELECT (SELECT string_agg(name, ',') FROM organisations), maturion.current_user_id()::text",
                &[],
            )
            .await
            .unwrap();
        let name = if tenant == &alpha { "Alpha" } else { "Beta" };
        assert_eq!(row.get::<_, String>(0), name);
        assert_eq!(row.get::<_, String>(1), tenant.user.to_string());
        tx.commit().await.unwrap();
    }
    let outside: Option<String> = connection
        .client()
        .query_one(
            "SELECT coalesce(maturion.current_organisation_id()::text, current_setting('maturion.binding', true))",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        outside.as_deref().unwrap_or_default(),
        "",
        "transaction-local"
    );
}

#[tokio::test]
async fn a_transaction_dropped_on_a_connection_does_not_carry_into_the_next() {
    let db = maturion_testing::migrated_database().await;
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    let beta = organisation_with_admin(&db.admin().await, "Beta")
        .await
        .unwrap();
    let mut connection = TenantConnection::new(db.connect(maturion_schema::APP_ROLE).await)
        .await
        .unwrap();
    {
        let tx = connection.transaction(&alpha.context).await.unwrap();
        tx.execute(
            "UPDATE users SET full_name = 'Not Committed' WHERE id = $1",
            &[&alpha.user],
        )
        .await
        .unwrap();
        // Dropped without commit.
    }
    let tx = connection.transaction(&beta.context).await.unwrap();
    tx.commit().await.unwrap();
    let name: String = db
        .admin()
        .await
        .query_one("SELECT full_name FROM users WHERE id = $1", &[&alpha.user])
        .await
        .unwrap()
        .get(0);
    assert_eq!(name, "First User");
}

#[tokio::test]
async fn a_token_alone_opens_its_tenants_transaction_and_a_bad_one_none() {
    let db = maturion_testing::migrated_database().await;
    // One connection: a refused token must give it back clean for the next caller.
    let database = app_database(&db, 1).await;
    let admin = db.admin().await;
    let alpha = organisation_with_admin(&admin, "Alpha").await.unwrap();
    let beta = organisation_with_admin(&admin, "Beta").await.unwrap();

    for tenant in [&alpha, &beta] {
        let ip = "192.0.2.7".parse().ok();
        let tx = database
            .transaction_for_token(&tenant.token, ip, Some("probe".into()))
            .await
            .unwrap();
        assert_eq!(tx.context().organisation_id, tenant.organisation);
        assert_eq!(tx.context().user_id, Some(tenant.user));
        let name: String = tx
            .query_one("SELECT string_agg(name, ',') FROM organisations", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(name, if tenant == &alpha { "Alpha" } else { "Beta" });
        tx.commit().await.unwrap();
    }

    let unknown: maturion_tenancy::ApiToken = format!("mt_{}", "A".repeat(43)).parse().unwrap();
    let revoked = maturion_testing::token_for(&admin, alpha.user)
        .await
        .unwrap();
    admin
        .execute(
            "SELECT maturion.revoke_token(id) FROM maturion.api_tokens WHERE secret_hash = sha256(convert_to($1, 'UTF8'))",
            &[&revoked.expose()],
        )
        .await
        .unwrap();
    for token in [&unknown, &revoked] {
        let refused = database.transaction_for_token(token, None, None).await;
        assert!(
            matches!(refused, Err(TenancyError::InvalidToken(_))),
            "{:?}",
            refused.err()
        );
    }
    assert_eq!(database.status().in_use, 0);
    let tx = database
        .transaction_for_token(&alpha.token, None, None)
        .await
        .unwrap();
    assert_eq!(database.status().in_use, 1);
    tx.rollback().await.unwrap();
}

/// The pool over TCP with TLS 1.3, the server verified against the embedded cluster's
/// authority: tenant transactions bind and isolate as over the socket.
#[tokio::test]
async fn a_pool_over_verified_tls_binds_its_tenant() {
    let db = maturion_testing::migrated_database().await;
    let password = "the application password over tcp";
    // Roles are the cluster's: every test that sets it sets the same one.
    db.admin()
        .await
        .execute(
            &format!("ALTER ROLE maturion_app PASSWORD '{password}'"),
            &[],
        )
        .await
        .unwrap();
    let mut config = db
        .cluster()
        .tcp_config(maturion_schema::APP_ROLE, db.name());
    config.password(password);
    let tls = maturion_config::ClientTls::connector(&db.cluster().root_certificate()).unwrap();
    let database = Database::with_tls(config, 1, tls).unwrap();
    let alpha = organisation_with_admin(&db.admin().await, "Alpha over TLS")
        .await
        .unwrap();

    let tx = database.transaction(&alpha.context).await.unwrap();
    let row = tx
        .query_one(
            "SELECT s.version, (SELECT count(*) FROM organisations), \
                    (SELECT id FROM organisations) \
             FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "TLSv1.3");
    assert_eq!(row.get::<_, i64>(1), 1);
    assert_eq!(row.get::<_, uuid::Uuid>(2), alpha.organisation.as_uuid());
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_database_error_says_what_the_server_said() {
    let db = maturion_testing::migrated_database().await;
    let database = app_database(&db, 1).await;
    let alpha = organisation_with_admin(&db.admin().await, "Alpha")
        .await
        .unwrap();
    let tx = database.transaction(&alpha.context).await.unwrap();
    let error = tx.query("SELEC 1", &[]).await.unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("syntax error") && text.contains("42601"),
        "{text}"
    );
}
