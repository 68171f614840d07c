//! Real clusters in temporary folders.

use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::thread;

use maturion_cluster::{Cluster, ClusterError, ClusterOptions, StartOutcome, StopMode};
use tempfile::TempDir;
use tokio_postgres::{Client, NoTls};

/// Stops the cluster even when the test fails, so no server outlives it.
struct StopOnDrop<'a>(&'a Cluster);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.stop(StopMode::Immediate);
    }
}

/// Readable by all: as root the cluster runs as `postgres`, which must be able to enter it.
fn temp_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("maturion-cluster-")
        .permissions(Permissions::from_mode(0o755))
        .tempdir()
        .unwrap()
}

fn test_options() -> ClusterOptions {
    ClusterOptions {
        durable: false,
        ..ClusterOptions::default()
    }
}

async fn connect(cluster: &Cluster) -> Client {
    let (client, connection) = cluster
        .config(cluster.superuser(), "postgres")
        .connect(NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

#[tokio::test]
async fn starts_reuses_stops_and_restarts_with_data_kept() {
    let dir = temp_dir();
    let cluster = Cluster::new(dir.path().join("home"), test_options()).unwrap();
    let _stop = StopOnDrop(&cluster);

    assert_eq!(cluster.start().unwrap(), StartOutcome::Initialised);
    let first = cluster.status().unwrap();
    assert!(first.initialised && first.running);
    assert!(first.pid.is_some());
    assert!(first.version.starts_with(|c: char| c.is_ascii_digit()));

    let client = connect(&cluster).await;
    let one: i32 = client.query_one("select 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);
    client
        .batch_execute("create table kept (n int); insert into kept values (42)")
        .await
        .unwrap();
    drop(client);

    assert_eq!(cluster.start().unwrap(), StartOutcome::AlreadyRunning);
    let again = cluster.status().unwrap();
    assert_eq!((again.port, again.pid), (first.port, first.pid));

    assert!(cluster.stop(StopMode::Fast).unwrap());
    let stopped = cluster.status().unwrap();
    assert!(stopped.initialised && !stopped.running);
    assert_eq!(stopped.pid, None);
    assert!(!cluster.stop(StopMode::Fast).unwrap());

    assert_eq!(cluster.start().unwrap(), StartOutcome::Started);
    assert_eq!(cluster.status().unwrap().port, first.port);
    let client = connect(&cluster).await;
    let n: i32 = client
        .query_one("select n from kept", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 42);
}

#[tokio::test]
async fn applies_options_and_listens_on_tcp_only_with_tls_1_3() {
    let dir = temp_dir();
    let options = ClusterOptions {
        max_connections: 50,
        ..test_options()
    };
    let cluster = Cluster::new(dir.path().join("home"), options).unwrap();
    let _stop = StopOnDrop(&cluster);
    cluster.start().unwrap();

    let client = connect(&cluster).await;
    for (setting, expected) in [
        ("listen_addresses", "127.0.0.1"),
        ("ssl", "on"),
        ("ssl_min_protocol_version", "TLSv1.3"),
        ("password_encryption", "scram-sha-256"),
        ("unix_socket_permissions", "0700"),
        ("max_connections", "50"),
        ("fsync", "off"),
        ("synchronous_commit", "off"),
        ("full_page_writes", "off"),
        ("server_encoding", "UTF8"),
    ] {
        let row = client
            .query_one(&format!("show {setting}"), &[])
            .await
            .unwrap();
        assert_eq!(row.get::<_, String>(0), expected, "{setting}");
    }
}

#[tokio::test]
async fn url_works_with_psql() {
    let dir = temp_dir();
    let cluster = Cluster::new(dir.path().join("home"), test_options()).unwrap();
    let _stop = StopOnDrop(&cluster);
    cluster.start().unwrap();

    let url = cluster.url("postgres", "postgres");
    let output = match Command::new("psql")
        .args([&url, "-Atc", "select 42"])
        .output()
    {
        Ok(output) => output,
        Err(error) => {
            eprintln!("skipping the psql check: cannot run psql: {error}");
            return;
        }
    };
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "42");
}

#[test]
fn concurrent_starts_initialise_once() {
    let dir = temp_dir();
    let home = dir.path().join("home");
    let cluster = Cluster::new(&home, test_options()).unwrap();
    let _stop = StopOnDrop(&cluster);

    let mut outcomes: Vec<StartOutcome> = thread::scope(|scope| {
        let starts: Vec<_> = (0..2)
            .map(|_| {
                let home = &home;
                scope.spawn(move || Cluster::new(home, test_options()).unwrap().start().unwrap())
            })
            .collect();
        starts
            .into_iter()
            .map(|start| start.join().unwrap())
            .collect()
    });
    outcomes.sort_by_key(|outcome| *outcome != StartOutcome::Initialised);
    assert_eq!(
        outcomes,
        [StartOutcome::Initialised, StartOutcome::AlreadyRunning]
    );
}

#[test]
fn a_failed_start_reports_the_server_log() {
    let dir = temp_dir();
    let options = ClusterOptions {
        max_connections: 0,
        ..test_options()
    };
    let cluster = Cluster::new(dir.path().join("home"), options).unwrap();
    let _stop = StopOnDrop(&cluster);

    let error = cluster.start().unwrap_err();
    assert!(
        matches!(error, ClusterError::StartFailed { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("max_connections"), "{error}");
    assert!(cluster.status().unwrap().initialised);
}

#[test]
fn a_missing_cluster_is_neither_initialised_nor_running() {
    let dir = temp_dir();
    let home = dir.path().join("never-started");
    let cluster = Cluster::new(&home, ClusterOptions::default()).unwrap();

    let status = cluster.status().unwrap();
    assert!(!status.initialised && !status.running);
    assert_eq!(status.port, None);
    assert!(!cluster.stop(StopMode::Fast).unwrap());
    assert!(!home.exists());
}

#[test]
fn as_root_a_home_postgres_cannot_reach_is_refused() {
    if !running_as_root() {
        eprintln!("skipping: only root hands the cluster to the postgres user");
        return;
    }
    let dir = temp_dir();
    let private = dir.path().join("private");
    std::fs::create_dir(&private).unwrap();
    std::fs::set_permissions(&private, Permissions::from_mode(0o700)).unwrap();

    let cluster = Cluster::new(private.join("home"), test_options()).unwrap();
    match cluster.start() {
        Err(ClusterError::NotTraversable { dir }) => assert_eq!(dir, private),
        other => panic!("expected NotTraversable, got {other:?}"),
    }
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .is_ok_and(|meta| std::os::unix::fs::MetadataExt::uid(&meta) == 0)
}

/// Returns once the process has exited (a zombie or gone): a SIGKILL is delivered when
/// the process next runs, not when `kill` returns.
fn kill_9(pid: u32) {
    let killed = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success(), "kill -9 {pid}");
    let exited = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
    };
    while !exited() {
        thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// A `kill -9` of the postmaster leaves a zombie and orphaned backends for a moment; the
/// next start must wait for them and recover, not take them for a live server.
#[tokio::test]
async fn a_killed_server_is_seen_dead_and_the_next_start_recovers_it() {
    let dir = temp_dir();
    let cluster = Cluster::new(dir.path().join("home"), ClusterOptions::default()).unwrap();
    let _stop = StopOnDrop(&cluster);
    cluster.start().unwrap();
    let client = connect(&cluster).await;
    client
        .batch_execute("create table kept (n int); insert into kept values (42)")
        .await
        .unwrap();
    let pid = cluster
        .status()
        .unwrap()
        .pid
        .expect("a running server has a pid");

    kill_9(pid);
    let after = cluster.status().unwrap();
    assert!(!after.running, "a killed server is not running: {after:?}");
    assert_eq!((after.pid, after.crashed_pid), (None, Some(pid)));
    assert!(!cluster.stop(StopMode::Fast).unwrap(), "nothing to stop");

    assert_eq!(cluster.start().unwrap(), StartOutcome::RecoveredFromCrash);
    let recovered = cluster.status().unwrap();
    assert!(recovered.running && recovered.crashed_pid.is_none());
    assert_ne!(recovered.pid, Some(pid));
    let client = connect(&cluster).await;
    let n: i32 = client
        .query_one("select n from kept", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 42, "a committed row survives the crash");
    assert_eq!(cluster.start().unwrap(), StartOutcome::AlreadyRunning);
}
