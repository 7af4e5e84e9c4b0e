//! What one bench row measures: a selection through the pipeline, cold or resumed, from an
//! empty stage or after an edit; and VM start to a prompt.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use klab::build::SourceRoot;
use klab::events::{Event, Recorder, Silent, StepKind};
use klab::kernel::KernelTree;
use klab::lab::selection::Selected;
use klab::paths::RunLabel;
use klab::run::pipeline::Start;
use klab::run::tasks::{SnapshotMode, VmPolicy, BOOT_TIMEOUT};
use klab::run::Workspace;

use super::copy_tree;

/// How the measured VMs start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// A fresh boot per VM.
    Cold,
    /// Resumed from the saved guest, the lab's files loaded from the lab disk.
    Fast,
}

impl Path {
    pub fn name(self) -> &'static str {
        match self {
            Path::Cold => "boot",
            Path::Fast => "resume",
        }
    }
}

pub struct Row {
    pub name: String,
    pub path: Path,
    pub build: Duration,
    pub copy: Duration,
    pub start: Duration,
    pub test: Duration,
    /// The whole row, as the user waits for it: with `resume`, builds and tests overlap, so
    /// the phases add up to more.
    pub wall: Duration,
    pub passed: usize,
    pub tasks: usize,
}

/// Whether the stage is emptied first (a cold build) or kept (an edit: kbuild rebuilds what
/// changed, after the source was touched).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Empty,
    Edited,
}

/// A scratch copy of the selected tasks' templates, built once, then edited (a comment
/// appended to each module source): what a student's save before `check` looks like.
fn edited_copy(ctx: &Workspace, kernel: &KernelTree, selected: &[Selected]) -> Result<SourceRoot> {
    let dir = ctx.paths.out.join("bench-edit-src");
    let _ = std::fs::remove_dir_all(&dir);
    for s in selected {
        let task = |root: &std::path::Path| root.join(&s.lab.name).join(&s.task.name);
        copy_tree(&task(&ctx.paths.templates), &task(&dir))?;
    }
    let source = SourceRoot {
        label: RunLabel::own("bench-edit"),
        dir: dir.clone(),
    };
    ctx.build_all(kernel, &source, selected.to_vec())?;
    for s in selected {
        let task_dir = dir.join(&s.lab.name).join(&s.task.name);
        for module in &s.task.modules {
            for source in module.source_paths(&task_dir) {
                let file = task_dir.join(source);
                if file.is_file() {
                    let mut text = std::fs::read_to_string(&file)?;
                    text.push_str("\n// edited by klab bench\n");
                    std::fs::write(&file, text)?;
                }
            }
        }
    }
    Ok(source)
}

/// One row: `selected` built from an empty stage (or after an edit), its image written, its
/// VMs started (booted, or resumed as `check` does: while the tasks build) and its tests run,
/// through the pipeline; the phases' times are read back from the steps it reported.
pub fn measure(
    ctx: &Workspace,
    kernel: &KernelTree,
    name: &str,
    selected: Vec<Selected>,
    path: Path,
    stage: Stage,
) -> Result<Row> {
    let source = match stage {
        Stage::Empty => {
            let _ = std::fs::remove_dir_all(ctx.paths.out.join("stage/bench"));
            SourceRoot {
                label: RunLabel::own("bench"),
                dir: ctx.paths.templates.clone(),
            }
        }
        Stage::Edited => edited_copy(ctx, kernel, &selected)?,
    };
    let recorder = Arc::new(Recorder::forwarding(Arc::new(Silent)));
    let ws = ctx.reporting_to(recorder.clone())?;
    let started = Instant::now();
    let verdicts = match path {
        // As `check` does: each task runs as soon as it is built, in the VM resumed meanwhile.
        Path::Fast => {
            let ran = ws.build_and_run(kernel, source, selected, SnapshotMode::Compare)?;
            if !ran.resumed {
                anyhow::bail!("no saved guest to resume (see the warning above)");
            }
            ran.verdicts
        }
        Path::Cold => {
            let mut staged = ws.stage(kernel, source, selected, Start::Booted)?;
            staged.run(&ws, SnapshotMode::Compare, VmPolicy::Reuse)?
        }
    };
    let wall = started.elapsed();
    let events = recorder.events();
    // The VMs' peak memory goes on to the caller (the rest of the row's events stay quiet).
    events
        .iter()
        .filter(|e| matches!(e, Event::VmStopped { .. }))
        .for_each(|e| ctx.reporter().report(e.clone()));
    let vm_starts = |from: usize| -> Duration {
        events[from..]
            .iter()
            .filter_map(|e| match e {
                Event::VmStarted { elapsed_secs, .. } => {
                    Some(Duration::from_secs_f64(*elapsed_secs))
                }
                _ => None,
            })
            .sum()
    };
    if path == Path::Fast
        && events
            .iter()
            .any(|e| matches!(e, Event::VmStarted { resumed: false, .. }))
    {
        anyhow::bail!("the saved guest could not be resumed (see the warning above)");
    }
    // The VMs started inside the run step are counted as start, not test.
    let run_started = events
        .iter()
        .position(|e| {
            matches!(
                e,
                Event::StepStarted {
                    kind: StepKind::Run,
                    ..
                }
            )
        })
        .unwrap_or(events.len());
    Ok(Row {
        name: name.to_owned(),
        path,
        build: recorder.time_in(StepKind::Build),
        copy: recorder.time_in(StepKind::Image),
        start: vm_starts(0),
        test: recorder
            .time_in(StepKind::Run)
            .saturating_sub(vm_starts(run_started)),
        wall,
        passed: verdicts.iter().filter(|v| v.passed()).count(),
        tasks: verdicts.len(),
    })
}

/// QEMU start to a responsive guest shell, booted and resumed (median of 3 each).
pub fn start_to_prompt(ctx: &Workspace, kernel: &KernelTree) -> Result<(Duration, Duration)> {
    let source = SourceRoot {
        label: RunLabel::own("bench-start"),
        dir: ctx.paths.templates.clone(),
    };
    let launch = ctx.stage(kernel, source, vec![], Start::Harness)?.launch;
    let run_dir = ctx.paths.out.join("runs/bench-start");
    let median = |fast: bool| -> Result<Duration> {
        let mut times = Vec::new();
        for _ in 0..3 {
            let mut l = launch.clone();
            if !fast {
                l.fast = None;
            }
            let t = Instant::now();
            let (vm, _) = l
                .start(&run_dir, BOOT_TIMEOUT, ctx.reporter())
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            times.push(t.elapsed());
            let peak_rss_kb = vm.shutdown();
            ctx.reporter().report(Event::VmStopped { peak_rss_kb });
        }
        times.sort();
        Ok(times[1])
    };
    Ok((median(false)?, median(true)?))
}

/// Makes sure the saved guest exists (timing its creation when it did not).
pub fn saved_guest(ctx: &Workspace, kernel: &KernelTree) -> Result<std::path::PathBuf> {
    let source = SourceRoot {
        label: RunLabel::own("bench"),
        dir: ctx.paths.templates.clone(),
    };
    ctx.stage(kernel, source, vec![], Start::Harness)?
        .launch
        .fast
        .map(|f| f.state)
        .context("no saved guest could be made (see the warning above)")
}
