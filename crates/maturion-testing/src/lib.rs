//! The test harness: real PostgreSQL, one cluster per test run, a fresh
//! database per test.
//!
//! ```no_run
//! # async fn example() {
//! // A test with the schema applied: cloned from a template built once per cluster.
//! let db = maturion_testing::database_from_template("schema_3f9a1c", async |config| {
//!     let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
//!     tokio::spawn(connection);
//!     client.batch_execute("CREATE TABLE tenant (id bigint PRIMARY KEY)").await?;
//!     Ok(())
//! })
//! .await;
//! let client = db.admin().await;
//! client.execute("INSERT INTO tenant VALUES (1)", &[]).await.unwrap();
//! # }
//! ```
//!
//! The cluster is the one `cargo xtask test` started (`MATURION_TEST_CLUSTER_HOME`),
//! or else a non-durable one in `<temp dir>/maturion-test-cluster` that is
//! started on first use and left running for later runs.
//!
//! Tenant data starts from [`organisation_with_admin`]: an organisation and its first user.

mod module;
mod tenant;
mod webhook;

pub use module::module_table;
pub use tenant::{
    begin_as, organisation_with_admin, organisation_with_admin_from, token_for, Tenant,
};
pub use webhook::{closed_port_url, ReceivedRequest, WebhookReceiver};

use std::env;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use maturion_cluster::{Cluster, ClusterOptions};
use tokio::sync::OnceCell;
use tokio_postgres::{Client, Config, NoTls};

const CLUSTER_HOME_VAR: &str = "MATURION_TEST_CLUSTER_HOME";
const MAINTENANCE_DB: &str = "postgres";
const TEMPLATE_PREFIX: &str = "maturion_tmpl_";
/// Same length as the template prefix, so any valid fingerprint fits both.
const PREPARING_PREFIX: &str = "maturion_prep_";
/// PostgreSQL truncates identifiers to 63 bytes.
const MAX_FINGERPRINT: usize = 63 - TEMPLATE_PREFIX.len();
/// First key of the advisory locks that serialise template creation.
const TEMPLATE_LOCK_CLASS: i32 = 0x4d54;

static CLUSTER: OnceCell<Cluster> = OnceCell::const_new();
static DATABASES_CREATED: AtomicU64 = AtomicU64::new(0);

/// A database of its own for one test. It is not dropped afterwards: the
/// run's cluster is thrown away, and leftovers in the shared temp-dir cluster
/// are dropped by a later run.
#[derive(Debug)]
pub struct TestDatabase {
    cluster: &'static Cluster,
    name: String,
}

impl TestDatabase {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Logs in as `role`, which needs no password over the cluster's socket.
    pub fn config(&self, role: &str) -> Config {
        self.cluster.config(role, &self.name)
    }

    pub fn url(&self, role: &str) -> String {
        self.cluster.url(role, &self.name)
    }

    /// Panics if the connection fails.
    pub async fn connect(&self, role: &str) -> Client {
        let what = format!("test database {} as {role}", self.name);
        connect(&self.config(role), &what).await
    }

    /// Connects as the superuser.
    pub async fn admin(&self) -> Client {
        self.connect(self.cluster.superuser()).await
    }

    pub fn cluster(&self) -> &Cluster {
        self.cluster
    }
}

/// A database with the whole platform schema applied (roles, then every migration set as
/// `maturion_owner`), cloned from a template made once per version of the migrations.
pub async fn migrated_database() -> TestDatabase {
    let fingerprint = format!("platform_{}", maturion_platform::fingerprint());
    let db = database_from_template(&fingerprint, async |config: Config| {
        let (mut client, connection) = config.connect(NoTls).await?;
        tokio::spawn(connection);
        maturion_platform::migrate_up(&mut client).await?;
        Ok(())
    })
    .await;
    // A database's own grants (pg_database.datacl) are not copied from its template.
    let admin = db.admin().await;
    maturion_schema::bootstrap_roles(&admin)
        .await
        .expect("database grants apply");
    db
}

/// An empty database with nothing applied, e.g. for migration tests.
pub async fn fresh_database() -> TestDatabase {
    create_database(None).await
}

/// A database cloned from the template `maturion_tmpl_<fingerprint>`, which is
/// made once per cluster: `prepare` is awaited with the superuser's settings
/// for a new empty database, which then becomes the template.
///
/// `fingerprint` should change whenever what `prepare` does changes (e.g. a
/// short hash of the migrations); it may hold lowercase ASCII letters, digits
/// and `_`, at most 49 of them. Panics if `prepare` fails.
pub async fn database_from_template<F>(fingerprint: &str, prepare: F) -> TestDatabase
where
    F: AsyncFnOnce(Config) -> anyhow::Result<()>,
{
    let template = template(fingerprint, prepare).await;
    create_database(Some(&template)).await
}

async fn create_database(template: Option<&str>) -> TestDatabase {
    let cluster = cluster().await;
    // The pid lets a later process drop our leftovers; the random part keeps
    // names unique when a pid is reused.
    let name = format!(
        "t_{}_{}_{:08x}",
        std::process::id(),
        DATABASES_CREATED.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>()
    );
    // FILE_COPY copies the template's files; PostgreSQL 15's default
    // (WAL_LOG) also writes every block to the WAL, and was slower here.
    let sql = match template {
        Some(template) => format!("CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY"),
        None => format!("CREATE DATABASE {name} STRATEGY FILE_COPY"),
    };
    maintenance(cluster)
        .await
        .batch_execute(&sql)
        .await
        .unwrap_or_else(|error| panic!("cannot create test database {name}: {error}"));
    TestDatabase { cluster, name }
}

async fn template<F>(fingerprint: &str, prepare: F) -> String
where
    F: AsyncFnOnce(Config) -> anyhow::Result<()>,
{
    assert!(
        !fingerprint.is_empty()
            && fingerprint.len() <= MAX_FINGERPRINT
            && fingerprint
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        "template fingerprint {fingerprint:?} must be 1 to {MAX_FINGERPRINT} lowercase \
         ASCII letters, digits or `_` (use a short hash)"
    );
    let template = format!("{TEMPLATE_PREFIX}{fingerprint}");
    let cluster = cluster().await;
    let admin = maintenance(cluster).await;
    if template_exists(&admin, &template).await {
        return template;
    }

    // Held by this session until `admin` is dropped, so it is released even
    // if `prepare` panics.
    admin
        .execute(
            "SELECT pg_advisory_lock($1, hashtext($2))",
            &[&TEMPLATE_LOCK_CLASS, &template],
        )
        .await
        .unwrap_or_else(|error| panic!("cannot lock template {template}: {error}"));
    if !template_exists(&admin, &template).await {
        let preparing = format!("{PREPARING_PREFIX}{fingerprint}");
        build_template(cluster, &admin, &preparing, &template, prepare).await;
    }
    template
}

/// Prepares the template under another name and renames it when done, so a
/// half-prepared template is never cloned.
async fn build_template<F>(
    cluster: &Cluster,
    admin: &Client,
    preparing: &str,
    template: &str,
    prepare: F,
) where
    F: AsyncFnOnce(Config) -> anyhow::Result<()>,
{
    let execute = async |sql: String| {
        admin
            .batch_execute(&sql)
            .await
            .unwrap_or_else(|error| panic!("cannot build template {template}: {sql}: {error}"));
    };
    // Left over by an earlier attempt that failed.
    execute(format!("DROP DATABASE IF EXISTS {preparing} WITH (FORCE)")).await;
    execute(format!("CREATE DATABASE {preparing}")).await;
    if let Err(error) = prepare(cluster.config(cluster.superuser(), preparing)).await {
        panic!("preparing template {template} failed: {error:#}");
    }
    // Connections `prepare` dropped may not have closed yet, and cloning
    // fails while anyone is connected to the template.
    execute(format!(
        "ALTER DATABASE {preparing} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"
    ))
    .await;
    execute(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{preparing}'"
    ))
    .await;
    execute(format!("ALTER DATABASE {preparing} RENAME TO {template}")).await;
}

async fn template_exists(admin: &Client, template: &str) -> bool {
    admin
        .query_one(
            "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1 AND datistemplate)",
            &[&template],
        )
        .await
        .unwrap_or_else(|error| panic!("cannot look for template {template}: {error}"))
        .get(0)
}

/// The cluster, opened (and started if needed) by the first test of this process.
async fn cluster() -> &'static Cluster {
    CLUSTER
        .get_or_init(|| async {
            let cluster = tokio::task::spawn_blocking(open_cluster)
                .await
                .unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()));
            drop_leftover_databases(&cluster).await;
            cluster
        })
        .await
}

fn open_cluster() -> Cluster {
    let options = ClusterOptions {
        durable: false,
        ..ClusterOptions::default()
    };
    if let Some(home) = env::var_os(CLUSTER_HOME_VAR) {
        let home = PathBuf::from(home);
        let cluster = Cluster::new(&home, options).unwrap_or_else(|error| {
            panic!("cannot use {CLUSTER_HOME_VAR}={}: {error}", home.display())
        });
        let status = cluster.status().unwrap_or_else(|error| {
            panic!("cannot use {CLUSTER_HOME_VAR}={}: {error}", home.display())
        });
        assert!(
            status.running,
            "{CLUSTER_HOME_VAR}={} names a cluster that is not running",
            home.display()
        );
        return cluster;
    }

    let home = env::temp_dir().join("maturion-test-cluster");
    let cluster = Cluster::new(&home, options)
        .and_then(|cluster| cluster.start().map(|_| cluster))
        .unwrap_or_else(|error| {
            panic!(
                "cannot start the test cluster in {}: {error}",
                home.display()
            )
        });
    eprintln!(
        "maturion-testing: using the PostgreSQL test cluster in {} ({}); it stays running for later runs",
        home.display(),
        cluster.url(cluster.superuser(), MAINTENANCE_DB)
    );
    cluster
}

/// Drops the databases of test processes that have exited, so the long-lived
/// temp-dir cluster does not grow run after run.
async fn drop_leftover_databases(cluster: &Cluster) {
    // Without /proc every process would look dead.
    if !Path::new("/proc/self").exists() {
        return;
    }
    let admin = maintenance(cluster).await;
    let names = admin
        .query(
            r"SELECT datname FROM pg_database WHERE datname LIKE 't\_%\_%\_%'",
            &[],
        )
        .await
        .unwrap_or_else(|error| panic!("cannot list test databases: {error}"));
    for row in names {
        let name: String = row.get(0);
        let pid = name.split('_').nth(1).unwrap_or_default();
        if pid.parse::<u32>().is_err() || Path::new("/proc").join(pid).exists() {
            continue;
        }
        // Another process may be dropping it too.
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .unwrap_or_else(|error| panic!("cannot drop leftover test database {name}: {error}"));
    }
}

async fn maintenance(cluster: &Cluster) -> Client {
    let config = cluster.config(cluster.superuser(), MAINTENANCE_DB);
    connect(&config, "the test cluster's maintenance database").await
}

async fn connect(config: &Config, what: &str) -> Client {
    let (client, connection) = config
        .connect(NoTls)
        .await
        .unwrap_or_else(|error| panic!("cannot connect to {what}: {error}"));
    // A broken connection also fails the client's next call, which reports it.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// `kill -9`, then waits until the process has exited (a zombie or gone): a SIGKILL takes
/// effect when the process next runs, not when `kill` returns.
pub fn kill_9(pid: u32) {
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success(), "kill -9 {pid}");
    let exited = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
    };
    while !exited() {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
