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
    let (rubrics, errors) = lint_rubrics(&selected);
    step.done();
    for error in &errors {
        ctx.reporter().note(format!("error: {error}"));
    }
    if !errors.is_empty() {
        ctx.reporter().note(
            "error: bless recorded the snapshots, but the rubric above does not match them: copy each check's block from its snapshot as it stands (lab.toml `[[tasks.checks]]`)".to_owned(),
        );
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

/// Resolves each selected task's rubric against the snapshot just recorded: the rubrics
/// that resolve, and one error per check whose block is not there, naming the lab, the task
/// and the check.
fn lint_rubrics<'a>(selected: &[Selected<'a>]) -> (Vec<(Selected<'a>, Rubric<'a>)>, Vec<String>) {
    let mut rubrics = Vec::new();
    let mut errors = Vec::new();
    for s in selected {
        match Rubric::of_lab(s.lab, s.task) {
            Ok(rubric) => rubrics.push((s.clone(), rubric)),
            Err(e) => errors.push(format!("lab `{}`: {e:#}", s.lab.name)),
        }
    }
    (rubrics, errors)
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
    for (((sel, rubric), verdict), prepared) in rubrics.iter().zip(&verdicts).zip(&staged.tasks) {
        // With the run's values in the blocks, as `grade` scores, or a check with a parameter
        // would never be seen to pass.
        for score in rubric.score_verdict_with(verdict, &prepared.params) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::manifest::Lab;

    /// A lab `demo` whose task `1-a` has one check, and the snapshot bless just wrote.
    fn lab_with(dir: &std::path::Path, block: &str) -> Lab {
        let lab = dir.join("labs/demo");
        std::fs::create_dir_all(lab.join("snapshots")).unwrap();
        std::fs::write(
            lab.join("lab.toml"),
            format!("title = 'D'\nlanguage = 'c'\n[[tasks]]\nname = '1-a'\nmodules = ['a']\n[[tasks.checks]]\nname = 'greets'\npoints = 1\nblock = '{block}'\n"),
        )
        .unwrap();
        crate::judge::snapshot::Snapshot::new(
            "$ sh test.sh\nhello\n[exit status 0]\n--- dmesg ---\na: loaded\n",
        )
        .write(
            &lab.join("snapshots/1-a.snap"),
            "labs/demo/lab.toml",
            "demo/1-a",
        )
        .unwrap();
        Lab::load(&lab).unwrap()
    }

    #[test]
    fn a_block_missing_from_the_new_snapshot_is_an_error_naming_lab_task_and_check() {
        let dir = tempfile::tempdir().unwrap();
        let lab = lab_with(dir.path(), "helo");
        let selected = [Selected {
            lab: &lab,
            task: &lab.manifest.tasks[0],
        }];
        let (rubrics, errors) = lint_rubrics(&selected);
        assert!(rubrics.is_empty());
        assert_eq!(errors.len(), 1, "{errors:?}");
        for part in [
            "lab `demo`",
            "task `1-a`",
            "check `greets`",
            "neither section",
        ] {
            assert!(errors[0].contains(part), "`{part}` in {}", errors[0]);
        }
    }

    #[test]
    fn a_block_in_the_new_snapshot_resolves_to_its_section() {
        let dir = tempfile::tempdir().unwrap();
        let lab = lab_with(dir.path(), "a: loaded");
        let selected = [Selected {
            lab: &lab,
            task: &lab.manifest.tasks[0],
        }];
        let (rubrics, errors) = lint_rubrics(&selected);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            rubrics[0].1.sections,
            [crate::judge::record::Section::Dmesg]
        );
    }
}
