//! The pipeline, written once: selected tasks → builds → the guest image → how VMs start →
//! task runs. `check`, `bless`, `grade`, `stress`, `boot`, `kernel doctests` and `bench` all
//! go through [`Workspace::stage`] (and [`Staged::run`] when they run the tasks' tests).

use anyhow::Result;

use crate::build::SourceRoot;
use std::time::Instant;

use crate::events::{Event, Step, StepKind};
use crate::judge::verdict::TaskVerdict;
use crate::kernel::KernelTree;
use crate::lab::params::Values;
use crate::lab::selection::Selected;
use crate::run::guest_files::GuestFiles;
use crate::run::tasks::{self, Prepared, RunOptions, SnapshotMode, VmPolicy};
use crate::run::Workspace;
use crate::vm::launch::{Early, Launch};
use crate::vm::session::VmSession;

/// How a run's VMs start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Resumed from the saved guest (made on first use), else booted.
    Harness,
    /// As `Harness`, and the first VM starts resuming while the tasks build (`check`: the two
    /// overlap).
    Overlapped,
    /// Booted, the lab's files in the initramfs: a person's VM (a saved guest has no console
    /// shell) or one with its own kernel command line (KUnit).
    Booted,
}

/// A run's tasks built, their guest image written, and how their VMs start.
pub struct Staged<'a> {
    pub source: SourceRoot,
    pub tasks: Vec<Prepared<'a>>,
    pub files: GuestFiles,
    pub launch: Launch,
    /// The VM resumed while building (`Start::Overlapped`), used first.
    first: Option<VmSession>,
}

impl Workspace {
    /// Builds `selected` from `source`, writes their guest image and says how their VMs
    /// start. A failed build is a task's verdict, not an error.
    pub fn stage<'a>(
        &self,
        kernel: &KernelTree,
        source: SourceRoot,
        selected: Vec<Selected<'a>>,
        start: Start,
    ) -> Result<Staged<'a>> {
        let early = match start {
            Start::Overlapped => self.resume_early(kernel, &source),
            Start::Harness | Start::Booted => None,
        };
        let built = self
            .build_all(kernel, &source, selected)
            .and_then(|tasks| Ok((self.copy(&source, &tasks)?, tasks)));
        match built {
            Ok((files, tasks)) => self.staged(kernel, source, tasks, files, start, early),
            Err(e) => {
                if let Some(early) = early {
                    early.cancel();
                }
                Err(e)
            }
        }
    }

    /// [`Workspace::stage`] for tasks built elsewhere (`grade`'s build room): their guest
    /// image written here, and how their VMs start.
    pub fn stage_built<'a>(
        &self,
        kernel: &KernelTree,
        source: SourceRoot,
        tasks: Vec<Prepared<'a>>,
        start: Start,
    ) -> Result<Staged<'a>> {
        let files = self.copy(&source, &tasks)?;
        self.staged(kernel, source, tasks, files, start, None)
    }

    fn staged<'a>(
        &self,
        kernel: &KernelTree,
        source: SourceRoot,
        tasks: Vec<Prepared<'a>>,
        files: GuestFiles,
        start: Start,
        early: Option<Early>,
    ) -> Result<Staged<'a>> {
        let launch = match start {
            Start::Booted => self.boot_only(kernel, &files),
            Start::Harness | Start::Overlapped => self.launch(kernel, &files),
        };
        let waited = Instant::now();
        let first = early.and_then(Early::finish);
        if first.is_some() {
            self.reporter().report(Event::VmStarted {
                resumed: true,
                elapsed_secs: waited.elapsed().as_secs_f64(),
            });
        }
        Ok(Staged {
            source,
            tasks,
            files,
            launch,
            first,
        })
    }
}

impl Staged<'_> {
    /// Every task runs with `values` (`grade`'s drawn parameters) instead of its lab's
    /// defaults.
    pub fn with_params(mut self, values: &Values) -> Self {
        self.tasks
            .iter_mut()
            .for_each(|t| t.params = values.clone());
        self
    }

    /// Runs every task's test in VMs under `policy`, judging each record under `mode`;
    /// verdicts are reported as they come.
    pub fn run(
        &mut self,
        ws: &Workspace,
        mode: SnapshotMode,
        policy: VmPolicy,
    ) -> Result<Vec<TaskVerdict>> {
        let step = Step::start(
            ws.reporter(),
            StepKind::Run,
            format!(
                "running {} task(s) in the VM ({}, {})",
                self.tasks.len(),
                self.launch.cold.accel.name(),
                if self.launch.fast.is_some() {
                    "resumed from the saved guest"
                } else {
                    "booted"
                }
            ),
        );
        let sandbox = ws.sandbox()?;
        let verdicts = tasks::run_tasks(
            &ws.paths,
            &sandbox,
            ws.reporter(),
            &self.source,
            &self.launch,
            &self.tasks,
            RunOptions { mode, policy },
            self.first.take(),
        )?;
        step.done();
        Ok(verdicts)
    }
}
