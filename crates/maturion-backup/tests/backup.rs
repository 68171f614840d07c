//! Backups and restores of a real cluster. Each test makes its own embedded cluster in a
//! temporary home (the shared test cluster must not be restarted or have archiving
//! turned on).

use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use maturion_backup::{
    BackupError, BackupKind, BackupSettings, Passphrase, RecoveryPoint, RestoreRequest,
};
use maturion_cluster::{Cluster, ClusterOptions, StopMode};
use tempfile::TempDir;
use tokio_postgres::{Client, NoTls};

const PASSPHRASE: &str = "an example passphrase for tests";
const DATABASE: &str = "maturion";

/// A cluster in a temporary home, killed with everything restored from it when dropped.
struct Scene {
    home: TempDir,
    cluster: Cluster,
    restored: Vec<Cluster>,
}

impl Scene {
    async fn new(repositories: usize) -> (Self, BackupSettings) {
        let home = tempfile::Builder::new()
            .prefix("mbk")
            .permissions(Permissions::from_mode(0o755))
            .tempdir()
            .unwrap();
        let cluster = Cluster::new(home.path().join("c"), ClusterOptions::default()).unwrap();
        cluster.start().unwrap();
        let admin = connect(&cluster, "postgres").await;
        admin
            .batch_execute(&format!("CREATE DATABASE {DATABASE}"))
            .await
            .unwrap();
        let mut settings = BackupSettings::for_home(cluster.home());
        settings.repositories = (1..=repositories)
            .map(|key| home.path().join(format!("repo{key}")))
            .collect();
        settings.archive_wait_secs = 20;
        let scene = Self {
            home,
            cluster,
            restored: Vec::new(),
        };
        (scene, settings)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }

    async fn client(&self) -> Client {
        connect(&self.cluster, DATABASE).await
    }

    async fn restore(
        &mut self,
        target: &str,
        point: RecoveryPoint,
        repository: Option<u32>,
    ) -> Result<Client, BackupError> {
        let request = RestoreRequest {
            target: self.path(target),
            point,
            force: false,
            repository,
            database: DATABASE.into(),
        };
        let restored = maturion_backup::restore(&self.cluster, &request).await?;
        self.restored.push(restored.cluster.clone());
        Ok(connect(&restored.cluster, DATABASE).await)
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        for cluster in self.restored.iter().chain([&self.cluster]) {
            let _ = cluster.stop(StopMode::Immediate);
        }
    }
}

async fn connect(cluster: &Cluster, database: &str) -> Client {
    let (client, connection) = cluster
        .config(cluster.superuser(), database)
        .connect(NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

fn passphrase() -> Passphrase {
    Passphrase::new(PASSPHRASE).unwrap()
}

/// Closes the current WAL segment and waits until the archiver has stored it.
async fn archive_now(client: &Client) {
    let segment: String = client
        .query_one("SELECT pg_walfile_name(pg_switch_wal())", &[])
        .await
        .unwrap()
        .get(0);
    for _ in 0..300 {
        let archived: Option<String> = client
            .query_one("SELECT last_archived_wal FROM pg_stat_archiver", &[])
            .await
            .unwrap()
            .get(0);
        if archived.is_some_and(|archived| archived >= segment) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("segment {segment} was not archived within 30 s");
}

async fn count(client: &Client, table: &str) -> i64 {
    client
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn restore_to_a_moment_keeps_the_rows_before_it_and_none_after() {
    let (mut scene, settings) = Scene::new(1).await;
    let setup = maturion_backup::setup(&scene.cluster, &settings, &passphrase())
        .await
        .unwrap();
    assert!(setup.restarted, "archive_mode was off on a new cluster");
    let client = scene.client().await;
    client
        .batch_execute("CREATE TABLE ledger (n int)")
        .await
        .unwrap();
    let made = maturion_backup::run(&scene.cluster, BackupKind::Full)
        .await
        .unwrap();
    assert_eq!(made.len(), 1);
    assert_eq!(made[0].kind, BackupKind::Full);

    // pgBackRest records a backup's end in whole seconds and picks, for a moment, a backup
    // that ended before it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    client
        .batch_execute("INSERT INTO ledger SELECT generate_series(1, 10)")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let moment: chrono::DateTime<chrono::Utc> = client
        .query_one("SELECT clock_timestamp()", &[])
        .await
        .unwrap()
        .get(0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    client
        .batch_execute("INSERT INTO ledger SELECT generate_series(11, 20)")
        .await
        .unwrap();
    archive_now(&client).await;

    let restored = scene
        .restore("at-t", RecoveryPoint::Time(moment), None)
        .await
        .unwrap();
    assert_eq!(count(&restored, "ledger").await, 10);
    let max: i32 = restored
        .query_one("SELECT max(n) FROM ledger", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(max, 10);

    let latest = scene
        .restore("latest", RecoveryPoint::Latest, None)
        .await
        .unwrap();
    assert_eq!(count(&latest, "ledger").await, 20);

    let again = scene.restore("latest", RecoveryPoint::Latest, None).await;
    assert!(
        matches!(again, Err(BackupError::TargetNotEmpty { .. })),
        "{again:?}"
    );
}

#[tokio::test]
async fn the_repository_is_encrypted_and_refuses_a_wrong_passphrase() {
    let (mut scene, settings) = Scene::new(1).await;
    // As the binary gets it; the restart in `setup` must not hand it to the server.
    std::env::set_var(maturion_backup::PASSPHRASE_VARIABLE, PASSPHRASE);
    let from_environment = Passphrase::from_environment().unwrap();
    let setup = maturion_backup::setup(&scene.cluster, &settings, &from_environment).await;
    assert!(setup.unwrap().restarted);
    let canary = "CANARY-7f3e1b2a-plaintext-must-not-reach-the-repository";
    let client = scene.client().await;
    client
        .batch_execute(&format!(
            "CREATE TABLE secrets (body text);
             INSERT INTO secrets SELECT '{canary}' || n FROM generate_series(1, 1000) n"
        ))
        .await
        .unwrap();
    maturion_backup::run(&scene.cluster, BackupKind::Full)
        .await
        .unwrap();
    archive_now(&client).await;

    let files = files_under(&settings.repositories[0]);
    assert!(
        files.len() > 5,
        "the repository holds the backup and WAL: {files:?}"
    );
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        assert!(
            bytes.starts_with(b"Salted__"),
            "{} is not an encrypted file",
            file.display()
        );
        assert!(
            !contains(&bytes, canary),
            "{} holds the canary in plaintext",
            file.display()
        );
    }
    let info = maturion_backup::list(&scene.cluster).await.unwrap();
    assert_eq!(info.repositories[0].cipher, "aes-256-cbc");
    assert_passphrase_only_in_the_config(&scene);

    let wrong = Passphrase::new("not the passphrase of this repository").unwrap();
    let refused = maturion_backup::setup(&scene.cluster, &settings, &wrong).await;
    assert!(refused.is_err(), "a wrong passphrase was accepted");
    let restore = scene.restore("wrong", RecoveryPoint::Latest, None).await;
    assert!(
        matches!(restore, Err(BackupError::Pgbackrest { .. })),
        "restore with a wrong passphrase: {restore:?}"
    );
}

#[tokio::test]
async fn losing_repo1_whole_still_restores_from_repo2() {
    let (mut scene, settings) = Scene::new(2).await;
    maturion_backup::setup(&scene.cluster, &settings, &passphrase())
        .await
        .unwrap();
    let client = scene.client().await;
    client
        .batch_execute("CREATE TABLE orders (n int); INSERT INTO orders VALUES (1), (2)")
        .await
        .unwrap();
    let schedule = maturion_backup::Schedule::default();
    let made = maturion_backup::run_scheduled(&scene.cluster, &schedule)
        .await
        .unwrap();
    let repositories: Vec<u32> = made.iter().map(|set| set.repository).collect();
    assert_eq!(repositories, [1, 2]);
    assert!(
        made.iter().all(|set| set.kind == BackupKind::Full),
        "{made:?}"
    );
    let again = maturion_backup::run_scheduled(&scene.cluster, &schedule).await;
    assert_eq!(
        again.unwrap(),
        [],
        "a full backup was just taken in each repository"
    );
    client
        .batch_execute("INSERT INTO orders VALUES (3)")
        .await
        .unwrap();
    archive_now(&client).await;

    std::fs::remove_dir_all(&settings.repositories[0]).unwrap();
    let restored = scene
        .restore("from-repo2", RecoveryPoint::Latest, None)
        .await
        .unwrap();
    assert_eq!(count(&restored, "orders").await, 3);
}

#[tokio::test]
async fn a_backup_with_broken_wal_archiving_fails() {
    let (scene, mut settings) = Scene::new(1).await;
    settings.archive_wait_secs = 5;
    maturion_backup::setup(&scene.cluster, &settings, &passphrase())
        .await
        .unwrap();
    let archiving = scene.cluster.archiving_settings_file();
    let text = std::fs::read_to_string(&archiving).unwrap();
    let broken: String = text
        .lines()
        .map(|line| match line.starts_with("archive_command") {
            true => "archive_command = 'false'".to_owned(),
            false => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&archiving, broken).unwrap();
    scene
        .client()
        .await
        .execute("SELECT pg_reload_conf()", &[])
        .await
        .unwrap();

    let outcome = maturion_backup::run(&scene.cluster, BackupKind::Full).await;
    let Err(BackupError::Pgbackrest { output, .. }) = outcome else {
        panic!("a backup without archived WAL was not a failure: {outcome:?}");
    };
    assert!(output.contains("archive"), "{output}");
    let info = maturion_backup::list(&scene.cluster).await.unwrap();
    assert!(info.backups.is_empty(), "{:?}", info.backups);
}

#[tokio::test]
async fn a_drill_on_a_healthy_cluster_passes_with_its_figures() {
    let (scene, settings) = Scene::new(1).await;
    let mut admin = scene.client().await;
    maturion_platform::migrate_up(&mut admin).await.unwrap();
    maturion_backup::setup(&scene.cluster, &settings, &passphrase())
        .await
        .unwrap();
    maturion_backup::run(&scene.cluster, BackupKind::Full)
        .await
        .unwrap();

    let report = maturion_backup::drill(&scene.cluster, DATABASE)
        .await
        .unwrap();
    assert!(report.passed, "{report:#?}");
    assert!(report.audit_intact);
    assert_eq!(report.conformance_violations, 0);
    assert!(report.tables.len() > 5, "{:?}", report.tables);
    assert!(report.tables.iter().all(|table| table.checksum_matches));
    let json = serde_json::to_value(&report).unwrap();
    for key in ["rpo_seconds", "rto_seconds", "passed"] {
        assert!(json.get(key).is_some(), "no {key} in {json}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(scene.cluster.home())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("drill-"))
        .collect();
    assert!(leftovers.is_empty(), "the drill left its scratch folder");
}

/// Not in the server's environment or command line, nor in any log of the home; only
/// in the 0600 configuration file.
fn assert_passphrase_only_in_the_config(scene: &Scene) {
    let postmaster = scene.cluster.status().unwrap().pid.unwrap();
    for view in ["environ", "cmdline"] {
        let bytes = std::fs::read(format!("/proc/{postmaster}/{view}")).unwrap();
        assert!(
            !contains(&bytes, PASSPHRASE),
            "the server's {view} holds the passphrase"
        );
    }
    let config = maturion_backup::config_file(&scene.cluster);
    let mode = std::fs::metadata(&config).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains(PASSPHRASE));
    for retention in ["repo1-retention-full-type=time", "repo1-retention-full=30"] {
        assert!(
            text.contains(retention),
            "no {retention} in {}",
            config.display()
        );
    }
    let logs = files_under(scene.cluster.home())
        .into_iter()
        .filter(|file| file.extension().is_some_and(|ext| ext == "log"));
    for log in logs {
        let bytes = std::fs::read(&log).unwrap();
        assert!(
            !contains(&bytes, PASSPHRASE),
            "{} holds the passphrase",
            log.display()
        );
    }
}

fn contains(bytes: &[u8], text: &str) -> bool {
    bytes
        .windows(text.len())
        .any(|window| window == text.as_bytes())
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}
