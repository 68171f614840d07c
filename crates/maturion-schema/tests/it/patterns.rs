//! The pattern helpers of 3.4.0 on tables a module might write, right or wrong: what they
//! cannot serve they refuse with the reason, and a declared graph is the one enforced.

use tokio_postgres::Client;

/// Runs `sql` as the owner, as a migration does, in a transaction rolled back afterwards;
/// the SQLSTATE and message of its failure.
async fn as_migration(admin: &Client, sql: &str) -> Result<(), (String, String)> {
    admin
        .batch_execute("BEGIN; SET LOCAL ROLE maturion_owner")
        .await
        .unwrap();
    let outcome = admin.batch_execute(sql).await;
    admin.batch_execute("ROLLBACK").await.unwrap();
    outcome.map_err(|error| {
        let database = error.as_db_error().expect("a database error");
        (
            database.code().code().to_owned(),
            format!(
                "{} {}",
                database.message(),
                database.hint().unwrap_or_default()
            ),
        )
    })
}

const VERSIONED: &str = "CREATE TABLE t (id uuid PRIMARY KEY, organisation_id uuid NOT NULL, \
    version_number integer NOT NULL DEFAULT 1, is_current_version boolean NOT NULL DEFAULT true, \
    parent_version_id uuid, deleted_at timestamptz";
const WORKFLOW: &str =
    "CREATE TABLE t (id uuid PRIMARY KEY, status text NOT NULL DEFAULT 'draft', \
    status_changed_at timestamptz, status_changed_by uuid";

#[tokio::test]
async fn the_helpers_refuse_tables_they_cannot_serve_and_say_why() {
    let db = maturion_testing::migrated_database().await;
    let admin = db.admin().await;
    for (sql, reason) in [
        (
            "CREATE TABLE t (id uuid, version_number integer NOT NULL); SELECT maturion.enable_shared_patterns('t')",
            "versioning columns but not all",
        ),
        (
            "CREATE TABLE t (id uuid, retention_until timestamptz, retention_reason text, is_legally_protected boolean, \
             deleted_at timestamptz); SELECT maturion.enable_retention('t')",
            "is_legally_protected must be NOT NULL",
        ),
        (
            &format!("{VERSIONED}); SELECT maturion.enable_versioning('t')"),
            "ADD UNIQUE (organisation_id, parent_version_id)",
        ),
        (
            "CREATE TABLE t (id uuid, version_number integer NOT NULL, is_current_version boolean NOT NULL, \
             parent_version_id text); SELECT maturion.enable_versioning('t')",
            "parent_version_id uuid",
        ),
        (
            &format!("{WORKFLOW}); SELECT maturion.enable_workflow('t')"),
            "no CHECK constraint valid_status",
        ),
        (
            &format!(
                "{WORKFLOW}, CONSTRAINT valid_status CHECK (status IN ('draft', 'approved'))); \
                 SELECT maturion.enable_workflow('t')"
            ),
            "refuses: ",
        ),
        (
            &format!(
                "{WORKFLOW}, CONSTRAINT valid_status CHECK (status IN ('draft', 'approved'))); \
                 SELECT maturion.enable_workflow('t', ARRAY['draft->approved'])"
            ),
            "'from>to' texts",
        ),
        (
            &format!(
                "{WORKFLOW}, CONSTRAINT valid_status CHECK (status IN ('draft', 'approved'))); \
                 SELECT maturion.enable_workflow('t', ARRAY['draft>approved', 'draft>approved'])"
            ),
            "a duplicate",
        ),
        (
            "CREATE TABLE t (id uuid); SELECT maturion.create_next_version('t', gen_random_uuid(), '{}')",
            "is not a versioned table",
        ),
    ] {
        let (code, message) = as_migration(&admin, sql).await.expect_err(sql);
        assert_eq!(code, "22023", "{sql}: {message}");
        assert!(message.contains(reason), "{sql}: {message}");
    }
}

#[tokio::test]
async fn a_declared_graph_replaces_the_default_and_is_enforced() {
    let db = maturion_testing::migrated_database().await;
    let admin = db.admin().await;
    let script = format!(
        "{WORKFLOW}, CONSTRAINT valid_status CHECK (status IN ('draft', 'published', 'retired')));
         SELECT maturion.enable_workflow('t');"
    );
    // The default graph names statuses this table does not have.
    assert!(as_migration(&admin, &script).await.is_err());
    let script = format!(
        "{WORKFLOW}, CONSTRAINT valid_status CHECK (status IN ('draft', 'published', 'retired')));
         SELECT maturion.enable_workflow('t', ARRAY['draft>retired']);
         SELECT maturion.enable_workflow('t', ARRAY['draft>published', 'published>retired']);"
    );
    admin
        .batch_execute("BEGIN; SET LOCAL ROLE maturion_owner")
        .await
        .unwrap();
    admin.batch_execute(&script).await.unwrap();
    let graph: Vec<String> = admin
        .query(
            "SELECT coalesce(from_status, '') || '>' || to_status FROM maturion.workflow_transitions('t')",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(graph, [">draft", "draft>published", "published>retired"]);
    admin
        .batch_execute("INSERT INTO t (id) VALUES (gen_random_uuid())")
        .await
        .unwrap();
    let refused = admin
        .batch_execute("UPDATE t SET status = 'retired'")
        .await
        .expect_err("draft > retired was replaced");
    let database = refused.as_db_error().unwrap();
    assert_eq!(database.code().code(), "MT409");
    assert_eq!(database.detail(), Some("allowed: published"));
    admin.batch_execute("ROLLBACK").await.unwrap();
}
