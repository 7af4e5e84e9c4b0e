//! `check`'s pipeline with the builds streamed into the run: each task runs as soon as it
//! (and every task before it) is built, in the VM resumed while the first ones build, instead
//! of after the last build. The builds go on, on the worker pool, while the VM runs tests;
//! verdicts still come in task order.
//!
//! The lab's files reach the VM in batches. Before a task whose files the VM has not loaded,
//! the lab disk is rewritten with every task built by then from that task on, and the VM
//! unpacks it (`klab-load-lab`); a VM started later (after a fault) loads the same disk as it
//! starts. The initramfs a VM boots from when resuming fails is rewritten with every task
//! built so far; once the run boots instead of resuming, it waits for the last build so that
//! a booted VM holds every task.
//!
//! Without a saved guest to resume (`KLAB_BOOT=cold`, no virtio disk), the run waits for
//! every build, as [`Workspace::stage`] does.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::Instant;

use anyhow::{bail, Result};

use crate::build::SourceRoot;
use crate::events::{Event, Reporter, Step, StepKind};
use crate::guest::rootfs;
use crate::judge::verdict::TaskVerdict;
use crate::kernel::KernelTree;
use crate::lab::selection::Selected;
use crate::run::builds::{build_checked, build_each, building, prepared, Checked};
use crate::run::guest_files::GuestFiles;
use crate::run::pipeline::Start;
use crate::run::runner::Runner;
use crate::run::tasks::{run_tasks, Prepared, RunOptions, SnapshotMode, VmPolicy};
use crate::run::Workspace;
use crate::vm::launch::{self, Early};

/// What a streamed run did.
pub struct Ran<'a> {
    pub tasks: Vec<Prepared<'a>>,
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
    ) -> Result<Ran<'a>> {
        if selected.is_empty() || !launch::fast_path_wanted() {
            let mut staged = self.stage(kernel, source, selected, Start::Harness)?;
            let verdicts = staged.run(self, mode, VmPolicy::Reuse)?;
            let resumed = staged.launch.fast.is_some();
            let tasks = staged.tasks;
            return Ok(Ran {
                tasks,
                verdicts,
                resumed,
            });
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
                let stop = || over_ref.load(Ordering::SeqCst);
                build_each(sandbox, selected_ref, stop, |sandbox, i, sel| {
                    let checked = build_checked(sandbox, paths, reporter, kernel, source_ref, sel);
                    let _ = sent.send((i, checked));
                    Ok(())
                });
            });
            let mut arrivals = Arrivals::new(arriving, &selected, reporter, Some(building));
            let ran = self.run_as_built(kernel, &source, &mut arrivals, mode);
            over.store(true, Ordering::SeqCst);
            ran.map(|(verdicts, resumed)| Ran {
                tasks: arrivals.tasks,
                verdicts,
                resumed,
            })
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
        let how = RunOptions {
            mode,
            policy: VmPolicy::Reuse,
        };
        // Made (saved guest on first use) and resumed while the first tasks build.
        let early = self.resume_early(kernel, source);
        let Some(early) = early else {
            arrivals.wait_for(total - 1)?;
            let files = self.copy(source, &arrivals.tasks)?;
            let launch = self.launch(kernel, &files);
            let resumed = launch.fast.is_some();
            let (paths, reporter) = (&self.paths, self.reporter());
            let verdicts = run_tasks(
                paths,
                &sandbox,
                reporter,
                source,
                &launch,
                &arrivals.tasks,
                how,
                None,
            )?;
            return Ok((verdicts, resumed));
        };
        // The first batch: through the first task that built (a VM has nothing to run
        // before it), and whatever else has arrived by then.
        let mut next = 0;
        while next < total {
            arrivals.wait_for(next)?;
            if arrivals.tasks[next].built.is_ok() {
                break;
            }
            next += 1;
        }
        arrivals.take_ready()?;
        let files = self.write_batch(source, &arrivals.tasks, 0)?;
        let launch = self.launch(kernel, &files);
        // A lab too big for the disk boots instead (the disk still holds an older run's).
        let first = if next < total && files.lab_disk.is_some() {
            self.finish_early(early)
        } else {
            early.cancel();
            None
        };
        let resumed = launch.fast.is_some();
        let running = Step::start(
            self.reporter(),
            StepKind::Run,
            format!(
                "running {total} task(s) in the VM ({}, {}) as they are built",
                launch.cold.accel.name(),
                if resumed {
                    "resumed from the saved guest"
                } else {
                    "booted"
                }
            ),
        );
        let mut runner = Runner::new(
            &self.paths,
            &sandbox,
            self.reporter(),
            source,
            &launch,
            how,
            first,
        );
        // Tasks before this one that built are on a disk the live VM loaded.
        let mut loaded_to = arrivals.tasks.len();
        let mut verdicts = Vec::with_capacity(total);
        for i in 0..total {
            arrivals.wait_for(i)?;
            if i >= loaded_to && arrivals.tasks[i].built.is_ok() {
                arrivals.take_ready()?;
                let booting =
                    launch.fast.is_none() || launch.fast_path_broken.load(Ordering::SeqCst);
                let fits = !booting && {
                    let files = self.write_batch(source, &arrivals.tasks, i)?;
                    files.lab_disk.is_some()
                };
                if fits {
                    runner.reload_lab();
                    loaded_to = arrivals.tasks.len();
                } else {
                    // A booted VM holds what its initramfs held: every task, from now on.
                    launch.fast_path_broken.store(true, Ordering::SeqCst);
                    arrivals.wait_for(total - 1)?;
                    self.write_batch(source, &arrivals.tasks, total)?;
                    runner.retire_vm();
                    loaded_to = total;
                }
            }
            verdicts.push(runner.run(&arrivals.tasks[i]));
        }
        runner.finish();
        running.done();
        Ok((verdicts, resumed))
    }

    /// The early VM, its lab loaded from the first batch; reported as a VM start.
    fn finish_early(&self, early: Early) -> Option<crate::vm::session::VmSession> {
        let waited = Instant::now();
        let vm = early.finish()?;
        self.reporter().report(Event::VmStarted {
            resumed: true,
            elapsed_secs: waited.elapsed().as_secs_f64(),
        });
        Some(vm)
    }

    /// Writes the guest's files for the tasks arrived so far: the initramfs with all of them
    /// (what a booted VM starts from), and the lab disk with those from `from` on (what the
    /// live VM has not loaded yet); `lab_disk` is `None` when they do not fit it.
    fn write_batch(
        &self,
        source: &SourceRoot,
        tasks: &[Prepared],
        from: usize,
    ) -> Result<GuestFiles> {
        let built = |tasks: &[Prepared]| -> Result<Vec<u8>> {
            let built: Vec<(String, &crate::build::BuiltTask)> = tasks
                .iter()
                .filter_map(|p| p.built.as_ref().ok().map(|b| (p.sel.id(), b)))
                .collect();
            rootfs::lab_archive(&built)
        };
        let base = self.base()?;
        let label = source.label.as_str();
        let initrd = rootfs::write_initrd(&self.paths, label, &base, &built(tasks)?)?;
        let base_initrd = rootfs::write_base_initrd(&self.paths, &base)?;
        let from = from.min(tasks.len());
        let lab_disk = rootfs::write_lab_disk(&self.paths, label, &built(&tasks[from..])?)?;
        Ok(GuestFiles {
            initrd,
            base_initrd,
            lab_disk,
        })
    }
}

/// The builds as they finish, put back in task order.
struct Arrivals<'x, 'a> {
    arriving: Receiver<(usize, Result<Checked>)>,
    /// Finished ahead of a task before them.
    early: BTreeMap<usize, Result<Checked>>,
    selected: &'x [Selected<'a>],
    /// The tasks arrived, in order: `tasks[i]` is `selected[i]`'s.
    tasks: Vec<Prepared<'a>>,
    reporter: &'x dyn Reporter,
    /// The build step, done when the last task arrives.
    building: Option<Step<'x>>,
}

impl<'x, 'a> Arrivals<'x, 'a> {
    fn new(
        arriving: Receiver<(usize, Result<Checked>)>,
        selected: &'x [Selected<'a>],
        reporter: &'x dyn Reporter,
        building: Option<Step<'x>>,
    ) -> Self {
        Arrivals {
            arriving,
            early: BTreeMap::new(),
            selected,
            tasks: Vec::new(),
            reporter,
            building,
        }
    }

    /// Waits until task `i` (and so every task before it) has arrived.
    fn wait_for(&mut self, i: usize) -> Result<()> {
        while self.tasks.len() <= i {
            match self.arriving.recv() {
                Ok((j, checked)) => {
                    self.early.insert(j, checked);
                    self.in_order()?;
                }
                Err(_) => bail!(
                    "the task builds stopped after {} of {} tasks",
                    self.tasks.len(),
                    self.selected.len()
                ),
            }
        }
        Ok(())
    }

    /// Takes, without waiting, what has arrived.
    fn take_ready(&mut self) -> Result<()> {
        while let Ok((j, checked)) = self.arriving.try_recv() {
            self.early.insert(j, checked);
        }
        self.in_order()
    }

    /// Moves the arrived builds that continue the order into `tasks` (a failed build is
    /// reported as it joins); an error building one (not a build failure) ends the run.
    fn in_order(&mut self) -> Result<()> {
        while let Some(checked) = self.early.remove(&self.tasks.len()) {
            let sel = self.selected[self.tasks.len()].clone();
            self.tasks.push(prepared(self.reporter, sel, checked?));
        }
        if self.tasks.len() == self.selected.len() {
            if let Some(step) = self.building.take() {
                step.done();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Recorder;
    use crate::lab::manifest::{Lab, LabManifest};

    fn selected(lab: &Lab) -> Vec<Selected<'_>> {
        let tasks = lab.manifest.tasks.iter();
        tasks.map(|task| Selected { lab, task }).collect()
    }

    fn lab() -> Lab {
        let manifest: LabManifest = toml::from_str(
            "title = 't'\nlanguage = 'c'\n[[tasks]]\nname = '1-a'\nmodules = ['a']\n[[tasks]]\nname = '2-b'\nmodules = ['b']\n[[tasks]]\nname = '3-c'\nmodules = ['c']\n",
        )
        .unwrap();
        Lab {
            name: "net".into(),
            dir: "labs/net".into(),
            manifest,
        }
    }

    fn failed(why: &str) -> Result<Checked> {
        Ok((Err(why.to_owned()), Vec::new()))
    }

    #[test]
    fn builds_finishing_out_of_order_arrive_in_task_order() {
        let lab = lab();
        let selected = selected(&lab);
        let recorder = Recorder::default();
        let (sent, arriving) = mpsc::channel();
        let step = Step::start(&recorder, StepKind::Build, "building");
        let mut arrivals = Arrivals::new(arriving, &selected, &recorder, Some(step));
        sent.send((2, failed("third"))).unwrap();
        sent.send((1, failed("second"))).unwrap();
        arrivals.take_ready().unwrap();
        assert!(arrivals.tasks.is_empty(), "nothing before the first task");
        sent.send((0, failed("first"))).unwrap();
        arrivals.wait_for(0).unwrap();
        let order: Vec<String> = arrivals.tasks.iter().map(|p| p.sel.id()).collect();
        assert_eq!(order, ["net/1-a", "net/2-b", "net/3-c"]);
        let reported: Vec<String> = recorder
            .events()
            .into_iter()
            .filter_map(|e| match e {
                Event::BuildFailed { task, .. } => Some(task),
                _ => None,
            })
            .collect();
        assert_eq!(reported, order, "failures reported in task order");
        assert!(arrivals.building.is_none(), "the build step is done");
    }

    #[test]
    fn an_error_building_or_builds_that_stop_end_the_run_with_a_reason() {
        let lab = lab();
        let selected = selected(&lab);
        let recorder = Recorder::default();
        let (sent, arriving) = mpsc::channel();
        let mut arrivals = Arrivals::new(arriving, &selected, &recorder, None);
        sent.send((0, failed("first"))).unwrap();
        sent.send((1, Err(anyhow::anyhow!("no sandbox")))).unwrap();
        let err = arrivals.wait_for(1).unwrap_err();
        assert!(format!("{err:#}").contains("no sandbox"), "{err:#}");
        drop(sent);
        let err = arrivals.wait_for(2).unwrap_err();
        assert!(err.to_string().contains("stopped after 1 of 3"), "{err}");
    }
}
