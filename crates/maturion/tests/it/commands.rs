//! Commands against an existing server (DATABASE_URL), here a fresh test database.

use crate::{describe, maturion, stdout};

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
