//! Telling a live server from one that died without shutting down (`kill -9`, an OOM kill).
//!
//! `pg_ctl status` only asks whether the pid in `postmaster.pid` exists. A killed postmaster
//! stays a zombie until it is reaped, and its children (which chdir into the data folder)
//! outlive it for a moment, still attached to its shared memory: both make a new start fail.
//! So liveness is read from `/proc`: a process that is not a zombie and whose working folder
//! is the data folder.

use std::fs;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use crate::error::{io, ClusterError};

const PID_FILE: &str = "postmaster.pid";
const POLL: Duration = Duration::from_millis(50);
/// Orphaned backends notice their postmaster's death within a few milliseconds; one that is
/// busy writing may take longer.
const LEFTOVERS_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a dead postmaster may stay a zombie before its lock files are removed by us.
const ZOMBIE_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Postmaster {
    /// No `postmaster.pid`: the server was stopped cleanly, or never started.
    Absent,
    Alive(u32),
    /// `postmaster.pid` names a process that is gone, a zombie or not ours: the server
    /// crashed, and the next start recovers from the WAL.
    Dead(u32),
}

pub(crate) fn inspect(data_dir: &Path) -> Postmaster {
    let Some(pid) = recorded_pid(data_dir) else {
        return Postmaster::Absent;
    };
    if is_server_process(pid, data_dir) {
        Postmaster::Alive(pid)
    } else {
        Postmaster::Dead(pid)
    }
}

/// After a crash: waits until no process of the old server is left, then clears the lock
/// files of a postmaster that stays a zombie (PostgreSQL would take it for a live one).
pub(crate) fn clear_after_crash(
    data_dir: &Path,
    socket_dir: &Path,
    dead: u32,
) -> Result<(), ClusterError> {
    warn!(
        pid = dead,
        data_dir = %data_dir.display(),
        "the previous server ended without shutting down: starting it again with crash \
         recovery (PostgreSQL replays its write-ahead log)"
    );
    wait_until("old server processes exit", LEFTOVERS_TIMEOUT, || {
        server_processes(data_dir).is_empty()
    })?;
    let reaped = wait_until("the dead postmaster is reaped", ZOMBIE_GRACE, || {
        !Path::new(&format!("/proc/{dead}")).exists()
    });
    if reaped.is_err() {
        remove_lock_file(&data_dir.join(PID_FILE), dead)?;
        for lock in socket_locks(socket_dir) {
            remove_lock_file(&lock, dead)?;
        }
    }
    Ok(())
}

fn recorded_pid(data_dir: &Path) -> Option<u32> {
    pid_in(&data_dir.join(PID_FILE))
}

/// The first line of `postmaster.pid` and of the socket's `.lock` file.
fn pid_in(lock_file: &Path) -> Option<u32> {
    let text = fs::read_to_string(lock_file).ok()?;
    text.lines().next()?.trim().parse().ok()
}

fn is_server_process(pid: u32, data_dir: &Path) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses and may hold spaces.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim().chars().next());
    if matches!(state, Some('Z' | 'X') | None) {
        return false;
    }
    // A pid reused by another program: not ours. Unreadable (another user's): trust the pid.
    match fs::read_link(format!("/proc/{pid}/cwd")) {
        Ok(cwd) => same_dir(&cwd, data_dir),
        Err(_) => true,
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    let canonical = |path: &Path| fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    canonical(a) == canonical(b)
}

/// Every live process working in the data folder: the postmaster and its children.
fn server_processes(data_dir: &Path) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| same_dir(&cwd, data_dir))
                && is_server_process(pid, data_dir)
        })
        .collect()
}

fn socket_locks(socket_dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(socket_dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with(".s.PGSQL.") && name.ends_with(".lock"))
        })
        .collect()
}

/// Only a lock file that still names the dead postmaster.
fn remove_lock_file(path: &Path, dead: u32) -> Result<(), ClusterError> {
    if pid_in(path) != Some(dead) {
        return Ok(());
    }
    info!(file = %path.display(), pid = dead, "removing the lock file of a dead postmaster");
    match fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(io(format!("remove {}", path.display()))(error))
        }
        _ => Ok(()),
    }
}

fn wait_until(
    what: &'static str,
    timeout: Duration,
    done: impl Fn() -> bool,
) -> Result<(), ClusterError> {
    let deadline = Instant::now() + timeout;
    while !done() {
        if Instant::now() >= deadline {
            return Err(ClusterError::Timeout { what, timeout });
        }
        thread::sleep(POLL);
    }
    Ok(())
}
