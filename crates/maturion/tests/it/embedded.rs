//! The embedded default: no DATABASE_URL, a private cluster in MATURION_HOME.

use crate::server::RunningServer;
use crate::{describe, maturion, maturion_command, stdout};

/// A home under the temp dir (traversable by the postgres user when tests run as root);
/// the cluster is stopped when the test ends, pass or fail.
struct Home(tempfile::TempDir);

impl Home {
    fn new() -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("maturion-home-")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        Home(dir)
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        maturion(&["db", "stop"], Some(self.0.path()), None);
    }
}

#[test]
fn up_starts_migrates_and_is_reused_then_stops() {
    let home = Home::new();
    let first = maturion(&["up"], Some(home.0.path()), None);
    assert!(first.status.success(), "{}", describe(&first));
    let text = stdout(&first);
    assert!(text.contains("Maturion is up."), "{text}");
    assert!(
        text.contains("migration(s) applied now") && !text.contains("(0 migration(s)"),
        "{text}"
    );
    assert!(text.contains("postgresql://"), "{text}");

    let status = maturion(&["db", "status"], Some(home.0.path()), None);
    assert!(status.status.success(), "{}", describe(&status));
    let pid_line = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("pid:"))
            .map(str::to_owned)
    };
    let pid = pid_line(&stdout(&status)).expect("a running cluster has a pid");

    // A second start reuses the running cluster and applies nothing.
    let again = maturion(&["up"], Some(home.0.path()), None);
    assert!(again.status.success(), "{}", describe(&again));
    assert!(
        stdout(&again).contains("0 migration(s) applied now"),
        "{}",
        describe(&again)
    );
    let start = maturion(&["db", "start"], Some(home.0.path()), None);
    assert!(
        stdout(&start).contains("already running"),
        "{}",
        describe(&start)
    );
    assert_eq!(
        pid_line(&stdout(&maturion(
            &["db", "status"],
            Some(home.0.path()),
            None
        ))),
        Some(pid)
    );

    let stop = maturion(&["db", "stop"], Some(home.0.path()), None);
    assert!(
        stdout(&stop).contains("embedded cluster stopped"),
        "{}",
        describe(&stop)
    );
    let stopped = maturion(&["db", "status"], Some(home.0.path()), None);
    assert_eq!(stopped.status.code(), Some(3), "{}", describe(&stopped));
    assert!(stdout(&stopped).contains("running:     false"));

    // Started again, the data is still there.
    let restarted = maturion(&["up"], Some(home.0.path()), None);
    assert!(
        stdout(&restarted).contains("0 migration(s) applied now"),
        "{}",
        describe(&restarted)
    );
}

#[test]
fn db_url_connects() {
    let home = Home::new();
    assert!(maturion(&["db", "start"], Some(home.0.path()), None)
        .status
        .success());
    let url = stdout(&maturion(
        &["db", "url", "--role", "postgres"],
        Some(home.0.path()),
        None,
    ));
    let output = std::process::Command::new("psql")
        .args([url.trim(), "-tAc", "select current_database()"])
        .output()
        .expect("psql runs");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "maturion",
        "{}",
        describe(&output)
    );
}

/// A crash (`kill -9` of the postmaster), then at once a start: it recovers by itself, and
/// in between `db status` calls the server dead, not running.
#[test]
fn a_start_recovers_a_killed_cluster_at_once() {
    let home = Home::new();
    let first = maturion(&["up"], Some(home.0.path()), None);
    assert!(first.status.success(), "{}", describe(&first));
    let status = stdout(&maturion(&["db", "status"], Some(home.0.path()), None));
    let pid = status
        .lines()
        .find_map(|line| line.strip_prefix("pid:"))
        .expect("a running cluster has a pid")
        .trim()
        .to_owned();

    maturion_testing::kill_9(pid.parse().unwrap());
    let dead = maturion(&["db", "status"], Some(home.0.path()), None);
    assert_eq!(dead.status.code(), Some(3), "{}", describe(&dead));
    assert!(
        stdout(&dead).contains("running:     false"),
        "{}",
        describe(&dead)
    );
    assert!(
        stdout(&dead).contains(&format!("crashed:     pid {pid}")),
        "{}",
        describe(&dead)
    );

    let again = maturion(&["up"], Some(home.0.path()), None);
    assert!(again.status.success(), "{}", describe(&again));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("crash recovery"),
        "the start says it recovered: {}",
        describe(&again)
    );
    let running = maturion(&["db", "status"], Some(home.0.path()), None);
    assert!(running.status.success(), "{}", describe(&running));
}

/// The README's run command: `maturion` alone starts the cluster, migrates and serves until
/// it is stopped.
#[tokio::test]
async fn the_run_command_serves_the_embedded_cluster_until_stopped() {
    let home = Home::new();
    let mut command = maturion_command(&[]);
    command
        .env("MATURION_HOME", home.0.path())
        .env("MATURION_SERVER_LISTEN", "127.0.0.1:0");
    let server = RunningServer::spawn(command);
    let (status, readiness) = server.ready().await;
    assert_eq!(status, 200, "{readiness}");
    let stopped = server.terminate();
    assert!(stopped.status.success(), "{}", describe(&stopped));
    assert!(
        stdout(&stopped).contains("Maturion stopped."),
        "{}",
        describe(&stopped)
    );
}

/// The first start on an empty embedded database makes a demo organisation and prints its
/// administrator's token once, with a curl that uses it; later starts make and print none.
#[tokio::test]
async fn the_first_start_makes_a_demo_organisation_and_shows_its_token_once() {
    let home = Home::new();
    let serve = || {
        let mut command = maturion_command(&[]);
        command
            .env("MATURION_HOME", home.0.path())
            .env("MATURION_SERVER_LISTEN", "127.0.0.1:0");
        RunningServer::spawn(command)
    };
    let first = serve();
    first.ready().await;
    let first = first.terminate();
    assert!(first.status.success(), "{}", describe(&first));
    let text = stdout(&first);
    let token = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("export TOKEN="))
        .unwrap_or_else(|| panic!("no token printed: {}", describe(&first)))
        .to_owned();
    assert!(
        text.contains("curl -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:")
            && text.contains("/v1/policies"),
        "{text}"
    );

    let second = serve();
    second.ready().await;
    let second = second.terminate();
    assert!(second.status.success(), "{}", describe(&second));
    assert!(
        !stdout(&second).contains("TOKEN") && !stdout(&second).contains("mt_"),
        "a later start shows no token: {}",
        describe(&second)
    );

    let psql = |role: &str, sql: &str| {
        let url = stdout(&maturion(
            &["db", "url", "--role", role],
            Some(home.0.path()),
            None,
        ));
        let output = std::process::Command::new("psql")
            .args([url.trim(), "-q", "-v", "ON_ERROR_STOP=1", "-tAc", sql])
            .output()
            .expect("psql runs");
        assert!(output.status.success(), "{}", describe(&output));
        stdout(&output).trim().to_owned()
    };
    assert_eq!(
        psql(
            "postgres",
            "SELECT count(*) || ' ' || min(name) FROM organisations"
        ),
        "1 Demo Organisation"
    );
    assert_eq!(
        psql(
            "maturion_app",
            &format!(
                "BEGIN; SELECT user_id IS NOT NULL FROM maturion.bind_tenant('{token}'); \
                 SELECT count(*) FROM users WHERE role = 'admin' AND id = maturion.current_user_id()"
            )
        ),
        "t\n1",
        "the printed token binds to the demo organisation's administrator"
    );
}
