//! The harness against a real cluster.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use maturion_testing::{database_from_template, fresh_database, TestDatabase};
use tokio::task::JoinSet;
use tokio_postgres::{Client, NoTls};

/// Unique per run, so the template is really built by this test even in a
/// cluster that outlives test runs.
fn unique_fingerprint(test: &str) -> String {
    format!(
        "{test}_{}_{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

async fn table_exists(client: &Client, table: &str) -> bool {
    let row = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .await
        .unwrap();
    row.get(0)
}

/// Templates outlive the run in the shared temp-dir cluster; drop the ones tests made.
async fn drop_template(db: &TestDatabase, fingerprint: &str) {
    let admin = db.admin().await;
    let template = format!("maturion_tmpl_{fingerprint}");
    for sql in [
        format!("ALTER DATABASE {template} IS_TEMPLATE false"),
        format!("DROP DATABASE {template}"),
    ] {
        admin.batch_execute(&sql).await.unwrap();
    }
}

#[tokio::test]
async fn fresh_databases_are_distinct_and_isolated() {
    let first = fresh_database().await;
    let second = fresh_database().await;
    assert_ne!(first.name(), second.name());

    let one = first.admin().await;
    one.batch_execute("CREATE TABLE only_here (id int)")
        .await
        .unwrap();
    assert!(table_exists(&one, "only_here").await);
    assert!(!table_exists(&second.admin().await, "only_here").await);

    let current: String = one
        .query_one("SELECT current_database()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(current, first.name());
}

#[tokio::test]
async fn roles_log_in_without_password_and_url_matches_config() {
    let db = fresh_database().await;
    let role = format!("r_{}", db.name());
    db.admin()
        .await
        .batch_execute(&format!("CREATE ROLE {role} LOGIN"))
        .await
        .unwrap();

    let client = db.connect(&role).await;
    let user: String = client
        .query_one("SELECT current_user", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(user, role);
    drop(client);

    let (client, connection) = db
        .url(&role)
        .parse::<tokio_postgres::Config>()
        .unwrap()
        .connect(NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let name: String = client
        .query_one("SELECT current_database()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(name, db.name());
    drop(client);

    // Roles are cluster-wide; don't leave them behind in a long-lived cluster.
    db.admin()
        .await
        .batch_execute(&format!("DROP ROLE {role}"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn template_is_prepared_once_and_cloned() {
    let fingerprint = unique_fingerprint("once");
    let prepared = Arc::new(AtomicUsize::new(0));

    let mut tasks = JoinSet::new();
    for _ in 0..8 {
        let fingerprint = fingerprint.clone();
        let prepared = prepared.clone();
        tasks.spawn(async move {
            database_from_template(&fingerprint, async move |config| {
                prepared.fetch_add(1, Ordering::SeqCst);
                let (client, connection) = config.connect(NoTls).await?;
                tokio::spawn(connection);
                client
                    .batch_execute("CREATE TABLE seeded (n int); INSERT INTO seeded VALUES (7)")
                    .await?;
                Ok(())
            })
            .await
        });
    }
    let databases = tasks.join_all().await;
    assert_eq!(prepared.load(Ordering::SeqCst), 1);

    let mut names: Vec<&str> = databases.iter().map(TestDatabase::name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 8);
    for db in &databases {
        let n: i32 = db
            .admin()
            .await
            .query_one("SELECT n FROM seeded", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 7);
    }
    drop_template(&databases[0], &fingerprint).await;
}

#[tokio::test]
async fn a_failed_preparation_is_never_used_and_is_retried() {
    let fingerprint = unique_fingerprint("retry");

    let failed = tokio::spawn({
        let fingerprint = fingerprint.clone();
        async move {
            database_from_template(&fingerprint, async |config| {
                let (client, connection) = config.connect(NoTls).await?;
                tokio::spawn(connection);
                client
                    .batch_execute("CREATE TABLE half_done (n int)")
                    .await?;
                anyhow::bail!("migration 2 is broken")
            })
            .await
        }
    })
    .await;
    let panic = failed.unwrap_err().into_panic();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("migration 2 is broken"), "{message}");

    let db = database_from_template(&fingerprint, async |config| {
        let (client, connection) = config.connect(NoTls).await?;
        tokio::spawn(connection);
        client.batch_execute("CREATE TABLE done (n int)").await?;
        Ok(())
    })
    .await;
    let admin = db.admin().await;
    assert!(table_exists(&admin, "done").await);
    assert!(!table_exists(&admin, "half_done").await);
    drop_template(&db, &fingerprint).await;
}

#[tokio::test]
async fn uses_the_cluster_cargo_xtask_test_started_if_any() {
    let db = fresh_database().await;
    let expected = match std::env::var_os("MATURION_TEST_CLUSTER_HOME") {
        Some(home) => std::path::PathBuf::from(home),
        None => std::env::temp_dir().join("maturion-test-cluster"),
    };
    assert_eq!(db.cluster().home(), expected);
}
