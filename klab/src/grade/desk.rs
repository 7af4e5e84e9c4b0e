//! A grader's desk: the private folder one grading worker keeps for the whole run, and the
//! seed build in it that makes a submission's build a replay instead of a kbuild run.
//!
//! Before its first submission, a desk builds the lab's generated skeleton (instructor code)
//! in the stage every submission of the desk is built in, and keeps that stage as its seed.
//! Each submission then starts from a copy of the seed, at the same paths: kbuild's recorded
//! commands stand, so only the files the student changed are compiled (`build::replay`), and
//! what a student did not touch (the skeleton's other files, the test programs) is not built
//! again. The seed holds only the skeleton's objects, never another submission's, nor the
//! reference solution's; a skeleton that does not build leaves its task without a seed (its
//! submissions get a full kbuild run).
//!
//! Everything of a submission (unpacked files, sources, stage, images, VM logs) is removed
//! from the desk when it is graded; the desk itself goes when the run ends.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::submission::Grading;
use crate::atomic_file;
use crate::build::SourceRoot;
use crate::lab::selection::select;
use crate::paths::{Origin, RunLabel};
use crate::run::Workspace;

/// One grading worker's private folder and workspace.
pub(super) struct Desk {
    dir: tempfile::TempDir,
    /// The worker's workspace, its run files in `dir`.
    pub ws: Workspace,
    seeded: std::cell::Cell<bool>,
}

const SEED: &str = "seed";

impl Desk {
    /// A new desk: a private (0700) folder outside the repository.
    pub fn new(ws: &Workspace) -> Result<Desk> {
        let dir = tempfile::Builder::new()
            .prefix("klab-grade-")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .tempdir()
            .context("making a private folder to grade in")?;
        let ws = ws.working_in(dir.path())?;
        Ok(Desk {
            dir,
            ws,
            seeded: std::cell::Cell::new(false),
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn stage(&self) -> PathBuf {
        self.path().join("stage")
    }

    /// Stages a copy of the seed for the submission about to be built, building the seed
    /// first if this is the desk's first submission that gets built.
    pub fn stage_seed(&self, grading: &Grading) -> Result<()> {
        if !self.seeded.get() {
            self.seeded.set(true);
            let _building = grading.builds.acquire();
            self.build_seed(grading)?;
        }
        let _ = std::fs::remove_dir_all(self.stage());
        let seed = self.path().join(SEED);
        if seed.is_dir() {
            copy_tree(&seed, &self.stage())
                .with_context(|| format!("copying the seed build to {}", self.path().display()))?;
        }
        Ok(())
    }

    /// Removes everything of the last submission (the seed stays).
    pub fn clear(&self) -> Result<()> {
        for entry in std::fs::read_dir(self.path())? {
            let entry = entry?;
            if entry.file_name() == SEED {
                continue;
            }
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

    /// Builds the skeleton in the desk's stage and keeps the stage as the seed.
    fn build_seed(&self, grading: &Grading) -> Result<()> {
        let lab = grading.lab;
        let src = self.path().join("src");
        for ((task, rel), bytes) in &grading.skeleton {
            atomic_file::write(&src.join(&lab.name).join(task).join(rel), bytes)?;
        }
        let source = SourceRoot {
            label: RunLabel::new(Origin::Graded("skeleton".into())),
            dir: src,
        };
        let selected = select(
            std::slice::from_ref(lab),
            std::slice::from_ref(&lab.name),
            None,
        )?;
        let unbuilt = self.ws.build_seed(grading.kernel, &source, selected)?;
        if !unbuilt.is_empty() {
            self.ws.reporter().note(format!(
                "the skeleton of {} does not build: its submissions get a full kbuild run",
                unbuilt.join(", ")
            ));
        }
        if self.stage().is_dir() {
            std::fs::rename(self.stage(), self.path().join(SEED))
                .context("keeping the seed build")?;
        }
        // The skeleton's sources, image and logs are not the submission's.
        for made in ["src", "runs"] {
            let _ = std::fs::remove_dir_all(self.path().join(made));
        }
        Ok(())
    }
}

/// Copies the folder `from` to `to`, keeping each file's modification time (a test
/// program's binary is up to date when it is newer than its sources).
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    for entry in walkdir::WalkDir::new(from).follow_links(false) {
        let entry = entry?;
        let dest = to.join(entry.path().strip_prefix(from)?);
        let kind = entry.file_type();
        if kind.is_dir() {
            std::fs::create_dir_all(&dest)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &dest)
                .with_context(|| format!("copying {}", entry.path().display()))?;
            let modified = entry.metadata()?.modified()?;
            std::fs::File::options()
                .write(true)
                .open(&dest)?
                .set_modified(modified)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copied_tree_keeps_contents_and_modification_times() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("a");
        std::fs::create_dir_all(from.join("sub")).unwrap();
        std::fs::write(from.join("sub/x.c"), "int x;").unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        std::fs::File::options()
            .write(true)
            .open(from.join("sub/x.c"))
            .unwrap()
            .set_modified(old)
            .unwrap();
        copy_tree(&from, &dir.path().join("b")).unwrap();
        let copied = dir.path().join("b/sub/x.c");
        assert_eq!(std::fs::read_to_string(&copied).unwrap(), "int x;");
        assert_eq!(std::fs::metadata(&copied).unwrap().modified().unwrap(), old);
    }
}
