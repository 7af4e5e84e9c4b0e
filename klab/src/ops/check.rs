//! `check` (and `bless`'s recording): build, copy, boot, run each task's test, judge.

use anyhow::Result;

use crate::build::SourceRoot;
use crate::progress::Step;
use crate::run::tasks::{self, Prepared, SnapshotMode};
use crate::run::Workspace;
use crate::vm::launch::{self, Launch};

/// build → copy: the selected tasks built and how to start their VMs.
pub fn build_and_copy<'a>(
    ctx: &'a Workspace,
    select: &[String],
    solution: bool,
    label_prefix: Option<&str>,
) -> Result<(SourceRoot, Vec<Prepared<'a>>, Launch)> {
    let selected = ctx.select(select)?;
    let kernel = ctx.kernel()?;
    let source = ctx.source(solution);
    // `boot` gets its own stage and image, so a student's VM never races a running `check`.
    let source = match label_prefix {
        Some(prefix) => SourceRoot {
            label: format!("{prefix}-{}", source.label),
            dir: source.dir,
        },
        None => source,
    };
    let prepared = ctx.build_all(&kernel, &source, selected)?;
    let files = ctx.copy(&source, &prepared)?;
    // A person's VM boots (a saved guest has no console shell).
    let launch = match label_prefix {
        Some(_) => Launch {
            cold: ctx.image(&kernel, files.initrd.clone()),
            fast: None,
            profile: kernel.profile,
        },
        None => ctx.launch(&kernel, &files),
    };
    Ok((source, prepared, launch))
}

pub fn check(
    ctx: &Workspace,
    select: &[String],
    solution: bool,
    mode: SnapshotMode,
) -> Result<bool> {
    let selected = ctx.select(select)?;
    let kernel = ctx.kernel()?;
    let source = ctx.source(solution);
    // The first VM resumes while the tasks build: the two overlap.
    let early = ctx.resume_early(&kernel, &source);
    let built = ctx
        .build_all(&kernel, &source, selected)
        .and_then(|prepared| Ok((ctx.copy(&source, &prepared)?, prepared)));
    let (files, prepared) = match built {
        Ok(built) => built,
        Err(e) => {
            if let Some(early) = early {
                early.cancel();
            }
            return Err(e);
        }
    };
    let launch = ctx.launch(&kernel, &files);
    let first = early.and_then(launch::Early::finish);
    let step = Step::start(format!(
        "running {} task(s) in the VM ({}, {})",
        prepared.len(),
        launch.cold.accel.name(),
        if launch.fast.is_some() {
            "resumed from the saved guest"
        } else {
            "booted"
        }
    ));
    let how = tasks::RunOptions {
        mode,
        policy: tasks::VmPolicy::Reuse,
        print: true,
    };
    let sandbox = ctx.sandbox()?;
    let verdicts = tasks::run_tasks(
        &ctx.paths, &sandbox, &source, &launch, &prepared, how, first,
    )?;
    step.done();
    let what = if mode == SnapshotMode::Accept {
        "bless"
    } else {
        "check"
    };
    let ok = tasks::summarize(&ctx.paths, &verdicts, what);
    if mode == SnapshotMode::Accept {
        println!("snapshots written under labs/*/snapshots/: review them with `git diff` before committing");
    }
    Ok(ok)
}
