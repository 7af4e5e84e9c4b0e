//! A task in a VM: its test run (`dmesg -C; PARAMS sh test.sh; dmesg`), what it left behind
//! (modules, with the debug profile leaks), its record judged against the snapshot; and
//! [`run_tasks`], built tasks through a [`Runner`].
//!
//! Under [`VmPolicy::Reuse`] (`check`, `bless`) one VM serves consecutive tasks; after a
//! fault, a timeout or a module that will not unload the VM is killed and the next task gets
//! a fresh one, so one broken task never hides the results of the others. Under
//! [`VmPolicy::FreshPerTask`] (`grade`) every task gets a fresh VM.

use std::time::Duration;

use crate::judge::normalize::Normalizer;
use crate::judge::record::Record;
use crate::judge::rubric::Rubric;
use crate::judge::snapshot::{self, Snapshot};
use crate::judge::verdict::{judge, Outcome, TaskRun, TaskVerdict};
use crate::lab::manifest::Lab;
use crate::lab::params::Values;
use crate::lab::selection::Selected;
use crate::vm::console::{Fault, FaultKind};
use crate::vm::session::{SessionError, VmSession};
use anyhow::Result;

use crate::build::sandbox::Sandbox;
use crate::build::SourceRoot;
use crate::events::Reporter;
use crate::kernel::profile::Profile;
use crate::paths::Paths;
use crate::run::runner::Runner;
use crate::vm::launch::Launch;

/// What to do with a run's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotMode {
    /// Compare only (students).
    Compare,
    /// Compare, and write `<task>.snap.new` when it differs (instructors, `--solution`).
    ComparePending,
    /// Accept the record as the new snapshot (`bless`).
    Accept,
}

/// Which VM a task runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmPolicy {
    /// The VM of the previous task while it is healthy: fast feedback for `check`.
    Reuse,
    /// A fresh VM for every task, resumed from the clean saved guest (or booted): nothing a
    /// task's module leaves behind (a hook, a thread, a corrupted list) shapes the next
    /// task's verdict. For `grade`.
    FreshPerTask,
}

/// How [`run_tasks`] runs a selection.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    pub mode: SnapshotMode,
    pub policy: VmPolicy,
}

pub const BOOT_TIMEOUT: Duration = Duration::from_secs(90);
const SHORT: Duration = Duration::from_secs(15);

/// A task ready to run: built, or with the reason it is not.
pub struct Prepared<'a> {
    pub sel: Selected<'a>,
    pub built: crate::build::BuildOutcome,
    /// The lab parameters its test runs with: the defaults, or `grade`'s drawn values.
    pub params: Values,
    /// The kernel's style over the student's files (shown as warnings with the verdict).
    pub style: Vec<crate::build::style::Finding>,
}

impl<'a> Prepared<'a> {
    /// A task that runs with its lab's default parameters (`check`, `bless`).
    pub fn new(sel: Selected<'a>, built: crate::build::BuildOutcome) -> Prepared<'a> {
        let params = sel.lab.manifest.params.defaults();
        Prepared {
            sel,
            built,
            params,
            style: Vec::new(),
        }
    }
}

impl Prepared<'_> {
    /// What its verdict shows besides the run's own warnings: the build's notes, then the
    /// style findings.
    pub fn warnings(&self) -> Vec<String> {
        let built = self.built.as_ref().map(|b| b.warnings.clone());
        let mut out = built.unwrap_or_default();
        out.extend(self.style.iter().map(|f| format!("style: {f}")));
        out
    }
}

/// Runs the built tasks in order, in VMs started by `launch` (restored from the saved guest
/// or booted), as a [`Runner`] does: under [`VmPolicy::Reuse`] a VM serves consecutive tasks
/// until one faults or times out; the next task then gets a fresh VM, started from the same
/// clean state. Under [`VmPolicy::FreshPerTask`] each task's VM is stopped after it.
/// Only this run's own folder, `runs/<label>`, is emptied first.
pub fn run_tasks(
    paths: &Paths,
    sandbox: &Sandbox,
    reporter: &dyn Reporter,
    source: &SourceRoot,
    launch: &Launch,
    tasks: &[Prepared],
    how: RunOptions,
) -> Result<Vec<TaskVerdict>> {
    let mut runner = Runner::new(paths, sandbox, reporter, source, launch, how, None);
    let verdicts = tasks.iter().map(|p| runner.run(p)).collect();
    runner.finish();
    Ok(verdicts)
}

pub(crate) fn outcome_of_session_error(e: SessionError, during: &str) -> Outcome {
    match e {
        SessionError::Died {
            fault: Some(fault), ..
        } => Outcome::Fault(fault),
        SessionError::Timeout { secs } => Outcome::Timeout { secs },
        other => Outcome::VmError {
            message: format!("{during}: {other}"),
        },
    }
}

/// Runs one task's test in `vm` with the lab parameters `params` (its environment), and
/// judges the record.
pub fn run_one(
    vm: &mut VmSession,
    sel: &Selected,
    params: &Values,
    mode: SnapshotMode,
    profile: Profile,
) -> TaskVerdict {
    let id = sel.id();
    let console_log = Some(vm.console_log().to_path_buf());
    let mut warnings = Vec::new();
    let verdict = |outcome, record, warnings| TaskVerdict {
        id: id.clone(),
        outcome,
        duration: Duration::ZERO,
        warnings,
        console_log: console_log.clone(),
        record,
    };
    vm.note(&format!("task {id}"));
    let _ = vm.take_fault();
    let timeout = Duration::from_secs(sel.task.timeout_secs) * profile.slowdown();
    let run = (|| -> std::result::Result<TaskRun, SessionError> {
        vm.run_checked("dmesg -c >/dev/null", SHORT)?;
        let env = params.env_prefix();
        let script = vm.run(&format!("cd /lab/{id} && {env}sh ./test.sh"), timeout)?;
        let dmesg = vm.run_checked("dmesg", SHORT)?;
        Ok(TaskRun {
            output: script.output,
            exit_status: Some(script.status),
            dmesg: dmesg.output,
        })
    })();
    let run = match run {
        Ok(run) => run,
        Err(e) => {
            // A fault seen before the timeout explains it better than the timeout does.
            let outcome = match (vm.take_fault(), e) {
                (Some(fault), _) => Outcome::Fault(fault),
                (None, e) => outcome_of_session_error(e, "running the test"),
            };
            vm.kill();
            return verdict(outcome, None, warnings);
        }
    };
    // The console may not have delivered a report yet; the task's kernel log holds it too.
    if let Some(fault) = vm
        .take_fault()
        .or_else(|| crate::vm::console::fault_in_log(&run.dmesg))
    {
        vm.kill();
        return verdict(Outcome::Fault(fault), None, warnings);
    }
    // Leave the VM clean for the next task: unload whatever the test left loaded.
    match unload_leftovers(vm) {
        Ok(left) if !left.is_empty() => {
            warnings.push(format!(
                "the test left module(s) loaded: {} (unloaded by klab)",
                left.join(", ")
            ));
        }
        Ok(_) => {}
        Err(message) => {
            warnings.push(message);
            vm.kill();
        }
    }
    // With the modules gone, what they allocated and did not free is unreferenced.
    if profile.kmemleak() && vm.is_alive() {
        match leaks(vm) {
            Ok(Some(leak)) => {
                vm.kill();
                return verdict(Outcome::Fault(leak), None, warnings);
            }
            Ok(None) => {}
            Err(message) => {
                warnings.push(message);
                vm.kill();
            }
        }
    }
    let normalizer =
        Normalizer::new(&sel.task.filters).expect("filters were validated with the manifest");
    let record = run.record(&normalizer);
    let outcome = apply_snapshot(sel.lab, sel, &record, mode, params);
    verdict(outcome, Some(record), warnings)
}

/// How long kmemleak's scan after a task may take (it waits out the minimum object age).
const KMEMLEAK_TIMEOUT: Duration = Duration::from_secs(60);

/// kmemleak's report of what the task leaked, as a fault (`klab-kmemleak` in the guest
/// waits until everything the task allocated is old enough to be reported, then scans).
fn leaks(vm: &mut VmSession) -> std::result::Result<Option<Fault>, String> {
    let out = vm
        .run("klab-kmemleak report", KMEMLEAK_TIMEOUT)
        .map_err(|e| format!("scanning for memory leaks (kmemleak): {e}; the VM was restarted"))?;
    if out.status != 0 {
        return Err(format!(
            "scanning for memory leaks (kmemleak) failed: {}; the VM was restarted",
            out.output.trim()
        ));
    }
    let excerpt: Vec<String> = out
        .output
        .lines()
        .take(crate::vm::console::EXCERPT_LINES)
        .map(str::to_owned)
        .collect();
    Ok((!excerpt.is_empty()).then_some(Fault {
        kind: FaultKind::MemoryLeak,
        excerpt,
    }))
}

/// Removes modules still loaded after a task. `Err` when one will not go (the VM is dirty).
fn unload_leftovers(vm: &mut VmSession) -> std::result::Result<Vec<String>, String> {
    let modules = vm
        .run_checked("cat /proc/modules", SHORT)
        .map_err(|e| format!("listing modules: {e}"))?;
    let names: Vec<String> = modules
        .output
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    for name in &names {
        // The names come from the guest's kernel: only a safe one goes into a command.
        if !crate::lab::naming::is_safe_name(name) {
            return Err(format!(
                "a module with the name {name:?} is loaded, which klab will not pass to rmmod; the VM was restarted"
            ));
        }
        let out = vm
            .run(&format!("rmmod {name}"), SHORT)
            .map_err(|e| format!("rmmod {name}: {e}"))?;
        if out.status != 0 {
            return Err(format!(
                "module {name} could not be unloaded ({}); the VM was restarted",
                out.output.trim()
            ));
        }
    }
    Ok(names)
}

/// Judges `record` against the reviewed snapshot, whose `[NAME]` placeholders are filled in
/// with `params`; what it writes (`bless`, a pending `.snap.new`) holds placeholders again.
fn apply_snapshot(
    lab: &Lab,
    sel: &Selected,
    record: &Record,
    mode: SnapshotMode,
    params: &Values,
) -> Outcome {
    let path = lab.snapshot_path(sel.task);
    let pending = snapshot::pending_path(&path);
    let source = format!("labs/{}/lab.toml", lab.name);
    let raw = match Snapshot::read(&path) {
        Ok(s) => s,
        Err(e) => {
            return Outcome::VmError {
                message: format!("{e:#}"),
            }
        }
    };
    let reviewed = raw.as_ref().map(|s| Snapshot::new(&params.expand(&s.body)));
    let to_write = Snapshot::new(&params.placeholders(&record.snapshot().body));
    if mode == SnapshotMode::Accept {
        // Read back, such a snapshot would split its sections at the script's line.
        if record.separator_in_output() {
            return Outcome::VmError {
                message: format!(
                    "not recorded: the test script printed a `{}` line, which separates the snapshot's sections; print something else",
                    crate::judge::record::SEPARATOR
                ),
            };
        }
        if let Err(e) = to_write.write(&path, &source, &sel.id()) {
            return Outcome::VmError {
                message: format!("{e:#}"),
            };
        }
        let _ = std::fs::remove_file(&pending);
        return Outcome::Pass;
    }
    // The rubric's checks against this run, for the line under a FAIL verdict (a rubric
    // that does not resolve is `bless`'s and the lab lint's to report, not a verdict's).
    let failed_checks = |record: &Record| {
        let rubric = Rubric::resolve(lab, sel.task, raw.as_ref(), &path).ok()?;
        rubric.failed_checks(record, params)
    };
    let outcome = judge(record, reviewed.as_ref(), failed_checks);
    if mode == SnapshotMode::ComparePending {
        if matches!(outcome, Outcome::Pass) {
            let _ = std::fs::remove_file(&pending);
        } else {
            let _ = to_write.write(&pending, &source, &sel.id());
        }
    }
    outcome
}
