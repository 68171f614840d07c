//! The reference module against a real PostgreSQL, as the application role: the shared
//! patterns of the platform on its table, and the module as a whole under `maturion check`,
//! the lint and the attack tests.

mod module;
mod retention;
mod search;
mod tenancy_errors;
mod versioning;
mod workflow;

use maturion_testing::{organisation_with_admin, Tenant, TestDatabase};
use tokio_postgres::Client;
use uuid::Uuid;

/// A session of the application role in an open transaction bound with `tenant`'s token.
async fn bound(db: &TestDatabase, tenant: &Tenant) -> Client {
    let client = db.connect(maturion_schema::APP_ROLE).await;
    client.batch_execute("BEGIN").await.unwrap();
    client
        .query_one(
            "SELECT * FROM maturion.bind_tenant($1)",
            &[&tenant.token.expose()],
        )
        .await
        .unwrap();
    client
}

async fn tenant(db: &TestDatabase, name: &str) -> Tenant {
    organisation_with_admin(&db.admin().await, name)
        .await
        .unwrap()
}

/// A new policy (its first version) of the bound organisation.
async fn new_policy(
    session: &Client,
    tenant: &Tenant,
    title: &str,
    content: &str,
    language: &str,
) -> Uuid {
    session
        .query_one(
            "INSERT INTO policies (organisation_id, title, content, language) VALUES ($1, $2, $3, $4) RETURNING id",
            &[&tenant.organisation.as_uuid(), &title, &content, &language],
        )
        .await
        .unwrap()
        .get(0)
}

/// The SQLSTATE and the message, detail and hint of a refusal; panics on success.
fn refusal<T: std::fmt::Debug>(outcome: Result<T, tokio_postgres::Error>) -> (String, String) {
    let error = outcome.expect_err("refused");
    let database = error
        .as_db_error()
        .unwrap_or_else(|| panic!("not a database error: {error:?}"));
    let text = format!(
        "{} {} {}",
        database.message(),
        database.detail().unwrap_or_default(),
        database.hint().unwrap_or_default()
    );
    (database.code().code().to_owned(), text)
}

/// Runs `sql` in a savepoint, so that a refusal leaves the transaction usable.
async fn attempt(
    session: &Client,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<u64, tokio_postgres::Error> {
    session.batch_execute("SAVEPOINT attempt").await.unwrap();
    let outcome = session.execute(sql, params).await;
    session
        .batch_execute(match outcome {
            Ok(_) => "RELEASE SAVEPOINT attempt",
            Err(_) => "ROLLBACK TO SAVEPOINT attempt",
        })
        .await
        .unwrap();
    outcome
}
