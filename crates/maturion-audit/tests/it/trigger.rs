//! The audit trigger: what each write leaves in audit_log, for platform and module tables.

use serde_json::{json, Value};
use tokio_postgres::Client;
use uuid::Uuid;

use crate::support::{self, code, provision};

/// action, user_id, module, entity_type, entity_id, changes, ip, agent, transaction id; in
/// insertion order.
type Entry = (
    String,
    Option<Uuid>,
    String,
    String,
    Uuid,
    Option<Value>,
    Option<String>,
    Option<String>,
    i64,
);

async fn entries(admin: &Client, entity_type: &str, entity_id: Uuid) -> Vec<Entry> {
    admin
        .query(
            "SELECT action, user_id, module, entity_type, entity_id, changes, host(ip_address), user_agent, transaction_id \
             FROM audit_log WHERE entity_type = $1 AND entity_id = $2 ORDER BY transaction_id, timestamp, id",
            &[&entity_type, &entity_id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6), r.get(7), r.get(8)))
        .collect()
}

#[tokio::test]
async fn every_write_leaves_one_entry_with_who_where_and_what() {
    let db = support::database().await;
    let admin = db.admin().await;
    let app = support::app(&db).await;
    let alpha = provision(&db, "Alpha").await;

    // Provisioning: the organisation and its first user, one business operation.
    let organisation = entries(&admin, "organisations", alpha.organisation.as_uuid()).await;
    let user = entries(&admin, "users", alpha.user.as_uuid()).await;
    assert_eq!(organisation.len(), 1);
    assert_eq!(user.len(), 1);
    let (action, actor, module, _, _, changes, ip, agent, provisioning) = &user[0];
    assert_eq!(
        (action.as_str(), *actor, module.as_str()),
        ("created", Some(alpha.user.as_uuid()), "platform")
    );
    assert_eq!(
        changes.as_ref().unwrap()["email"],
        json!("first@alpha.example")
    );
    assert_eq!(
        (ip.as_deref(), agent.as_deref()),
        (
            Some("203.0.113.7"),
            Some("Alpha-browser/1.0 (ü «q» \\ \"x\")")
        )
    );
    assert_eq!(
        organisation[0].8, *provisioning,
        "one transaction id groups one operation"
    );
    // The organisation is created by its first administrator, made in the same call.
    assert_eq!(
        (organisation[0].0.as_str(), organisation[0].1),
        ("created", Some(alpha.user.as_uuid()))
    );
    assert_eq!(organisation[0].5.as_ref().unwrap()["name"], json!("Alpha"));

    // Update: only the changed columns, old and new.
    let tx = app.transaction(&alpha.context).await.unwrap();
    tx.execute(
        "UPDATE users SET full_name = 'Renamed', role = 'auditor' WHERE id = $1",
        &[&alpha.user],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // Soft delete, then restore. A removed user's tokens are revoked with the removal: the
    // maintenance side restores the user, who acts again with a new token.
    let tx = app.transaction(&alpha.context).await.unwrap();
    tx.execute(
        "UPDATE users SET deleted_at = now() WHERE id = $1",
        &[&alpha.user],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    support::maintenance(&db)
        .await
        .execute(
            "UPDATE users SET deleted_at = NULL WHERE id = $1",
            &[&alpha.user],
        )
        .await
        .unwrap();
    let token = maturion_testing::token_for(&admin, alpha.user)
        .await
        .unwrap();
    let context = maturion_tenancy::TenantContext::new(alpha.organisation, alpha.user, token)
        .with_client(alpha.context.ip_address, alpha.context.user_agent.clone());
    // Nothing changes but the stamp of updated_at: still a change, recorded.
    let tx = app.transaction(&context).await.unwrap();
    tx.execute(
        "UPDATE users SET full_name = full_name WHERE id = $1",
        &[&alpha.user],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let user = entries(&admin, "users", alpha.user.as_uuid()).await;
    let actions: Vec<&str> = user.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        actions,
        ["created", "updated", "deleted", "updated", "updated"]
    );
    let changes: Vec<&Value> = user.iter().map(|e| e.5.as_ref().unwrap()).collect();

    let update = changes[1].as_object().unwrap();
    let mut columns: Vec<&str> = update.keys().map(String::as_str).collect();
    columns.sort();
    assert_eq!(columns, ["full_name", "role", "updated_at"], "{update:?}");
    assert_eq!(
        update["full_name"],
        json!({"old": "First User", "new": "Renamed"})
    );
    assert_eq!(update["role"], json!({"old": "admin", "new": "auditor"}));

    let soft_delete = changes[2].as_object().unwrap();
    assert_eq!(soft_delete["deleted_at"]["old"], Value::Null);
    assert!(soft_delete["deleted_at"]["new"].is_string());
    assert_eq!(
        soft_delete["deleted_by"],
        json!({"old": null, "new": alpha.user.as_uuid()})
    );

    let restore = changes[3].as_object().unwrap();
    assert!(restore["deleted_at"]["old"].is_string());
    assert_eq!(
        restore["deleted_at"]["new"],
        Value::Null,
        "a restore shows deleted_at going back to null"
    );

    // The restore was the platform service's: no user stamped, the service named.
    assert_eq!(
        restore["updated_by"],
        json!({"old": alpha.user.as_uuid(), "new": null})
    );
    assert_eq!(user[3].1, Some(Uuid::max()));

    // The stamps only, updated_by back to the user after the service's restore.
    let stamp_only = changes[4].as_object().unwrap();
    assert_eq!(
        stamp_only.keys().collect::<Vec<_>>(),
        ["updated_at", "updated_by"]
    );

    // Each transaction has its own id.
    let mut transactions: Vec<i64> = user.iter().map(|e| e.8).collect();
    transactions.dedup();
    assert_eq!(transactions.len(), 5);
}

#[tokio::test]
async fn an_update_that_changes_nothing_leaves_nothing() {
    let db = support::database().await;
    let admin = db.admin().await;
    let app = support::app(&db).await;
    let alpha = provision(&db, "Alpha").await;
    // In one transaction now() does not move, so the stamp changes nothing either.
    let tx = app.transaction(&alpha.context).await.unwrap();
    tx.execute(
        "UPDATE users SET full_name = 'Renamed' WHERE id = $1",
        &[&alpha.user],
    )
    .await
    .unwrap();
    tx.execute(
        "UPDATE users SET full_name = 'Renamed' WHERE id = $1",
        &[&alpha.user],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let actions: Vec<String> = entries(&admin, "users", alpha.user.as_uuid())
        .await
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(actions, ["created", "updated"]);
}

#[tokio::test]
async fn a_hard_delete_by_maintenance_keeps_the_old_row() {
    let db = support::database().await;
    let admin = db.admin().await;
    let app = support::app(&db).await;
    let alpha = provision(&db, "Alpha").await;
    let tx = app.transaction(&alpha.context).await.unwrap();
    let setting: Uuid = tx
        .query_one(
            "INSERT INTO organisation_settings (organisation_id, setting_key, setting_value, created_by) \
             VALUES ($1, 'locale', '\"en\"', $2) RETURNING id",
            &[&alpha.organisation, &alpha.user],
        )
        .await
        .unwrap()
        .get(0);
    tx.commit().await.unwrap();
    // The app never hard-deletes.
    let tx = app.transaction(&alpha.context).await.unwrap();
    let error = tx
        .execute(
            "DELETE FROM organisation_settings WHERE id = $1",
            &[&setting],
        )
        .await
        .unwrap_err();
    assert!(error.to_string().contains("permission denied"), "{error}");
    drop(tx);

    // A maintenance job (BYPASSRLS, no tenant binding) may; the trail names the platform
    // service (maturion.platform_service_id()).
    let maintenance = support::maintenance(&db).await;
    assert_eq!(
        maintenance
            .execute(
                "DELETE FROM organisation_settings WHERE id = $1",
                &[&setting]
            )
            .await
            .unwrap(),
        1
    );
    let log = entries(&admin, "organisation_settings", setting).await;
    let actions: Vec<&str> = log.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(actions, ["created", "deleted"]);
    let deleted = &log[1];
    assert_eq!(
        (deleted.1, deleted.6.as_deref()),
        (Some(Uuid::max()), None),
        "the service, and no client, in a job"
    );
    assert_eq!(
        deleted.5.as_ref().unwrap()["setting_key"],
        json!("locale"),
        "the old row"
    );
}

#[tokio::test]
async fn module_tables_are_audited_under_their_module() {
    let db = support::database().await;
    let admin = db.admin().await;
    let app = support::app(&db).await;
    let alpha = provision(&db, "Alpha").await;
    // As a module migration would: the new overload names the module; the old signature takes
    // it from the migration scope when the migrator sets it; a partitioned table's rows name
    // the table, not the partition.
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
               UNIQUE (organisation_id, id));
             SELECT maturion.enable_tenant_isolation('risks', module => 'risks');
             CREATE TABLE procedures (LIKE risks INCLUDING DEFAULTS, UNIQUE (organisation_id, id));
             BEGIN;
             SET LOCAL maturion.migration_scope = 'procedures';
             SELECT maturion.enable_tenant_isolation('procedures');
             COMMIT;
             CREATE TABLE incidents (
               id uuid NOT NULL DEFAULT generate_uuidv7(),
               organisation_id uuid NOT NULL REFERENCES organisations (id),
               title text NOT NULL,
               occurred_at timestamptz NOT NULL,
               PRIMARY KEY (occurred_at, id)) PARTITION BY RANGE (occurred_at);
             CREATE TABLE incidents_default PARTITION OF incidents DEFAULT;
             SELECT maturion.enable_tenant_isolation('incidents', 'incidents', audit_fields => false);
             RESET ROLE;",
        )
        .await
        .unwrap();
    let tx = app.transaction(&alpha.context).await.unwrap();
    let mut ids = Vec::new();
    for sql in [
        "INSERT INTO risks (organisation_id, title, created_by) VALUES ($1, 'Flood', $2) RETURNING id",
        "INSERT INTO procedures (organisation_id, title, created_by) VALUES ($1, 'Backups', $2) RETURNING id",
        "INSERT INTO incidents (organisation_id, title, occurred_at) SELECT $1, 'Outage', now() WHERE $2::uuid IS NOT NULL RETURNING id",
    ] {
        ids.push(tx.query_one(sql, &[&alpha.organisation, &alpha.user]).await.unwrap().get::<_, Uuid>(0));
    }
    tx.commit().await.unwrap();
    for ((table, module), id) in [
        ("risks", "risks"),
        ("procedures", "procedures"),
        ("incidents", "incidents"),
    ]
    .iter()
    .zip(ids)
    {
        let log = entries(&admin, table, id).await;
        assert_eq!(log.len(), 1, "{table}");
        assert_eq!(
            (log[0].0.as_str(), log[0].2.as_str(), log[0].3.as_str()),
            ("created", *module, *table)
        );
    }
    let triggers: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_trigger WHERE tgname = 'audit_trail' AND tgfoid = 'maturion.audit_trail'::regproc \
             AND tgrelid IN ('risks'::regclass, 'procedures'::regclass, 'incidents'::regclass)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(triggers, 3);

    // A table without uuid id and organisation_id columns cannot be audited.
    let error = admin
        .batch_execute(
            "CREATE TABLE readings (organisation_id uuid NOT NULL, reading_id bigint PRIMARY KEY);
             SELECT maturion.enable_audit_trail('readings', 'sensors');",
        )
        .await
        .unwrap_err();
    assert!(
        format!("{error:?}").contains("needs uuid columns id and organisation_id"),
        "{error}"
    );
}

#[tokio::test]
async fn the_platform_tables_carry_the_trigger_and_the_logs_do_not() {
    let db = support::database().await;
    let admin = db.admin().await;
    let audited: Vec<String> = admin
        .query(
            "SELECT tgrelid::regclass::text FROM pg_trigger \
             WHERE tgname = 'audit_trail' AND tgfoid = 'maturion.audit_trail'::regproc ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        audited,
        [
            "organisation_settings",
            "organisations",
            // The bundled reference module's.
            "policies",
            "user_permissions",
            "users"
        ]
    );
    let error = admin
        .batch_execute("SELECT maturion.enable_audit_trail('event_log', 'platform')")
        .await
        .unwrap_err();
    assert!(format!("{error:?}").contains("is a log"), "{error}");
}

#[tokio::test]
async fn the_app_writes_audit_rows_only_through_the_trigger_and_reads_only_its_own() {
    let db = support::database().await;
    let app = support::app(&db).await;
    let alpha = provision(&db, "Alpha").await;
    let beta = provision(&db, "Beta").await;

    let tx = app.transaction(&alpha.context).await.unwrap();
    let error = tx
        .execute(
            "INSERT INTO audit_log (organisation_id, user_id, module, entity_type, entity_id, action) \
             VALUES ($1, $2, 'platform', 'users', $2, 'viewed')",
            &[&alpha.organisation, &alpha.user],
        )
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("audit_log_written_by_triggers"),
        "{error}"
    );
    drop(tx);

    for sql in [
        "UPDATE audit_log SET module = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        let tx = app.transaction(&alpha.context).await.unwrap();
        let error = tx.execute(sql, &[]).await.unwrap_err();
        assert!(
            error.to_string().contains("permission denied"),
            "{sql}: {error}"
        );
    }

    let tx = app.transaction(&alpha.context).await.unwrap();
    let organisations: Vec<Uuid> = tx
        .query("SELECT DISTINCT organisation_id FROM audit_log", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(organisations, [alpha.organisation.as_uuid()]);
    assert_ne!(alpha.organisation, beta.organisation);
}

#[tokio::test]
async fn record_view_writes_a_viewed_entry_for_the_context() {
    let db = support::database().await;
    let admin = db.admin().await;
    let app = support::app(&db).await;
    let alpha = provision(&db, "Alpha").await;
    let tx = app.transaction(&alpha.context).await.unwrap();
    maturion_audit::record_view(&tx, "platform", "users", alpha.user.as_uuid())
        .await
        .unwrap();
    let error = maturion_audit::record_view(&tx, "Not A Module", "users", alpha.user.as_uuid())
        .await
        .unwrap_err();
    assert!(format!("{error:?}").contains("module name"), "{error}");
    drop(tx);
    let tx = app.transaction(&alpha.context).await.unwrap();
    maturion_audit::record_view(&tx, "risks", "risks", alpha.organisation.as_uuid())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let viewed = entries(&admin, "risks", alpha.organisation.as_uuid()).await;
    assert_eq!(viewed.len(), 1);
    let (action, user, module, _, _, changes, ip, agent, _) = &viewed[0];
    assert_eq!(
        (action.as_str(), *user, module.as_str(), changes),
        ("viewed", Some(alpha.user.as_uuid()), "risks", &None)
    );
    assert_eq!(
        (ip.as_deref(), agent.as_deref()),
        (
            Some("203.0.113.7"),
            Some("Alpha-browser/1.0 (ü «q» \\ \"x\")")
        )
    );

    // Without a tenant context there is nobody to record.
    let app_client = db.connect(maturion_schema::APP_ROLE).await;
    let error = app_client
        .execute(
            "SELECT maturion.record_view('risks', 'risks', $1)",
            &[&alpha.organisation],
        )
        .await
        .unwrap_err();
    assert_eq!(code(&error), "MT401");
}

#[tokio::test]
async fn a_failed_transaction_leaves_no_audit_row() {
    let db = support::database().await;
    let admin = db.admin().await;
    let app = support::app(&db).await;
    let alpha = provision(&db, "Alpha").await;
    let before = support::audit_rows(&admin, alpha.organisation).await;
    let tx = app.transaction(&alpha.context).await.unwrap();
    tx.execute(
        "UPDATE users SET full_name = 'Gone' WHERE id = $1",
        &[&alpha.user],
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(
        support::audit_rows(&admin, alpha.organisation).await,
        before
    );
}

#[tokio::test]
async fn record_views_writes_one_viewed_entry_per_entity_in_one_call() {
    let db = support::database().await;
    let admin = db.admin().await;
    let app = support::app(&db).await;
    let alpha = provision(&db, "Alpha").await;
    let beta = provision(&db, "Beta").await;
    let listed: Vec<Uuid> = (0..250).map(|_| Uuid::now_v7()).collect();

    let tx = app.transaction(&alpha.context).await.unwrap();
    assert_eq!(
        maturion_audit::record_views(&tx, "policies", "policy", &listed)
            .await
            .unwrap(),
        250
    );
    assert_eq!(
        maturion_audit::record_views(&tx, "policies", "policy", &[])
            .await
            .unwrap(),
        0
    );
    tx.commit().await.unwrap();
    let rows = admin
        .query(
            "SELECT organisation_id, user_id, module, action, changes IS NULL, host(ip_address), user_agent, entity_id \
             FROM audit_log WHERE entity_type = 'policy' ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 250);
    for (row, entity) in rows.iter().zip(&listed) {
        let (organisation, user): (Uuid, Option<Uuid>) = (row.get(0), row.get(1));
        let (module, action, no_changes): (String, String, bool) =
            (row.get(2), row.get(3), row.get(4));
        assert_eq!(
            (
                organisation,
                user,
                module.as_str(),
                action.as_str(),
                no_changes
            ),
            (
                alpha.organisation.as_uuid(),
                Some(alpha.user.as_uuid()),
                "policies",
                "viewed",
                true
            )
        );
        assert_eq!(
            row.get::<_, Option<String>>(5).as_deref(),
            Some("203.0.113.7")
        );
        assert_eq!(
            row.get::<_, Uuid>(7),
            *entity,
            "one row per id, in the order given"
        );
    }
    let beta_views: i64 = admin
        .query_one(
            "SELECT count(*) FROM audit_log WHERE organisation_id = $1 AND action = 'viewed'",
            &[&beta.organisation],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(beta_views, 0, "only the context's organisation");

    // Bad input changes nothing.
    let tx = app.transaction(&alpha.context).await.unwrap();
    let error = maturion_audit::record_views(&tx, "Policies!", "policy", &listed)
        .await
        .unwrap_err();
    assert!(format!("{error:?}").contains("module name"), "{error}");
    drop(tx);
    let tx = app.transaction(&alpha.context).await.unwrap();
    let error = tx
        .execute(
            "SELECT maturion.record_views('policies', 'policy', ARRAY[$1, NULL]::uuid[])",
            &[&alpha.user],
        )
        .await
        .unwrap_err();
    assert!(format!("{error:?}").contains("entity ids"), "{error}");
    drop(tx);
    let app_client = db.connect(maturion_schema::APP_ROLE).await;
    let error = app_client
        .execute(
            "SELECT maturion.record_views('policies', 'policy', ARRAY[$1]::uuid[])",
            &[&alpha.user],
        )
        .await
        .unwrap_err();
    assert_eq!(code(&error), "MT401", "no tenant context, nobody to record");
    app_client
        .batch_execute(
            "BEGIN; SELECT set_config('app.current_organisation_id', 'not-a-uuid', true)",
        )
        .await
        .unwrap();
    let error = app_client
        .execute(
            "SELECT maturion.record_views('policies', 'policy', ARRAY[$1]::uuid[])",
            &[&alpha.user],
        )
        .await
        .unwrap_err();
    assert_eq!(
        code(&error),
        "MT401",
        "a context set with app.* binds nothing: refused as unbound"
    );
    let total: i64 = admin
        .query_one(
            "SELECT count(*) FROM audit_log WHERE entity_type = 'policy'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(total, 250);
}

/// audit_log has no foreign keys (the trail outlives users and organisations), so the writers
/// refuse an actor of another organisation themselves, and erasure of a user keeps the history.
#[tokio::test]
async fn an_actor_of_another_organisation_is_refused_and_an_erased_user_keeps_the_history() {
    let db = support::database().await;
    let admin = db.admin().await;
    let app = support::app(&db).await;
    let alpha = provision(&db, "Alpha").await;
    let beta = provision(&db, "Beta").await;
    admin
        .batch_execute(
            "SET ROLE maturion_owner;
             CREATE TABLE readings (id uuid PRIMARY KEY DEFAULT generate_uuidv7(),
                                    organisation_id uuid NOT NULL REFERENCES organisations (id),
                                    value integer NOT NULL, UNIQUE (organisation_id, id));
             SELECT maturion.enable_tenant_isolation('readings', 'sensors', audit_fields => false);
             RESET ROLE;",
        )
        .await
        .unwrap();
    // A context naming alpha with beta's user and token is refused when it begins: the
    // database binds beta's own organisation.
    let impostor =
        maturion_tenancy::TenantContext::new(alpha.organisation, beta.user, beta.token.clone());
    let before = support::audit_rows(&admin, alpha.organisation).await;
    let refused = app
        .transaction(&impostor)
        .await
        .err()
        .expect("an impostor context is refused");
    assert!(
        matches!(refused, maturion_tenancy::TenancyError::BindingMismatch(_)),
        "{refused:?}"
    );
    // Below the binding, a transaction bound to beta that row-level security does not stop
    // (the maintenance role with a service binding) cannot write alpha's rows: the audit
    // trigger refuses a row of another organisation than the bound one.
    let bound_to_beta = support::maintenance(&db).await;
    bound_to_beta
        .batch_execute(&format!(
            "BEGIN; SELECT set_config('maturion.binding', \
                    maturion.service_binding('{}', pg_backend_pid(), transaction_timestamp()), true)",
            beta.organisation
        ))
        .await
        .unwrap();
    let error = bound_to_beta
        .execute(
            "INSERT INTO readings (organisation_id, value) VALUES ($1, 7)",
            &[&alpha.organisation],
        )
        .await
        .unwrap_err();
    assert_eq!(code(&error), "MT403", "{error:?}");
    bound_to_beta.batch_execute("ROLLBACK").await.unwrap();
    // record_views checks the actor itself, once per call: a binding of alpha with beta's
    // user, which no token makes, made by the superuser (who can read the binding key) and
    // used as the app.
    let impostor_session = db.admin().await;
    let impersonate = format!(
        "BEGIN; SELECT set_config('maturion.binding', '{0}/{1}/' || maturion.binding_mac('{0}/{1}', pg_backend_pid(), transaction_timestamp()), true); SET LOCAL ROLE maturion_app",
        alpha.organisation, beta.user
    );
    impostor_session.batch_execute(&impersonate).await.unwrap();
    let error = impostor_session
        .execute(
            "SELECT maturion.record_views('sensors', 'reading', ARRAY[$1::uuid])",
            &[&Uuid::now_v7()],
        )
        .await
        .unwrap_err();
    assert!(
        format!("{error:?}").contains("is not a user of organisation"),
        "{error:?}"
    );
    impostor_session.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(
        support::audit_rows(&admin, alpha.organisation).await,
        before,
        "nothing written"
    );
    let readings: i64 = admin
        .query_one("SELECT count(*) FROM readings", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(readings, 0);

    // GDPR/POPIA erasure: a maintenance job hard-deletes a user who acted; the trail stays.
    let tx = app.transaction(&alpha.context).await.unwrap();
    tx.execute(
        "INSERT INTO readings (organisation_id, value) VALUES ($1, 8)",
        &[&alpha.organisation],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let acted: i64 = admin
        .query_one(
            "SELECT count(*) FROM audit_log WHERE user_id = $1",
            &[&alpha.user],
        )
        .await
        .unwrap()
        .get(0);
    assert!(acted > 0);
    let maintenance = support::maintenance(&db).await;
    maintenance
        .execute("DELETE FROM users WHERE id = $1", &[&alpha.user])
        .await
        .unwrap_or_else(|error| panic!("{error:?}"));
    let after: i64 = admin
        .query_one(
            "SELECT count(*) FROM audit_log WHERE user_id = $1",
            &[&alpha.user],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(after, acted, "the erased user's history is kept");
}
