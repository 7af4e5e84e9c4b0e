//! A lab of fake tasks run by the real engine ([`run_tasks`]) in `klab-fake-vm` VMs: each
//! task's test does what its rule in the fake's script says (pass, hang, oops, flood, close
//! the command port), and the engine's events are recorded.

#![allow(dead_code)] // each test binary uses its own part of the rig

use std::path::{Path, PathBuf};

use klab::build::sandbox::{Policy, Sandbox};
use klab::build::{BuiltTask, SourceRoot};
use klab::events::{Event, Recorder};
use klab::judge::normalize::Normalizer;
use klab::judge::verdict::{TaskRun, TaskVerdict};
use klab::kernel::profile::Profile;
use klab::lab::manifest::Lab;
use klab::lab::selection::Selected;
use klab::paths::{Paths, RunLabel};
use klab::run::tasks::{run_tasks, Prepared, RunOptions, SnapshotMode, VmPolicy};
use klab::vm::launch::Launch;
use klab::vm::qemu::{Accel, VmImage};

/// One fake task: its name, its time limit and what its test does (the body of a
/// `[[command]]` rule of the fake's script, `matches` left out).
pub struct FakeTask<'a> {
    pub name: &'a str,
    pub timeout_secs: u64,
    pub rule: &'a str,
}

/// A task whose test prints `hello from NAME` and logs `NAME: loaded`, matching its snapshot.
pub fn passing(name: &str) -> FakeTask<'_> {
    FakeTask {
        name,
        timeout_secs: 1,
        rule: "",
    }
}

pub struct Rig {
    pub dir: tempfile::TempDir,
    pub paths: Paths,
    pub lab: Lab,
    pub recorder: Recorder,
    script: PathBuf,
    sandbox: Sandbox,
}

impl Rig {
    /// The lab `fake` with `tasks`, in a fresh folder. A task with an empty rule passes
    /// ([`passing`]): the rig writes its rule and its snapshot.
    pub fn new(tasks: &[FakeTask]) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let paths = Paths {
            labs: root.join("labs"),
            templates: root.join("templates"),
            skels: root.join("skels"),
            rootfs: root.join("rootfs"),
            kernel_dir: root.join("kernel"),
            out: root.join("out"),
            work: root.join("out"),
            cache: root.join("cache"),
            root: root.clone(),
        };
        let lab_dir = paths.labs.join("fake");
        std::fs::create_dir_all(&lab_dir).unwrap();
        let mut manifest = "title = \"fake\"\nlanguage = \"c\"\n".to_owned();
        let mut script = "boot = [\"Linux version 6.0 (klab-fake-vm)\"]\n".to_owned();
        for t in tasks {
            manifest += &format!(
                "[[tasks]]\nname = {:?}\ntimeout_secs = {}\n",
                t.name, t.timeout_secs
            );
            let rule = match t.rule {
                "" => format!(
                    "output = \"hello from {0}\\n\"\ndmesg = [\"{0}: loaded\"]\n",
                    t.name
                ),
                rule => rule.to_owned(),
            };
            script += &format!("[[command]]\nmatches = \"/lab/fake/{} \"\n{rule}\n", t.name);
        }
        std::fs::write(lab_dir.join("lab.toml"), manifest).unwrap();
        let script_path = root.join("script.toml");
        std::fs::write(&script_path, script).unwrap();
        let lab = Lab::load(&lab_dir).unwrap();
        let sandbox = Sandbox::probe(
            &xshell::Shell::new().unwrap(),
            Policy::Off,
            &klab::events::Silent,
        )
        .unwrap();
        let rig = Rig {
            dir,
            paths,
            lab,
            recorder: Recorder::default(),
            script: script_path,
            sandbox,
        };
        for t in tasks.iter().filter(|t| t.rule.is_empty()) {
            let hello = format!("hello from {}\n", t.name);
            rig.expect(t.name, &hello, 0, &format!("{}: loaded\n", t.name));
        }
        rig
    }

    /// Writes `task`'s reviewed snapshot: what a run with this output, exit status and
    /// kernel log records.
    pub fn expect(&self, task: &str, output: &str, status: i32, dmesg: &str) {
        let task = self.lab.task(task).unwrap();
        let run = TaskRun {
            output: output.into(),
            exit_status: Some(status),
            dmesg: dmesg.into(),
        };
        let record = run.record(&Normalizer::new(&task.filters).unwrap());
        let id = format!("fake/{}", task.name);
        record
            .snapshot()
            .write(&self.lab.snapshot_path(task), "labs/fake/lab.toml", &id)
            .unwrap();
    }

    /// How the VMs start: booted by `klab-fake-vm`, the script in place of the kernel.
    pub fn launch(&self) -> Launch {
        let image = VmImage {
            qemu: PathBuf::from(env!("CARGO_BIN_EXE_klab-fake-vm")),
            kernel: self.script.clone(),
            initrd: self.dir.path().join("initrd.cpio"),
            memory_mb: 64,
            accel: Accel::Tcg,
            kunit: false,
            lab_disk: None,
        };
        Launch::new(image, None, Profile::Lean)
    }

    /// Runs every task of the lab through the engine, as `check` (`Reuse`) or `grade`
    /// (`FreshPerTask`) would.
    pub fn run(&self, policy: VmPolicy) -> Vec<TaskVerdict> {
        let stage = self.dir.path().join("stage");
        let tasks: Vec<Prepared> = self
            .lab
            .manifest
            .tasks
            .iter()
            .map(|task| {
                let built = BuiltTask {
                    files: vec![],
                    warnings: vec![],
                    stage: stage.clone(),
                    built_at: stage.clone(),
                    build_output: String::new(),
                    how: klab::events::BuildHow::Programs,
                };
                Prepared::new(
                    Selected {
                        lab: &self.lab,
                        task,
                    },
                    Ok(built),
                )
            })
            .collect();
        let source = SourceRoot {
            label: RunLabel::own("fake"),
            dir: self.paths.templates.clone(),
        };
        let how = RunOptions {
            mode: SnapshotMode::Compare,
            policy,
        };
        run_tasks(
            &self.paths,
            &self.sandbox,
            &self.recorder,
            &source,
            &self.launch(),
            &tasks,
            how,
        )
        .unwrap()
    }

    /// How many VMs the run started, and how many it stopped.
    pub fn vm_starts_and_stops(&self) -> (usize, usize) {
        let events = self.recorder.events();
        let count = |f: fn(&Event) -> bool| events.iter().filter(|e| f(e)).count();
        (
            count(|e| matches!(e, Event::VmStarted { .. })),
            count(|e| matches!(e, Event::VmStopped { .. })),
        )
    }

    /// The console log of the run's VM number `n` (from 1).
    pub fn console_log(&self, n: usize) -> PathBuf {
        self.paths
            .work
            .join(format!("runs/fake/vm-{n}/console.log"))
    }
}

/// `(task, status)` of each verdict, e.g. `("fake/pass", "PASS")`.
pub fn statuses(verdicts: &[TaskVerdict]) -> Vec<(String, &'static str)> {
    verdicts
        .iter()
        .map(|v| (v.id.clone(), v.status()))
        .collect()
}

/// The text of `path`, or "" when it is missing.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
