//! `cargo xtask bless`: records the reference solutions' runs as the reviewed snapshots,
//! then lints the rubric as the instructor wrote it.
//!
//! Two lints, both against what was just recorded: every check's block must be in one
//! section of its task's snapshot (an error: the check would cost every student its points,
//! or could be earned from the other section), and no check may pass on the generated
//! skeleton (a warning: it cannot tell a solved task from an unsolved one). The skeleton is
//! the one `cargo xtask skels` makes, generated into a scratch folder and graded as `grade`
//! would grade it.

use std::path::PathBuf;

use crate::judge::rubric::Rubric;
use crate::lab::selection::Selected;
use anyhow::Result;

use crate::build::SourceRoot;
use crate::events::{Step, StepKind};
use crate::ops::check::{check, CheckOptions};
use crate::paths::RunLabel;
use crate::run::pipeline::Start;
use crate::run::tasks::{SnapshotMode, VmPolicy};
use crate::run::Workspace;

/// Runs `bless` on the selection; `Ok(false)` when a task was not recorded or a check's
/// block is not in its snapshot.
pub fn run(ctx: &Workspace, select: &[String]) -> Result<bool> {
    let recorded = check(
        ctx,
        &CheckOptions {
            select: select.to_vec(),
            solution: true,
            mode: SnapshotMode::Accept,
            html: false,
        },
    )?;
    let selected = ctx.select(select)?;
    let step = Step::start(
        ctx.reporter(),
        StepKind::Judge,
        "checking the rubric against the snapshots just recorded",
    );
    let mut errors = Vec::new();
    let mut rubrics = Vec::new();
    for s in &selected {
        match Rubric::of_lab(s.lab, s.task) {
            Ok(rubric) => rubrics.push((s.clone(), rubric)),
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    step.done();
    for error in &errors {
        ctx.reporter().note(format!("error: {error}"));
    }
    let weak = skeleton_passes(ctx, &rubrics)?;
    for (id, check) in &weak {
        ctx.reporter().warning(format!(
            "{id}: check `{check}` passes on the skeleton: it cannot tell a solved task from an unsolved one"
        ));
    }
    ctx.reporter().note(format!(
        "rubric: {} error(s), {} check(s) that the skeleton passes",
        errors.len(),
        weak.len()
    ));
    Ok(recorded && errors.is_empty())
}

/// Builds and runs the generated skeleton of the tasks with a valid rubric, and returns
/// `(task id, check name)` of every check it passes (a task without checks: the whole
/// snapshot).
fn skeleton_passes(
    ctx: &Workspace,
    rubrics: &[(Selected, Rubric)],
) -> Result<Vec<(String, String)>> {
    if rubrics.is_empty() {
        return Ok(vec![]);
    }
    let selected: Vec<Selected> = rubrics.iter().map(|(s, _)| s.clone()).collect();
    let scratch = Scratch(
        ctx.paths
            .out
            .join(format!("bless-skels-{}", std::process::id())),
    );
    let _ = std::fs::remove_dir_all(&scratch.0);
    let mut paths = ctx.paths.clone();
    paths.skels = scratch.0.clone();
    let step = Step::start(
        ctx.reporter(),
        StepKind::Skeletons,
        format!(
            "generating the skeleton of {} task(s), as `cargo xtask skels` does",
            selected.len()
        ),
    );
    crate::lab::skeletons::generate(&paths, &selected, 1, false, ctx.reporter())?;
    step.done();
    let kernel = ctx.kernel()?;
    let source = SourceRoot {
        label: ctx.profile_label(RunLabel::own("bless-skeleton")),
        dir: scratch.0.clone(),
    };
    let mut staged = ctx.stage(&kernel, source, selected, Start::Harness)?;
    let step = Step::start(
        ctx.reporter(),
        StepKind::Judge,
        format!(
            "running the skeleton of {} task(s), as `grade` would",
            staged.tasks.len()
        ),
    );
    let verdicts = staged.run(ctx, SnapshotMode::Compare, VmPolicy::FreshPerTask)?;
    step.done();
    let mut passing = Vec::new();
    for ((sel, rubric), verdict) in rubrics.iter().zip(&verdicts) {
        for score in rubric.score_verdict(verdict) {
            if score.passed {
                passing.push((sel.id(), score.name));
            }
        }
    }
    Ok(passing)
}

/// The scratch skeleton folder, removed when the lint is done (or fails).
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
