//! Integration tests of the migration engine against a real PostgreSQL.

use std::path::Path;

use maturion_migrate::{MigrateError, MigrationSet, MigrationState, Migrator, Options};
use semver::Version;
use tokio_postgres::Client;

fn write(dir: &Path, folder: &str, up: &str, down: Option<&str>) {
    let path = dir.join(folder);
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(path.join("up.sql"), up).unwrap();
    if let Some(down) = down {
        std::fs::write(path.join("down.sql"), down).unwrap();
    }
}

async fn tables(client: &Client) -> Vec<String> {
    client
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn module(dir: &Path) -> MigrationSet {
    MigrationSet::from_dir("risks", dir).unwrap()
}

#[tokio::test]
async fn platform_round_trip_up_down_up() {
    let db = maturion_testing::fresh_database().await;
    let mut admin = db.admin().await;
    let set = maturion_schema::platform_migrations();
    let migrator = Migrator::new(&set, maturion_schema::migration_options());

    let applied = maturion_schema::migrate_global_schema(&mut admin)
        .await
        .unwrap();
    assert_eq!(applied.len(), set.migrations.len());
    let schema_after_first_up = tables(&admin).await;
    assert!(schema_after_first_up.contains(&"organisations".to_string()));

    let reverted = migrator
        .down(&mut admin, &Version::new(0, 0, 0))
        .await
        .unwrap();
    assert_eq!(reverted.len(), set.migrations.len());
    assert!(
        tables(&admin).await.is_empty(),
        "down to 0.0.0 leaves an empty schema"
    );
    let functions: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(functions, 0, "down removes functions and extensions too");

    migrator.up(&mut admin, None).await.unwrap();
    assert_eq!(tables(&admin).await, schema_after_first_up);
    assert!(
        migrator.up(&mut admin, None).await.unwrap().is_empty(),
        "a second up applies nothing"
    );
}

#[tokio::test]
async fn the_ledger_records_each_migration() {
    let db = maturion_testing::fresh_database().await;
    let mut admin = db.admin().await;
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "1.0.0_create",
        "CREATE TABLE a (id int);",
        Some("DROP TABLE a;"),
    );
    write(
        dir.path(),
        "1.1.0_more",
        "CREATE TABLE b (id int);",
        Some("DROP TABLE b;"),
    );
    let set = module(dir.path());
    let migrator = Migrator::new(&set, Options::default());

    let applied = migrator
        .up(&mut admin, Some(&Version::new(1, 0, 0)))
        .await
        .unwrap();
    assert_eq!(applied.len(), 1);
    let status = migrator.status(&mut admin).await.unwrap();
    assert!(matches!(status[0].state, MigrationState::Applied { .. }));
    assert_eq!(status[1].state, MigrationState::Pending);

    let row = admin
        .query_one(
            "SELECT scope, version, name, checksum, applied_by, execution_ms >= 0 \
             FROM maturion_migrations.schema_migrations",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "risks");
    assert_eq!(row.get::<_, String>(1), "1.0.0");
    assert_eq!(row.get::<_, String>(2), "create");
    assert_eq!(row.get::<_, String>(3), set.migrations[0].checksum());
    assert_eq!(row.get::<_, String>(4), "postgres");
    assert!(row.get::<_, bool>(5));

    migrator.up(&mut admin, None).await.unwrap();
    assert_eq!(tables(&admin).await, ["a", "b"]);
    migrator
        .down(&mut admin, &Version::new(1, 0, 0))
        .await
        .unwrap();
    assert_eq!(tables(&admin).await, ["a"]);
}

#[tokio::test]
async fn an_edited_applied_migration_is_refused_as_drift() {
    let db = maturion_testing::fresh_database().await;
    let mut admin = db.admin().await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "1.0.0_create", "CREATE TABLE a (id int);", None);
    Migrator::new(&module(dir.path()), Options::default())
        .up(&mut admin, None)
        .await
        .unwrap();

    write(
        dir.path(),
        "1.0.0_create",
        "CREATE TABLE a (id bigint);",
        None,
    );
    write(dir.path(), "1.1.0_more", "CREATE TABLE b (id int);", None);
    let edited = module(dir.path());
    let error = Migrator::new(&edited, Options::default())
        .up(&mut admin, None)
        .await
        .unwrap_err();
    assert!(matches!(error, MigrateError::Drift { .. }), "{error}");
    assert!(error.to_string().contains("1.0.0 (create)"), "{error}");
    assert_eq!(tables(&admin).await, ["a"], "nothing applied after drift");
    let status = Migrator::new(&edited, Options::default())
        .status(&mut admin)
        .await
        .unwrap_err();
    assert!(matches!(status, MigrateError::Drift { .. }));
}

#[tokio::test]
async fn a_database_newer_than_the_migration_set_is_refused() {
    let db = maturion_testing::fresh_database().await;
    let mut admin = db.admin().await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "1.0.0_create", "CREATE TABLE a (id int);", None);
    write(dir.path(), "1.1.0_more", "CREATE TABLE b (id int);", None);
    Migrator::new(&module(dir.path()), Options::default())
        .up(&mut admin, None)
        .await
        .unwrap();
    std::fs::remove_dir_all(dir.path().join("1.1.0_more")).unwrap();
    let error = Migrator::new(&module(dir.path()), Options::default())
        .up(&mut admin, None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, MigrateError::UnknownApplied { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn a_failing_migration_leaves_nothing_behind() {
    let db = maturion_testing::fresh_database().await;
    let mut admin = db.admin().await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "1.0.0_create", "CREATE TABLE a (id int);", None);
    write(
        dir.path(),
        "1.1.0_broken",
        "CREATE TABLE b (id int);\nINSERT INTO b VALUES ('not a number');",
        None,
    );
    let set = module(dir.path());
    let error = Migrator::new(&set, Options::default())
        .up(&mut admin, None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, MigrateError::Failed { ref version, .. } if *version == Version::new(1, 1, 0)),
        "{error}"
    );
    assert_eq!(tables(&admin).await, ["a"], "1.0.0 stays, nothing of 1.1.0");
    let recorded: i64 = admin
        .query_one(
            "SELECT count(*) FROM maturion_migrations.schema_migrations",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(recorded, 1);
    // The connection is usable again and the lock was released: a fixed file applies.
    write(dir.path(), "1.1.0_broken", "CREATE TABLE b (id int);", None);
    Migrator::new(&module(dir.path()), Options::default())
        .up(&mut admin, None)
        .await
        .unwrap();
    assert_eq!(tables(&admin).await, ["a", "b"]);
}

#[tokio::test]
async fn destructive_minor_migrations_are_refused_before_anything_runs() {
    let db = maturion_testing::fresh_database().await;
    let mut admin = db.admin().await;
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "1.0.0_create",
        "CREATE TABLE a (id int, note text);",
        None,
    );
    write(dir.path(), "1.1.0_add", "CREATE TABLE b (id int);", None);
    write(
        dir.path(),
        "1.2.0_drop",
        "ALTER TABLE a DROP COLUMN note;",
        None,
    );
    let error = Migrator::new(&module(dir.path()), Options::default())
        .up(&mut admin, None)
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, MigrateError::Lint { .. }), "{text}");
    assert!(
        text.contains("1.2.0_drop/up.sql:1: ban-drop-column"),
        "{text}"
    );
    assert!(
        tables(&admin).await.is_empty(),
        "lint runs before the first pending migration"
    );

    // The same change as a declared MAJOR version is allowed.
    std::fs::remove_dir_all(dir.path().join("1.2.0_drop")).unwrap();
    write(
        dir.path(),
        "2.0.0_drop",
        "-- maturion:destructive\nALTER TABLE a DROP COLUMN note;",
        None,
    );
    Migrator::new(&module(dir.path()), Options::default())
        .up(&mut admin, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn concurrent_migrators_serialise() {
    let db = maturion_testing::fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    // Slow enough that the runs overlap if the lock did not serialise them.
    write(
        dir.path(),
        "1.0.0_slow",
        "SELECT pg_sleep(0.3); CREATE TABLE a (id int);",
        None,
    );
    write(dir.path(), "1.1.0_next", "CREATE TABLE b (id int);", None);
    let set = module(dir.path());
    let mut runs = Vec::new();
    for _ in 0..4 {
        let mut client = db.admin().await;
        let set = set.clone();
        runs.push(tokio::spawn(async move {
            Migrator::new(&set, Options::default())
                .up(&mut client, None)
                .await
                .map(|a| a.len())
        }));
    }
    let mut applied_counts = Vec::new();
    for run in runs {
        applied_counts.push(run.await.unwrap().expect("no migrator fails"));
    }
    applied_counts.sort();
    assert_eq!(
        applied_counts,
        [0, 0, 0, 2],
        "exactly one migrator applies everything"
    );
}

#[tokio::test]
async fn no_transaction_migrations_run_concurrent_index_builds() {
    let db = maturion_testing::fresh_database().await;
    let mut admin = db.admin().await;
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "1.0.0_create",
        "CREATE TABLE a (id int, v int);",
        None,
    );
    write(
        dir.path(),
        "1.1.0_index",
        "-- maturion:no-transaction\nCREATE INDEX CONCURRENTLY idx_a_v ON a (v);\nCREATE INDEX CONCURRENTLY idx_a_id ON a (id);",
        Some("-- maturion:no-transaction\nDROP INDEX CONCURRENTLY idx_a_v;\nDROP INDEX CONCURRENTLY idx_a_id;"),
    );
    let set = module(dir.path());
    let migrator = Migrator::new(&set, Options::default());
    migrator.up(&mut admin, None).await.unwrap();
    let indexes = async |admin: &Client| -> i64 {
        admin
            .query_one("SELECT count(*) FROM pg_indexes WHERE tablename = 'a' AND indexname LIKE 'idx_a_%'", &[])
            .await
            .unwrap()
            .get(0)
    };
    assert_eq!(indexes(&admin).await, 2);
    // The down script declares it too, and reverts statement by statement.
    let reverted = migrator
        .down(&mut admin, &Version::new(1, 0, 0))
        .await
        .unwrap();
    assert_eq!(reverted.len(), 1);
    assert_eq!(indexes(&admin).await, 0);
}

#[tokio::test]
async fn migrations_run_as_the_owner_role() {
    let db = maturion_testing::fresh_database().await;
    let mut admin = db.admin().await;
    maturion_schema::bootstrap_roles(&admin).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "1.0.0_create",
        "CREATE TABLE owned (id int);",
        None,
    );
    Migrator::new(&module(dir.path()), maturion_schema::migration_options())
        .up(&mut admin, None)
        .await
        .unwrap();
    let owner: String = admin
        .query_one(
            "SELECT relowner::regrole::text FROM pg_class WHERE relname = 'owned'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(owner, "maturion_owner");
    let current: String = admin
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(current, "postgres", "the role is reset after the migration");
}

#[tokio::test]
async fn reverting_without_a_down_script_is_refused() {
    let db = maturion_testing::fresh_database().await;
    let mut admin = db.admin().await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "1.0.0_create", "CREATE TABLE a (id int);", None);
    let set = module(dir.path());
    Migrator::new(&set, Options::default())
        .up(&mut admin, None)
        .await
        .unwrap();
    let error = Migrator::new(&set, Options::default())
        .down(&mut admin, &Version::new(0, 0, 0))
        .await
        .unwrap_err();
    assert!(
        matches!(error, MigrateError::NoDownScript { .. }),
        "{error}"
    );
    assert_eq!(tables(&admin).await, ["a"]);
}

/// What a module's migration creates is labelled with its module (the audit trail's
/// `enable_tenant_isolation(table)` reads it), in a transaction or statement by statement.
#[tokio::test]
async fn migrations_see_their_module() {
    let db = maturion_testing::fresh_database().await;
    let mut admin = db.admin().await;
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "1.0.0_in_transaction",
        "CREATE TABLE seen AS SELECT current_setting('maturion.migration_scope') AS scope;
         -- Declared immutable so that an index build evaluates it: it fails the build
         -- unless it runs in the module's scope.
         CREATE FUNCTION in_scope(scope text) RETURNS text IMMUTABLE LANGUAGE plpgsql AS $$
         BEGIN
           IF current_setting('maturion.migration_scope', true) IS DISTINCT FROM scope THEN
             RAISE 'not in scope %', scope;
           END IF;
           RETURN scope;
         END $$;",
        None,
    );
    write(
        dir.path(),
        "1.1.0_statement_by_statement",
        "-- maturion:no-transaction\nCREATE INDEX CONCURRENTLY seen_in_scope ON seen (in_scope(scope));",
        None,
    );
    let options = Options {
        module: Some("risks".into()),
        ..Options::default()
    };
    Migrator::new(&module(dir.path()), options)
        .up(&mut admin, None)
        .await
        .unwrap();
    let seen: Vec<String> = admin
        .query("SELECT scope FROM seen", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(seen, ["risks"], "in a transaction");
    let indexed: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'seen_in_scope'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        indexed, 1,
        "statement by statement, the index build saw the scope"
    );
    let after: Option<String> = admin
        .query_one(
            "SELECT current_setting('maturion.migration_scope', true)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        after.unwrap_or_default().is_empty(),
        "the scope does not outlive the migration on the connection"
    );
}
