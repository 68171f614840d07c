//! The loss: a writer commits one policy per transaction, numbered, through the platform's
//! write path, and records when each commit was acknowledged; then the primary and every
//! process under it are killed with `kill -9` (the host is gone: the WAL not yet archived is
//! lost with it).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use indicatif::ProgressBar;
use maturion_cluster::Cluster;
use maturion_config::DatabaseTarget;
use maturion_testing::Tenant;
use tokio::task::JoinHandle;
use tokio_postgres::Client;

/// The title of the `n`th probe policy; `recovered_probes` reads the number back.
pub const PROBE_PREFIX: &str = "rpo-probe ";

/// What the writer saw before the kill.
pub struct Loss {
    /// When the writer started.
    pub started: Instant,
    /// Acknowledgement time of probe `n` at index `n - 1`.
    pub acknowledged: Vec<Instant>,
    pub killed_at: Instant,
}

/// Aborts the writer when dropped (Ctrl-C drops the benchmark's future).
struct Writer(JoinHandle<Vec<Instant>>);

impl Drop for Writer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Writes for `seconds`, then kills `primary` mid-load.
pub async fn write_then_kill(
    primary: &Cluster,
    target: &DatabaseTarget,
    seconds: f64,
    progress: &ProgressBar,
) -> Result<Loss> {
    let admin = target.admin().await?;
    let tenant = maturion_testing::organisation_with_admin(&admin, "RPO Probe").await?;
    let started = Instant::now();
    let mut writer = Writer(tokio::spawn(commit_probes(admin, tenant)));
    let deadline = started + Duration::from_secs_f64(seconds);
    while Instant::now() < deadline {
        if writer.0.is_finished() {
            bail!("the writer stopped before the primary was killed");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        progress.set_position(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
    }
    let pid = primary
        .status()?
        .pid
        .context("the primary is not running at the moment of the kill")?;
    kill_tree(pid).await?;
    let killed_at = Instant::now();
    let acknowledged = (&mut writer.0).await?;
    Ok(Loss {
        started,
        acknowledged,
        killed_at,
    })
}

/// Numbered probes, one per bound transaction, until a statement fails (the kill).
async fn commit_probes(client: Client, tenant: Tenant) -> Vec<Instant> {
    let mut acknowledged = Vec::new();
    loop {
        let title = format!("{PROBE_PREFIX}{}", acknowledged.len() + 1);
        let committed = async {
            maturion_testing::begin_as(&client, &tenant).await?;
            client
                .execute(
                    "INSERT INTO policies (organisation_id, title, content) VALUES ($1, $2, 'probe')",
                    &[&tenant.organisation, &title],
                )
                .await?;
            client.batch_execute("COMMIT").await?;
            Ok::<_, anyhow::Error>(())
        };
        if committed.await.is_err() {
            return acknowledged;
        }
        acknowledged.push(Instant::now());
    }
}

/// The highest probe number in a (restored) database, checking none is missing below it.
pub async fn recovered_probes(client: &Client) -> Result<usize> {
    let row = client
        .query_one(
            "SELECT count(*), coalesce(max(substr(title, length($1) + 1)::bigint), 0)
               FROM policies WHERE starts_with(title, $1)",
            &[&PROBE_PREFIX],
        )
        .await?;
    let (count, highest): (i64, i64) = (row.get(0), row.get(1));
    ensure!(
        count == highest,
        "the restored database has {count} probes up to number {highest}: commits are missing in between"
    );
    Ok(usize::try_from(highest)?)
}

/// `kill -9` the postmaster and every process under it at once (backends, the archiver and
/// the `archive-push` it may be running), then waits until the postmaster has exited.
async fn kill_tree(root: u32) -> Result<()> {
    let mut pids = vec![root];
    pids.extend(descendants(root));
    let status = tokio::process::Command::new("kill")
        .arg("-9")
        .args(pids.iter().map(u32::to_string))
        .status()
        .await
        .context("cannot run kill")?;
    // A child may end between the listing and the kill; only the postmaster must be hit.
    if !status.success() && !exited(root) {
        bail!("kill -9 {root} failed");
    }
    for _ in 0..1000 {
        if exited(root) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    bail!("the postmaster {root} did not exit after kill -9")
}

/// Every process under `root`, from the parent pids in /proc.
fn descendants(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse().ok())
        else {
            continue;
        };
        if let Some(parent) = parent_of(pid) {
            children.entry(parent).or_default().push(pid);
        }
    }
    let mut found = Vec::new();
    let mut queue = vec![root];
    while let Some(pid) = queue.pop() {
        for &child in children.get(&pid).into_iter().flatten() {
            found.push(child);
            queue.push(child);
        }
    }
    found
}

/// `/proc/<pid>/stat`: the fields after the command name (which may hold spaces) start
/// with the state, then the parent pid.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

fn parent_of(pid: u32) -> Option<u32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

/// Gone, or a zombie nobody reaped yet.
fn exited(pid: u32) -> bool {
    stat_fields(pid).is_none_or(|fields| fields.first().is_some_and(|state| state == "Z"))
}
