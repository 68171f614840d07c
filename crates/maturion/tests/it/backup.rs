//! `maturion backup …` and `maturion restore` on an embedded cluster of their own (the
//! set-up restarts it with WAL archiving on).

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::server::RunningServer;
use crate::{describe, maturion_command, stderr, stdout};

const PASSPHRASE_VARIABLES: [&str; 2] = [
    "MATURION_BACKUP_PASSPHRASE",
    "MATURION_BACKUP_PASSPHRASE_FILE",
];

/// A home with a key file; the cluster and the restored one are stopped at the end.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("maturion-backup-")
            .permissions(std::fs::Permissions::from_mode(0o755))
            .tempdir()
            .unwrap();
        std::fs::write(
            dir.path().join("backup.key"),
            "a key file passphrase, long enough\n",
        )
        .unwrap();
        Home { dir }
    }

    fn cluster(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn restored(&self) -> PathBuf {
        self.dir.path().join("restored")
    }

    /// `maturion` on the cluster, with the key file unless `key` is false.
    fn run(&self, args: &[&str], key: bool) -> Output {
        run_in(
            &self.cluster(),
            args,
            key.then(|| self.dir.path().join("backup.key")),
        )
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        run_in(&self.restored(), &["db", "stop"], None);
        run_in(&self.cluster(), &["db", "stop"], None);
    }
}

fn run_in(home: &Path, args: &[&str], key_file: Option<PathBuf>) -> Output {
    let mut command = maturion_command(args);
    command.env("MATURION_HOME", home);
    for variable in PASSPHRASE_VARIABLES {
        command.env_remove(variable);
    }
    if let Some(key_file) = key_file {
        command.env("MATURION_BACKUP_PASSPHRASE_FILE", key_file);
    }
    command.output().expect("maturion runs")
}

fn json(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "{}", describe(output));
    serde_json::from_str(&stdout(output)).unwrap_or_else(|_| panic!("{}", describe(output)))
}

#[test]
fn set_up_back_up_list_drill_and_restore() {
    let home = Home::new();
    let up = home.run(&["up"], false);
    assert!(up.status.success(), "{}", describe(&up));

    let without_key = home.run(&["backup", "setup"], false);
    assert!(!without_key.status.success());
    assert!(
        stderr(&without_key).contains("MATURION_BACKUP_PASSPHRASE_FILE"),
        "{}",
        describe(&without_key)
    );

    let setup = home.run(&["backup", "setup"], true);
    assert!(setup.status.success(), "{}", describe(&setup));
    assert!(stdout(&setup).contains("restarted"), "{}", describe(&setup));
    let full = home.run(&["backup", "run", "--type", "full"], true);
    assert!(full.status.success(), "{}", describe(&full));

    let list = json(&home.run(&["backup", "list", "--format", "json"], false));
    assert_eq!(list["status"], "ok", "{list}");
    assert_eq!(list["backups"][0]["kind"], "full", "{list}");
    assert_eq!(list["repositories"][0]["cipher"], "aes-256-cbc", "{list}");

    let drill = json(&home.run(&["backup", "drill", "--format", "json"], false));
    assert_eq!(drill["passed"], true, "{drill}");
    assert!(
        drill["rpo_seconds"].is_number() && drill["rto_seconds"].is_number(),
        "{drill}"
    );

    let target = home.restored();
    let target = target.to_str().unwrap();
    let restore = home.run(&["restore", "--to", "latest", "--target", target], false);
    assert!(restore.status.success(), "{}", describe(&restore));
    assert!(
        stdout(&restore).contains("running on port"),
        "{}",
        describe(&restore)
    );
    let again = home.run(&["restore", "--to", "latest", "--target", target], false);
    assert!(!again.status.success(), "{}", describe(&again));
    assert!(stderr(&again).contains("--force"), "{}", describe(&again));
}

#[test]
fn an_external_server_is_refused_with_where_to_look() {
    let mut command = maturion_command(&["backup", "list"]);
    command.env("DATABASE_URL", "postgresql://admin@db.invalid/maturion");
    let output = command.output().unwrap();
    assert!(!output.status.success());
    assert!(stderr(&output).contains("README"), "{}", describe(&output));
}

/// `maturion serve` on the home, looking at the backup schedule every second.
fn serve(home: &Home) -> RunningServer {
    let mut command = maturion_command(&["serve", "--listen", "127.0.0.1:0"]);
    command
        .env("MATURION_HOME", home.cluster())
        .env("MATURION_JOBS_BACKUP_CHECK_INTERVAL_SECONDS", "1");
    for variable in PASSPHRASE_VARIABLES {
        command.env_remove(variable);
    }
    RunningServer::spawn(command)
}

/// `/readyz` once the scheduled backup's outcome is `outcome`.
async fn readiness_once_backups(server: &RunningServer, outcome: &str) -> (u16, serde_json::Value) {
    for _ in 0..600 {
        let readiness = server.json("/readyz").await;
        if readiness.1["checks"]["backups"]["outcome"] == outcome {
            return readiness;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!(
        "the scheduled backup never reported {outcome}: {:?}",
        server.json("/readyz").await
    );
}

/// `/metrics` once it contains `needle`.
async fn metrics_once(server: &RunningServer, needle: &str) -> String {
    for _ in 0..600 {
        let metrics = server.get("/metrics").await.text().await.unwrap();
        if metrics.contains(needle) {
            return metrics;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("/metrics never showed {needle}");
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[tokio::test]
async fn the_server_takes_the_scheduled_backups_and_reports_a_failure() {
    let home = Home::new();
    let setup = home.run(&["backup", "setup"], true);
    assert!(setup.status.success(), "{}", describe(&setup));

    // A repository the server's user cannot write: the first full backup, due at once, fails.
    let repo1 = home.cluster().join("backups/repo1");
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(&repo1).unwrap().permissions().mode()
    };
    set_mode(&repo1, 0o000);
    let server = serve(&home);
    let (status, readiness) = readiness_once_backups(&server, "failed").await;
    assert_eq!(status, 503, "{readiness}");
    assert_eq!(readiness["checks"]["backups"]["ok"], false, "{readiness}");
    let metrics = server.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("maturion_backup_last_run_failed 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"maturion_backup_runs_total{outcome="failed"}"#),
        "{metrics}"
    );
    server.terminate();
    set_mode(&repo1, mode);

    // Repaired, the next server takes the full backup that is due, then finds nothing due.
    let server = serve(&home);
    let metrics = metrics_once(
        &server,
        r#"maturion_backup_runs_total{outcome="succeeded"} 1"#,
    )
    .await;
    assert!(
        metrics.contains("maturion_backup_last_success_timestamp_seconds"),
        "{metrics}"
    );
    assert!(
        metrics.contains("maturion_backup_last_success_timestamp_seconds"),
        "{metrics}"
    );
    // Nothing more is due until the next incremental or daily full time.
    let (status, readiness) = readiness_once_backups(&server, "nothing_due").await;
    assert_eq!(readiness["checks"]["backups"]["ok"], true, "{readiness}");
    assert!(
        readiness["checks"]["backups"]["last_backup"].is_string(),
        "{readiness}"
    );
    assert_eq!(status, 200, "{readiness}");
    let metrics = server.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("maturion_backup_last_run_failed 0"),
        "{metrics}"
    );
    server.terminate();

    // The command line follows the same configured schedule: nothing is due either.
    let scheduled = home.run(&["backup", "run", "--scheduled"], false);
    assert!(scheduled.status.success(), "{}", describe(&scheduled));
    assert!(
        stdout(&scheduled).contains("no backup is due"),
        "{}",
        describe(&scheduled)
    );

    let list = json(&home.run(&["backup", "list", "--format", "json"], false));
    let backups = list["backups"].as_array().unwrap();
    assert_eq!(backups.len(), 1, "{list}");
    assert_eq!(backups[0]["kind"], "full", "{list}");
}

const NEW_PASSPHRASE: &str = "the rotated passphrase, long enough";

/// `maturion` on the cluster with the key file and the new passphrase of a rotation.
fn rotate(home: &Home, args: &[&str]) -> Output {
    let mut command = maturion_command(args);
    command.env("MATURION_HOME", home.cluster());
    command.env(
        "MATURION_BACKUP_PASSPHRASE_FILE",
        home.dir.path().join("backup.key"),
    );
    command.env_remove("MATURION_BACKUP_NEW_PASSPHRASE");
    command.env(
        "MATURION_BACKUP_NEW_PASSPHRASE_FILE",
        home.dir.path().join("new.key"),
    );
    command.output().expect("maturion runs")
}

fn create_organisation(home: &Home, name: &str) {
    let email = format!("admin@{}.example", name.to_lowercase().replace(' ', "-"));
    let created = home.run(&["org", "create", name, "--admin-email", &email], false);
    assert!(created.status.success(), "{}", describe(&created));
}

/// Restores the latest state of repository `repo` into `folder` and counts the
/// organisations named `names` in it (the restored cluster is stopped afterwards).
fn organisations_restored(home: &Home, repo: &str, folder: &str, names: &[&str]) -> Vec<i64> {
    let target = home.dir.path().join(folder);
    let target_text = target.to_str().unwrap();
    let restore = home.run(
        &[
            "restore",
            "--to",
            "latest",
            "--repo",
            repo,
            "--target",
            target_text,
        ],
        false,
    );
    assert!(restore.status.success(), "{}", describe(&restore));
    let url = stdout(&restore)
        .lines()
        .find_map(|line| line.strip_prefix("connect: psql "))
        .map(|url| url.trim_matches('"').to_owned())
        .unwrap_or_else(|| panic!("no URL in {}", describe(&restore)));
    let counts = names
        .iter()
        .map(|name| {
            let query = format!("SELECT count(*) FROM organisations WHERE name = '{name}'");
            let psql = std::process::Command::new("psql")
                .args([url.as_str(), "-tAc", &query])
                .output()
                .expect("psql runs");
            assert!(psql.status.success(), "{}", describe(&psql));
            stdout(&psql).trim().parse().unwrap()
        })
        .collect();
    run_in(&target, &["db", "stop"], None);
    counts
}

/// `pgbackrest info` of `repository` with `passphrase`, as the server's user: what someone
/// holding that passphrase reads from the repository's files.
fn info_with(home: &Home, repository: &Path, passphrase: &str) -> String {
    let config = home.dir.path().join("probe.conf");
    std::fs::write(
        &config,
        format!(
            "[global]\nrepo1-path={}\nrepo1-cipher-type=aes-256-cbc\nrepo1-cipher-pass={passphrase}\n\
             log-level-console=off\nlog-level-stderr=off\nlog-level-file=off\n\
             [maturion]\npg1-path={}\n",
            repository.display(),
            home.cluster().join("pgdata").display()
        ),
    )
    .unwrap();
    let root = stdout(&std::process::Command::new("id").arg("-u").output().unwrap()).trim() == "0";
    let mut command = std::process::Command::new(if root { "runuser" } else { "pgbackrest" });
    if root {
        command.args(["-u", "postgres", "--", "pgbackrest"]);
    }
    let output = command
        .arg(format!("--config={}", config.display()))
        .args(["--stanza=maturion", "info", "--output=json"])
        .output()
        .expect("pgbackrest runs");
    assert!(output.status.success(), "{}", describe(&output));
    stdout(&output)
}

fn backups_in(list: &serde_json::Value, repository: u64) -> Vec<String> {
    list["backups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|set| set["repository"] == repository)
        .map(|set| set["kind"].as_str().unwrap().to_owned())
        .collect()
}

fn repository(list: &serde_json::Value, key: u64) -> &serde_json::Value {
    list["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|repo| repo["key"] == key)
        .unwrap_or_else(|| panic!("no repo{key} in {list}"))
}

#[test]
fn the_passphrase_rotates_into_a_new_repository_and_the_previous_one_retires() {
    let home = Home::new();
    std::fs::write(
        home.dir.path().join("new.key"),
        format!("{NEW_PASSPHRASE}\n"),
    )
    .unwrap();
    let up = home.run(&["up"], false);
    assert!(up.status.success(), "{}", describe(&up));
    let setup = home.run(&["backup", "setup", "--archive-timeout", "1"], true);
    assert!(setup.status.success(), "{}", describe(&setup));
    let full = home.run(&["backup", "run", "--type", "full"], true);
    assert!(full.status.success(), "{}", describe(&full));
    create_organisation(&home, "Before Rotation");
    let config = home.cluster().join("pgbackrest/pgbackrest.conf");
    let configured = std::fs::read_to_string(&config).unwrap();

    // Refused, changing nothing: no new passphrase, the current one again, a folder in use.
    let new_repo = home.dir.path().join("rotated-repo1");
    let new_repo_text = new_repo.to_str().unwrap();
    let without = home.run(
        &["backup", "rotate-passphrase", "--new-repo", new_repo_text],
        true,
    );
    assert!(
        stderr(&without).contains("MATURION_BACKUP_NEW_PASSPHRASE_FILE"),
        "{}",
        describe(&without)
    );
    std::fs::copy(
        home.dir.path().join("backup.key"),
        home.dir.path().join("new.key"),
    )
    .unwrap();
    let same = rotate(
        &home,
        &["backup", "rotate-passphrase", "--new-repo", new_repo_text],
    );
    assert!(
        stderr(&same).contains("is the current one"),
        "{}",
        describe(&same)
    );
    std::fs::write(
        home.dir.path().join("new.key"),
        format!("{NEW_PASSPHRASE}\n"),
    )
    .unwrap();
    let repo1 = home.cluster().join("backups/repo1");
    let in_use = rotate(
        &home,
        &[
            "backup",
            "rotate-passphrase",
            "--new-repo",
            repo1.to_str().unwrap(),
        ],
    );
    assert!(
        stderr(&in_use).contains("cannot hold a new repository"),
        "{}",
        describe(&in_use)
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), configured);

    let rotated = rotate(
        &home,
        &["backup", "rotate-passphrase", "--new-repo", new_repo_text],
    );
    assert!(rotated.status.success(), "{}", describe(&rotated));
    assert!(
        stdout(&rotated).contains("repo3: "),
        "{}",
        describe(&rotated)
    );
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains(NEW_PASSPHRASE) && !text.contains("[global]\nrepo3"),
        "{text}"
    );
    let again = rotate(
        &home,
        &["backup", "rotate-passphrase", "--new-repo", "elsewhere"],
    );
    assert!(stderr(&again).contains("--retire"), "{}", describe(&again));
    let at_rotation = json(&home.run(&["backup", "list", "--format", "json"], false));

    // After the rotation, backups and WAL go to the new repository only.
    create_organisation(&home, "After Rotation");
    let incr = home.run(&["backup", "run", "--type", "incr"], false);
    assert!(incr.status.success(), "{}", describe(&incr));
    let list = json(&home.run(&["backup", "list", "--format", "json"], false));
    assert_eq!(list["status"], "ok", "{list}");
    assert_eq!(backups_in(&list, 1), ["full", "incr"], "{list}");
    assert_eq!(backups_in(&list, 3), ["full"], "{list}");
    assert_eq!(repository(&list, 3)["retiring"], true, "{list}");
    assert_eq!(repository(&list, 1)["retiring"], false, "{list}");
    assert_eq!(
        repository(&list, 3)["wal_max"],
        repository(&at_rotation, 3)["wal_max"],
        "{list}"
    );
    assert_ne!(
        repository(&list, 1)["wal_max"],
        repository(&at_rotation, 1)["wal_max"],
        "{list}"
    );

    // The new repository opens with the new passphrase only: with the previous one,
    // pgBackRest decrypts its info files into bytes it cannot parse (not even always into
    // valid JSON text), and lists no backup.
    let info: serde_json::Value =
        serde_json::from_str(&info_with(&home, &new_repo, NEW_PASSPHRASE)).unwrap();
    assert_eq!(info[0]["status"]["message"], "ok", "{info}");
    assert_eq!(info[0]["backup"].as_array().unwrap().len(), 2, "{info}");
    let text = info_with(&home, &new_repo, "a key file passphrase, long enough");
    assert!(text.contains("unable to load info file"), "{text}");
    assert!(!text.contains("\"label\""), "{text}");

    // Restores: the new repository has everything, the previous one what it had.
    let names = ["Before Rotation", "After Rotation"];
    assert_eq!(
        organisations_restored(&home, "1", "restored-new", &names),
        [1, 1]
    );
    assert_eq!(
        organisations_restored(&home, "3", "restored-previous", &names)[0],
        1
    );

    // Retiring: refused while the new repository's backups are younger than the retention.
    let early = home.run(&["backup", "rotate-passphrase", "--retire"], false);
    assert!(stderr(&early).contains("--force"), "{}", describe(&early));
    let retire = home.run(
        &["backup", "rotate-passphrase", "--retire", "--force"],
        false,
    );
    assert!(retire.status.success(), "{}", describe(&retire));
    let list = json(&home.run(&["backup", "list", "--format", "json"], false));
    assert_eq!(list["repositories"].as_array().unwrap().len(), 1, "{list}");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(!text.contains("a key file passphrase"), "{text}");
}

/// Processes whose command line names `folder` (a scratch cluster's postgres, pgBackRest).
fn processes_in(folder: &Path) -> Vec<String> {
    let needle = folder.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .map(|cmdline| String::from_utf8_lossy(&cmdline).replace('\0', " "))
        .filter(|cmdline| cmdline.contains(&needle))
        .collect()
}

/// `bench backup` end to end with tiny settings, as JSON: every figure is there, the kill
/// -9 lost at most what was acknowledged, and the scratch folder and its processes are gone
/// afterwards. Not timed: no figure is judged.
#[test]
fn bench_backup_reports_every_figure_and_leaves_nothing_behind() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = tempfile::Builder::new()
        .prefix("maturion-bench-")
        .permissions(std::fs::Permissions::from_mode(0o755))
        .tempdir()
        .unwrap();
    let output = maturion_command(&[
        "bench",
        "backup",
        "--size-gib",
        "0.02",
        "--writer-seconds",
        "3",
        "--archive-timeout",
        "1",
        "--scratch-dir",
        scratch.path().to_str().unwrap(),
        "--format",
        "json",
    ])
    .env("MATURION_HOME", scratch.path().join("not-used"))
    .output()
    .expect("maturion runs");
    let report = json(&output);
    for figure in [
        "pgbackrest_full_seconds",
        "pgbackrest_per_backup_seconds",
        "pg_basebackup_seconds",
        "pg_basebackup_lz4_seconds",
        "backup_ratio",
        "restore_seconds",
        "rto_100_gib_seconds",
        "rpo_seconds",
    ] {
        let value = report[figure].as_f64();
        assert!(
            value.is_some_and(|v| v.is_finite() && v >= 0.0),
            "{figure}: {report}"
        );
    }
    let load = &report["load"];
    assert!(load["database_bytes"].as_f64().unwrap() >= 0.02 * 1024.0 * 1024.0 * 1024.0);
    assert!(
        load["audit_log_rows"].as_i64() > load["policies"].as_i64(),
        "{report}"
    );
    let acknowledged = report["acknowledged_commits"].as_u64().unwrap();
    let recovered = report["recovered_commits"].as_u64().unwrap();
    assert!(acknowledged > 0, "{report}");
    assert_eq!(
        report["lost_commits"].as_u64(),
        Some(acknowledged.saturating_sub(recovered)),
        "{report}"
    );
    assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0);
    assert_eq!(processes_in(scratch.path()), Vec::<String>::new());
}
