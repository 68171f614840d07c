//! Attribution, tried as an attacker would: a session of `maturion_app` bound to organisation
//! A with SQL of its own choosing. Every tenant write names its real actor (a user of A bound
//! with their own token, or the platform service), the stamped created_by/updated_by/deleted_by
//! are that actor whatever the SQL wrote, and the audit trail names the same actor.
//! The tables come from the catalog: every tenant table with the stamped columns, platform and
//! module alike.

use maturion_tenancy::{ApiToken, Database, ServiceBinder, TenantContext, UserId};
use serde_json::Value;
use tokio_postgres::{Client, Row};
use uuid::Uuid;

use crate::support::{self, code, provision, Tenant};

/// `maturion.platform_service_id()`: the actor the trail names when the platform service acts.
const SERVICE: Uuid = Uuid::max();

/// Every tenant table (a tenant_isolation policy) with the stamped columns.
const STAMPED_TABLES: &str = "\
    SELECT c.oid::regclass::text FROM pg_class c \
    WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition \
      AND EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation') \
      AND (SELECT count(*) FROM pg_attribute a WHERE a.attrelid = c.oid AND NOT a.attisdropped \
           AND a.attname IN ('organisation_id', 'created_by', 'updated_by', 'deleted_by', 'deleted_at')) = 5 \
    ORDER BY 1";

/// The text columns of a table's unique indexes: a copied row gets new values there.
const UNIQUE_TEXT_COLUMNS: &str = "\
    SELECT DISTINCT a.attname::text FROM pg_index i \
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) \
    WHERE i.indrelid = $1::text::regclass AND i.indisunique AND a.atttypid = 'text'::regtype";

/// Organisation A with its first user (the administrator, who made every row the attacker
/// starts from), the attacker (another user of A with their own token) and a bystander of A;
/// organisation B; and a module table made as the README says.
struct World {
    alpha: Tenant,
    beta: Tenant,
    mallory: Uuid,
    mallory_token: ApiToken,
    bystander: Uuid,
    tables: Vec<String>,
}

async fn world(db: &maturion_testing::TestDatabase, app: &Database) -> World {
    let admin = db.admin().await;
    admin
        .batch_execute(
            "SET ROLE maturion_owner;
             CREATE TABLE risks (
               id uuid PRIMARY KEY DEFAULT generate_uuidv7(),
               organisation_id uuid NOT NULL REFERENCES organisations (id),
               title text NOT NULL,
               created_at timestamptz NOT NULL DEFAULT now(), created_by uuid NOT NULL,
               updated_at timestamptz NOT NULL DEFAULT now(), updated_by uuid,
               deleted_at timestamptz, deleted_by uuid,
               UNIQUE (organisation_id, id),
               FOREIGN KEY (organisation_id, created_by) REFERENCES users (organisation_id, id),
               FOREIGN KEY (organisation_id, updated_by) REFERENCES users (organisation_id, id),
               FOREIGN KEY (organisation_id, deleted_by) REFERENCES users (organisation_id, id));
             SELECT maturion.enable_tenant_isolation('risks', module => 'risks');
             RESET ROLE;",
        )
        .await
        .unwrap();
    let alpha = provision(db, "Alpha").await;
    let beta = provision(db, "Beta").await;
    let tx = app.transaction(&alpha.context).await.unwrap();
    let mut users = Vec::new();
    for name in ["mallory", "bystander"] {
        let row = tx
            .query_one(
                "INSERT INTO users (organisation_id, email, full_name, role) \
                 VALUES ($1, $2 || '@alpha.example', $2, 'member') RETURNING id",
                &[&alpha.organisation, &name],
            )
            .await
            .unwrap();
        users.push(row.get::<_, Uuid>(0));
    }
    let (mallory, bystander) = (users[0], users[1]);
    for sql in [
        "INSERT INTO organisation_settings (organisation_id, setting_key, setting_value) VALUES ($1, 'locale', '\"en\"')",
        "INSERT INTO risks (organisation_id, title) VALUES ($1, 'Flood')",
        "INSERT INTO policies (organisation_id, title) VALUES ($1, 'Acceptable use')",
    ] {
        tx.execute(sql, &[&alpha.organisation]).await.unwrap();
    }
    tx.execute(
        "INSERT INTO user_permissions (organisation_id, user_id, module, permission) VALUES ($1, $2, 'risks', 'read')",
        &[&alpha.organisation, &bystander],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mallory_token = maturion_testing::token_for(&admin, UserId::from_uuid(mallory))
        .await
        .unwrap();
    let tables: Vec<String> = admin
        .query(STAMPED_TABLES, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for expected in [
        "organisation_settings",
        "risks",
        "user_permissions",
        "users",
    ] {
        assert!(
            tables.iter().any(|t| t == expected),
            "{expected} is not in {tables:?}"
        );
    }
    World {
        alpha,
        beta,
        mallory,
        mallory_token,
        bystander,
        tables,
    }
}

/// Runs `sql` in its own transaction of `session`, after `preamble`; commits when it works.
/// Returns its rows and the transaction's id, or the SQLSTATE it failed with.
async fn attempt(session: &Client, preamble: &str, sql: &str) -> Result<(Vec<Row>, i64), String> {
    session.batch_execute("BEGIN").await.unwrap();
    let outcome = async {
        session.batch_execute(preamble).await?;
        let rows = session.query(sql, &[]).await?;
        let transaction: i64 = session
            .query_one("SELECT txid_current()", &[])
            .await?
            .get(0);
        Ok::<_, tokio_postgres::Error>((rows, transaction))
    }
    .await;
    match outcome {
        Ok(done) => {
            session.batch_execute("COMMIT").await.unwrap();
            Ok(done)
        }
        Err(error) => {
            session.batch_execute("ROLLBACK").await.unwrap();
            Err(code(&error))
        }
    }
}

fn bind(token: &ApiToken) -> String {
    format!("SELECT maturion.bind_tenant('{}');", token.expose())
}

/// The stamps of one returned row: created_by, updated_by, deleted_by.
fn stamps(rows: &[Row]) -> (Option<Uuid>, Option<Uuid>, Option<Uuid>) {
    assert_eq!(rows.len(), 1, "one row written");
    (rows[0].get(0), rows[0].get(1), rows[0].get(2))
}

/// A copy of the row `id` of `table` with `overrides` (a jsonb expression over the row `r`),
/// new values in its unique text columns, and RETURNING the stamps.
async fn copy_row_sql(admin: &Client, table: &str, id: Uuid, overrides: &str) -> String {
    let unique: Vec<String> = admin
        .query(UNIQUE_TEXT_COLUMNS, &[&table])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let renamed: String = unique
        .iter()
        .map(|c| {
            format!(
                " || jsonb_build_object('{c}', 'x' || substr(md5(random()::text), 1, 8) || r.{c})"
            )
        })
        .collect();
    // Generated columns (a search vector) are the database's to compute.
    let columns: Vec<String> = admin
        .query(
            "SELECT quote_ident(a.attname) FROM pg_attribute a \
             WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped \
               AND a.attgenerated = '' ORDER BY a.attnum",
            &[&table],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let copied: Vec<String> = columns.iter().map(|c| format!("p.{c}")).collect();
    format!(
        "INSERT INTO {table} ({}) SELECT {} \
         FROM {table} r, jsonb_populate_record(NULL::{table}, to_jsonb(r) || {overrides}{renamed}) p \
         WHERE r.id = '{id}' RETURNING created_by, updated_by, deleted_by",
        columns.join(", "),
        copied.join(", ")
    )
}

/// A row of A in `table` that A's administrator made (not the attacker's own user row).
async fn administrators_row(admin: &Client, world: &World, table: &str) -> Uuid {
    admin
        .query_one(
            &format!(
                "SELECT id FROM {table} WHERE organisation_id = $1 AND created_by = $2 AND id <> $3 \
                 ORDER BY created_at LIMIT 1"
            ),
            &[&world.alpha.organisation, &world.alpha.user, &world.mallory],
        )
        .await
        .unwrap_or_else(|error| panic!("{table}: {error:?}"))
        .get(0)
}

#[tokio::test]
async fn stamps_are_the_bound_user_whatever_the_sql_writes_and_the_trail_agrees() {
    let db = support::database().await;
    let admin = db.admin().await;
    let app = support::app(&db).await;
    let world = world(&db, &app).await;
    let attacker = db.connect(maturion_schema::APP_ROLE).await;
    let bound = bind(&world.mallory_token);
    let (creator, mallory) = (Some(world.alpha.user.as_uuid()), Some(world.mallory));
    let mut transactions = Vec::new();
    for table in &world.tables {
        let seed = administrators_row(&admin, &world, table).await;
        // Another user of A, and a user of another tenant.
        for victim in [world.bystander, world.beta.user.as_uuid()] {
            let claimed = format!(
                "jsonb_build_object('id', gen_random_uuid(), 'created_by', '{victim}', 'updated_by', '{victim}', \
                                    'deleted_by', '{victim}', 'deleted_at', now())"
            );
            let cases = [
                // Born deleted, every stamp claimed.
                (
                    copy_row_sql(&admin, table, seed, &claimed).await,
                    (mallory, mallory, mallory),
                ),
                (
                    format!(
                        "UPDATE {table} SET created_by = '{victim}', updated_by = '{victim}', deleted_by = '{victim}', \
                         deleted_at = now() WHERE id = '{seed}' RETURNING created_by, updated_by, deleted_by"
                    ),
                    (creator, mallory, mallory),
                ),
                // Still deleted: who deleted it does not change.
                (
                    format!(
                        "UPDATE {table} SET updated_by = '{victim}', deleted_by = '{victim}', \
                         deleted_at = deleted_at - interval '1 second' WHERE id = '{seed}' \
                         RETURNING created_by, updated_by, deleted_by"
                    ),
                    (creator, mallory, mallory),
                ),
                // Restored: nobody deleted it.
                (
                    format!(
                        "UPDATE {table} SET deleted_at = NULL, deleted_by = '{victim}', updated_by = '{victim}' \
                         WHERE id = '{seed}' RETURNING created_by, updated_by, deleted_by"
                    ),
                    (creator, mallory, None),
                ),
                (
                    copy_row_sql(
                        &admin,
                        table,
                        seed,
                        &format!("jsonb_build_object('created_by', '{victim}', 'updated_by', '{victim}')"),
                    )
                    .await
                    .replace(
                        " RETURNING",
                        " ON CONFLICT (id) DO UPDATE SET created_by = EXCLUDED.created_by, \
                         updated_by = EXCLUDED.updated_by, deleted_by = EXCLUDED.created_by RETURNING",
                    ),
                    (creator, mallory, None),
                ),
            ];
            for (sql, expected) in cases {
                let (rows, transaction) = attempt(&attacker, &bound, &sql)
                    .await
                    .unwrap_or_else(|error| panic!("{sql}: {error}"));
                assert_eq!(stamps(&rows), expected, "{sql}");
                transactions.push(transaction);
            }
        }
    }
    // One audit row per write, each naming the attacker, and agreeing with the stamps it shows.
    let trail = admin
        .query(
            "SELECT action, user_id, changes FROM audit_log WHERE transaction_id = ANY ($1)",
            &[&transactions],
        )
        .await
        .unwrap();
    assert_eq!(trail.len(), transactions.len());
    for row in &trail {
        let (action, actor, changes): (String, Option<Uuid>, Value) =
            (row.get(0), row.get(1), row.get(2));
        assert_eq!(actor, mallory, "{changes}");
        let actor = Value::String(world.mallory.to_string());
        if action == "created" {
            assert_eq!(
                (&changes["created_by"], &changes["updated_by"]),
                (&actor, &actor)
            );
        } else {
            for stamp in ["updated_by", "deleted_by"] {
                let new = &changes[stamp]["new"];
                assert!(new.is_null() || *new == actor, "{changes}");
            }
        }
    }
}

#[tokio::test]
async fn unbound_writes_are_refused_whatever_the_settings_say() {
    let db = support::database().await;
    let admin = db.admin().await;
    let app = support::app(&db).await;
    let world = world(&db, &app).await;
    let attacker = db.connect(maturion_schema::APP_ROLE).await;
    let before = support::audit_rows(&admin, world.alpha.organisation).await;
    let forged = format!(
        "SELECT set_config('app.current_organisation_id', '{}', true), set_config('app.current_user_id', '{}', true);",
        world.alpha.organisation, world.mallory
    );
    for table in &world.tables {
        let seed = administrators_row(&admin, &world, table).await;
        let copy = copy_row_sql(
            &admin,
            table,
            seed,
            "jsonb_build_object('id', gen_random_uuid())",
        )
        .await;
        let update = format!(
            "UPDATE {table} SET updated_at = now() WHERE id = '{seed}' RETURNING created_by"
        );
        for preamble in ["", forged.as_str()] {
            for sql in [&copy, &update] {
                assert_eq!(
                    attempt(&attacker, preamble, sql).await.err().as_deref(),
                    Some("MT401"),
                    "{sql}"
                );
            }
        }
        // The owner (subject to row-level security) is no actor either.
        let owner = "SET LOCAL ROLE maturion_owner;";
        assert_eq!(
            attempt(&admin, owner, &update).await.err().as_deref(),
            Some("MT401"),
            "{table}"
        );
    }
    assert_eq!(
        support::audit_rows(&admin, world.alpha.organisation).await,
        before
    );
}

#[tokio::test]
async fn the_platform_service_is_named_and_stamps_nobody() {
    let db = support::database().await;
    let admin = db.admin().await;
    let app = support::app(&db).await;
    let world = world(&db, &app).await;
    let organisation = world.alpha.organisation;
    let setting = administrators_row(&admin, &world, "organisation_settings").await;
    let service = TenantContext::service(
        organisation,
        ServiceBinder::new(support::maintenance(&db).await),
    );

    // An event handler (a service binding) changes a row: no user stamped, the service named.
    let tx = app.transaction(&service).await.unwrap();
    let named: Uuid = tx
        .query_one("SELECT maturion.platform_service_id()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(named, SERVICE);
    let updated_by: Option<Uuid> = tx
        .query_one(
            "UPDATE organisation_settings SET setting_value = '\"fr\"', updated_by = $2 WHERE id = $1 RETURNING updated_by",
            &[&setting, &world.bystander],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(updated_by, None);
    tx.commit().await.unwrap();
    // It cannot insert where a user must be named: there is none to name.
    let tx = app.transaction(&service).await.unwrap();
    let error = tx
        .execute(
            "INSERT INTO organisation_settings (organisation_id, setting_key, setting_value, created_by) \
             VALUES ($1, 'theme', '\"dark\"', $2)",
            &[&organisation, &world.alpha.user],
        )
        .await
        .unwrap_err();
    assert!(error.to_string().contains("created_by"), "{error}");
    drop(tx);

    // A maintenance job (BYPASSRLS, no binding) is the service as well.
    let maintenance = support::maintenance(&db).await;
    let updated_by: Option<Uuid> = maintenance
        .query_one(
            "UPDATE organisation_settings SET setting_value = '\"de\"', updated_by = $2 WHERE id = $1 RETURNING updated_by",
            &[&setting, &world.bystander],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(updated_by, None);
    let actors: Vec<(String, Option<Uuid>)> = admin
        .query(
            "SELECT action, user_id FROM audit_log WHERE entity_id = $1 ORDER BY transaction_id",
            &[&setting],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        actors,
        [
            ("created".to_owned(), Some(world.alpha.user.as_uuid())),
            ("updated".to_owned(), Some(SERVICE)),
            ("updated".to_owned(), Some(SERVICE)),
        ]
    );

    // Bound for B, the service cannot write A's rows; on the tenant root the foreign actor is
    // refused, not dropped.
    let for_beta = format!(
        "SELECT set_config('maturion.binding', maturion.service_binding('{}', pg_backend_pid(), transaction_timestamp()), true);",
        world.beta.organisation
    );
    for sql in [
        format!("UPDATE organisations SET name = 'Taken' WHERE id = '{organisation}' RETURNING id"),
        format!("UPDATE organisation_settings SET setting_value = '1' WHERE id = '{setting}' RETURNING id"),
    ] {
        assert_eq!(attempt(&maintenance, &for_beta, &sql).await.err().as_deref(), Some("MT403"), "{sql}");
    }

    // No user can take the service's id.
    let tx = app.transaction(&world.alpha.context).await.unwrap();
    let error = tx
        .execute(
            "INSERT INTO users (id, organisation_id, email, full_name, role) VALUES ($1, $2, 's@alpha.example', 'S', 'member')",
            &[&SERVICE, &organisation],
        )
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("users_id_is_not_the_platform_service"),
        "{error}"
    );
}

#[tokio::test]
async fn deactivated_and_deleted_users_cannot_act() {
    let db = support::database().await;
    let admin = db.admin().await;
    let app = support::app(&db).await;
    let world = world(&db, &app).await;
    let organisation = world.alpha.organisation;
    let mallory = UserId::from_uuid(world.mallory);
    let bystander = UserId::from_uuid(world.bystander);
    let bystander_token = maturion_testing::token_for(&admin, bystander)
        .await
        .unwrap();
    let contexts = [
        TenantContext::new(organisation, mallory, world.mallory_token.clone()),
        TenantContext::new(organisation, bystander, bystander_token.clone()),
    ];
    for context in &contexts {
        let tx = app.transaction(context).await.unwrap();
        tx.execute("UPDATE organisations SET legal_name = 'Alpha Ltd'", &[])
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    // The administrator deactivates one and removes the other.
    let tx = app.transaction(&world.alpha.context).await.unwrap();
    tx.execute(
        "UPDATE users SET is_active = false WHERE id = $1",
        &[&mallory],
    )
    .await
    .unwrap();
    tx.execute(
        "UPDATE users SET deleted_at = now() WHERE id = $1",
        &[&bystander],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let acted = async || -> i64 {
        admin
            .query_one(
                "SELECT count(*) FROM audit_log WHERE user_id = ANY ($1)",
                &[&vec![world.mallory, world.bystander]],
            )
            .await
            .unwrap()
            .get(0)
    };
    let before = acted().await;

    let attacker = db.connect(maturion_schema::APP_ROLE).await;
    for (context, token) in contexts
        .iter()
        .zip([&world.mallory_token, &bystander_token])
    {
        assert!(
            app.transaction(context).await.is_err(),
            "{:?}",
            context.user_id
        );
        let write = "UPDATE organisations SET legal_name = 'Mine' RETURNING id";
        assert_eq!(
            attempt(&attacker, &bind(token), write)
                .await
                .err()
                .as_deref(),
            Some("MT498")
        );
        let claimed = format!(
            "SELECT set_config('app.current_organisation_id', '{organisation}', true), \
                    set_config('app.current_user_id', '{}', true);",
            context.user_id.unwrap()
        );
        assert_eq!(
            attempt(&attacker, &claimed, write).await.err().as_deref(),
            Some("MT401")
        );
    }
    // Reactivated, the user needs a new token: the old one stays revoked. A removed user gets
    // none.
    let tx = app.transaction(&world.alpha.context).await.unwrap();
    tx.execute(
        "UPDATE users SET is_active = true WHERE id = $1",
        &[&mallory],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(app.transaction(&contexts[0]).await.is_err());
    assert!(maturion_testing::token_for(&admin, bystander)
        .await
        .is_err());
    assert_eq!(acted().await, before, "no write names them");
}
