//! The pipeline, written once: selected tasks → builds → the guest image → how VMs start →
//! task runs. `bless`, `grade`, `stress`, `boot`, `kernel doctests` and `bench` go through
//! [`Workspace::stage`] (and [`Staged::run`] when they run the tasks' tests); `check` streams
//! its builds into the run instead ([`Workspace::build_and_run`], in `streamed`).

use anyhow::Result;

use crate::build::SourceRoot;

use crate::events::{Reporter, Step, StepKind};
use crate::judge::verdict::TaskVerdict;
use crate::kernel::KernelTree;
use crate::lab::params::Values;
use crate::lab::selection::Selected;
use crate::run::guest_files::GuestFiles;
use crate::run::tasks::{self, Prepared, RunOptions, SnapshotMode, VmPolicy};
use crate::run::Workspace;
use crate::vm::launch::Launch;

/// How a run's VMs start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Resumed from the saved guest (made on first use), else booted. (`check` streams its
    /// builds into the run instead: [`Workspace::build_and_run`].)
    Harness,
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
        let tasks = self.build_all(kernel, &source, selected)?;
        let files = self.copy(&source, &tasks)?;
        Ok(self.staged(kernel, source, tasks, files, start))
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
        Ok(self.staged(kernel, source, tasks, files, start))
    }

    fn staged<'a>(
        &self,
        kernel: &KernelTree,
        source: SourceRoot,
        tasks: Vec<Prepared<'a>>,
        files: GuestFiles,
        start: Start,
    ) -> Staged<'a> {
        let launch = match start {
            Start::Booted => self.boot_only(kernel, &files),
            Start::Harness => self.launch(kernel, &files),
        };
        Staged {
            source,
            tasks,
            files,
            launch,
        }
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
        let step = running(ws.reporter(), self.tasks.len(), &self.launch, "");
        let sandbox = ws.sandbox()?;
        let verdicts = tasks::run_tasks(
            &ws.paths,
            &sandbox,
            ws.reporter(),
            &self.source,
            &self.launch,
            &self.tasks,
            RunOptions { mode, policy },
        )?;
        step.done();
        Ok(verdicts)
    }
}

/// The step of running `count` tasks in VMs started by `launch`; `how` ends its line.
pub(crate) fn running<'r>(
    reporter: &'r dyn Reporter,
    count: usize,
    launch: &Launch,
    how: &str,
) -> Step<'r> {
    let start = if launch.fast.is_some() {
        "resumed from the saved guest"
    } else {
        "booted"
    };
    let accel = launch.cold.accel.name();
    let what = format!("running {count} task(s) in the VM ({accel}, {start}){how}");
    Step::start(reporter, StepKind::Run, what)
}
