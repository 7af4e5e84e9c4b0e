//! A grading job's desk: the private folder one job keeps for the whole run, where each of
//! its submissions is unpacked, gets its built stage back from the build room
//! ([`super::room`]), its guest image and its VMs' logs. Everything of a submission is
//! removed from the desk when it is graded; the desk itself goes when the run ends.

use std::path::Path;

use anyhow::{Context, Result};

use crate::run::Workspace;

/// One grading job's private folder and workspace.
pub(super) struct Desk {
    dir: tempfile::TempDir,
    /// The job's workspace, its run files in `dir`.
    pub ws: Workspace,
}

impl Desk {
    /// A new desk: a private (0700) folder outside the repository.
    pub fn new(ws: &Workspace) -> Result<Desk> {
        let dir = super::room::private_folder()?;
        let ws = ws.working_in(dir.path())?;
        Ok(Desk { dir, ws })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Removes everything of the last submission.
    pub fn clear(&self) -> Result<()> {
        for entry in std::fs::read_dir(self.path())? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            }
            .with_context(|| format!("removing {}", path.display()))?;
        }
        Ok(())
    }
}
