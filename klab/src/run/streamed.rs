//! `check`'s pipeline with the builds streamed into the run: each task runs as soon as it
//! (and every task before it) is built, in the VM resumed (the saved guest made, on first
//! use) while the first ones build, instead of after the last build. The builds go on, on
//! the worker pool, while the VM runs tests; verdicts still come in task order.
//!
//! The lab's files reach the VM in batches. Before a task whose files the VM has not loaded,
//! the lab disk is rewritten with every task built by then from that task on, and the VM
//! unpacks it (`klab-load-lab`); a VM started later (after a fault) loads the same disk as it
//! starts. The initramfs a VM boots from when resuming fails is rewritten with every task
//! built so far; once the run boots instead of resuming, it waits for the last build so that
//! a booted VM holds every task.
//!
//! Without the fast path (`KLAB_BOOT=cold`) or tasks, it is [`Workspace::stage`], then run.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use anyhow::Result;

use crate::build::SourceRoot;
use crate::events::Event;
use crate::guest::rootfs;
use crate::judge::verdict::TaskVerdict;
use crate::kernel::KernelTree;
use crate::lab::selection::Selected;
use crate::run::arrivals::Arrivals;
use crate::run::builds::{build_checked, build_each, building};
use crate::run::guest_files::GuestFiles;
use crate::run::pipeline::{running, Start};
use crate::run::runner::Runner;
use crate::run::tasks::{Prepared, RunOptions, SnapshotMode, VmPolicy};
use crate::run::Workspace;
use crate::vm::launch::{self, Early};
use crate::vm::session::VmSession;

/// What a streamed run did.
pub struct Ran {
    pub verdicts: Vec<TaskVerdict>,
    /// Whether its VMs were to be resumed from the saved guest (else booted).
    pub resumed: bool,
}

impl Workspace {
    /// Builds `selected` from `source` and runs each task's test as soon as it is built, one
    /// VM reused while healthy (`check`, and `bench`'s resumed rows); verdicts are reported
    /// as they come, in task order. A failed build is a task's verdict, not an error.
    pub fn build_and_run<'a>(
        &self,
        kernel: &KernelTree,
        source: SourceRoot,
        selected: Vec<Selected<'a>>,
        mode: SnapshotMode,
    ) -> Result<Ran> {
        if selected.is_empty() || !launch::fast_path_wanted() {
            let mut staged = self.stage(kernel, source, selected, Start::Harness)?;
            let verdicts = staged.run(self, mode, VmPolicy::Reuse)?;
            let resumed = staged.launch.fast.is_some();
            return Ok(Ran { verdicts, resumed });
        }
        let building = building(self.reporter(), &selected, &source);
        let sandbox = self.sandbox()?;
        let (paths, reporter) = (&self.paths, self.reporter());
        // Set when the run is over (or failed): builds not started yet are not started.
        let over = AtomicBool::new(false);
        let (sent, arriving) = mpsc::channel();
        std::thread::scope(|scope| {
            let (sandbox, source_ref, selected_ref, over_ref) =
                (&sandbox, &source, &selected, &over);
            scope.spawn(move || {
                let stop = || over_ref.load(Ordering::SeqCst) || crate::run::interrupt::requested();
                build_each(sandbox, selected_ref, stop, |sandbox, i, sel| {
                    let checked = build_checked(sandbox, paths, reporter, kernel, source_ref, sel);
                    let _ = sent.send((i, checked));
                    Ok(())
                });
                building.done();
            });
            let mut arrivals = Arrivals::new(arriving, &selected, reporter);
            let ran = self.run_as_built(kernel, &source, &mut arrivals, mode);
            over.store(true, Ordering::SeqCst);
            ran.map(|(verdicts, resumed)| Ran { verdicts, resumed })
        })
    }

    /// The VM side of [`Workspace::build_and_run`]: each task run once it has arrived.
    fn run_as_built(
        &self,
        kernel: &KernelTree,
        source: &SourceRoot,
        arrivals: &mut Arrivals,
        mode: SnapshotMode,
    ) -> Result<(Vec<TaskVerdict>, bool)> {
        let total = arrivals.selected.len();
        let sandbox = self.sandbox()?;
        // Made (the saved guest, on first use) and resumed while the first tasks build.
        let mut early = Unused(self.resume_early(kernel, source));
        // The first batch: through the first task that built (a VM has nothing to run before
        // it), and whatever else has arrived by then.
        let mut first_built = None;
        if early.0.is_some() {
            for i in 0..total {
                if !arrivals.wait_for(i)? {
                    break;
                }
                if arrivals.tasks[i].built.is_ok() {
                    first_built = Some(i);
                    break;
                }
            }
        }
        arrivals.take_ready();
        let base = self.base()?;
        let batch = self.write_batch(source, &base, &arrivals.tasks, 0)?;
        let files = GuestFiles {
            initrd: batch.initrd,
            base_initrd: rootfs::write_base_initrd(&self.paths, &base)?,
            lab_disk: batch.lab_disk,
        };
        let launch = self.launch(kernel, &files);
        // A lab too big for the disk boots (the disk may still hold an older run's files).
        let first = match (first_built, &files.lab_disk, early.0.take()) {
            (Some(_), Some(_), Some(vm)) => self.finish_early(vm),
            (_, _, unused) => {
                if let Some(vm) = unused {
                    vm.cancel();
                }
                None
            }
        };
        let resumed = launch.fast.is_some();
        let step = running(self.reporter(), total, &launch, " as they are built");
        let how = RunOptions {
            mode,
            policy: VmPolicy::Reuse,
        };
        let mut runner = Runner::new(
            &self.paths,
            &sandbox,
            self.reporter(),
            source,
            &launch,
            how,
            first,
        );
        // Tasks before this one that built are in the live VM, and on the disk and in the
        // initramfs any VM of this run starts with.
        let mut loaded_to = arrivals.tasks.len();
        let mut verdicts = Vec::with_capacity(total);
        for i in 0..total {
            if !arrivals.wait_for(i)? {
                verdicts.push(runner.not_built(&arrivals.selected[i]));
                continue;
            }
            let booting = launch.fast.is_none() || launch.fast_path_broken.load(Ordering::SeqCst);
            let built = arrivals.tasks[i].built.is_ok();
            let mut before = before_task(i, loaded_to, built, booting);
            if before == Before::Load {
                arrivals.take_ready();
                if self
                    .write_batch(source, &base, &arrivals.tasks, i)?
                    .lab_disk
                    .is_some()
                {
                    runner.reload_lab();
                    loaded_to = arrivals.tasks.len();
                } else {
                    self.reporter().warning(format!(
                        "the lab's files no longer fit the lab disk ({} MiB): the run's next VMs boot, after the last build",
                        rootfs::LAB_DISK_BYTES >> 20
                    ));
                    launch.fast_path_broken.store(true, Ordering::SeqCst);
                    before = Before::BootWithAll;
                }
            }
            if before == Before::BootWithAll {
                // A booted VM holds what its initramfs held: every task, from now on.
                while arrivals.tasks.len() < total && arrivals.wait_for(arrivals.tasks.len())? {}
                self.write_batch(source, &base, &arrivals.tasks, arrivals.tasks.len())?;
                runner.retire_vm();
                loaded_to = total;
            }
            verdicts.push(runner.run(&arrivals.tasks[i]));
        }
        runner.finish();
        step.done();
        Ok((verdicts, resumed))
    }

    /// The early VM, its lab loaded from the first batch; reported as a VM start.
    fn finish_early(&self, early: Early) -> Option<VmSession> {
        let waited = Instant::now();
        let vm = early.finish()?;
        self.reporter().report(Event::VmStarted {
            resumed: true,
            elapsed_secs: waited.elapsed().as_secs_f64(),
        });
        Some(vm)
    }

    /// Writes the guest's files for the tasks arrived so far: the initramfs (`base` and
    /// all of them: what a booted VM starts from), and the lab disk with those from `from`
    /// on (what the live VM has not loaded yet); `lab_disk` is `None` when they do not fit.
    fn write_batch(
        &self,
        source: &SourceRoot,
        base: &[u8],
        tasks: &[Prepared],
        from: usize,
    ) -> Result<Batch> {
        let archive = |tasks: &[Prepared]| -> Result<Vec<u8>> {
            let built: Vec<(String, &crate::build::BuiltTask)> = tasks
                .iter()
                .filter_map(|p| p.built.as_ref().ok().map(|b| (p.sel.id(), b)))
                .collect();
            rootfs::lab_archive(&built)
        };
        let label = source.label.as_str();
        let initrd = rootfs::write_initrd(&self.paths, label, base, &archive(tasks)?)?;
        let from = from.min(tasks.len());
        let lab_disk = rootfs::write_lab_disk(&self.paths, label, &archive(&tasks[from..])?)?;
        Ok(Batch { initrd, lab_disk })
    }
}

/// Where a batch of the lab's files was written.
struct Batch {
    initrd: PathBuf,
    lab_disk: Option<PathBuf>,
}

/// The VM resumed early, until it is used: dropped unused (an error on the way), it is
/// stopped rather than left running.
struct Unused(Option<Early>);

impl Drop for Unused {
    fn drop(&mut self) {
        if let Some(early) = self.0.take() {
            early.cancel();
        }
    }
}

/// What comes before a task's run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Before {
    /// Nothing: its files are loaded (or it did not build).
    Run,
    /// A new batch on the lab disk, unpacked by the live VM (or by the next to start).
    Load,
    /// The run boots its VMs: every task's files in the initramfs, the live VM retired.
    BootWithAll,
}

/// What task `task` needs before it runs, when the tasks before `loaded_to` are loaded.
fn before_task(task: usize, loaded_to: usize, built: bool, booting: bool) -> Before {
    match (task < loaded_to || !built, booting) {
        (true, _) => Before::Run,
        (false, false) => Before::Load,
        (false, true) => Before::BootWithAll,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_is_loaded_once_and_only_if_it_built() {
        assert_eq!(
            before_task(2, 3, true, false),
            Before::Run,
            "in the last batch"
        );
        assert_eq!(
            before_task(3, 3, false, false),
            Before::Run,
            "nothing to load"
        );
        assert_eq!(before_task(3, 3, true, false), Before::Load);
        assert_eq!(
            before_task(0, 0, true, false),
            Before::Load,
            "no first batch"
        );
    }

    #[test]
    fn a_booting_run_loads_every_task_once() {
        assert_eq!(before_task(3, 3, true, true), Before::BootWithAll);
        assert_eq!(
            before_task(4, 9, true, true),
            Before::Run,
            "all loaded already"
        );
        assert_eq!(before_task(3, 3, false, true), Before::Run);
    }
}
