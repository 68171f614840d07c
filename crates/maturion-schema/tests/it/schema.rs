//! Shape of the global schema: ids, comments, roles, the lint on our own migrations.

use uuid::Uuid;

#[tokio::test]
async fn generated_ids_are_uuidv7_in_time_order() {
    let db = maturion_testing::migrated_database().await;
    let admin = db.admin().await;
    let ids: Vec<Uuid> = admin
        .query(
            "SELECT generate_uuidv7() FROM generate_series(1, 1000)",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(ids.iter().all(|id| id.get_version_num() == 7));
    assert!(ids
        .iter()
        .all(|id| id.get_variant() == uuid::Variant::RFC4122));
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids made one after another must sort in that order"
    );
    let (seconds, _) = ids[0].get_timestamp().unwrap().to_unix();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        now.abs_diff(seconds) < 60,
        "the id carries the current time"
    );
}

#[tokio::test]
async fn every_table_and_column_has_a_comment() {
    let db = maturion_testing::migrated_database().await;
    let admin = db.admin().await;
    let missing: Vec<String> = admin
        .query(
            "SELECT c.relname || coalesce('.' || a.attname, '') \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
             WHERE n.nspname IN ('public', 'maturion', 'maturion_migrations') AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
               AND ((a.attname IS NULL AND obj_description(c.oid, 'pg_class') IS NULL) \
                 OR (a.attname IS NOT NULL AND col_description(c.oid, a.attnum) IS NULL) \
                 OR obj_description(c.oid, 'pg_class') IS NULL) \
             ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(missing.is_empty(), "without COMMENT ON: {missing:?}");
}

#[tokio::test]
async fn the_app_role_is_powerless_outside_rls() {
    let db = maturion_testing::migrated_database().await;
    let admin = db.admin().await;
    let row = admin
        .query_one(
            "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolcanlogin FROM pg_roles WHERE rolname = 'maturion_app'",
            &[],
        )
        .await
        .unwrap();
    let flags: (bool, bool, bool, bool, bool) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    assert_eq!(flags, (false, false, false, false, true));
    let owned: i64 = admin
        .query_one(
            "SELECT (SELECT count(*) FROM pg_class WHERE relowner = 'maturion_app'::regrole) \
                  + (SELECT count(*) FROM pg_proc WHERE proowner = 'maturion_app'::regrole) \
                  + (SELECT count(*) FROM pg_namespace WHERE nspowner = 'maturion_app'::regrole)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(owned, 0);
    let app = db.connect(maturion_schema::APP_ROLE).await;
    for sql in [
        "CREATE TABLE public.sneaky (id int)",
        "CREATE SCHEMA sneaky",
        "CREATE TEMP TABLE sneaky (id int)",
    ] {
        let error = app.batch_execute(sql).await.expect_err(sql);
        assert_eq!(error.code().unwrap().code(), "42501", "{sql}: {error}");
    }
    // Everything the platform created is owned by the owner role.
    let foreign_owned: Vec<String> = admin
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname IN ('public', 'maturion') AND c.relowner <> 'maturion_owner'::regrole",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        foreign_owned.is_empty(),
        "not owned by maturion_owner: {foreign_owned:?}"
    );
}

#[test]
fn our_own_migrations_pass_the_zero_regression_lint() {
    for m in maturion_schema::platform_migrations().migrations {
        let findings =
            maturion_lint::lint_as(&m.up, m.kind(), maturion_lint::Scope::Platform).unwrap();
        assert!(
            findings.is_empty(),
            "{} fails the lint: {:?}",
            m.folder_name(),
            findings
                .iter()
                .map(|f| f.render(std::path::Path::new("up.sql")))
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn the_embedded_migrations_are_laid_out_correctly() {
    let set = maturion_schema::platform_migrations();
    assert_eq!(set.migrations[0].version, semver::Version::new(1, 0, 0));
    assert!(
        set.migrations.iter().all(|m| m.down.is_some()),
        "every platform migration can be reverted"
    );
}
