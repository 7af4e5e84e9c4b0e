//! The VM side of a run: tasks handed over one at a time, in order, each run in the VM of the
//! previous task while it is healthy ([`VmPolicy::Reuse`]) or in a fresh one
//! ([`VmPolicy::FreshPerTask`]); a VM that faulted, timed out or would not unload a module
//! is replaced. Each verdict is reported as it comes.
//!
//! It does not know where the tasks come from: all built first ([`super::tasks::run_tasks`])
//! or streamed from the builds as they finish ([`super::streamed`]).

use std::path::PathBuf;
use std::time::Instant;

use crate::build::sandbox::Sandbox;
use crate::build::SourceRoot;
use crate::events::{Event, Reporter, VerdictEvent};
use crate::judge::verdict::{Outcome, TaskVerdict};
use crate::lab::selection::Selected;
use crate::paths::Paths;
use crate::run::tasks::{outcome_of_session_error, run_one, Prepared, RunOptions, VmPolicy};
use crate::vm::launch::{self, Launch, Started};
use crate::vm::session::VmSession;

/// Runs tasks in VMs started by its [`Launch`], one after the other.
pub struct Runner<'r> {
    paths: &'r Paths,
    sandbox: &'r Sandbox,
    reporter: &'r dyn Reporter,
    source: &'r SourceRoot,
    launch: &'r Launch,
    how: RunOptions,
    runs_dir: PathBuf,
    vm_count: usize,
    session: Option<VmSession>,
}

impl<'r> Runner<'r> {
    /// A runner whose VMs log under `runs/<label>/vm-N`. `first`: a VM already started for
    /// this run (in `vm-1`), used first; without one, `runs/<label>` is emptied.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        paths: &'r Paths,
        sandbox: &'r Sandbox,
        reporter: &'r dyn Reporter,
        source: &'r SourceRoot,
        launch: &'r Launch,
        how: RunOptions,
        first: Option<VmSession>,
    ) -> Runner<'r> {
        let runs_dir = paths.work.join("runs").join(&source.label);
        if first.is_none() {
            let _ = std::fs::remove_dir_all(&runs_dir);
        }
        Runner {
            paths,
            sandbox,
            reporter,
            source,
            launch,
            how,
            runs_dir,
            vm_count: usize::from(first.is_some()),
            session: first,
        }
    }

    /// Runs `prepared`'s test (or gives the verdict of a task that did not build), reports
    /// the verdict and returns it.
    pub fn run(&mut self, prepared: &Prepared) -> TaskVerdict {
        let verdict = self.verdict_of(prepared);
        self.report(&verdict);
        // FreshPerTask: the VM's state is thrown away, no clean power-off to wait for.
        if let Some(mut s) = self
            .session
            .take_if(|_| self.how.policy == VmPolicy::FreshPerTask)
        {
            s.kill();
            retire(self.reporter, s);
        }
        verdict
    }

    /// The verdict of a task whose build never started: the run was interrupted (Ctrl-C).
    pub fn not_built(&self, sel: &Selected) -> TaskVerdict {
        let message = "interrupted (Ctrl-C) before this task was built".into();
        let verdict = TaskVerdict::early(sel.id(), Outcome::VmError { message });
        self.report(&verdict);
        verdict
    }

    fn report(&self, verdict: &TaskVerdict) {
        let event = VerdictEvent::of(verdict, |p| self.paths.show(p));
        self.reporter.report(Event::Verdict(event));
    }

    /// The lab disk was rewritten with more tasks' files: the live VM unpacks it into `/lab`.
    /// A VM that cannot is stopped; the next task's VM loads the disk when it starts.
    pub fn reload_lab(&mut self) {
        if let Some(vm) = self.session.as_mut().filter(|s| s.is_alive()) {
            if launch::load_lab(vm).is_err() {
                vm.kill();
            }
        }
    }

    /// Stops the live VM (its files are stale and cannot be reloaded).
    pub fn retire_vm(&mut self) {
        if let Some(mut s) = self.session.take() {
            s.kill();
            retire(self.reporter, s);
        }
    }

    /// Stops the last VM.
    pub fn finish(self) {
        self.session
            .into_iter()
            .for_each(|s| retire(self.reporter, s));
    }

    fn verdict_of(&mut self, prepared: &Prepared) -> TaskVerdict {
        let id = prepared.sel.id();
        let start = Instant::now();
        let built = match &prepared.built {
            Ok(built) => built,
            Err(message) => {
                let message = message.clone();
                return TaskVerdict::early(id, Outcome::BuildFailed { message });
            }
        };
        if crate::run::interrupt::requested() {
            let message = "interrupted (Ctrl-C) before this task ran".into();
            return TaskVerdict::early(id, Outcome::VmError { message });
        }
        if let Some(dead) = self.session.take_if(|s| !s.is_alive()) {
            retire(self.reporter, dead);
        }
        if self.session.is_none() {
            self.vm_count += 1;
            let run_dir = self.runs_dir.join(format!("vm-{}", self.vm_count));
            let starting = Instant::now();
            match self
                .launch
                .start(&run_dir, super::tasks::BOOT_TIMEOUT, self.reporter)
            {
                Ok((s, how)) => {
                    self.reporter.report(Event::VmStarted {
                        resumed: how == Started::Restored,
                        elapsed_secs: starting.elapsed().as_secs_f64(),
                    });
                    self.session = Some(s);
                }
                Err(e) => {
                    return TaskVerdict {
                        id,
                        outcome: outcome_of_session_error(e, "booting the VM"),
                        duration: start.elapsed(),
                        warnings: prepared.warnings(),
                        console_log: Some(run_dir.join("console.log")),
                        record: None,
                    };
                }
            }
        }
        let vm = self.session.as_mut().expect("a live session");
        let mut verdict = run_one(
            vm,
            &prepared.sel,
            &prepared.params,
            self.how.mode,
            self.launch.profile,
        );
        if let Outcome::Fault(fault) = &mut verdict.outcome {
            let shown = self.paths.show(
                &self
                    .source
                    .dir
                    .join(&prepared.sel.lab.name)
                    .join(&prepared.sel.task.name),
            );
            // A Rust panic names the file rustc compiled: the student's, in the stage.
            for line in &mut fault.excerpt {
                *line = crate::build::kbuild::rewrite_paths(line, &built.built_at, &shown);
            }
            if let Some(mut resolver) = crate::build::symbols::Resolver::new(
                self.sandbox,
                &built.files,
                &built.built_at,
                shown,
            ) {
                crate::judge::symbolize::annotate(&mut fault.excerpt, |f| resolver.place(f));
            }
        }
        verdict.duration = start.elapsed();
        verdict.warnings.splice(0..0, prepared.warnings());
        verdict
    }
}

/// Stops a VM of the run (powered off if still running) and reports its peak memory.
fn retire(reporter: &dyn Reporter, vm: VmSession) {
    let peak_rss_kb = vm.shutdown();
    reporter.report(Event::VmStopped { peak_rss_kb });
}
