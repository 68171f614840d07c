//! Attacks by the runtime roles on every tenant at once, as `maturion_app` and
//! `maturion_readonly` with SQL of the attacker's choosing: large objects, other sessions,
//! the platform's advisory locks, temporary tables, initdb's databases, settings stored for
//! the role itself, and a transaction held open with a lock. What privileges can refuse is
//! refused; what they cannot (stored settings, held transactions) `maturion check` reports
//! and the periodic job undoes.

use std::time::Duration;

use maturion_check::{check, CheckOptions};
use maturion_maintenance::Policy;
use maturion_platform::{maintain, remove_runtime_role_settings, RuntimeGuard};
use maturion_testing::{migrated_database, TestDatabase};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

const RUNTIME_ROLES: [&str; 2] = ["maturion_app", "maturion_readonly"];

/// Runs `sql` as the attacker and expects PostgreSQL to refuse it for want of a privilege.
async fn refused(attacker: &Client, role: &str, sql: &str) {
    match attacker.batch_execute(sql).await {
        Ok(()) => panic!("{role} was allowed: {sql}"),
        Err(error) => assert_eq!(
            error.code(),
            Some(&SqlState::INSUFFICIENT_PRIVILEGE),
            "{role}: {sql}: {error:?}"
        ),
    }
}

async fn texts(client: &Client, sql: &str) -> Vec<String> {
    client
        .query(sql, &[])
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error:?}"))
        .iter()
        .map(|row| row.get(0))
        .collect()
}

async fn findings(database: &TestDatabase) -> Vec<String> {
    let report = check(&database.admin().await, &CheckOptions::default())
        .await
        .expect("check runs");
    report
        .violations
        .iter()
        .map(|violation| format!("{}: {}", violation.rule, violation.object))
        .collect()
}

#[tokio::test]
async fn large_objects_are_out_of_reach_even_those_a_tenant_left_behind() {
    let database = migrated_database().await;
    let admin = database.admin().await;
    // One stored before the hardening, by a session of the application role.
    let secret: u32 = admin
        .query_one("SELECT lo_from_bytea(0, 'organisation B''s secret')", &[])
        .await
        .unwrap()
        .get(0);
    admin
        .batch_execute(&format!(
            "ALTER LARGE OBJECT {secret} OWNER TO maturion_app"
        ))
        .await
        .unwrap();
    for role in RUNTIME_ROLES {
        let attacker = database.connect(role).await;
        for sql in [
            "SELECT lo_create(0)".to_owned(),
            "SELECT lo_creat(-1)".to_owned(),
            "SELECT lo_from_bytea(0, 'exfiltrated')".to_owned(),
            "SELECT lo_import('/etc/passwd')".to_owned(),
            format!("SELECT lo_get({secret})"),
            format!("SELECT loread(lo_open({secret}, 262144), 100)"),
            format!("SELECT lo_put({secret}, 0, 'overwritten')"),
            format!("SELECT lo_unlink({secret})"),
        ] {
            refused(&attacker, role, &sql).await;
        }
    }
}

#[tokio::test]
async fn no_system_function_past_every_tenant_is_executable_by_a_runtime_role() {
    let database = migrated_database().await;
    for role in RUNTIME_ROLES {
        let attacker = database.connect(role).await;
        // Walks the catalog, so overloads and functions of later PostgreSQL versions count.
        let reachable = texts(
            &attacker,
            "SELECT p.oid::regprocedure::text FROM pg_proc p
             WHERE p.pronamespace = 'pg_catalog'::regnamespace
               AND (p.proname ~ '^(lo_|loread$|lowrite$)' OR p.proname ~ 'advisory.*lock'
                    OR p.proname ~ '^pg_(terminate|cancel)_backend$')
               AND p.proname !~ 'unlock'
               AND has_function_privilege(current_user, p.oid, 'EXECUTE')",
        )
        .await;
        assert_eq!(reachable, Vec::<String>::new(), "{role}");
    }
}

#[tokio::test]
async fn every_function_a_runtime_role_may_execute_is_declared_callable_by_it() {
    let database = migrated_database().await;
    for (role, marker) in [
        ("maturion_app", "@app-callable"),
        ("maturion_readonly", "@readonly-callable"),
    ] {
        let attacker = database.connect(role).await;
        let callable = attacker
            .query(
                "SELECT p.oid::regprocedure::text, coalesce(obj_description(p.oid, 'pg_proc'), '')
                 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
                   AND p.prorettype <> 'trigger'::regtype
                   AND has_function_privilege(current_user, p.oid, 'EXECUTE')
                   AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                                     AND d.objid = p.oid AND d.deptype = 'e')",
                &[],
            )
            .await
            .unwrap();
        assert!(
            !callable.is_empty(),
            "{role} may call the platform's id functions"
        );
        for function in callable {
            let (signature, comment): (String, String) = (function.get(0), function.get(1));
            assert!(
                comment.contains(marker),
                "{role} may call {signature}: {comment:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_runtime_role_cannot_end_or_cancel_another_tenants_session() {
    let database = migrated_database().await;
    let victim = database.connect("maturion_app").await;
    let pid: i32 = victim
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    for role in RUNTIME_ROLES {
        let attacker = database.connect(role).await;
        refused(
            &attacker,
            role,
            &format!("SELECT pg_terminate_backend({pid})"),
        )
        .await;
        refused(&attacker, role, &format!("SELECT pg_cancel_backend({pid})")).await;
    }
    victim
        .batch_execute("SELECT 1")
        .await
        .expect("the victim's session lives");
}

#[tokio::test]
async fn runtime_roles_cannot_take_advisory_locks_or_create_temporary_tables() {
    let database = migrated_database().await;
    for role in RUNTIME_ROLES {
        let attacker = database.connect(role).await;
        for sql in [
            // The bus's commit ordering of an organisation, as pg_locks shows it.
            "SELECT pg_advisory_lock(19781, hashtext('0190f1c4-0000-7000-8000-000000000000'))",
            "SELECT pg_try_advisory_xact_lock(19781, 1)",
            "SELECT pg_advisory_lock_shared(hashtext('maturion.audit_seals'))",
            "SELECT pg_advisory_xact_lock(hashtext('maturion.audit_seals'))",
            "SELECT pg_try_advisory_lock(1)",
            "CREATE TEMPORARY TABLE scratch (a int)",
        ] {
            refused(&attacker, role, sql).await;
        }
    }
}

#[tokio::test]
async fn runtime_roles_cannot_connect_to_the_databases_initdb_made() {
    let database = migrated_database().await;
    for role in RUNTIME_ROLES {
        for other in ["postgres", "template1"] {
            let error = database
                .cluster()
                .config(role, other)
                .connect(NoTls)
                .await
                .err()
                .unwrap_or_else(|| panic!("{role} connected to {other}"));
            assert_eq!(
                error.code(),
                Some(&SqlState::INSUFFICIENT_PRIVILEGE),
                "{role} to {other}: {error:?}"
            );
        }
    }
}

/// PostgreSQL 15 lets every role store defaults for its own sessions, and no privilege takes
/// that away: the check reports them and the job removes them.
#[tokio::test]
async fn settings_a_runtime_role_stores_for_itself_are_reported_then_removed_by_the_job() {
    let database = migrated_database().await;
    let db = database.name();
    let app = database.connect("maturion_app").await;
    // In this database only: the roles serve every test database of the cluster at once.
    app.batch_execute(&format!(
        "ALTER ROLE maturion_app IN DATABASE {db} SET row_security = off;
         ALTER ROLE maturion_app IN DATABASE {db} SET default_transaction_read_only = on"
    ))
    .await
    .expect("PostgreSQL 15 lets a role change its own defaults");
    let readonly = database.connect("maturion_readonly").await;
    readonly
        .batch_execute(&format!(
            "ALTER ROLE maturion_readonly IN DATABASE {db} SET statement_timeout = 1"
        ))
        .await
        .expect("the read-only role too");
    let show = async |setting: &str| {
        let later = database.connect("maturion_app").await;
        texts(&later, &format!("SHOW {setting}")).await.remove(0)
    };
    assert_eq!(
        show("row_security").await,
        "off",
        "every later session has it"
    );
    assert_eq!(
        findings(&database).await,
        [
            "runtime-role-setting: role maturion_app",
            "runtime-role-setting: role maturion_app",
            "runtime-role-setting: role maturion_readonly",
        ]
    );

    let removed = remove_runtime_role_settings(&database.admin().await)
        .await
        .unwrap();
    let removed: Vec<(String, Option<String>, Vec<String>)> = removed
        .into_iter()
        .map(|r| (r.role, r.database, r.settings))
        .collect();
    assert_eq!(
        removed,
        [
            (
                "maturion_app".to_owned(),
                Some(db.to_owned()),
                vec![
                    "row_security=off".to_owned(),
                    "default_transaction_read_only=on".to_owned()
                ]
            ),
            (
                "maturion_readonly".to_owned(),
                Some(db.to_owned()),
                vec!["statement_timeout=1".to_owned()]
            ),
        ]
    );
    assert_eq!(findings(&database).await, Vec::<String>::new());
    assert_eq!(show("row_security").await, "on");
    assert_eq!(show("default_transaction_read_only").await, "off");
}

/// The application may lock a table it may update, and stall every tenant: the job ends the
/// transaction once it has been open longer than allowed, and the others go on.
#[tokio::test]
async fn the_job_ends_a_runtime_transaction_held_open_too_long() {
    let database = migrated_database().await;
    let locker = database.connect("maturion_app").await;
    let locker_pid: i32 = locker
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    locker
        .batch_execute("BEGIN; LOCK TABLE public.users IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("UPDATE on a table is enough to LOCK it");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let waiter = database.connect("maturion_readonly").await;
    let waiting = tokio::spawn(async move {
        waiter
            .query_one("SELECT count(*) FROM public.users", &[])
            .await
            .map(|row| row.get::<_, i64>(0))
    });
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut admin = database.admin().await;
    let guard = RuntimeGuard {
        max_transaction_age: Some(Duration::from_millis(1500)),
    };
    let run = maintain(&mut admin, &Policy::default(), &guard, |_| {})
        .await
        .unwrap();
    let ended: Vec<(i32, &str)> = run
        .ended_transactions
        .iter()
        .map(|ended| (ended.pid, ended.role.as_str()))
        .collect();
    assert_eq!(ended, [(locker_pid, "maturion_app")]);
    assert!(run.ended_transactions[0].open_for >= Duration::from_millis(2500));
    let counted = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the waiting reader goes on")
        .unwrap();
    assert_eq!(counted.unwrap(), 0, "no tenant context: no rows");
    assert!(
        locker.batch_execute("SELECT 1").await.is_err(),
        "its session is gone"
    );
}
