//! The build room: where every submission of a grading run is built, one at a time (its
//! tasks in parallel), so that the builds take the cores while the jobs' VMs, which mostly
//! wait, run beside them; and where the run's one seed build lives.
//!
//! On first use the room builds the lab's generated skeleton (instructor code) and keeps that
//! stage as its seed. Each submission is then built from a copy of the seed at the same paths:
//! kbuild's recorded commands stand, so only the files the student changed are compiled
//! (`build::replay`), and what a student did not touch (the skeleton's other files, the test
//! programs) is not built again. The seed holds only the skeleton's objects, never another
//! submission's nor the reference solution's; a skeleton that does not build leaves its task
//! without a seed (its submissions get a full kbuild run).
//!
//! A build moves the submission's sources in from its job's desk and moves them back with the
//! built stage: nothing of one submission stays in the room for the next.

use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context, Result};

use super::submission::Grading;
use crate::atomic_file;
use crate::build::SourceRoot;
use crate::lab::selection::{select, Selected};
use crate::paths::{Origin, RunLabel};
use crate::run::tasks::Prepared;
use crate::run::Workspace;

/// The build room of a grading run.
pub(super) struct Room {
    dir: tempfile::TempDir,
    /// Held while building.
    inside: Mutex<Inside>,
}

/// What a build in the room uses.
struct Inside {
    /// The room's workspace: stages in the room's folder.
    ws: Workspace,
    /// Whether the seed was built (or tried).
    seeded: bool,
}

const SEED: &str = "seed";

impl Room {
    /// A new room: a private (0700) folder outside the repository.
    pub fn new(ws: &Workspace) -> Result<Room> {
        let dir = private_folder()?;
        let ws = ws.working_in(dir.path())?;
        Ok(Room {
            dir,
            inside: Mutex::new(Inside { ws, seeded: false }),
        })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Builds the submission whose sources are in `desk/src` (moved back there after), for
    /// `label`: its built stage ends in `desk/stage`, and the tasks say so.
    pub fn build<'a>(
        &self,
        grading: &Grading<'a>,
        desk: &Path,
        label: RunLabel,
    ) -> Result<Vec<Prepared<'a>>> {
        // A panic in an earlier build leaves nothing this one relies on: the room is emptied
        // below, and the seed is only ever read.
        let mut inside = self.inside.lock().unwrap_or_else(|e| e.into_inner());
        if crate::run::interrupt::requested() {
            anyhow::bail!("grading was interrupted before this submission was built");
        }
        if !inside.seeded {
            inside.seeded = true;
            self.build_seed(&inside.ws, grading);
        }
        let ws = &inside.ws;
        let (src, stage) = (self.path().join("src"), self.path().join("stage"));
        for leftover in [&src, &stage] {
            if leftover.exists() {
                std::fs::remove_dir_all(leftover)
                    .with_context(|| format!("emptying the build room ({})", leftover.display()))?;
            }
        }
        let seed = self.path().join(SEED);
        if seed.is_dir() {
            crate::paths::copy_tree(&seed, &stage)
                .context("copying the seed build into the build room")?;
        }
        std::fs::rename(desk.join("src"), &src).context("moving the sources to the build room")?;
        let source = SourceRoot {
            label,
            dir: src.clone(),
        };
        let built = ws.build_all(grading.kernel, &source, lab_tasks(grading)?);
        // Back to the desk, built or not: the room keeps nothing of a submission.
        std::fs::rename(&src, desk.join("src")).context("moving the sources back")?;
        if stage.is_dir() {
            std::fs::rename(&stage, desk.join("stage")).context("moving the built stage")?;
        }
        let moved_to = desk.join("stage");
        Ok(built?
            .into_iter()
            .map(|mut task| {
                task.built = task.built.map(|b| b.moved(&stage, &moved_to));
                task
            })
            .collect())
    }

    /// Builds the skeleton in the room's stage and keeps the stage as the seed. A seed that
    /// cannot be made is a note: submissions then get a full kbuild run each.
    fn build_seed(&self, ws: &Workspace, grading: &Grading) {
        if let Err(e) = self.try_build_seed(ws, grading) {
            let _ = std::fs::remove_dir_all(self.path().join(SEED));
            ws.reporter().warning(format!(
                "the skeleton's build (what submissions are rebuilt from) failed, so every \
                 submission gets a full kbuild run: {e:#}"
            ));
        }
    }

    fn try_build_seed(&self, ws: &Workspace, grading: &Grading) -> Result<()> {
        let lab = grading.lab;
        let src = self.path().join("src");
        for ((task, rel), bytes) in &grading.skeleton {
            atomic_file::write(&src.join(&lab.name).join(task).join(rel), bytes)?;
        }
        let source = SourceRoot {
            label: RunLabel::new(Origin::Graded("skeleton".into())),
            dir: src.clone(),
        };
        let unbuilt = ws.build_seed(grading.kernel, &source, lab_tasks(grading)?)?;
        if !unbuilt.is_empty() {
            ws.reporter().note(format!(
                "the skeleton of {} does not build: its submissions get a full kbuild run",
                unbuilt.join(", ")
            ));
        }
        let stage = self.path().join("stage");
        if stage.is_dir() {
            std::fs::rename(&stage, self.path().join(SEED)).context("keeping the seed build")?;
        }
        let _ = std::fs::remove_dir_all(&src);
        Ok(())
    }
}

/// Every task of the graded lab.
fn lab_tasks<'a>(grading: &Grading<'a>) -> Result<Vec<Selected<'a>>> {
    select(
        std::slice::from_ref(grading.lab),
        std::slice::from_ref(&grading.lab.name),
        None,
    )
}

/// A private (0700) temporary folder outside the repository.
pub(super) fn private_folder() -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("klab-grade-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()
        .context("making a private folder to grade in")
}
