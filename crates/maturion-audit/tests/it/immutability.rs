//! audit_log and the seal tables refuse UPDATE, DELETE and TRUNCATE for every role.

use tokio_postgres::Client;

use crate::support::{self, code, provision};

const CHANGES: [&str; 3] = [
    "UPDATE audit_log SET module = 'x'",
    "DELETE FROM audit_log",
    "TRUNCATE audit_log",
];

async fn refused(client: &Client, sql: &str) -> String {
    refused_after(client, "", sql).await
}

/// [`refused`], in a transaction that first runs `preamble`.
async fn refused_after(client: &Client, preamble: &str, sql: &str) -> String {
    client.batch_execute("BEGIN").await.unwrap();
    client.batch_execute(preamble).await.unwrap();
    let outcome = client.batch_execute(sql).await;
    client.batch_execute("ROLLBACK").await.unwrap();
    code(&outcome.expect_err(sql))
}

#[tokio::test]
async fn no_role_may_change_or_remove_audit_rows() {
    let db = support::database().await;
    let alpha = provision(&db, "Alpha").await;
    let admin = db.admin().await;

    // The superuser passes every privilege check and meets the guard triggers.
    for sql in CHANGES {
        assert_eq!(refused(&admin, sql).await, "MT405", "superuser: {sql}");
        let partition = sql.replace("audit_log", "audit_log_default");
        assert_eq!(
            refused(&admin, &partition).await,
            "MT405",
            "superuser: {partition}"
        );
    }
    // The owner gave its own privileges up; maintenance never had them.
    for role in [
        "maturion_owner",
        "maturion_maintenance",
        "maturion_readonly",
    ] {
        admin
            .batch_execute(&format!("SET ROLE {role}"))
            .await
            .unwrap();
        for sql in CHANGES {
            assert_eq!(refused(&admin, sql).await, "42501", "{role}: {sql}");
        }
        admin.batch_execute("RESET ROLE").await.unwrap();
    }
    // Even if the owner grants them back, the guards hold. (The owner is subject to RLS: bound
    // to its organisation, with a binding it can make since it reads the key, it reaches rows.)
    admin
        .batch_execute(
            "SET ROLE maturion_owner; GRANT UPDATE, DELETE, TRUNCATE ON audit_log, audit_log_default TO maturion_owner",
        )
        .await
        .unwrap();
    let bound = format!(
        "SELECT set_config('maturion.binding', '{0}/{1}/' || \
                maturion.binding_mac('{0}/{1}', pg_backend_pid(), transaction_timestamp()), true)",
        alpha.organisation, alpha.user
    );
    for sql in CHANGES {
        assert_eq!(
            refused_after(&admin, &bound, sql).await,
            "MT405",
            "owner with privileges: {sql}"
        );
    }
    admin.batch_execute("RESET ROLE").await.unwrap();
}

#[tokio::test]
async fn replica_mode_does_not_switch_the_guards_off() {
    let db = support::database().await;
    provision(&db, "Alpha").await;
    support::seal(&support::maintenance(&db).await).await;
    let admin = db.admin().await;
    // One removal on the record, so that every seal table has a row to refuse.
    admin
        .batch_execute(
            "SET ROLE maturion_owner;
             CREATE TABLE audit_log_2019_12 PARTITION OF audit_log
               FOR VALUES FROM ('2019-12-01 00:00:00+00') TO ('2020-01-01 00:00:00+00');
             RESET ROLE;
             SET ROLE maturion_maintenance;
             SELECT maturion.protect_audit_partition('audit_log_2019_12');
             SELECT maturion.drop_audit_partition('audit_log_2019_12');
             RESET ROLE;",
        )
        .await
        .unwrap();
    admin
        .batch_execute("SET session_replication_role = replica")
        .await
        .unwrap();
    for sql in CHANGES {
        assert_eq!(refused(&admin, sql).await, "MT405", "{sql}");
    }
    for table in [
        "maturion.audit_seals",
        "maturion.audit_seal_organisations",
        "maturion.audit_retention_log",
    ] {
        assert_eq!(
            refused(&admin, &format!("DELETE FROM {table}")).await,
            "MT405",
            "{table}"
        );
        assert_eq!(
            refused(&admin, &format!("TRUNCATE {table}")).await,
            "MT405",
            "{table}"
        );
    }
}

#[tokio::test]
async fn a_new_partition_is_protected_once_protect_audit_partition_ran() {
    let db = support::database().await;
    let admin = db.admin().await;
    admin
        .batch_execute(
            "SET ROLE maturion_owner;
             CREATE TABLE audit_log_2020_01 PARTITION OF audit_log
               FOR VALUES FROM ('2020-01-01 00:00:00+00') TO ('2020-02-01 00:00:00+00');
             RESET ROLE;",
        )
        .await
        .unwrap();
    let alpha = provision(&db, "Alpha").await;
    admin
        .execute(
            "INSERT INTO audit_log (organisation_id, timestamp, module, entity_type, entity_id, action) \
             VALUES ($1, '2020-01-15 00:00:00+00', 'platform', 'organisations', $1, 'viewed')",
            &[&alpha.organisation],
        )
        .await
        .unwrap();
    // The row guard is cloned to the new partition at once; TRUNCATE is not inherited.
    assert_eq!(
        refused(&admin, "DELETE FROM audit_log_2020_01").await,
        "MT405"
    );
    admin
        .batch_execute("BEGIN; TRUNCATE audit_log_2020_01; ROLLBACK")
        .await
        .unwrap();

    let maintenance = support::maintenance(&db).await;
    maintenance
        .execute(
            "SELECT maturion.protect_audit_partition('audit_log_2020_01')",
            &[],
        )
        .await
        .unwrap();
    maintenance
        .execute(
            "SELECT maturion.protect_audit_partition('audit_log_2020_01')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(refused(&admin, "TRUNCATE audit_log_2020_01").await, "MT405");
    admin
        .batch_execute("SET session_replication_role = replica")
        .await
        .unwrap();
    assert_eq!(
        refused(&admin, "DELETE FROM audit_log_2020_01").await,
        "MT405"
    );
    admin
        .batch_execute("RESET session_replication_role")
        .await
        .unwrap();
    let owner_privileges: bool = admin
        .query_one(
            "SELECT has_table_privilege('maturion_owner', 'audit_log_2020_01', 'UPDATE, DELETE, TRUNCATE')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!owner_privileges);

    let error = maintenance
        .execute("SELECT maturion.protect_audit_partition('users')", &[])
        .await
        .unwrap_err();
    assert!(
        format!("{error:?}").contains("not a partition of audit_log"),
        "{error}"
    );
}
