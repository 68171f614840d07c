//! Commands against an existing server (DATABASE_URL), here a fresh test database.

use crate::{describe, maturion, maturion_command, stdout};

#[tokio::test]
async fn migrate_check_and_status_on_an_external_server() {
    let db = maturion_testing::fresh_database().await;
    let url = db.url("postgres");

    let up = maturion(&["migrate", "up"], None, Some(&url));
    assert!(up.status.success(), "{}", describe(&up));
    assert!(
        stdout(&up).contains("applied 1.0.0 global_schema"),
        "{}",
        describe(&up)
    );

    let status = maturion(&["migrate", "status"], None, Some(&url));
    assert!(
        stdout(&status).contains("applied  1.0.0"),
        "{}",
        describe(&status)
    );
    assert!(
        stdout(&status).contains("0 pending"),
        "{}",
        describe(&status)
    );

    let check = maturion(&["check", "--format", "json"], None, Some(&url));
    assert!(
        check.status.success(),
        "the platform schema conforms: {}",
        describe(&check)
    );
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(
        report["violations"].as_array().map(Vec::len),
        Some(0),
        "{report}"
    );

    // A module table that ignores the architecture makes `check` fail.
    let admin = db.admin().await;
    admin
        .batch_execute("CREATE TABLE public.sloppy (id int)")
        .await
        .unwrap();
    let check = maturion(&["check"], None, Some(&url));
    assert_eq!(check.status.code(), Some(1), "{}", describe(&check));
    assert!(
        stdout(&check).contains("public.sloppy"),
        "{}",
        describe(&check)
    );
}

/// A fresh database with the platform migrated by the binary, and its administrator URL.
async fn migrated_server() -> (maturion_testing::TestDatabase, String) {
    let db = maturion_testing::fresh_database().await;
    let url = db.url("postgres");
    let up = maturion(&["migrate", "up"], None, Some(&url));
    assert!(up.status.success(), "{}", describe(&up));
    (db, url)
}

/// An organisation (and its first user), as the application makes them.
async fn organisation(db: &maturion_testing::TestDatabase, name: &str) -> uuid::Uuid {
    maturion_testing::organisation_with_admin(&db.admin().await, name)
        .await
        .unwrap()
        .organisation
        .as_uuid()
}

#[test]
fn lint_reports_file_line_rule_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("1.3.0_drop_title");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(
        folder.join("up.sql"),
        "-- drops a column\nALTER TABLE risks DROP COLUMN title;\n",
    )
    .unwrap();
    let lint = maturion(
        &["migrate", "lint", dir.path().to_str().unwrap()],
        None,
        None,
    );
    assert_eq!(lint.status.code(), Some(1), "{}", describe(&lint));
    let expected = format!("{}:2: ban-drop-column:", folder.join("up.sql").display());
    assert!(stdout(&lint).contains(&expected), "{}", describe(&lint));

    let platform = maturion(&["migrate", "lint"], None, None);
    assert!(
        platform.status.success(),
        "our own migrations pass: {}",
        describe(&platform)
    );
}

/// `maturion migrate lint PATH`, killed if it has not finished within 20 s.
fn lint_in_time(path: &std::path::Path) -> std::process::Output {
    let mut child = crate::maturion_command(&["migrate", "lint", path.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("`migrate lint {}` hangs", path.display());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn lint_refuses_named_paths_it_does_not_lint() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("up.sql");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "DROP TABLE risks;").unwrap();
    for (path, reason) in [
        (fifo, "FIFO"),
        (text, "not a .sql file"),
        (dir.path().join("missing.sql"), "No such file"),
        (std::path::PathBuf::from("/dev/null"), "not a .sql file"),
    ] {
        let lint = lint_in_time(&path);
        assert!(!lint.status.success(), "{}", describe(&lint));
        let message = crate::stderr(&lint);
        assert!(
            message.contains(reason) && !message.contains("file(s) linted"),
            "{}",
            describe(&lint)
        );
    }
}

#[test]
fn lint_refuses_what_a_module_may_not_do() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("1.4.0_quiet_import");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(
        folder.join("up.sql"),
        "DO $$ BEGIN EXECUTE 'ALTER TABLE risks DISABLE TRIGGER ALL'; END $$;\n\
         GRANT DELETE ON risks TO maturion_app;\n",
    )
    .unwrap();
    let lint = lint_in_time(dir.path());
    assert_eq!(lint.status.code(), Some(1), "{}", describe(&lint));
    let up = folder.join("up.sql");
    for expected in [
        format!("{}:1: ban-dynamic-sql:", up.display()),
        format!("{}:2: ban-runtime-role-grant:", up.display()),
    ] {
        assert!(stdout(&lint).contains(&expected), "{}", describe(&lint));
    }
}

#[test]
fn new_scaffolds_the_next_minor_version() {
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    for (name, expected) in [
        ("create_risks", "1.0.0_create_risks"),
        ("add_owner", "1.1.0_add_owner"),
    ] {
        let output = maturion(
            &[
                "migrate",
                "new",
                name,
                "--dir",
                migrations.to_str().unwrap(),
            ],
            None,
            None,
        );
        assert!(output.status.success(), "{}", describe(&output));
        assert!(
            migrations.join(expected).join("up.sql").exists(),
            "{}",
            describe(&output)
        );
        assert!(migrations.join(expected).join("down.sql").exists());
    }
    let bad = maturion(
        &[
            "migrate",
            "new",
            "Bad-Name",
            "--dir",
            migrations.to_str().unwrap(),
        ],
        None,
        None,
    );
    assert!(!bad.status.success());
}

#[tokio::test]
async fn bench_audit_measures_every_phase_and_writes_one_audit_row_per_change() {
    let db = maturion_testing::fresh_database().await;
    let url = db.url("postgres");

    let bench = maturion(
        &[
            "bench",
            "audit",
            "--clients",
            "2",
            "--transactions",
            "3",
            "--rounds",
            "1",
        ],
        None,
        Some(&url),
    );
    assert!(bench.status.success(), "{}", describe(&bench));
    let report = stdout(&bench);
    for (synchronous_commit, workload) in [
        ("on", "insert"),
        ("on", "update"),
        ("off", "insert"),
        ("off", "update"),
    ] {
        assert!(
            report.lines().any(|line| line
                .split_whitespace()
                .take(2)
                .eq([synchronous_commit, workload])),
            "no {synchronous_commit}/{workload} line: {}",
            describe(&bench)
        );
    }
    // 2 settings × 2 workloads × 2 clients × 3 transactions, one row each.
    assert!(
        report.contains("audit rows written by the audited table: 24"),
        "{}",
        describe(&bench)
    );
}

/// The maintenance job end to end on the whole platform: audit rows the default partition
/// caught move into their months, an expired month goes through the audit trail's own removal,
/// everything left is sealed, `audit verify` passes, and after a superuser changes one sealed
/// row it fails with a non-zero status naming that row.
#[tokio::test]
async fn maintain_moves_drops_and_seals_and_verify_catches_a_change_afterwards() {
    let (db, url) = migrated_server().await;
    let admin = db.admin().await;
    let organisation = organisation(&db, "Alpha").await;
    // Before any maintenance every row lands in the default partition: this month's, two
    // months ago and eight years ago (past the 7-year retention).
    for age in ["0 days", "0 days", "2 months", "2 months", "8 years"] {
        admin
            .execute(
                "INSERT INTO audit_log (organisation_id, \"timestamp\", module, entity_type, entity_id, action, changes) \
                 VALUES ($1, now() - $2::text::interval, 'risks', 'risks', gen_random_uuid(), 'updated', \
                         '{\"status\": {\"old\": \"open\", \"new\": \"treated\"}}')",
                &[&organisation, &age],
            )
            .await
            .unwrap();
    }

    let first = maturion(&["maintain"], None, Some(&url));
    assert!(first.status.success(), "{}", describe(&first));
    let out = stdout(&first);
    assert_eq!(
        out.matches("rows into it from the default partition")
            .count(),
        3,
        "three months moved out of the default partition: {}",
        describe(&first)
    );
    assert!(
        out.contains("(expired; sealed and recorded by maturion.drop_audit_partition)"),
        "the eight-year-old month is removed through the audit trail: {}",
        describe(&first)
    );
    let left: i64 = admin
        .query_one(
            "SELECT count(*) FROM audit_log WHERE action = 'updated'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 4);

    // Rows written since are sealed by the next run.
    admin
        .execute(
            "INSERT INTO audit_log (organisation_id, module, entity_type, entity_id, action) \
             SELECT $1, 'risks', 'risks', gen_random_uuid(), 'viewed' FROM generate_series(1, 2)",
            &[&organisation],
        )
        .await
        .unwrap();
    // (The seal horizon waits for any transaction of the database still running, autovacuum's
    // too, so a run may leave rows of a moment ago to the next one.)
    let mut left = 2;
    for _ in 0..50 {
        let run = maturion(&["maintain"], None, Some(&url));
        assert!(run.status.success(), "{}", describe(&run));
        let out = stdout(&run);
        let line = out
            .lines()
            .find(|line| line.starts_with("audit seal: sealed "))
            .unwrap_or_else(|| panic!("no seal line: {}", describe(&run)));
        let numbers: Vec<i64> = line
            .split_whitespace()
            .filter_map(|word| word.parse().ok())
            .collect();
        let (sealed, pending) = (numbers[0], numbers[2]);
        assert_eq!(sealed + pending, left, "{line}");
        left = pending;
        if left == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(left, 0, "maintain seals what was written since");

    let verify = maturion(&["audit", "verify"], None, Some(&url));
    assert!(verify.status.success(), "{}", describe(&verify));

    let (partition, id): (String, uuid::Uuid) = admin
        .query_one(
            "SELECT tableoid::regclass::text, id FROM audit_log \
             WHERE \"timestamp\" < now() - interval '1 month' ORDER BY id LIMIT 1",
            &[],
        )
        .await
        .map(|row| (row.get(0), row.get(1)))
        .unwrap();
    admin
        .batch_execute(&format!(
            "BEGIN; ALTER TABLE {partition} DISABLE TRIGGER audit_log_append_only; \
             UPDATE audit_log SET changes = '{{\"status\": {{\"old\": \"open\", \"new\": \"accepted\"}}}}' WHERE id = '{id}'; \
             ALTER TABLE {partition} ENABLE ALWAYS TRIGGER audit_log_append_only; COMMIT"
        ))
        .await
        .unwrap();
    let verify = maturion(&["audit", "verify"], None, Some(&url));
    assert_eq!(verify.status.code(), Some(1), "{}", describe(&verify));
    assert!(
        stdout(&verify).contains(&id.to_string()),
        "the changed row is named: {}",
        describe(&verify)
    );
}

/// The bus's operator commands, with the flags operators script against.
#[tokio::test]
async fn events_tail_filters_by_type_and_organisation_and_replay_refuses_an_unknown_id() {
    let (db, url) = migrated_server().await;
    let admin = db.admin().await;
    let mut organisations = Vec::new();
    for name in ["Alpha", "Beta"] {
        organisations.push(organisation(&db, name).await.to_string());
    }
    for (organisation, event_type) in [
        (0, "risk.created"),
        (0, "policy.approved"),
        (1, "risk.created"),
    ] {
        admin
            .execute(
                "INSERT INTO event_log (organisation_id, event_type, source_module) VALUES ($1::text::uuid, $2, 'tests')",
                &[&organisations[organisation], &event_type],
            )
            .await
            .unwrap();
    }

    let tail = |extra: &[&str]| {
        let mut args = vec![
            "events",
            "tail",
            "--from-beginning",
            "--once",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let out = maturion(&args, None, Some(&url));
        assert!(out.status.success(), "{}", describe(&out));
        stdout(&out)
            .lines()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
            .map(|event| {
                (
                    event["organisation_id"].as_str().unwrap().to_owned(),
                    event["event_type"].as_str().unwrap().to_owned(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(tail(&[]).len(), 3);
    let risks = tail(&["--type", "risk.created"]);
    assert_eq!(risks.len(), 2, "{risks:?}");
    assert!(risks
        .iter()
        .all(|(_, event_type)| event_type == "risk.created"));
    assert_eq!(
        tail(&[
            "--type",
            "risk.created",
            "--organisation",
            &organisations[1]
        ]),
        [(organisations[1].clone(), "risk.created".to_owned())]
    );
    let malformed = maturion(
        &["events", "tail", "--organisation", "not-a-uuid", "--once"],
        None,
        Some(&url),
    );
    assert!(!malformed.status.success(), "{}", describe(&malformed));
    assert!(
        String::from_utf8_lossy(&malformed.stderr).contains("malformed organisation id"),
        "{}",
        describe(&malformed)
    );

    let letters = maturion(&["events", "dead-letters"], None, Some(&url));
    assert!(letters.status.success(), "{}", describe(&letters));
    let unknown = uuid::Uuid::now_v7().to_string();
    let replay = maturion(&["events", "replay", &unknown], None, Some(&url));
    assert_eq!(replay.status.code(), Some(1), "{}", describe(&replay));
    assert!(
        String::from_utf8_lossy(&replay.stderr).contains(&unknown),
        "{}",
        describe(&replay)
    );
}

#[tokio::test]
async fn legal_holds_are_placed_listed_and_released_through_the_binary() {
    let (db, url) = migrated_server().await;
    let organisation = organisation(&db, "Alpha").await.to_string();

    let place = maturion(
        &[
            "legal-hold",
            "place",
            "--organisation",
            &organisation,
            "--reason",
            "Matter 7: regulator inquiry",
        ],
        None,
        Some(&url),
    );
    assert!(place.status.success(), "{}", describe(&place));
    let id = stdout(&place)
        .split_whitespace()
        .nth(3)
        .expect("placed legal hold <id> on …")
        .to_owned();
    let list = maturion(&["legal-hold", "list"], None, Some(&url));
    assert!(
        stdout(&list).contains(&id) && stdout(&list).contains("Matter 7"),
        "{}",
        describe(&list)
    );

    let malformed = maturion(
        &[
            "legal-hold",
            "place",
            "--organisation",
            "42",
            "--reason",
            "x",
        ],
        None,
        Some(&url),
    );
    assert!(!malformed.status.success(), "{}", describe(&malformed));

    let release = maturion(&["legal-hold", "release", &id], None, Some(&url));
    assert!(release.status.success(), "{}", describe(&release));
    let again = maturion(&["legal-hold", "release", &id], None, Some(&url));
    assert_eq!(again.status.code(), Some(1), "{}", describe(&again));
    let list = maturion(&["legal-hold", "list"], None, Some(&url));
    assert!(!stdout(&list).contains(&id), "{}", describe(&list));
    let all = maturion(&["legal-hold", "list", "--all"], None, Some(&url));
    assert!(
        stdout(&all).contains(&id) && stdout(&all).contains("released"),
        "{}",
        describe(&all)
    );
}

#[tokio::test]
async fn organisations_and_tokens_are_made_and_revoked_through_the_binary() {
    let (db, url) = migrated_server().await;
    let created = maturion(
        &[
            "org",
            "create",
            "Acme Ltd",
            "--admin-email",
            "ann@acme.example",
        ],
        None,
        Some(&url),
    );
    assert!(created.status.success(), "{}", describe(&created));
    let created: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    for key in ["organisation_id", "user_id", "token"] {
        assert!(created[key].is_string(), "{key} in {created}");
    }
    let first: maturion_tenancy::ApiToken = created["token"].as_str().unwrap().parse().unwrap();
    let user = created["user_id"].as_str().unwrap().to_owned();

    let issued = maturion(
        &["token", "create", "--user", &user, "--expires-in", "30d"],
        None,
        Some(&url),
    );
    assert!(issued.status.success(), "{}", describe(&issued));
    let issued: serde_json::Value = serde_json::from_slice(&issued.stdout).unwrap();
    let second: maturion_tenancy::ApiToken = issued["token"].as_str().unwrap().parse().unwrap();
    assert_ne!(first, second);

    // Either token binds the app role to the new organisation, until it is revoked.
    let app = db.connect(maturion_schema::APP_ROLE).await;
    let bind = "SELECT organisation_id::text FROM maturion.bind_tenant($1)";
    for token in [&first, &second] {
        app.batch_execute("BEGIN").await.unwrap();
        let bound: String = app
            .query_one(bind, &[&token.expose()])
            .await
            .unwrap()
            .get(0);
        assert_eq!(bound, created["organisation_id"].as_str().unwrap());
        app.batch_execute("ROLLBACK").await.unwrap();
    }
    let token_id = issued["token_id"].as_str().unwrap();
    let revoked = maturion(&["token", "revoke", token_id], None, Some(&url));
    assert!(revoked.status.success(), "{}", describe(&revoked));
    app.batch_execute("BEGIN").await.unwrap();
    let error = app.query_one(bind, &[&second.expose()]).await.unwrap_err();
    assert_eq!(error.code().unwrap().code(), "MT498", "{error}");
    app.batch_execute("ROLLBACK").await.unwrap();
}

#[tokio::test]
async fn bad_organisation_and_token_input_is_refused_and_changes_nothing() {
    let (db, url) = migrated_server().await;
    let admin = db.admin().await;
    let count = async || -> (i64, i64) {
        let row = admin
            .query_one(
                "SELECT (SELECT count(*) FROM organisations), (SELECT count(*) FROM maturion.api_tokens)",
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    let before = count().await;
    let unknown = uuid::Uuid::now_v7().to_string();
    for args in [
        vec!["org", "create", "", "--admin-email", "a@b.example"],
        vec!["org", "create", "Acme", "--admin-email", "not an email"],
        vec![
            "org",
            "create",
            "Acme",
            "--admin-email",
            "a@b.example",
            "--expires-in",
            "0d",
        ],
        vec!["token", "create", "--user", "not-a-uuid"],
        vec!["token", "create", "--user", &unknown],
        vec!["token", "create", "--user", &unknown, "--expires-in", "-1d"],
        vec!["token", "create", "--user", &unknown, "--expires-in", "NaN"],
        vec![
            "token",
            "create",
            "--user",
            &unknown,
            "--expires-in",
            "99999999999999999999d",
        ],
        vec!["token", "revoke", "not-a-uuid"],
        vec!["token", "revoke", &unknown],
    ] {
        let output = maturion(&args, None, Some(&url));
        assert!(
            !output.status.success(),
            "{args:?} succeeded: {}",
            describe(&output)
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.trim().is_empty(), "{args:?} says why");
    }
    assert_eq!(count().await, before, "nothing changed");
}

/// `maturion keys status --alerts` fires on a key older than 90 days; `keys rotate` gives it a
/// new version and the alert stops. A rotation without a master key changes nothing.
#[tokio::test]
async fn keys_status_alerts_on_an_old_key_and_rotate_renews_it() {
    let db = maturion_testing::migrated_database().await;
    let url = db.url("postgres");
    let master = "ab".repeat(32);
    let keys = |args: &[&str], with_master: bool| {
        let mut command = crate::maturion_command(args);
        command.env("DATABASE_URL", &url);
        command.env_remove("MATURION_MASTER_KEY_FILE");
        command.env_remove("MATURION_PREVIOUS_MASTER_KEY_FILE");
        if with_master {
            command.env("MATURION_MASTER_KEY", &master);
        } else {
            command.env_remove("MATURION_MASTER_KEY");
        }
        command.output().unwrap()
    };

    let without = keys(&["keys", "rotate"], false);
    assert!(!without.status.success());
    assert!(
        crate::stderr(&without).contains("MATURION_MASTER_KEY_FILE"),
        "{}",
        describe(&without)
    );
    let empty = keys(&["keys", "rotate", "--format", "json"], true);
    assert!(empty.status.success(), "{}", describe(&empty));
    assert!(!stdout(&empty).contains(&master), "{}", describe(&empty));
    let report: serde_json::Value = serde_json::from_slice(&empty.stdout).unwrap();
    let master_id = report["master_key_id"].as_str().unwrap().to_owned();

    let organisation = organisation(&db, "Old Keys").await;
    db.admin()
        .await
        .execute(
            "INSERT INTO maturion.data_keys
               (organisation_id, subject_id, version, wrapped_key, master_key_id, created_at)
             VALUES ($1, NULL, 1, decode(repeat('00', 60), 'hex'), $2, now() - interval '91 days')",
            &[&organisation, &master_id],
        )
        .await
        .unwrap();

    let overdue = keys(&["keys", "status", "--alerts"], false);
    assert!(!overdue.status.success(), "{}", describe(&overdue));
    assert!(
        stdout(&overdue).contains("OVERDUE"),
        "{}",
        describe(&overdue)
    );
    let rotated = keys(&["keys", "rotate", "--format", "json"], true);
    assert!(rotated.status.success(), "{}", describe(&rotated));
    let report: serde_json::Value = serde_json::from_slice(&rotated.stdout).unwrap();
    assert_eq!(report["rotated"][0]["version"], 2, "{report}");
    let status = keys(&["keys", "status", "--alerts", "--format", "json"], false);
    assert!(status.status.success(), "{}", describe(&status));
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["overdue"], 0, "{status}");
    assert_eq!(status["lines"][0]["version"], 2, "{status}");
}

/// `bench api` end to end with tiny settings: the server starts as a child, every scenario runs
/// through the API and pgbench, and each prints its ratio; the memory and start-up lines are
/// there. Not timed: no figure is judged.
#[tokio::test]
async fn bench_api_prints_a_ratio_per_scenario_and_the_servers_memory_and_start_up() {
    let db = maturion_testing::fresh_database().await;
    let bench = maturion_command(&[
        "bench",
        "api",
        "--organisations",
        "2",
        "--policies",
        "20",
        "--seconds",
        "1",
        "--connections",
        "2",
    ])
    .env("DATABASE_URL", db.url("postgres"))
    .env("MATURION_DATABASE_APP_URL", db.url("maturion_app"))
    .output()
    .expect("maturion runs");
    assert!(bench.status.success(), "{}", describe(&bench));
    let report = stdout(&bench);
    for scenario in [
        "GET one policy by id:",
        "create a policy:",
        "list a 100-row page:",
    ] {
        let section: Vec<&str> = report
            .lines()
            .skip_while(|line| line.trim() != scenario)
            .take(5)
            .collect();
        let ratios = section
            .iter()
            .filter(|line| line.contains("| ratio "))
            .count();
        assert_eq!(ratios, 3, "{scenario} has no ratios: {}", describe(&bench));
    }
    for needle in [
        "start-up to a ready /readyz",
        "VmRSS of the child) idle:",
        "VmRSS of the child) after the run:",
    ] {
        assert!(
            report.contains(needle),
            "no {needle:?}: {}",
            describe(&bench)
        );
    }
    let left = db
        .admin()
        .await
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname = 'maturion_bench_api'",
            &[],
        )
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(left, 0, "the scratch database is left behind");
}
