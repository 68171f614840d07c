//! `maturion backup …` and `maturion restore` on an embedded cluster of their own (the
//! set-up restarts it with WAL archiving on).

use std::path::{Path, PathBuf};
use std::process::Output;

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
