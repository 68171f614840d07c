//! Running the server as the `postgres` system user when we are root, since
//! `initdb` and `postgres` refuse to run as root.

use std::fs;
use std::os::unix::fs::{chown, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::unistd::{geteuid, User};

use crate::error::{io, ClusterError};

const SYSTEM_USER: &str = "postgres";

#[derive(Debug, Clone, Copy)]
pub(crate) struct Owner {
    uid: u32,
    gid: u32,
}

impl Owner {
    /// `None` when we are not root, so the cluster simply runs as us.
    pub fn needed() -> Result<Option<Self>, ClusterError> {
        if !geteuid().is_root() {
            return Ok(None);
        }
        let user = User::from_name(SYSTEM_USER)
            .ok()
            .flatten()
            .ok_or(ClusterError::NoPostgresUser)?;
        Ok(Some(Self {
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
        }))
    }

    pub fn command(&self, program: &Path) -> Command {
        let mut command = Command::new("runuser");
        command.args(["-u", SYSTEM_USER, "--"]).arg(program);
        command
    }

    pub fn give(&self, path: &Path) -> Result<(), ClusterError> {
        chown(path, Some(self.uid), Some(self.gid)).map_err(io(format!(
            "give {} to the {SYSTEM_USER} user",
            path.display()
        )))
    }

    /// Fails on the first folder, from `dir` up to `/`, that the user cannot enter.
    pub fn check_traversable(&self, dir: &Path) -> Result<(), ClusterError> {
        for folder in dir.ancestors() {
            let meta = fs::metadata(folder).map_err(io(format!("inspect {}", folder.display())))?;
            if !self.can_enter(meta.uid(), meta.gid(), meta.mode()) {
                return Err(ClusterError::NotTraversable {
                    dir: PathBuf::from(folder),
                });
            }
        }
        Ok(())
    }

    /// Unix checks only the owner bits for the owner and only the group bits
    /// for the group. Supplementary groups are ignored, so this may be too strict.
    fn can_enter(&self, uid: u32, gid: u32, mode: u32) -> bool {
        let bit = if uid == self.uid {
            0o100
        } else if gid == self.gid {
            0o010
        } else {
            0o001
        };
        mode & bit != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entering_follows_the_matching_permission_class() {
        let owner = Owner { uid: 101, gid: 104 };
        assert!(owner.can_enter(0, 0, 0o755));
        assert!(owner.can_enter(0, 0, 0o1777));
        assert!(!owner.can_enter(0, 0, 0o750));
        assert!(owner.can_enter(101, 0, 0o700));
        assert!(!owner.can_enter(101, 0, 0o077));
        assert!(owner.can_enter(0, 104, 0o710));
        assert!(!owner.can_enter(0, 104, 0o701));
    }
}
