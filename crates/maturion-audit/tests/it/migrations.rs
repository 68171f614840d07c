//! The audit migrations revert cleanly and apply again.

use maturion_migrate::Migrator;
use semver::Version;
use tokio_postgres::Client;

use crate::support;

async fn count(admin: &Client, sql: &str) -> i64 {
    admin.query_one(sql, &[]).await.unwrap().get(0)
}

const AUDIT_TRIGGERS: &str = "SELECT count(*) FROM pg_trigger WHERE tgname = 'audit_trail'";

#[tokio::test]
async fn the_audit_migrations_revert_and_apply_again() {
    let db = support::database().await;
    let mut admin = db.admin().await;
    // The platform's tables and the bundled modules' have theirs already.
    let before = count(&admin, AUDIT_TRIGGERS).await;
    admin
        .batch_execute(
            "SET ROLE maturion_owner;
             CREATE TABLE risks (id uuid PRIMARY KEY, organisation_id uuid NOT NULL REFERENCES organisations (id),
                                 UNIQUE (organisation_id, id));
             SELECT maturion.enable_tenant_isolation('risks', 'risks', audit_fields => false);
             RESET ROLE;",
        )
        .await
        .unwrap();
    assert_eq!(count(&admin, AUDIT_TRIGGERS).await, before + 1);

    let set = maturion_audit::migrations();
    let migrator = Migrator::new(&set, maturion_schema::migration_options());
    let reverted = migrator
        .down(&mut admin, &Version::new(0, 0, 0))
        .await
        .unwrap();
    assert_eq!(
        reverted.len(),
        set.migrations.len(),
        "every audit migration reverts"
    );
    assert_eq!(
        count(&admin, AUDIT_TRIGGERS).await,
        0,
        "the module table's trigger goes too"
    );
    assert_eq!(
        count(&admin, "SELECT count(*) FROM pg_attribute WHERE attrelid = 'audit_log'::regclass AND attname = 'transaction_id'").await,
        0
    );
    assert_eq!(
        count(
            &admin,
            "SELECT count(*) FROM pg_proc WHERE proname = 'enable_tenant_isolation'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &admin,
            "SELECT count(*) FROM unnest(ARRAY['maturion.audit_seals', 'maturion.audit_seal_organisations', \
             'maturion.audit_retention_log']) AS t WHERE to_regclass(t) IS NOT NULL"
        )
        .await,
        0
    );
    let owner_may_update: bool = admin
        .query_one(
            "SELECT has_table_privilege('maturion_owner', 'audit_log', 'UPDATE')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(owner_may_update, "the platform's privileges are back");

    let applied = migrator.up(&mut admin, None).await.unwrap();
    assert_eq!(applied.len(), set.migrations.len());
    assert_eq!(
        count(&admin, AUDIT_TRIGGERS).await,
        4,
        "the platform tables again (module tables re-run their own migrations)"
    );
}
