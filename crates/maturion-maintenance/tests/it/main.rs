//! Integration tests of the maintenance job against a real PostgreSQL: partitions ahead,
//! moves out of the default partition, privileges, pruning, retention, rollups, compression.

mod compression;
mod holds;
mod migration;
mod partitions;
mod quarantine;
mod retention;
mod rollups;

use chrono::{DateTime, Utc};
use maturion_maintenance::{Log, Month};
use maturion_migrate::Migrator;
use maturion_tenancy::Database;
pub use maturion_testing::Tenant;
use maturion_testing::TestDatabase;
use tokio_postgres::{Client, NoTls};

/// A database with the platform and the maintenance migrations applied.
pub async fn database() -> TestDatabase {
    let platform = maturion_schema::platform_migrations().fingerprint();
    let maintenance = maturion_maintenance::migrations().fingerprint();
    let fingerprint = format!("maint_{}_{}", &platform[..12], &maintenance[..12]);
    let db = maturion_testing::database_from_template(
        &fingerprint,
        async |config: tokio_postgres::Config| {
            let (mut client, connection) = config.connect(NoTls).await?;
            tokio::spawn(connection);
            maturion_schema::migrate_global_schema(&mut client).await?;
            apply_maintenance_migrations(&mut client).await?;
            Ok(())
        },
    )
    .await;
    // A database's own grants are not copied from its template.
    maturion_schema::bootstrap_roles(&db.admin().await)
        .await
        .expect("database grants apply");
    db
}

pub async fn apply_maintenance_migrations(client: &mut Client) -> anyhow::Result<()> {
    let set = maturion_maintenance::migrations();
    Migrator::new(&set, maturion_schema::migration_options())
        .up(client, None)
        .await?;
    Ok(())
}

/// An organisation and its first user.
pub async fn organisation(db: &TestDatabase, name: &str) -> Tenant {
    maturion_testing::organisation_with_admin(&app_database(db), name)
        .await
        .unwrap()
}

pub fn app_database(db: &TestDatabase) -> Database {
    Database::new(db.config(maturion_schema::APP_ROLE), 2).unwrap()
}

/// `count` audit rows for `tenant` at `at` (an SQL expression of n = 1..count), as the superuser.
pub async fn insert_audit(admin: &Client, tenant: &Tenant, count: i32, at: &str) {
    admin
        .execute(
            &format!(
                "INSERT INTO audit_log (organisation_id, user_id, \"timestamp\", module, entity_type, entity_id, action, changes) \
                 SELECT $1, $2, {at}, (ARRAY['risks', 'policies'])[n % 2 + 1], 'thing', gen_random_uuid(), \
                        (ARRAY['created', 'updated', 'deleted'])[n % 3 + 1], jsonb_build_object('n', n) \
                 FROM generate_series(1, $3) AS n"
            ),
            &[&tenant.organisation, &tenant.user, &count],
        )
        .await
        .unwrap();
}

/// `count` event rows for `tenant` at `at` (an SQL expression of n = 1..count), as the superuser.
pub async fn insert_events(admin: &Client, tenant: &Tenant, count: i32, at: &str) {
    admin
        .execute(
            &format!(
                "INSERT INTO event_log (organisation_id, \"timestamp\", event_type, source_module, payload) \
                 SELECT $1, {at}, (ARRAY['risk.created', 'risk.updated', 'policy.approved'])[n % 3 + 1], 'risks', \
                        jsonb_build_object('n', n) \
                 FROM generate_series(1, $2) AS n"
            ),
            &[&tenant.organisation, &count],
        )
        .await
        .unwrap();
}

pub async fn now(admin: &Client) -> DateTime<Utc> {
    admin.query_one("SELECT now()", &[]).await.unwrap().get(0)
}

pub async fn exists(admin: &Client, table: &str) -> bool {
    admin
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .await
        .unwrap()
        .get(0)
}

/// Rows of `log` per partition, as the superuser.
pub async fn rows_in(admin: &Client, table: &str) -> i64 {
    admin
        .query_one(&format!("SELECT count(*) FROM ONLY {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

pub fn partition(log: Log, month: Month) -> String {
    month.partition_name(log)
}
