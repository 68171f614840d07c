//! Settings as the binary reads them (file, environment, flags), the URLs it prints, and the
//! commands that need no database.

use std::path::Path;
use std::process::Output;

use crate::{describe, maturion_command, stderr, stdout};

const ADMIN_URL: &str = "postgresql://root:admin-secret@db.invalid:5432/maturion?sslmode=disable";
const APP_URL: &str = "postgresql://app:app-secret@pool.invalid:6432/maturion";

fn run(command: &mut std::process::Command) -> Output {
    command.output().expect("maturion runs")
}

#[test]
fn db_url_for_a_role_without_a_url_fails_and_never_prints_the_administrator_url() {
    let output =
        run(maturion_command(&["db", "url", "--role", "maturion_app"])
            .env("DATABASE_URL", ADMIN_URL));
    assert!(!output.status.success(), "{}", describe(&output));
    assert_eq!(stdout(&output), "", "{}", describe(&output));
    let error = stderr(&output);
    assert!(
        !error.contains("admin-secret") && !error.contains("db.invalid"),
        "{error}"
    );
    assert!(error.contains("MATURION_DATABASE_APP_URL"), "{error}");

    // Without --role: the administrator's URL as configured, password included (for scripts).
    let admin = run(maturion_command(&["db", "url"]).env("DATABASE_URL", ADMIN_URL));
    assert!(admin.status.success(), "{}", describe(&admin));
    assert_eq!(stdout(&admin), format!("{ADMIN_URL}\n"));
}

#[test]
fn db_url_prints_the_role_s_configured_url() {
    let output = run(maturion_command(&["db", "url", "--role", "maturion_app"])
        .env("DATABASE_URL", ADMIN_URL)
        .env("MATURION_DATABASE_APP_URL", APP_URL));
    assert!(output.status.success(), "{}", describe(&output));
    assert_eq!(stdout(&output), format!("{APP_URL}\n"));
}

#[test]
fn migrate_lint_and_new_need_no_postgresql_binaries() {
    let work = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let without_binaries = |args: &[&str]| {
        run(maturion_command(args)
            .env("MATURION_PG_BINDIR", empty.path())
            .env("PATH", empty.path())
            .current_dir(work.path()))
    };
    // The same environment hides the binaries from a command that needs them.
    let status = without_binaries(&["db", "status"]);
    assert!(!status.status.success(), "{}", describe(&status));
    assert!(
        stderr(&status).contains("MATURION_PG_BINDIR"),
        "{}",
        describe(&status)
    );

    let lint = without_binaries(&["migrate", "lint"]);
    assert!(lint.status.success(), "{}", describe(&lint));
    assert!(
        stderr(&lint).contains("file(s) linted"),
        "{}",
        describe(&lint)
    );

    let migrations = work.path().join("migrations");
    let new = without_binaries(&[
        "migrate",
        "new",
        "create_risks",
        "--dir",
        migrations.to_str().unwrap(),
    ]);
    assert!(new.status.success(), "{}", describe(&new));
    assert!(migrations.join("1.0.0_create_risks/up.sql").exists());
    assert!(
        !work.path().join(".maturion").exists(),
        "no cluster folder is made"
    );
}

fn write_config(path: &Path, admin_url: &str) {
    let text = format!("[database]\nurl = \"{admin_url}\"\napp_url = \"{APP_URL}\"\n");
    std::fs::write(path, text).unwrap();
}

#[test]
fn the_file_then_the_environment_then_the_flags() {
    let work = tempfile::tempdir().unwrap();
    let from_file = "postgresql://root:file-secret@file.invalid/maturion";
    write_config(&work.path().join("maturion.toml"), from_file);
    let db_url = |args: &[&str], environment: &[(&str, &str)]| {
        let mut command = maturion_command(args);
        command
            .current_dir(work.path())
            .envs(environment.iter().copied());
        let output = run(&mut command);
        assert!(output.status.success(), "{}", describe(&output));
        stdout(&output).trim_end().to_owned()
    };
    // ./maturion.toml is read from the working directory.
    assert_eq!(db_url(&["db", "url"], &[]), from_file);
    assert_eq!(
        db_url(&["db", "url", "--role", "maturion_app"], &[]),
        APP_URL
    );
    assert_eq!(
        db_url(&["db", "url"], &[("DATABASE_URL", ADMIN_URL)]),
        ADMIN_URL
    );
    let from_flag = "postgresql://root@flag.invalid/maturion";
    assert_eq!(
        db_url(
            &["db", "url", "--database-url", from_flag],
            &[("DATABASE_URL", ADMIN_URL)]
        ),
        from_flag
    );

    // --config and MATURION_CONFIG name another file, which then must exist.
    let other = work.path().join("other.toml");
    let from_other = "postgresql://root@other.invalid/maturion";
    write_config(&other, from_other);
    let other = other.to_str().unwrap();
    assert_eq!(db_url(&["db", "url", "--config", other], &[]), from_other);
    assert_eq!(
        db_url(&["db", "url"], &[("MATURION_CONFIG", other)]),
        from_other
    );
    let missing =
        run(maturion_command(&["db", "url", "--config", "absent.toml"]).current_dir(work.path()));
    assert!(!missing.status.success(), "{}", describe(&missing));
    assert!(
        stderr(&missing).contains("absent.toml"),
        "{}",
        describe(&missing)
    );
}

#[test]
fn bad_settings_stop_every_command_and_say_where_they_are() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("bad.toml");
    let lint_with = |file_text: &str, environment: &[(&str, &str)]| {
        std::fs::write(&file, file_text).unwrap();
        let output = run(maturion_command(&["migrate", "lint", "--config"])
            .arg(&file)
            .envs(environment.iter().copied()));
        assert!(!output.status.success(), "{}", describe(&output));
        stderr(&output)
    };
    let error = lint_with("[server]\nlisten = \"nowhere\"\n", &[]);
    assert!(error.contains("line 2, key listen"), "{error}");
    assert!(error.contains("bad.toml"), "{error}");
    let error = lint_with("[server]\nlisen = \"127.0.0.1:1\"\n", &[]);
    assert!(error.contains("unknown field `lisen`"), "{error}");
    let error = lint_with("", &[("MATURION_SERVER_CONCURRENCY_LIMIT", "many")]);
    assert!(
        error.contains("MATURION_SERVER_CONCURRENCY_LIMIT"),
        "{error}"
    );
    let error = lint_with("", &[("MATURION_JOBS_INTERVAL", "1")]);
    assert!(
        error.contains("unknown environment variable MATURION_JOBS_INTERVAL"),
        "{error}"
    );
    let error = lint_with("", &[("MATURION_LOG", "maturion=loud")]);
    assert!(error.contains("log.filter"), "{error}");
}

#[test]
fn log_json_writes_one_object_per_line() {
    let home = tempfile::tempdir().unwrap();
    // `db url` refuses a home without a cluster; `db stop` of one succeeds (nothing to stop).
    let output = run(maturion_command(&["db", "stop"])
        .env("MATURION_HOME", home.path())
        .env("MATURION_LOG", "debug")
        .env("MATURION_LOG_JSON", "true"));
    assert!(output.status.success(), "{}", describe(&output));
    let logs = stderr(&output);
    assert!(!logs.is_empty(), "finding the binaries is logged at debug");
    for line in logs.lines() {
        let entry: serde_json::Value = serde_json::from_str(line).expect(line);
        assert!(entry["level"].is_string(), "{line}");
    }
}

/// `up` prints URLs for people: the password masked, and no administrator URL in place of an
/// application URL that is not configured.
#[tokio::test]
async fn up_masks_passwords() {
    let db = maturion_testing::fresh_database().await;
    // Trust authentication on the test cluster's socket ignores the password.
    let url = db.url("postgres").replacen(
        "postgresql://postgres@",
        "postgresql://postgres:up-secret@",
        1,
    );
    let up = run(maturion_command(&["up"]).env("DATABASE_URL", &url));
    assert!(up.status.success(), "{}", describe(&up));
    let text = stdout(&up);
    assert!(!text.contains("up-secret"), "{text}");
    assert!(text.contains("postgresql://postgres:****@"), "{text}");
    assert!(
        text.contains(
            "application role: no URL configured (database.app_url, MATURION_DATABASE_APP_URL)"
        ),
        "{text}"
    );
}
