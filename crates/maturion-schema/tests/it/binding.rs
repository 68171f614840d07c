//! The tenant binding under attack: sessions of `maturion_app` and `maturion_readonly` running
//! SQL of the attacker's choosing. The tables come from the catalog, so a new tenant table is
//! covered without a change here.

use maturion_testing::{organisation_with_admin, Tenant, TestDatabase};
use tokio_postgres::Client;

const RUNTIME_ROLES: [&str; 2] = [maturion_schema::APP_ROLE, maturion_schema::READONLY_ROLE];

/// Every table under row-level security that `role` may read, with its tenant column.
async fn tenant_tables(admin: &Client, role: &str) -> Vec<(String, String)> {
    admin
        .query(
            "SELECT c.oid::regclass::text, a.attname::text \
             FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid \
             WHERE c.relrowsecurity AND NOT c.relispartition \
               AND a.attname = CASE WHEN c.oid = 'public.organisations'::regclass THEN 'id' ELSE 'organisation_id' END \
               AND has_table_privilege($1, c.oid, 'SELECT') \
             ORDER BY 1",
            &[&role],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// Runs `sql` in a transaction after `preamble`; the SQLSTATE on failure.
async fn attempt(session: &Client, preamble: &str, sql: &str) -> Result<Vec<String>, String> {
    session.batch_execute("BEGIN").await.unwrap();
    let outcome = match session.batch_execute(preamble).await {
        Ok(()) => session.simple_query(sql).await,
        Err(error) => Err(error),
    };
    session.batch_execute("ROLLBACK").await.unwrap();
    outcome
        .map(|messages| {
            messages
                .into_iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(row) => {
                        Some(row.get(0).unwrap_or("NULL").to_owned())
                    }
                    _ => None,
                })
                .collect()
        })
        .map_err(|e| {
            e.code()
                .map(|c| c.code().to_owned())
                .unwrap_or_else(|| e.to_string())
        })
}

fn bind(tenant: &Tenant) -> String {
    format!("SELECT maturion.bind_tenant('{}')", tenant.token.expose())
}

fn set_binding(value: &str) -> String {
    format!("SELECT set_config('maturion.binding', '{value}', true)")
}

async fn two_tenants(db: &TestDatabase) -> (Tenant, Tenant) {
    let admin = db.admin().await;
    let alpha = organisation_with_admin(&admin, "Alpha").await.unwrap();
    let beta = organisation_with_admin(&admin, "Beta").await.unwrap();
    (alpha, beta)
}

#[tokio::test]
async fn only_a_verified_binding_shows_tenant_rows() {
    let db = maturion_testing::migrated_database().await;
    let admin = db.admin().await;
    let (alpha, _beta) = two_tenants(&db).await;
    for role in RUNTIME_ROLES {
        let attacker = db.connect(role).await;
        let victim = db.connect(role).await;
        // A binding of alpha's, live in another session's open transaction.
        victim.batch_execute("BEGIN").await.unwrap();
        victim.batch_execute(&bind(&alpha)).await.unwrap();
        let live: String = victim
            .query_one("SELECT current_setting('maturion.binding')", &[])
            .await
            .unwrap()
            .get(0);
        // And one of an earlier transaction of the attacker's own session.
        let earlier = attempt(
            &attacker,
            &bind(&alpha),
            "SELECT current_setting('maturion.binding')",
        )
        .await
        .unwrap()
        .remove(0);
        let forged_mac = format!("{}/{}/{}", alpha.organisation, alpha.user, "0".repeat(64));
        let forgeries = [
            String::new(),
            format!(
                "SELECT set_config('app.current_organisation_id', '{}', false), \
                        set_config('app.current_user_id', '{}', true)",
                alpha.organisation, alpha.user
            ),
            set_binding(&forged_mac),
            set_binding(&live),
            set_binding(&earlier),
            format!("SET maturion.binding = '{live}'"),
        ];
        let tables = tenant_tables(&admin, role).await;
        assert!(
            tables.len() >= 10,
            "{role} reads the tenant tables: {tables:?}"
        );
        for (table, column) in &tables {
            let count = format!("SELECT count(*) FROM {table}");
            let own = attempt(&attacker, &bind(&alpha), &count).await.unwrap();
            if ["organisations", "users"].contains(&table.as_str()) {
                assert_eq!(own, ["1"], "{role} bound sees alpha's {table}");
            }
            let own_column = format!(
                "SELECT count(*) FROM {table} WHERE {column} <> '{}'",
                alpha.organisation
            );
            assert_eq!(
                attempt(&attacker, &bind(&alpha), &own_column)
                    .await
                    .unwrap(),
                ["0"]
            );
            for forgery in &forgeries {
                assert_eq!(
                    attempt(&attacker, forgery, &count).await,
                    Ok(vec!["0".to_owned()]),
                    "{role} saw rows of {table} after {forgery:?}"
                );
            }
        }
        victim.batch_execute("ROLLBACK").await.unwrap();
        // A session-level SET survives its transaction, and still binds nothing.
        attacker.batch_execute(&forgeries[5]).await.unwrap();
        assert_eq!(
            attempt(&attacker, "", "SELECT count(*) FROM users").await,
            Ok(vec!["0".to_owned()])
        );
    }
}

#[tokio::test]
async fn forged_bindings_write_nothing() {
    let db = maturion_testing::migrated_database().await;
    let (alpha, _beta) = two_tenants(&db).await;
    let attacker = db.connect(maturion_schema::APP_ROLE).await;
    let earlier = attempt(
        &attacker,
        &bind(&alpha),
        "SELECT current_setting('maturion.binding')",
    )
    .await
    .unwrap()
    .remove(0);
    let write = format!(
        "INSERT INTO organisation_settings (organisation_id, setting_key, setting_value, created_by) \
         VALUES ('{}', 'forged', '1', '{}')",
        alpha.organisation, alpha.user
    );
    for forgery in [
        format!(
            "SELECT set_config('app.current_organisation_id', '{}', true)",
            alpha.organisation
        ),
        set_binding(&earlier),
    ] {
        assert_eq!(
            attempt(&attacker, &forgery, &write).await,
            Err("MT401".into())
        );
    }
    assert_eq!(attempt(&attacker, &bind(&alpha), &write).await, Ok(vec![]));
}

#[tokio::test]
async fn a_transaction_binds_to_one_tenant() {
    let db = maturion_testing::migrated_database().await;
    let (alpha, beta) = two_tenants(&db).await;
    for role in RUNTIME_ROLES {
        let session = db.connect(role).await;
        let twice = format!("{}; {}", bind(&alpha), bind(&alpha));
        assert_eq!(
            attempt(
                &session,
                &twice,
                "SELECT maturion.current_organisation_id()::text"
            )
            .await,
            Ok(vec![alpha.organisation.to_string()])
        );
        let other = format!("{}; {}", bind(&alpha), bind(&beta));
        assert_eq!(
            attempt(&session, &other, "SELECT 1").await,
            Err("MT409".into())
        );
    }
}

#[tokio::test]
async fn expired_revoked_and_orphaned_tokens_bind_nothing() {
    let db = maturion_testing::migrated_database().await;
    let admin = db.admin().await;
    let app = db.connect(maturion_schema::APP_ROLE).await;
    let mut tenants = Vec::new();
    for name in ["Expired", "Revoked", "Removed", "Suspended", "Closed"] {
        let tenant = organisation_with_admin(&admin, name).await.unwrap();
        assert_eq!(
            attempt(&app, &bind(&tenant), "SELECT 1").await,
            Ok(vec!["1".into()])
        );
        tenants.push(tenant);
    }
    let id_of = async |tenant: &Tenant| -> uuid::Uuid {
        admin
            .query_one(
                "SELECT id FROM maturion.api_tokens WHERE user_id = $1",
                &[&tenant.user],
            )
            .await
            .unwrap()
            .get(0)
    };
    let expired = id_of(&tenants[0]).await;
    admin
        .execute(
            "UPDATE maturion.api_tokens SET created_at = now() - interval '2 days', \
             expires_at = now() - interval '1 day' WHERE id = $1",
            &[&expired],
        )
        .await
        .unwrap();
    let revoked = id_of(&tenants[1]).await;
    let revoke = maturion_tenancy::provision::revoke_token(&admin, revoked)
        .await
        .unwrap();
    assert!(revoke);
    admin
        .execute(
            "UPDATE users SET deleted_at = now() WHERE id = $1",
            &[&tenants[2].user],
        )
        .await
        .unwrap();
    admin
        .execute(
            "UPDATE users SET is_active = false WHERE id = $1",
            &[&tenants[3].user],
        )
        .await
        .unwrap();
    admin
        .execute(
            "UPDATE organisations SET deleted_at = now() WHERE id = $1",
            &[&tenants[4].organisation],
        )
        .await
        .unwrap();
    for tenant in &tenants {
        assert_eq!(
            attempt(&app, &bind(tenant), "SELECT 1").await,
            Err("MT498".into()),
            "{:?}",
            tenant.organisation
        );
    }
    // A new token for a suspended user is refused too.
    let error = maturion_testing::token_for(&admin, tenants[3].user)
        .await
        .unwrap_err();
    assert!(format!("{error:?}").contains("no active user"), "{error:?}");
}

#[tokio::test]
async fn the_runtime_roles_reach_neither_tokens_nor_key_nor_the_operators_functions() {
    let db = maturion_testing::migrated_database().await;
    let (alpha, _beta) = two_tenants(&db).await;
    let user = alpha.user;
    let organisation = alpha.organisation;
    let refused = [
        "SELECT count(*) FROM maturion.api_tokens".to_owned(),
        "SELECT count(*) FROM maturion.binding_key".to_owned(),
        format!("SELECT maturion.binding_mac('{organisation}/{user}', pg_backend_pid(), now())"),
        format!("SELECT maturion.service_binding('{organisation}', pg_backend_pid(), now())"),
        format!("SELECT * FROM maturion.issue_token('{organisation}', '{user}', '1 day')"),
        "SELECT * FROM maturion.create_organisation('Evil', 'e@evil.example', 'E')".to_owned(),
        format!("SELECT * FROM maturion.create_token('{user}')"),
        format!("SELECT maturion.revoke_token('{user}')"),
        format!("SELECT maturion.record_token_use('{user}', now())"),
        "SELECT maturion.bind_tenant_policies()".to_owned(),
        "SELECT maturion_crypto.gen_random_bytes(8)".to_owned(),
    ];
    for role in RUNTIME_ROLES {
        let session = db.connect(role).await;
        for sql in &refused {
            for preamble in [String::new(), bind(&alpha)] {
                assert_eq!(
                    attempt(&session, &preamble, sql).await,
                    Err("42501".into()),
                    "{role}: {sql}"
                );
            }
        }
    }
}

#[tokio::test]
async fn hostile_input_to_the_binding_functions_is_refused_cleanly() {
    let db = maturion_testing::migrated_database().await;
    let (alpha, _beta) = two_tenants(&db).await;
    let app = db.connect(maturion_schema::APP_ROLE).await;
    for token in [
        "NULL".to_owned(),
        "''".to_owned(),
        "'mt_'".to_owned(),
        format!("'mt_{}'", "A".repeat(43)),
        format!("'{}'", &alpha.token.expose()[..45]),
        format!("'{} '", alpha.token.expose()),
        "repeat('x', 20000000)".to_owned(),
    ] {
        let sql = format!("SELECT maturion.bind_tenant({token})");
        assert_eq!(
            attempt(&app, &sql, "SELECT 1").await,
            Err("MT498".into()),
            "{token:.60}"
        );
    }
    let reads = "SELECT coalesce(maturion.current_organisation_id()::text, '') \
                 || coalesce(maturion.current_user_id()::text, '') \
                 || coalesce((SELECT b.organisation_id::text FROM maturion.current_binding() b), '')";
    for value in [
        "".to_owned(),
        "/".to_owned(),
        "x".repeat(109),
        "x".repeat(138),
        format!("{}/service/{}", alpha.organisation, "0".repeat(64)),
        format!("{}/{}/{}", alpha.organisation, alpha.user, "g".repeat(64)),
        format!(
            "{}/{}/{}",
            alpha.organisation,
            "x".repeat(36),
            "0".repeat(64)
        ),
        "é".repeat(138),
        "x".repeat(1_000_000),
    ] {
        assert_eq!(
            attempt(&app, &set_binding(&value), reads).await,
            Ok(vec![String::new()]),
            "{value:.80}"
        );
    }
}

#[tokio::test]
async fn operators_functions_refuse_bad_input_and_change_nothing() {
    let db = maturion_testing::migrated_database().await;
    let (alpha, _beta) = two_tenants(&db).await;
    let admin = db.admin().await;
    let maintenance = db.admin().await;
    maintenance
        .batch_execute("SET ROLE maturion_maintenance")
        .await
        .unwrap();
    let tokens = "SELECT count(*)::text FROM maturion.api_tokens";
    let organisations = "SELECT count(*)::text FROM organisations";
    let before = (
        attempt(&admin, "", tokens).await.unwrap(),
        attempt(&admin, "", organisations).await.unwrap(),
    );
    let user = alpha.user;
    for (sql, code) in [
        (
            "SELECT * FROM maturion.create_token(NULL)".to_owned(),
            "22023",
        ),
        (
            format!(
                "SELECT * FROM maturion.create_token('{}')",
                uuid::Uuid::now_v7()
            ),
            "22023",
        ),
        (
            format!("SELECT * FROM maturion.create_token('{user}', '0 days')"),
            "22023",
        ),
        (
            format!("SELECT * FROM maturion.create_token('{user}', '-1 day')"),
            "22023",
        ),
        (
            format!("SELECT * FROM maturion.create_token('{user}', '3651 days')"),
            "22023",
        ),
        (
            format!("SELECT * FROM maturion.create_token('{user}', NULL)"),
            "22023",
        ),
        (
            "SELECT * FROM maturion.create_organisation('', 'a@b.example', 'A')".to_owned(),
            "23514",
        ),
        (
            "SELECT * FROM maturion.create_organisation('Org', 'not an email', 'A')".to_owned(),
            "23514",
        ),
        (
            "SELECT * FROM maturion.create_organisation(NULL, NULL, NULL)".to_owned(),
            "23502",
        ),
        (
            "SELECT * FROM maturion.create_organisation('Org', 'a@b.example', 'A', '0 days')"
                .to_owned(),
            "22023",
        ),
    ] {
        assert_eq!(
            attempt(&maintenance, "", &sql).await,
            Err(code.into()),
            "{sql}"
        );
    }
    assert_eq!(
        attempt(&maintenance, "", "SELECT maturion.revoke_token(NULL)::text").await,
        Ok(vec!["false".to_owned()])
    );
    let after = (
        attempt(&admin, "", tokens).await.unwrap(),
        attempt(&admin, "", organisations).await.unwrap(),
    );
    assert_eq!(before, after, "nothing changed");
}

#[tokio::test]
async fn the_readonly_role_binds_to_read_and_writes_nothing() {
    let db = maturion_testing::migrated_database().await;
    let (alpha, _beta) = two_tenants(&db).await;
    let readonly = db.connect(maturion_schema::READONLY_ROLE).await;
    assert_eq!(
        attempt(&readonly, &bind(&alpha), "SELECT name FROM organisations").await,
        Ok(vec!["Alpha".to_owned()])
    );
    let write = format!(
        "UPDATE users SET full_name = 'x' WHERE id = '{}'",
        alpha.user
    );
    assert_eq!(
        attempt(&readonly, &bind(&alpha), &write).await,
        Err("42501".into())
    );
}

/// The application role may call the token functions of the organisation's administrator, so an
/// attacker's session tries them: unbound, bound as a user who is no administrator, and bound
/// as another organisation's administrator.
#[tokio::test]
async fn only_the_bound_administrator_manages_its_own_organisations_tokens() {
    let db = maturion_testing::migrated_database().await;
    let (alpha, beta) = two_tenants(&db).await;
    let admin = db.admin().await;
    // A member of Alpha without any grant, and a token of theirs.
    admin.batch_execute("BEGIN").await.unwrap();
    admin
        .query_one("SELECT maturion.bind_tenant($1)", &[&alpha.token.expose()])
        .await
        .unwrap();
    let member_id: uuid::Uuid = admin
        .query_one(
            "INSERT INTO users (organisation_id, email, full_name, role) \
             VALUES ($1, 'member@alpha.example', 'Member', 'member') RETURNING id",
            &[&alpha.organisation],
        )
        .await
        .unwrap()
        .get(0);
    admin.batch_execute("COMMIT").await.unwrap();
    let member_token: String = admin
        .query_one("SELECT token FROM maturion.create_token($1)", &[&member_id])
        .await
        .unwrap()
        .get(0);
    let alpha_token_id: String = admin
        .query_one(
            "SELECT id::text FROM maturion.api_tokens WHERE user_id = $1 LIMIT 1",
            &[&alpha.user],
        )
        .await
        .unwrap()
        .get(0);

    let session = db.connect(maturion_schema::APP_ROLE).await;
    let make = format!("SELECT token FROM maturion.admin_create_token('{member_id}')");
    let revoke = format!("SELECT maturion.admin_revoke_token('{alpha_token_id}')");
    let list = "SELECT count(*) FROM maturion.admin_list_tokens()";
    let as_member = format!("SELECT maturion.bind_tenant('{member_token}')");
    for preamble in ["", as_member.as_str()] {
        for sql in [make.as_str(), revoke.as_str(), list] {
            assert_eq!(
                attempt(&session, preamble, sql).await,
                Err("42501".to_owned()),
                "{preamble} {sql}"
            );
        }
    }
    // Beta's administrator: Alpha's user and token are as unknown as made-up ones.
    assert_eq!(
        attempt(&session, &bind(&beta), &make).await,
        Err("22023".to_owned())
    );
    assert_eq!(
        attempt(&session, &bind(&beta), &revoke).await,
        Ok(vec!["f".to_owned()])
    );
    // Alpha's administrator may.
    let made = attempt(&session, &bind(&alpha), &make).await.unwrap();
    assert!(made[0].starts_with("mt_"), "{made:?}");
    let revoked: bool = admin
        .query_one(
            "SELECT revoked_at IS NOT NULL FROM maturion.api_tokens WHERE id::text = $1",
            &[&alpha_token_id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!revoked, "nothing above committed a revocation");
}
