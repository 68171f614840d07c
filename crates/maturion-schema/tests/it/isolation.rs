//! The isolation matrix: every tenant table × {SELECT, INSERT, UPDATE, DELETE, INSERT … ON
//! CONFLICT} × {own organisation, other organisation, unset, empty, malformed context}, run as
//! `maturion_app`. Whatever the outcome, not one row of the other organisation is read,
//! changed or created.

use maturion_tenancy::Database;
use maturion_testing::TestDatabase;
use tokio_postgres::Client;
use uuid::Uuid;

const TENANT_TABLES: [&str; 10] = [
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
];

/// Rollups: derived by the maintenance job, read-only for the application.
fn is_read_only(table: &str) -> bool {
    table.ends_with("_hourly") || table.ends_with("_daily")
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Context {
    /// Context is organisation A and the statement aims at A's rows.
    Own,
    /// Context is organisation A and the statement aims at organisation B's rows.
    Other,
    Unset,
    Empty,
    Malformed,
}

const CONTEXTS: [Context; 5] = [
    Context::Own,
    Context::Other,
    Context::Unset,
    Context::Empty,
    Context::Malformed,
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
    let app = Database::new(db.config(maturion_schema::APP_ROLE), 1).unwrap();
    let mut tenants = Vec::new();
    for name in ["Alpha", "Beta"] {
        let tenant = maturion_testing::organisation_with_admin(&app, name)
            .await
            .unwrap();
        let (organisation, user) = (tenant.organisation.as_uuid(), tenant.user.as_uuid());
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
    }
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
            "INSERT INTO user_permissions (organisation_id, user_id, module, permission, created_by) \
             VALUES ('{o}', '{u}', 'risks', 'p{}', '{u}')",
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

/// Runs `sql` in a transaction as the app role with the context `setting` (None: never set).
/// Returns the organisations of the rows it returned, or the SQLSTATE it failed with.
async fn run_as_app(app: &Client, setting: Option<&str>, sql: &str) -> Result<Vec<String>, String> {
    app.batch_execute("BEGIN").await.unwrap();
    if let Some(value) = setting {
        app.execute(
            "SELECT set_config('app.current_organisation_id', $1, true)",
            &[&value],
        )
        .await
        .unwrap();
    }
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
    let Fixture { a, b } = fixture(&db).await;
    let app = db.connect(maturion_schema::APP_ROLE).await;
    let own = a.organisation.to_string();
    let mut cases = 0;

    for table in TENANT_TABLES {
        let key = if table == "organisations" {
            "id"
        } else {
            "organisation_id"
        };
        let before = snapshot(&admin, table, b.organisation).await;
        for context in CONTEXTS {
            let setting = match context {
                Context::Own | Context::Other => Some(own.as_str()),
                Context::Unset => None,
                Context::Empty => Some(""),
                Context::Malformed => Some("not-a-uuid"),
            };
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
                let outcome = run_as_app(&app, setting, &sql).await;
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
    const MALFORMED: &str = "MT400";
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
        (Operation::Select, Context::Other | Context::Unset | Context::Empty) => {
            assert!(
                matches!(outcome, Ok(rows) if rows.is_empty()),
                "must see nothing: {case}"
            )
        }
        (Operation::Select, Context::Malformed) => assert_eq!(error, Some("22P02"), "{case}"),
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
        (_, Context::Unset | Context::Empty) => assert_eq!(error, Some(NO_CONTEXT), "{case}"),
        (_, Context::Malformed) => assert_eq!(error, Some(MALFORMED), "{case}"),
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
async fn a_new_organisation_is_provisioned_under_its_own_context() {
    let db = maturion_testing::migrated_database().await;
    let app = db.connect(maturion_schema::APP_ROLE).await;
    let id = Uuid::now_v7();
    let context = id.to_string();
    let sql =
        format!("INSERT INTO organisations (id, name) VALUES ('{id}', 'Gamma') RETURNING id::text");
    assert_eq!(
        run_as_app(&app, Some(&context), &sql).await,
        Ok(vec![context.clone()])
    );
    let other = Uuid::now_v7().to_string();
    assert_eq!(
        run_as_app(&app, Some(&other), &sql).await,
        Err("42501".into())
    );
}

#[tokio::test]
async fn cross_tenant_composite_foreign_keys_are_refused() {
    let db = maturion_testing::migrated_database().await;
    let admin = db.admin().await;
    let Fixture { a, b } = fixture(&db).await;
    // Even the superuser (no RLS) cannot make A's row point at B's user.
    let error = admin
        .execute(
            "INSERT INTO user_permissions (organisation_id, user_id, module, permission, created_by) \
             VALUES ($1, $2, 'risks', 'write', $3)",
            &[&a.organisation, &b.user, &a.user],
        )
        .await
        .unwrap_err();
    assert_eq!(error.code().unwrap().code(), "23503", "{error}");
    // audit_log has no foreign keys (it outlives the users it names, platform 2.0.0): its
    // writers, the only way the application has into it, refuse B's user as A's actor.
    let app = db.connect(maturion_schema::APP_ROLE).await;
    let sql = format!(
        "SELECT set_config('app.current_user_id', '{}', true); \
         SELECT maturion.record_views('platform', 'users', ARRAY['{}'::uuid])",
        b.user, b.user
    );
    assert_eq!(
        run_as_app(&app, Some(&a.organisation.to_string()), &sql).await,
        Err("MT403".into())
    );
}

#[tokio::test]
async fn tenant_context_does_not_outlive_its_transaction() {
    let db = maturion_testing::migrated_database().await;
    let Fixture { a, .. } = fixture(&db).await;
    let app = db.connect(maturion_schema::APP_ROLE).await;
    let own = a.organisation.to_string();
    assert_eq!(
        run_as_app(&app, Some(&own), "SELECT id::text FROM users")
            .await
            .unwrap()
            .len(),
        1
    );
    // Same connection, next transaction, no context: nothing.
    assert_eq!(
        run_as_app(&app, None, "SELECT id::text FROM users").await,
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
