//! The selected tasks' builds, in parallel on the worker pool; a failed build is a verdict
//! (and a `BuildFailed` event with the compiler's output).

use anyhow::{Context, Result};

use std::path::Path;

use crate::build::sandbox::Sandbox;
use crate::build::style::{self, Finding};
use crate::build::{self, BuildOutcome, BuiltTask, SourceRoot};
use crate::events::{Event, Reporter, Step, StepKind};
use crate::kernel::KernelTree;
use crate::lab::selection::Selected;
use crate::paths::Paths;
use crate::run::pool;
use crate::run::tasks::Prepared;
use crate::run::workspace::Workspace;

impl Workspace {
    /// Builds every selected task; a build failure is a verdict, not an error.
    pub fn build_all<'a>(
        &self,
        kernel: &KernelTree,
        source: &SourceRoot,
        selected: Vec<Selected<'a>>,
    ) -> Result<Vec<Prepared<'a>>> {
        let step = building(self.reporter(), &selected, source);
        let sandbox = self.sandbox()?;
        let (paths, reporter) = (&self.paths, self.reporter());
        let results = build_each(
            &sandbox,
            &selected,
            || false,
            |sandbox, _, sel| build_checked(sandbox, paths, reporter, kernel, source, sel),
        );
        let mut out = Vec::new();
        for (sel, result) in selected.into_iter().zip(results) {
            let result = result.expect("every task was built");
            out.push(prepared(self.reporter(), sel, result?));
        }
        step.done();
        Ok(out)
    }
}

impl Workspace {
    /// Builds every selected task as `build_all` does, without the style step and without
    /// reporting build failures: a grading run's seed build of the skeleton (`grade::room`).
    /// Returns the ids of the tasks that did not build.
    pub fn build_seed(
        &self,
        kernel: &KernelTree,
        source: &SourceRoot,
        selected: Vec<Selected<'_>>,
    ) -> Result<Vec<String>> {
        let step = Step::start(
            self.reporter(),
            StepKind::Build,
            format!(
                "building the skeleton of {} task(s), once per grading run",
                selected.len()
            ),
        );
        let (sandbox, paths) = (self.sandbox()?, &self.paths);
        let results = build_each(
            &sandbox,
            &selected,
            || false,
            |sandbox, _, sel| {
                build::build_task(sandbox, paths, kernel, source, sel)
                    .with_context(|| format!("building the skeleton of {}", sel.id()))
            },
        );
        let mut unbuilt = Vec::new();
        for (sel, result) in selected.iter().zip(results) {
            if result.expect("every task was built")?.is_err() {
                unbuilt.push(sel.id());
            }
        }
        step.done();
        Ok(unbuilt)
    }
}

/// The step of building the selected tasks (`check`'s, with their style).
pub(crate) fn building<'r>(
    reporter: &'r dyn Reporter,
    selected: &[Selected],
    source: &SourceRoot,
) -> Step<'r> {
    let what = format!("building {} task(s) from {}/", selected.len(), source.label);
    Step::start(reporter, StepKind::Build, what)
}

/// A task's build and the style of what built: what `check` shows with its verdict.
pub(crate) type Checked = (BuildOutcome, Vec<Finding>);

/// Builds one selected task and finds its style (a build error is what to fix first, so a
/// task that did not build has none); reports how it was built.
pub(crate) fn build_checked(
    sandbox: &Sandbox,
    paths: &Paths,
    reporter: &dyn Reporter,
    kernel: &KernelTree,
    source: &SourceRoot,
    sel: &Selected,
) -> Result<Checked> {
    let started = std::time::Instant::now();
    let built = build::build_task(sandbox, paths, kernel, source, sel)
        .with_context(|| format!("building {}", sel.id()))?;
    let style = match &built {
        Ok(task) => style_of(sandbox, paths, kernel, source, sel, task),
        Err(_) => Vec::new(),
    };
    if let Ok(task) = &built {
        reporter.report(Event::TaskBuilt {
            task: sel.id(),
            how: task.how,
            elapsed_secs: started.elapsed().as_secs_f64(),
        });
    }
    Ok((built, style))
}

/// A built task ready to run; a failed build is reported (`BuildFailed`, with the compiler's
/// output) and becomes its verdict.
pub(crate) fn prepared<'a>(
    reporter: &dyn Reporter,
    sel: Selected<'a>,
    checked: Checked,
) -> Prepared<'a> {
    let (built, style) = checked;
    if let Err(output) = &built {
        reporter.report(Event::BuildFailed {
            task: sel.id(),
            output: output.clone(),
        });
    }
    let mut prepared = Prepared::new(sel, built);
    prepared.style = style;
    prepared
}

/// `each(sandbox, index, task)` over every selected task on the worker pool, one worker per
/// core (kbuild of one small module is mostly serial); results in order. Tasks not started
/// when `stop()` says so get `None`.
pub(crate) fn build_each<'s, T: Send>(
    sandbox: &Sandbox,
    selected: &[Selected<'s>],
    stop: impl Fn() -> bool + Sync,
    each: impl Fn(&Sandbox, usize, &Selected<'s>) -> Result<T> + Sync,
) -> Vec<Option<Result<T>>> {
    let workers = vec![(); pool::width(pool::cores(), selected.len())];
    pool::run(workers, selected, stop, |_, i, sel| each(sandbox, i, sel))
}

/// The compilers' warnings from building `task`, then checkpatch and rustfmt over the
/// student's module sources as staged.
fn style_of(
    sandbox: &Sandbox,
    paths: &Paths,
    kernel: &KernelTree,
    source: &SourceRoot,
    sel: &Selected,
    task: &BuiltTask,
) -> Vec<Finding> {
    // Unchanged sources since the last build: the style found then still holds.
    if task.how == crate::events::BuildHow::UpToDate {
        if let Some(kept) = style::cache::load(&task.stage) {
            return kept;
        }
    }
    let sources: Vec<String> = sel
        .task
        .modules
        .iter()
        .flat_map(|m| m.student_sources(&task.stage))
        .collect();
    let shown = paths.show(&source.dir.join(&sel.lab.name).join(&sel.task.name));
    let shown = Path::new(&shown);
    let mut findings = style::parse_compiler_warnings(&task.build_output, &task.stage, shown);
    findings.extend(style::check_sources(
        sandbox,
        &kernel.dir,
        &task.stage,
        &sources,
        shown,
    ));
    findings.truncate(style::MAX_FINDINGS);
    style::cache::save(&task.stage, &findings);
    findings
}
