//! The rules about what can hurt every tenant at once: platform triggers switched, log
//! partitions unguarded, privileges and functions beyond the platform's, stored settings,
//! other databases, and a database without the platform at all. Each bad state is made by an
//! administrator in a database of the test's own; cases come from the catalog, so a new
//! trigger, table or function is tried without this file changing.

use maturion_check::CheckOptions;
use maturion_testing::{fresh_database, migrated_database};
use tokio_postgres::Client;

use super::{findings, findings_for, migrated, report, TestRole};

async fn execute(admin: &Client, sql: &str) {
    admin
        .batch_execute(sql)
        .await
        .unwrap_or_else(|error| panic!("{sql}\nfailed: {error:?}"));
}

/// Rows of one text column.
async fn texts(admin: &Client, sql: &str) -> Vec<String> {
    admin
        .query(sql, &[])
        .await
        .unwrap_or_else(|error| panic!("{sql}\nfailed: {error:?}"))
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn every_platform_trigger_switched_from_its_firing_is_reported() {
    let (_database, admin) = migrated().await;
    let triggers = admin
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname), t.tgname::text, t.tgenabled::text
             FROM pg_trigger t
             JOIN pg_class c ON c.oid = t.tgrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_proc p ON p.oid = t.tgfoid
             WHERE NOT t.tgisinternal AND p.pronamespace = 'maturion'::regnamespace
             ORDER BY 1, 2",
            &[],
        )
        .await
        .unwrap();
    assert!(triggers.len() >= 20, "{} platform triggers", triggers.len());
    for trigger in triggers {
        let (table, name, firing): (String, String, String) =
            (trigger.get(0), trigger.get(1), trigger.get(2));
        let restore = if firing == "A" {
            "ENABLE ALWAYS"
        } else {
            "ENABLE"
        };
        let wrong = ["DISABLE", "ENABLE REPLICA", "ENABLE ALWAYS", "ENABLE"]
            .into_iter()
            .filter(|switch| *switch != restore);
        for switch in wrong {
            execute(
                &admin,
                &format!("ALTER TABLE {table} {switch} TRIGGER \"{name}\""),
            )
            .await;
            let found = findings(&admin).await;
            execute(
                &admin,
                &format!("ALTER TABLE {table} {restore} TRIGGER \"{name}\""),
            )
            .await;
            let expected = format!("platform-trigger-firing: {table}.trigger {name}");
            // A disabled audit trail is also a missing one, and a partitioned table passes
            // the switch on to its partitions' clones of the trigger.
            let audit = format!("missing-audit-trigger: {table}");
            let clone = format!(".trigger {name}");
            let others: Vec<&String> = found
                .iter()
                .filter(|finding| {
                    **finding != audit
                        && !(finding.starts_with("platform-trigger-firing: ")
                            && finding.ends_with(&clone))
                })
                .collect();
            assert!(
                found.contains(&expected) && others.is_empty(),
                "{switch} {table}.{name}: {found:?}"
            );
        }
    }
    assert_eq!(findings(&admin).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_log_partition_without_its_append_only_guards_is_reported() {
    let (_database, admin) = migrated().await;
    execute(
        &admin,
        "SET ROLE maturion_owner;
         CREATE TABLE public.audit_log_2099_01 PARTITION OF public.audit_log
           FOR VALUES FROM ('2099-01-01') TO ('2099-02-01');
         DROP TRIGGER audit_log_no_truncate ON public.audit_log_default;
         RESET ROLE",
    )
    .await;
    let report = report(&admin, &CheckOptions::default()).await;
    let found: Vec<String> = report
        .violations
        .iter()
        .map(|v| format!("{}: {}", v.rule, v.object))
        .collect();
    assert_eq!(
        found,
        [
            "log-partition-unguarded: public.audit_log_2099_01",
            "log-partition-unguarded: public.audit_log_default"
        ]
    );
    assert!(
        report.violations[0]
            .message
            .ends_with("SELECT maturion.protect_audit_partition('public.audit_log_2099_01')"),
        "{}",
        report.violations[0].message
    );
    execute(
        &admin,
        "SET ROLE maturion_owner;
         SELECT maturion.protect_audit_partition('public.audit_log_2099_01');
         SELECT maturion.protect_audit_partition('public.audit_log_default');
         RESET ROLE",
    )
    .await;
    assert_eq!(findings(&admin).await, Vec::<String>::new());
}

#[tokio::test]
async fn privileges_beyond_the_platforms_on_any_table_are_reported_for_every_grantee() {
    let (_database, admin) = migrated().await;
    let tables = texts(
        &admin,
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('public', 'maturion')
           AND NOT c.relispartition
           AND coalesce(obj_description(c.oid, 'pg_class'), '') NOT LIKE '@internal%'
         ORDER BY 1",
    )
    .await;
    assert!(tables.len() >= 8, "{tables:?}");
    let grants = [
        ("maturion_app", "DELETE"),
        ("maturion_app", "TRUNCATE"),
        ("maturion_app", "REFERENCES"),
        ("maturion_app", "TRIGGER"),
        ("maturion_readonly", "INSERT"),
        ("maturion_readonly", "UPDATE"),
        ("maturion_readonly", "DELETE"),
        ("PUBLIC", "TRUNCATE"),
    ];
    for table in &tables {
        for (grantee, privilege) in grants {
            execute(
                &admin,
                &format!("GRANT {privilege} ON {table} TO {grantee}"),
            )
            .await;
            let found = findings(&admin).await;
            execute(
                &admin,
                &format!("REVOKE {privilege} ON {table} FROM {grantee}"),
            )
            .await;
            let expected = format!("runtime-role-excess-privilege: {table}");
            // A rollup the application may write is its own finding too.
            let writable_rollup = format!("writable-rollup: {table}");
            assert!(
                found.contains(&expected)
                    && found
                        .iter()
                        .all(|finding| *finding == expected || *finding == writable_rollup),
                "{privilege} to {grantee} on {table}: {found:?}"
            );
        }
    }
}

#[tokio::test]
async fn every_function_the_runtime_roles_may_call_must_be_declared_callable() {
    let (_database, admin) = migrated().await;
    // Every function of the platform's schemas either role may not call yet (trigger
    // functions cannot be called, extension members are not the platform's).
    let functions = admin
        .query(
            "SELECT p.oid::regprocedure::text, format('%I.%I(%s)', n.nspname, p.proname, oidvectortypes(p.proargtypes)), r.role
             FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace
             CROSS JOIN (VALUES ('maturion_app'), ('maturion_readonly')) AS r(role)
             WHERE n.nspname IN ('maturion', 'public')
               AND p.prorettype <> 'trigger'::regtype
               AND NOT has_function_privilege(r.role, p.oid, 'EXECUTE')
               AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                                 AND d.objid = p.oid AND d.deptype = 'e')
             ORDER BY 2, 3",
            &[],
        )
        .await
        .unwrap();
    assert!(functions.len() >= 30, "{} functions", functions.len());
    for function in functions {
        let (regprocedure, signature, role): (String, String, String) =
            (function.get(0), function.get(1), function.get(2));
        execute(
            &admin,
            &format!("GRANT EXECUTE ON ROUTINE {regprocedure} TO {role}"),
        )
        .await;
        let found = findings(&admin).await;
        execute(
            &admin,
            &format!("REVOKE EXECUTE ON ROUTINE {regprocedure} FROM {role}"),
        )
        .await;
        assert_eq!(
            found,
            [format!(
                "runtime-role-undeclared-function: function {signature}"
            )],
            "{signature} granted to {role}"
        );
    }
}

#[tokio::test]
async fn a_module_function_left_executable_by_public_is_reported_until_declared() {
    let (_database, admin) = migrated().await;
    execute(
        &admin,
        "SET ROLE maturion_owner;
         CREATE FUNCTION public.risk_score(likelihood int, impact int) RETURNS int
           LANGUAGE sql IMMUTABLE AS 'SELECT likelihood * impact';
         RESET ROLE",
    )
    .await;
    assert_eq!(
        findings(&admin).await,
        [
            "runtime-role-undeclared-function: function public.risk_score(integer, integer)",
            "runtime-role-undeclared-function: function public.risk_score(integer, integer)",
        ]
    );
    execute(
        &admin,
        "COMMENT ON FUNCTION public.risk_score(int, int) IS 'Likelihood times impact. @app-callable';
         REVOKE EXECUTE ON FUNCTION public.risk_score(int, int) FROM PUBLIC;
         GRANT EXECUTE ON FUNCTION public.risk_score(int, int) TO maturion_app",
    )
    .await;
    assert_eq!(findings(&admin).await, Vec::<String>::new());
}

#[tokio::test]
async fn stored_settings_of_the_runtime_roles_and_the_database_are_reported() {
    let (database, admin) = migrated().await;
    let db = database.name();
    // IN DATABASE: the roles are shared by every test database of the cluster.
    let settings = [
        ("maturion_app", "row_security = off", "row_security=off"),
        (
            "maturion_app",
            "statement_timeout = 1",
            "statement_timeout=1",
        ),
        ("maturion_app", "search_path = ''", "search_path=\"\""),
        (
            "maturion_readonly",
            "default_transaction_read_only = off",
            "default_transaction_read_only=off",
        ),
    ];
    for (role, setting, _) in settings {
        execute(
            &admin,
            &format!("ALTER ROLE {role} IN DATABASE {db} SET {setting}"),
        )
        .await;
    }
    execute(
        &admin,
        &format!("ALTER DATABASE {db} SET synchronous_commit = off"),
    )
    .await;
    let report = report(&admin, &CheckOptions::default()).await;
    execute(
        &admin,
        &format!(
            "ALTER ROLE maturion_app IN DATABASE {db} RESET ALL;
             ALTER ROLE maturion_readonly IN DATABASE {db} RESET ALL;
             ALTER DATABASE {db} RESET ALL"
        ),
    )
    .await;
    let mut expected = vec![(
        "database-setting".to_owned(),
        format!("database {db}"),
        "synchronous_commit=off".to_owned(),
    )];
    for (role, _, stored) in settings {
        expected.push((
            "runtime-role-setting".to_owned(),
            format!("role {role}"),
            stored.to_owned(),
        ));
    }
    assert_eq!(
        report.violations.len(),
        expected.len(),
        "{}",
        report.render_human()
    );
    for (rule, object, setting) in expected {
        assert!(
            report
                .violations
                .iter()
                .any(|v| v.rule == rule && v.object == object && v.message.contains(&setting)),
            "{rule}: {object} naming {setting}\n{}",
            report.render_human()
        );
    }
    assert_eq!(findings(&admin).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_database_without_the_platform_schema_fails() {
    let database = fresh_database().await;
    let admin = database.admin().await;
    let empty = report(&admin, &CheckOptions::default()).await;
    execute(&admin, "CREATE TABLE public.notes (id uuid PRIMARY KEY)").await;
    let one_table = report(&admin, &CheckOptions::default()).await;
    for (report, tables) in [(empty, 0), (one_table, 1)] {
        assert!(!report.is_clean());
        let object = format!("database {}", database.name());
        let finding = report
            .violations
            .iter()
            .find(|v| v.rule == "no-platform-schema")
            .unwrap_or_else(|| panic!("{}", report.render_human()));
        assert_eq!(finding.object, object);
        assert!(finding
            .message
            .contains(&format!("the {tables} table(s) checked prove nothing")));
    }
    // A migrated database has it.
    let migrated = migrated_database().await.admin().await;
    assert!(!findings(&migrated)
        .await
        .iter()
        .any(|f| f.starts_with("no-platform-schema")));
}

#[tokio::test]
async fn system_functions_past_every_tenant_are_reported_per_class_and_role() {
    let (_database, admin) = migrated().await;
    // Function privileges belong to this database alone.
    execute(
        &admin,
        "GRANT EXECUTE ON FUNCTION pg_catalog.lo_from_bytea(oid, bytea) TO PUBLIC;
         GRANT EXECUTE ON FUNCTION pg_catalog.pg_try_advisory_xact_lock(bigint) TO maturion_app;
         GRANT EXECUTE ON FUNCTION pg_catalog.pg_terminate_backend(integer, bigint) TO maturion_readonly",
    )
    .await;
    assert_eq!(
        findings(&admin).await,
        [
            "runtime-role-advisory-locks: role maturion_app",
            "runtime-role-large-objects: role maturion_app",
            "runtime-role-large-objects: role maturion_readonly",
            "runtime-role-signals-backends: role maturion_readonly",
        ]
    );
}

#[tokio::test]
async fn temporary_tables_large_objects_and_other_databases_of_a_runtime_role_are_reported() {
    let (database, admin) = migrated().await;
    // A role of this test stands in for the read-only role: database grants are cluster-wide.
    let role = TestRole::create(&admin, &database, "LOGIN").await;
    let db = database.name();
    let options = CheckOptions {
        readonly_role: role.name.clone(),
        ..CheckOptions::default()
    };
    let large_object: u32 = admin
        .query_one("SELECT lo_from_bytea(0, 'kept by a tenant')", &[])
        .await
        .unwrap()
        .get(0);
    execute(
        &admin,
        &format!(
            "GRANT TEMPORARY ON DATABASE {db} TO {0};
             GRANT CONNECT, TEMPORARY ON DATABASE postgres TO {0};
             GRANT CONNECT ON DATABASE template1 TO {0};
             ALTER LARGE OBJECT {large_object} OWNER TO {0}",
            role.name
        ),
    )
    .await;
    let found = findings_for(&admin, &options).await;
    execute(
        &admin,
        &format!(
            "REVOKE CONNECT, TEMPORARY ON DATABASE postgres FROM {0};
             REVOKE CONNECT ON DATABASE template1 FROM {0};
             REVOKE TEMPORARY ON DATABASE {db} FROM {0};
             SELECT lo_unlink({large_object})",
            role.name
        ),
    )
    .await;
    role.drop(&admin).await;
    let mut expected = vec![
        format!("runtime-role-temp-tables: database {db}"),
        "runtime-role-other-database: database postgres".to_owned(),
        "runtime-role-other-database: database template1".to_owned(),
        format!("app-role-owns-objects: large object {large_object}"),
    ];
    expected.sort();
    let mut found = found;
    found.sort();
    assert_eq!(found, expected);
}

#[tokio::test]
async fn a_partition_the_read_only_role_can_reach_is_reported() {
    let (_database, admin) = migrated().await;
    execute(
        &admin,
        "GRANT SELECT ON public.event_log_default TO maturion_readonly",
    )
    .await;
    let report = report(&admin, &CheckOptions::default()).await;
    let found: Vec<_> = report
        .violations
        .iter()
        .map(|v| (v.rule, v.object.as_str()))
        .collect();
    assert_eq!(
        found,
        [("partition-directly-accessible", "public.event_log_default")]
    );
    assert!(report.violations[0]
        .message
        .starts_with("maturion_readonly holds SELECT on this partition of public.event_log"));
}
