//! The binary under hostile input: no argument and no database content makes it panic or
//! hang; each ends with a clear error and its exit status.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use maturion_testing::TestDatabase;

use crate::{describe, maturion_command, stderr, stdout};

/// Runs `command`, failing the test if it has not ended within `limit` (it is then killed).
fn bounded(mut command: Command, limit: Duration) -> Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("maturion starts");
    let pid = child.id();
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || done.send(child.wait_with_output()));
    match finished.recv_timeout(limit) {
        Ok(output) => {
            let output = output.expect("maturion's output");
            assert!(
                !stderr(&output).contains("panicked"),
                "{}",
                describe(&output)
            );
            output
        }
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("maturion did not end within {limit:?}");
        }
    }
}

fn run(args: &[&str]) -> Output {
    bounded(maturion_command(args), Duration::from_secs(60))
}

fn run_on(url: &str, args: &[&str]) -> Output {
    let mut command = maturion_command(args);
    command.env("DATABASE_URL", url);
    bounded(command, Duration::from_secs(60))
}

fn fails_with(output: &Output, code: i32, needles: &[&str]) {
    assert_eq!(output.status.code(), Some(code), "{}", describe(output));
    for needle in needles {
        assert!(
            stderr(output).contains(needle),
            "{needle:?} in {}",
            describe(output)
        );
    }
}

/// A migrated database and its administrator URL.
async fn server() -> (TestDatabase, String) {
    let db = maturion_testing::migrated_database().await;
    let url = db.url("postgres");
    (db, url)
}

async fn organisation(db: &TestDatabase, name: &str) -> String {
    let app = maturion_tenancy::Database::new(db.config(maturion_schema::APP_ROLE), 1).unwrap();
    maturion_testing::organisation_with_admin(&app, name)
        .await
        .unwrap()
        .organisation
        .to_string()
}

#[test]
fn every_duration_flag_refuses_negative_nan_infinite_and_huge_values() {
    let flags: [&[&str]; 5] = [
        &["events", "tail", "--timeout"],
        &["maintain", "--lock-timeout"],
        &["bench", "events", "--latency-seconds"],
        &["bench", "events", "--notify-seconds"],
        &["db", "status", "--lock-wait"],
    ];
    for flag in flags {
        for value in ["-1", "-0.5s", "NaN", "inf", "-inf", "1e400", "8d", "2000h"] {
            let mut args = flag.to_vec();
            args.push(value);
            let output = run(&args);
            assert_eq!(
                output.status.code(),
                Some(2),
                "{args:?}: {}",
                describe(&output)
            );
            let error = stderr(&output);
            assert!(
                error.contains("not a duration")
                    || error.contains("unknown unit")
                    || error.contains("longest wait"),
                "{args:?}: {}",
                describe(&output)
            );
        }
    }
    for args in [
        &["audit", "seal", "--max-rows", "0"][..],
        &["events", "tail", "--limit", "0"],
        &["bench", "rls", "--iterations", "0"],
        &["bench", "events", "--workers", "2,0"],
        &["bench", "ingest", "--rows", "-5"],
    ] {
        let output = run(args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            describe(&output)
        );
    }
}

#[test]
fn named_inputs_that_are_not_regular_files_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let folder = dir.path().join("folder");
    std::fs::create_dir(&folder).unwrap();
    for config in [fifo.as_path(), folder.as_path(), Path::new("/dev/zero")] {
        let output = run(&["--config", config.to_str().unwrap(), "db", "status"]);
        fails_with(&output, 1, &["not a regular file"]);
    }

    // A cluster home whose record of the cluster is a FIFO.
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    assert!(Command::new("mkfifo")
        .arg(home.join("cluster.json"))
        .status()
        .unwrap()
        .success());
    let output = run(&["--home", home.to_str().unwrap(), "db", "status"]);
    fails_with(&output, 1, &["cluster.json", "not a regular file"]);

    // A module's migration whose up.sql is a FIFO.
    let migration = dir.path().join("risks").join("1.0.0_risks");
    std::fs::create_dir_all(&migration).unwrap();
    assert!(Command::new("mkfifo")
        .arg(migration.join("up.sql"))
        .status()
        .unwrap()
        .success());
    let modules = dir.path().join("risks");
    let output = run_on(
        "postgresql://nobody@db.invalid/maturion",
        &["migrate", "up", "--dir", modules.to_str().unwrap()],
    );
    fails_with(&output, 1, &["up.sql", "not a regular file"]);
}

#[test]
fn db_url_for_a_home_without_a_cluster_says_there_is_none() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("nothing-here");
    let output = run(&["--home", home.to_str().unwrap(), "db", "url"]);
    fails_with(&output, 1, &["no cluster in", "maturion db start"]);
    assert_eq!(stdout(&output), "");
}

#[tokio::test]
async fn audit_verify_of_an_unknown_organisation_is_an_error_not_intact() {
    let (db, url) = server().await;
    let known = organisation(&db, "Alpha").await;
    let unknown = uuid::Uuid::now_v7().to_string();
    let output = run_on(&url, &["audit", "verify", "--organisation", &unknown]);
    fails_with(&output, 1, &["no such organisation", &unknown]);
    assert!(!stdout(&output).contains("intact"), "{}", describe(&output));
    let output = run_on(&url, &["audit", "verify", "--organisation", &known]);
    assert!(output.status.success(), "{}", describe(&output));
}

/// Terminal escapes, a forged line, a bidi override and NUL-like control characters (text in
/// PostgreSQL and in arguments cannot hold NUL itself).
const HOSTILE: &str = "x\u{1b}[2J\u{1b}]0;owned\u{7}\nforged: ok\r\u{202e}gpj.exe\u{1}\u{9b}";

fn assert_escaped(output: &Output, lines: usize) {
    assert!(output.status.success(), "{}", describe(output));
    let text = stdout(output);
    for raw in ['\u{1b}', '\u{7}', '\u{202e}', '\u{1}', '\u{9b}', '\r'] {
        assert!(!text.contains(raw), "{raw:?} printed raw: {text:?}");
    }
    assert!(
        text.contains("\\u{1b}[2J") && text.contains("\\u{202e}"),
        "{text:?}"
    );
    assert_eq!(text.lines().count(), lines, "{text:?}");
}

#[tokio::test]
async fn tenant_text_is_printed_escaped() {
    let (db, url) = server().await;
    let alpha = organisation(&db, "Alpha").await;
    let admin = db.admin().await;
    admin
        .execute(
            "INSERT INTO event_log (organisation_id, event_type, source_module, source_entity_type, \
                                    source_entity_id, payload) \
             VALUES ($1::text::uuid, 'risk.created', $2::text, $2::text, gen_random_uuid(), \
                     jsonb_build_object($2::text, $2::text))",
            &[&alpha, &HOSTILE],
        )
        .await
        .unwrap();
    let tail = run_on(&url, &["events", "tail", "--from-beginning", "--once"]);
    assert_escaped(&tail, 1);

    admin
        .batch_execute(
            "SELECT maturion.event_subscribe('all', ARRAY['*'], NULL, false, 3, '1 second', '1 minute')",
        )
        .await
        .unwrap();
    admin
        .execute(
            "INSERT INTO maturion.event_dead_letters (subscription, organisation_id, position, event_timestamp, \
                                                      event_id, event_type, attempts, last_error) \
             VALUES ('all', $1::text::uuid, 1, now(), gen_random_uuid(), 'risk.created', 3, $2)",
            &[&alpha, &HOSTILE.replace('\n', " ")],
        )
        .await
        .unwrap();
    assert_escaped(&run_on(&url, &["events", "dead-letters"]), 1);

    let place = run_on(
        &url,
        &[
            "legal-hold",
            "place",
            "--organisation",
            &alpha,
            "--reason",
            HOSTILE,
        ],
    );
    assert!(place.status.success(), "{}", describe(&place));
    assert_escaped(&run_on(&url, &["legal-hold", "list"]), 1);
}

#[tokio::test]
async fn undecodable_and_out_of_range_events_stop_neither_tail_nor_maintain() {
    let (db, url) = server().await;
    let alpha = organisation(&db, "Alpha").await;
    let admin = db.admin().await;
    // As a superuser (old data): a runtime role can no longer date events like these.
    for (payload, at) in [
        ("'{\"n\": 1}'", "now()"),
        ("(repeat('[', 200) || repeat(']', 200))::jsonb", "now()"),
        ("NULL", "'263000-01-01 00:00:00+00'"),
        ("NULL", "'4000-01-01 00:00:00+00 BC'"),
        ("'{\"n\": 2}'", "now()"),
    ] {
        admin
            .execute(
                &format!(
                    "INSERT INTO event_log (organisation_id, event_type, source_module, payload, \"timestamp\") \
                     VALUES ($1::text::uuid, 'risk.created', 'tests', {payload}, {at})"
                ),
                &[&alpha],
            )
            .await
            .unwrap();
    }
    for format in ["line", "json"] {
        let tail = run_on(
            &url,
            &[
                "events",
                "tail",
                "--from-beginning",
                "--once",
                "--format",
                format,
            ],
        );
        assert!(tail.status.success(), "{}", describe(&tail));
        assert_eq!(stdout(&tail).lines().count(), 3, "{}", describe(&tail));
        assert_eq!(
            stderr(&tail).matches("cannot be read").count(),
            2,
            "{}",
            describe(&tail)
        );
    }
    for _ in 0..2 {
        let maintain = run_on(&url, &["maintain"]);
        assert!(maintain.status.success(), "{}", describe(&maintain));
        let out = stdout(&maintain);
        assert!(
            out.contains("2 rows of event_log are dated where no monthly partition can hold them"),
            "{out}"
        );
        assert!(out.contains("audit seal: sealed"), "{out}");
    }
}

#[tokio::test]
async fn lock_waits_are_bounded_and_name_who_holds_the_lock() {
    let (db, url) = server().await;
    let holder = db.admin().await;
    holder
        .batch_execute("SET application_name = 'lock-holder-test'")
        .await
        .unwrap();
    let cases: [(String, &[&str], &str); 3] = [
        (
            0x6d61_7475_7269_6f6e_i64.to_string(),
            &["migrate", "up"],
            "migration lock",
        ),
        (
            0x4d61_7475_7269_6f6e_i64.to_string(),
            &["maintain"],
            "another maintenance run",
        ),
        (
            "hashtext('maturion.audit_seals')".to_owned(),
            &["audit", "seal"],
            "audit seal lock",
        ),
    ];
    for (key, command, says) in cases {
        holder
            .batch_execute(&format!("SELECT pg_advisory_lock({key})"))
            .await
            .unwrap();
        let mut args = vec!["--lock-wait", "1s"];
        args.extend_from_slice(command);
        let started = Instant::now();
        let output = run_on(&url, &args);
        fails_with(&output, 1, &[says, "lock-holder-test", "pid"]);
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{:?}",
            started.elapsed()
        );
        holder
            .batch_execute("SELECT pg_advisory_unlock_all()")
            .await
            .unwrap();
    }
    let output = run_on(&url, &["--lock-wait", "1s", "maintain"]);
    assert!(output.status.success(), "{}", describe(&output));
}
