//! A database with every platform migration set, tenants made the way the application
//! makes them, and the roles' connections.

use maturion_tenancy::{Database, OrganisationId};
pub use maturion_testing::Tenant;
use maturion_testing::TestDatabase;
use tokio_postgres::Client;
use uuid::Uuid;

pub async fn database() -> TestDatabase {
    maturion_testing::migrated_database().await
}

pub async fn app(db: &TestDatabase) -> Database {
    Database::new(db.config(maturion_schema::APP_ROLE), 4).unwrap()
}

/// An administrator session acting as the maintenance role (BYPASSRLS), as jobs do.
pub async fn maintenance(db: &TestDatabase) -> Client {
    let client = db.admin().await;
    client
        .batch_execute("SET ROLE maturion_maintenance")
        .await
        .unwrap();
    client
}

/// Waits until every audit row written so far is below the seal horizon. The horizon waits
/// for every transaction of this database that is still running, autovacuum's included, so
/// right after a write it can lag for a moment; a test that counts what a seal takes waits here.
pub async fn settle(maintenance: &Client) {
    for _ in 0..500 {
        let ready: bool = maintenance
            .query_one(
                "SELECT maturion.finished_transactions_horizon() > \
                        coalesce((SELECT max(transaction_id) FROM public.audit_log), 0)",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if ready {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the seal horizon did not pass the last audit row within 10 s");
}

/// Seals everything written so far (see [`settle`]).
pub async fn seal(maintenance: &Client) -> maturion_audit::SealReport {
    settle(maintenance).await;
    maturion_audit::seal(maintenance).await.unwrap()
}

/// [`seal`] in seals of about `max_rows` rows.
pub async fn seal_with(maintenance: &Client, max_rows: i32) -> maturion_audit::SealReport {
    settle(maintenance).await;
    maturion_audit::seal_with(maintenance, max_rows)
        .await
        .unwrap()
}

/// An organisation and its first user, created by the platform's function, whose tenant
/// context is from a browser: its address and user agent go into the audit rows.
pub async fn provision(db: &TestDatabase, name: &str) -> Tenant {
    maturion_testing::organisation_with_admin_from(
        &db.admin().await,
        name,
        Some("203.0.113.7".parse().unwrap()),
        Some(format!("{name}-browser/1.0 (ü «q» \\ \"x\")")),
    )
    .await
    .unwrap()
}

/// Settings and permissions written in several transactions, so that seals have something to
/// cover: `count` transactions of two rows each.
pub async fn activity(database: &Database, tenant: &Tenant, count: usize) {
    for n in 0..count {
        let tx = database.transaction(&tenant.context).await.unwrap();
        tx.execute(
            "INSERT INTO organisation_settings (organisation_id, setting_key, setting_value, created_by) \
             VALUES ($1, $2, $3, $4)",
            &[&tenant.organisation, &format!("key.n{n}.{}", Uuid::now_v7().simple()), &serde_json::json!({"n": n, "text": "naïve | s3:x\u{1}"}), &tenant.user],
        )
        .await
        .unwrap();
        tx.execute(
            "UPDATE users SET full_name = $2 WHERE id = $1",
            &[&tenant.user, &format!("User after change {n}")],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
}

pub async fn audit_rows(admin: &Client, organisation: OrganisationId) -> i64 {
    admin
        .query_one(
            "SELECT count(*) FROM audit_log WHERE organisation_id = $1",
            &[&organisation],
        )
        .await
        .unwrap()
        .get(0)
}

/// The SQLSTATE of a failed statement.
pub fn code(error: &tokio_postgres::Error) -> String {
    error
        .code()
        .map(|c| c.code().to_owned())
        .unwrap_or_else(|| error.to_string())
}
