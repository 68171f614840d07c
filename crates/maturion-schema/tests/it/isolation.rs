//! The isolation matrix: every tenant table × {SELECT, INSERT, UPDATE, DELETE, INSERT … ON
//! CONFLICT} × {bound to the own organisation, bound and aiming at the other organisation,
//! unbound, and the attacker's settings: the former app.* context, a made-up binding, a binding
//! copied from an earlier transaction}, run as `maturion_app`. Whatever the outcome, not one
//! row of the other organisation is read, changed or created.

use maturion_testing::TestDatabase;
use tokio_postgres::Client;
use uuid::Uuid;

const TENANT_TABLES: [&str; 11] = [
    "organisations",
    "organisation_settings",
    "users",
    "user_permissions",
    "audit_log",
    "event_log",
    "audit_log_hourly",
    "audit_log_daily",
    "event_log_hourly",
    "event_log_daily",
    // The bundled reference module's: versioned, with a workflow, retention and search.
    "policies",
];

/// Rollups, derived by the maintenance job, and the event log, written through the
/// platform's functions (events 3.1.0): read-only for the application.
fn is_read_only(table: &str) -> bool {
    table.ends_with("_hourly") || table.ends_with("_daily") || table == "event_log"
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Context {
    /// Bound with A's token, and the statement aims at A's rows.
    Own,
    /// Bound with A's token, and the statement aims at organisation B's rows.
    Other,
    /// No binding.
    Unset,
    /// A's ids in app.current_organisation_id and app.current_user_id, as before the binding.
    ForgedSetting,
    /// A's ids in maturion.binding with a made-up MAC.
    ForgedBinding,
    /// A's real binding of an earlier transaction of the same session, set again.
    CopiedBinding,
}

const CONTEXTS: [Context; 6] = [
    Context::Own,
    Context::Other,
    Context::Unset,
    Context::ForgedSetting,
    Context::ForgedBinding,
    Context::CopiedBinding,
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Operation {
    Select,
    Insert,
    Update,
    Delete,
    Upsert,
}

const OPERATIONS: [Operation; 5] = [
    Operation::Select,
    Operation::Insert,
    Operation::Update,
    Operation::Delete,
    Operation::Upsert,
];

/// Two organisations, each with a user, a setting, a permission, an audit and an event row.
struct Fixture {
    a: Tenant,
    b: Tenant,
    /// A's first user's API token.
    a_token: String,
}

#[derive(Clone, Copy)]
struct Tenant {
    organisation: Uuid,
    user: Uuid,
}

/// The organisations and their first users made as the application makes them; the rest of
/// their rows as the superuser.
async fn fixture(db: &TestDatabase) -> Fixture {
    let admin = db.admin().await;
    let mut tenants = Vec::new();
    let mut tokens = Vec::new();
    for name in ["Alpha", "Beta"] {
        let tenant = maturion_testing::organisation_with_admin(&admin, name)
            .await
            .unwrap();
        tokens.push(tenant.token.expose().to_owned());
        let (organisation, user) = (tenant.organisation.as_uuid(), tenant.user.as_uuid());
        // The stamps name the bound user only: the superuser writes as the first user.
        maturion_testing::begin_as(&admin, &tenant).await.unwrap();
        admin
            .execute(
                "INSERT INTO organisation_settings (organisation_id, setting_key, setting_value, created_by) \
                 VALUES ($1, 'locale', '\"en\"', $2)",
                &[&organisation, &user],
            )
            .await
            .unwrap();
        admin
            .execute(
                "INSERT INTO user_permissions (organisation_id, user_id, module, permission, granted_by, created_by) \
                 VALUES ($1, $2, 'risks', 'read', $2, $2)",
                &[&organisation, &user],
            )
            .await
            .unwrap();
        admin
            .execute(
                "INSERT INTO policies (organisation_id, title, content, created_by) \
                 VALUES ($1, 'Access control', 'Only the need to know.', $2)",
                &[&organisation, &user],
            )
            .await
            .unwrap();
        admin.batch_execute("COMMIT").await.unwrap();
        admin
            .execute(
                "INSERT INTO audit_log (organisation_id, user_id, module, entity_type, entity_id, action) \
                 VALUES ($1, $2, 'platform', 'users', $2, 'created')",
                &[&organisation, &user],
            )
            .await
            .unwrap();
        admin
            .execute(
                "INSERT INTO event_log (organisation_id, event_type, source_module, source_entity_id) \
                 VALUES ($1, 'user.created', 'platform', $2)",
                &[&organisation, &user],
            )
            .await
            .unwrap();
        for table in ["audit_log_hourly", "audit_log_daily"] {
            admin
                .execute(
                    &format!(
                        "INSERT INTO {table} (organisation_id, bucket, module, action, entries) \
                              VALUES ($1, date_trunc('hour', now()), 'platform', 'created', 1)"
                    ),
                    &[&organisation],
                )
                .await
                .unwrap();
        }
        for table in ["event_log_hourly", "event_log_daily"] {
            admin
                .execute(
                    &format!(
                        "INSERT INTO {table} (organisation_id, bucket, event_type, events) \
                              VALUES ($1, date_trunc('hour', now()), 'user.created', 1)"
                    ),
                    &[&organisation],
                )
                .await
                .unwrap();
        }
        tenants.push(Tenant { organisation, user });
    }
    Fixture {
        a: tenants[0],
        b: tenants[1],
        a_token: tokens.swap_remove(0),
    }
}

/// What an attacker's session says before its statement, for each context.
fn preamble(context: Context, a: Tenant, a_token: &str, copied: &str) -> String {
    match context {
        Context::Own | Context::Other => format!("SELECT maturion.bind_tenant('{a_token}')"),
        Context::Unset => String::new(),
        Context::ForgedSetting => format!(
            "SELECT set_config('app.current_organisation_id', '{}', true), \
                    set_config('app.current_user_id', '{}', true)",
            a.organisation, a.user
        ),
        Context::ForgedBinding => format!(
            "SELECT set_config('maturion.binding', '{}/{}/' || repeat('0', 64), true)",
            a.organisation, a.user
        ),
        Context::CopiedBinding => {
            format!("SELECT set_config('maturion.binding', '{copied}', true)")
        }
    }
}

/// A's binding as an earlier transaction of `app`'s session held it.
async fn binding_of_an_earlier_transaction(app: &Client, a_token: &str) -> String {
    let sql = format!(
        "SELECT maturion.bind_tenant('{a_token}'); SELECT current_setting('maturion.binding')"
    );
    let rows = run_as_app(app, "", &sql).await.unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    rows[1].clone()
}

/// A fingerprint of every row organisation B has in `table`, read as the superuser.
async fn snapshot(admin: &Client, table: &str, b: Uuid) -> (i64, String) {
    let key = if table == "organisations" {
        "id"
    } else {
        "organisation_id"
    };
    let row = admin
        .query_one(
            &format!(
                "SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') \
                 FROM {table} t WHERE {key} = $1"
            ),
            &[&b],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

/// An INSERT of one new row of `table` for `tenant`.
fn insert_sql(table: &str, tenant: Tenant) -> String {
    let (o, u) = (tenant.organisation, tenant.user);
    let fresh = Uuid::now_v7();
    match table {
        "organisations" => format!("INSERT INTO organisations (id, name) VALUES ('{o}', 'Again')"),
        "organisation_settings" => format!(
            "INSERT INTO organisation_settings (organisation_id, setting_key, setting_value, created_by) \
             VALUES ('{o}', 'k{}', '1', '{u}')",
            fresh.simple()
        ),
        "users" => format!(
            "INSERT INTO users (organisation_id, email, full_name, role, created_by) \
             VALUES ('{o}', 'n{}@x.example', 'New', 'member', '{u}')",
            fresh.simple()
        ),
        "user_permissions" => format!(
            "INSERT INTO user_permissions (organisation_id, user_id, module, permission, granted_by, created_by) \
             VALUES ('{o}', '{u}', 'risks', 'p{}', '{u}', '{u}')",
            fresh.simple()
        ),
        "audit_log" => format!(
            "INSERT INTO audit_log (organisation_id, user_id, module, entity_type, entity_id, action) \
             VALUES ('{o}', '{u}', 'platform', 'users', '{u}', 'viewed')"
        ),
        "event_log" => format!(
            "INSERT INTO event_log (organisation_id, event_type, source_module) VALUES ('{o}', 'user.viewed', 'platform')"
        ),
        "audit_log_hourly" | "audit_log_daily" => format!(
            "INSERT INTO {table} (organisation_id, bucket, module, action, entries) \
             VALUES ('{o}', date_trunc('hour', now()) - interval '1 day', 'platform', 'viewed', 1)"
        ),
        "policies" => format!(
            "INSERT INTO policies (organisation_id, title, created_by) VALUES ('{o}', 'New', '{u}')"
        ),
        "event_log_hourly" | "event_log_daily" => format!(
            "INSERT INTO {table} (organisation_id, bucket, event_type, events) \
             VALUES ('{o}', date_trunc('hour', now()) - interval '1 day', 'user.viewed', 1)"
        ),
        other => panic!("no insert for {other}: add the table to the isolation matrix"),
    }
}

/// An update of every visible row (`aim` None) or of `aim`'s rows only.
fn update_sql(table: &str, aim: Option<Uuid>) -> String {
    let set = match table {
        "organisations" => "name = name",
        "organisation_settings" => "setting_value = setting_value",
        "users" => "full_name = full_name",
        "user_permissions" => "permission = permission",
        "audit_log" => "module = module",
        "event_log" => "processed_at = now()",
        "policies" => "status_changed_at = now()",
        "audit_log_hourly" | "audit_log_daily" => "entries = entries",
        "event_log_hourly" | "event_log_daily" => "events = events",
        other => panic!("no update for {other}"),
    };
    let key = if table == "organisations" {
        "id"
    } else {
        "organisation_id"
    };
    match aim {
        Some(organisation) => format!("UPDATE {table} SET {set} WHERE {key} = '{organisation}'"),
        None => format!("UPDATE {table} SET {set}"),
    }
}

/// An INSERT whose key collides with one of `victim`'s rows, resolved with DO UPDATE.
async fn upsert_sql(admin: &Client, table: &str, acting: Tenant, victim: Tenant) -> String {
    let key = if table == "organisations" {
        "id"
    } else {
        "organisation_id"
    };
    let row = admin
        .query_one(
            &format!("SELECT to_jsonb(t) FROM {table} t WHERE {key} = $1 LIMIT 1"),
            &[&victim.organisation],
        )
        .await
        .unwrap();
    let victim_row: serde_json::Value = row.get(0);
    let id = victim_row["id"].as_str().unwrap().to_owned();
    let (o, u) = (acting.organisation, acting.user);
    match table {
        "organisations" => format!("INSERT INTO organisations (id, name) VALUES ('{id}', 'Taken') ON CONFLICT (id) DO UPDATE SET name = 'Taken'"),
        "organisation_settings" => format!(
            "INSERT INTO organisation_settings (id, organisation_id, setting_key, setting_value, created_by) \
             VALUES ('{id}', '{o}', 'locale', '\"xx\"', '{u}') ON CONFLICT (id) DO UPDATE SET setting_value = '\"xx\"'"
        ),
        "users" => format!(
            "INSERT INTO users (id, organisation_id, email, full_name, role, created_by) \
             VALUES ('{id}', '{o}', 'taken@x.example', 'Taken', 'admin', '{u}') ON CONFLICT (id) DO UPDATE SET full_name = 'Taken'"
        ),
        "user_permissions" => format!(
            "INSERT INTO user_permissions (id, organisation_id, user_id, module, permission, created_by) \
             VALUES ('{id}', '{o}', '{u}', 'risks', 'read', '{u}') ON CONFLICT (id) DO UPDATE SET permission = 'taken'"
        ),
        "policies" => format!(
            "INSERT INTO policies (id, organisation_id, title, created_by) \
             VALUES ('{id}', '{o}', 'Taken', '{u}') ON CONFLICT (id) DO UPDATE SET is_legally_protected = true"
        ),
        "audit_log" | "event_log" => {
            let timestamp = victim_row["timestamp"].as_str().unwrap();
            let columns = if table == "audit_log" {
                format!("(id, timestamp, organisation_id, module, entity_type, entity_id, action) VALUES ('{id}', '{timestamp}', '{o}', 'platform', 'users', '{u}', 'viewed')")
            } else {
                format!("(id, timestamp, organisation_id, event_type, source_module) VALUES ('{id}', '{timestamp}', '{o}', 'user.taken', 'platform')")
            };
            let set = if table == "audit_log" { "module = 'taken'" } else { "processed_at = now()" };
            format!("INSERT INTO {table} {columns} ON CONFLICT (timestamp, id) DO UPDATE SET {set}")
        }
        _ if is_read_only(table) => {
            let count = if table.starts_with("audit") { "entries" } else { "events" };
            format!(
                "INSERT INTO {table} (id, organisation_id, bucket, {}, {count}) SELECT id, '{o}', bucket, {}, {count} \
                 FROM {table} WHERE id = '{id}' ON CONFLICT (organisation_id, id) DO UPDATE SET {count} = 99",
                if table.starts_with("audit") { "module, action" } else { "event_type" },
                if table.starts_with("audit") { "module, action" } else { "event_type" },
            )
        }
        other => panic!("no upsert for {other}"),
    }
}

/// Runs `preamble` (binding, or the attacker's settings), then `sql`, in a transaction as the
/// app role. Returns the first column of the rows `sql` returned (organisations, mostly), or
/// the SQLSTATE it failed with.
async fn run_as_app(app: &Client, preamble: &str, sql: &str) -> Result<Vec<String>, String> {
    app.batch_execute("BEGIN").await.unwrap();
    app.batch_execute(preamble).await.unwrap();
    let result = app.simple_query(sql).await;
    app.batch_execute("ROLLBACK").await.unwrap();
    match result {
        Ok(messages) => Ok(messages
            .into_iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(row) => {
                    Some(row.get(0).unwrap_or_default().to_owned())
                }
                _ => None,
            })
            .collect()),
        Err(e) => Err(e
            .code()
            .map(|c| c.code().to_owned())
            .unwrap_or_else(|| e.to_string())),
    }
}

#[tokio::test]
async fn matrix_covers_every_tenant_table() {
    let db = maturion_testing::migrated_database().await;
    let admin = db.admin().await;
    let tables: Vec<String> = admin
        .query(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut expected: Vec<&str> = TENANT_TABLES.to_vec();
    expected.sort();
    assert_eq!(
        tables, expected,
        "a new platform table needs its row in the isolation matrix"
    );
}

#[tokio::test]
async fn isolation_matrix() {
    let db = maturion_testing::migrated_database().await;
    let admin = db.admin().await;
    let Fixture { a, b, a_token } = fixture(&db).await;
    let app = db.connect(maturion_schema::APP_ROLE).await;
    let copied = binding_of_an_earlier_transaction(&app, &a_token).await;
    let mut cases = 0;

    for table in TENANT_TABLES {
        let key = if table == "organisations" {
            "id"
        } else {
            "organisation_id"
        };
        let before = snapshot(&admin, table, b.organisation).await;
        for context in CONTEXTS {
            let preamble = preamble(context, a, &a_token, &copied);
            let aimed = if context == Context::Other { b } else { a };
            for operation in OPERATIONS {
                let sql = match operation {
                    Operation::Select => match context {
                        Context::Other => format!(
                            "SELECT {key}::text FROM {table} WHERE {key} = '{}'",
                            b.organisation
                        ),
                        _ => format!("SELECT {key}::text FROM {table}"),
                    },
                    Operation::Insert => insert_sql(table, aimed),
                    Operation::Update => match context {
                        Context::Other => update_sql(table, Some(b.organisation)),
                        _ => update_sql(table, None),
                    },
                    Operation::Delete => match context {
                        Context::Other => {
                            format!("DELETE FROM {table} WHERE {key} = '{}'", b.organisation)
                        }
                        _ => format!("DELETE FROM {table}"),
                    },
                    Operation::Upsert => upsert_sql(&admin, table, a, b).await,
                };
                let outcome = run_as_app(&app, &preamble, &sql).await;
                let case = format!("{table} × {operation:?} × {context:?}: {sql}\n  → {outcome:?}");
                cases += 1;

                // Nothing of B is ever returned.
                if let Ok(rows) = &outcome {
                    assert!(
                        rows.iter().all(|o| *o != b.organisation.to_string()),
                        "read another organisation's row: {case}"
                    );
                }
                // Nothing of B is ever changed or created.
                assert_eq!(
                    snapshot(&admin, table, b.organisation).await,
                    before,
                    "changed B's rows: {case}"
                );

                expect(table, operation, context, &outcome, &case);
            }
        }
    }
    assert_eq!(
        cases,
        TENANT_TABLES.len() * CONTEXTS.len() * OPERATIONS.len()
    );
}

/// The outcome each case must have: not only "B untouched", but the right refusal.
fn expect(
    table: &str,
    operation: Operation,
    context: Context,
    outcome: &Result<Vec<String>, String>,
    case: &str,
) {
    const NO_CONTEXT: &str = "MT401";
    const CROSS_TENANT: &str = "MT403";
    const DENIED: &str = "42501";
    let error = outcome.as_ref().err().map(String::as_str);
    match (operation, context) {
        (Operation::Select, Context::Own) => {
            assert!(
                matches!(outcome, Ok(rows) if !rows.is_empty()),
                "own rows must be visible: {case}"
            )
        }
        (Operation::Select, _) => {
            assert!(
                matches!(outcome, Ok(rows) if rows.is_empty()),
                "must see nothing: {case}"
            )
        }
        (Operation::Delete, _) => {
            assert_eq!(error, Some(DENIED), "the app never hard-deletes: {case}")
        }
        // Privileges are checked before any trigger runs: the audit log is append-only and the
        // rollups are read-only for the application.
        (Operation::Update | Operation::Upsert, _) if table == "audit_log" => {
            assert_eq!(error, Some(DENIED), "{case}")
        }
        (Operation::Insert | Operation::Update | Operation::Upsert, _) if is_read_only(table) => {
            assert_eq!(error, Some(DENIED), "{case}")
        }
        (
            _,
            Context::Unset
            | Context::ForgedSetting
            | Context::ForgedBinding
            | Context::CopiedBinding,
        ) => assert_eq!(error, Some(NO_CONTEXT), "{case}"),
        (Operation::Insert, Context::Own) if table == "organisations" => {
            assert!(error.is_some(), "organisation A exists already: {case}")
        }
        // The application writes audit rows only through the audit trigger.
        (Operation::Insert, Context::Own) if table == "audit_log" => {
            assert_eq!(error, Some(DENIED), "{case}")
        }
        (Operation::Insert, Context::Own) => {
            assert!(outcome.is_ok(), "own insert must work: {case}")
        }
        (Operation::Insert, Context::Other) => {
            // Tables with audit fields name the mismatch (MT403); the tenant root and the
            // append-only logs are refused by the RLS WITH CHECK itself.
            let expected = if table == "organisations" || table.ends_with("_log") {
                DENIED
            } else {
                CROSS_TENANT
            };
            assert_eq!(error, Some(expected), "{case}")
        }
        (Operation::Update, Context::Own) => {
            assert!(outcome.is_ok(), "own update must work: {case}")
        }
        (Operation::Update, Context::Other) => {
            assert!(matches!(outcome, Ok(rows) if rows.is_empty()), "{case}")
        }
        (Operation::Upsert, _) => assert!(
            error.is_some(),
            "a collision with B's row must fail: {case}"
        ),
    }
}

#[tokio::test]
async fn the_app_cannot_create_organisations() {
    let db = maturion_testing::migrated_database().await;
    let Fixture { a, a_token, .. } = fixture(&db).await;
    let app = db.connect(maturion_schema::APP_ROLE).await;
    let id = Uuid::now_v7();
    let sql =
        format!("INSERT INTO organisations (id, name) VALUES ('{id}', 'Gamma') RETURNING id::text");
    // Its own context, as sign-up once set it: no binding, so no write at all.
    let forged = format!("SELECT set_config('app.current_organisation_id', '{id}', true)");
    assert_eq!(run_as_app(&app, &forged, &sql).await, Err("MT401".into()));
    // Bound to A: another organisation is outside the policy.
    let bound = preamble(Context::Own, a, &a_token, "");
    assert_eq!(run_as_app(&app, &bound, &sql).await, Err("42501".into()));
    // Organisations are made by the maintenance side's function, which the app cannot call.
    assert_eq!(
        run_as_app(
            &app,
            "",
            "SELECT organisation_id::text FROM maturion.create_organisation('Gamma', 'g@gamma.example', 'G')"
        )
        .await,
        Err("42501".into())
    );
}

#[tokio::test]
async fn cross_tenant_composite_foreign_keys_are_refused() {
    let db = maturion_testing::migrated_database().await;
    let admin = db.admin().await;
    let Fixture { a, b, a_token } = fixture(&db).await;
    // Even the superuser (no RLS), writing as A's first user, cannot make A's row point at
    // B's user.
    admin.batch_execute("BEGIN").await.unwrap();
    admin
        .execute("SELECT maturion.bind_tenant($1)", &[&a_token])
        .await
        .unwrap();
    let error = admin
        .execute(
            "INSERT INTO user_permissions (organisation_id, user_id, module, permission) \
             VALUES ($1, $2, 'risks', 'write')",
            &[&a.organisation, &b.user],
        )
        .await
        .unwrap_err();
    assert_eq!(error.code().unwrap().code(), "23503", "{error}");
    admin.batch_execute("ROLLBACK").await.unwrap();
    // audit_log has no foreign keys (it outlives the users it names, platform 2.0.0): its
    // writers, the only way the application has into it, refuse B's user as A's actor. No
    // token binds such a pair; the superuser, who can read the binding key, makes one and acts
    // as the app with it.
    let impersonate = format!(
        "SELECT set_config('maturion.binding', '{0}/{1}/' || \
                maturion.binding_mac('{0}/{1}', pg_backend_pid(), transaction_timestamp()), true); \
         SET LOCAL ROLE maturion_app",
        a.organisation, b.user
    );
    let sql = format!(
        "SELECT maturion.record_views('platform', 'users', ARRAY['{}'::uuid])",
        b.user
    );
    assert_eq!(
        run_as_app(&admin, &impersonate, &sql).await,
        Err("MT403".into())
    );
}

#[tokio::test]
async fn tenant_context_does_not_outlive_its_transaction() {
    let db = maturion_testing::migrated_database().await;
    let Fixture { a, a_token, .. } = fixture(&db).await;
    let app = db.connect(maturion_schema::APP_ROLE).await;
    let bound = preamble(Context::Own, a, &a_token, "");
    assert_eq!(
        run_as_app(&app, &bound, "SELECT id::text FROM users")
            .await
            .unwrap()
            .len(),
        1
    );
    // Same connection, next transaction, no binding: nothing.
    assert_eq!(
        run_as_app(&app, "", "SELECT id::text FROM users").await,
        Ok(vec![])
    );
}

#[tokio::test]
async fn partitions_are_not_directly_accessible() {
    let db = maturion_testing::migrated_database().await;
    let app = db.connect(maturion_schema::APP_ROLE).await;
    for partition in ["audit_log_default", "event_log_default"] {
        let error = app
            .query(&format!("SELECT * FROM {partition}"), &[])
            .await
            .unwrap_err();
        assert_eq!(
            error.code().unwrap().code(),
            "42501",
            "{partition}: {error}"
        );
    }
}
