//! The benchmark's own folder and the clusters in it, stopped and removed whatever happens:
//! on success, on an error, on Ctrl-C (the future is dropped) and on a panic (unwinding).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use maturion_cluster::{Cluster, ClusterOptions, StopMode};

pub(crate) struct ScratchHome {
    /// Removed (with everything in it) when dropped, after the clusters are stopped.
    folder: tempfile::TempDir,
    clusters: Vec<Cluster>,
}

impl ScratchHome {
    /// A new folder in `parent`, which the server's user may enter (0755), as clusters
    /// running as `postgres` under root need.
    pub fn create(parent: &Path) -> Result<Self> {
        let folder = tempfile::Builder::new()
            .prefix("maturion-bench-backup-")
            .permissions(std::fs::Permissions::from_mode(0o755))
            .tempdir_in(parent)
            .with_context(|| format!("cannot make a scratch folder in {}", parent.display()))?;
        Ok(Self {
            folder,
            clusters: Vec::new(),
        })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.folder.path().join(name)
    }

    /// A cluster in `<folder>/<name>` (created at its first start), stopped on drop. It
    /// listens on its socket only: nothing here needs TCP.
    pub fn cluster(&mut self, name: &str) -> Result<Cluster> {
        let options = ClusterOptions {
            listen_addresses: String::new(),
            ..ClusterOptions::default()
        };
        let cluster = Cluster::new(self.path(name), options)?;
        self.clusters.push(cluster.clone());
        Ok(cluster)
    }

    /// An empty folder the server's user owns (pg_basebackup runs as that user).
    pub fn owned_folder(&self, cluster: &Cluster, name: &str) -> Result<PathBuf> {
        let folder = self.path(name);
        std::fs::create_dir(&folder)
            .with_context(|| format!("cannot create {}", folder.display()))?;
        cluster.give_to_owner(&folder)?;
        Ok(folder)
    }
}

impl Drop for ScratchHome {
    fn drop(&mut self) {
        for cluster in &self.clusters {
            if let Err(error) = cluster.stop(StopMode::Immediate) {
                eprintln!(
                    "warning: cannot stop the scratch cluster in {}: {error}",
                    cluster.home().display()
                );
            }
        }
    }
}
