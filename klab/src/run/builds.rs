//! The selected tasks' builds, in parallel on the worker pool; a failed build is a verdict
//! (and a `BuildFailed` event with the compiler's output).

use anyhow::{Context, Result};

use std::path::Path;

use crate::build::sandbox::Sandbox;
use crate::build::style::{self, Finding};
use crate::build::{self, BuiltTask, SourceRoot};
use crate::events::{Event, Step, StepKind};
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
        let step = Step::start(
            self.reporter(),
            StepKind::Build,
            format!("building {} task(s) from {}/", selected.len(), source.label),
        );
        let (paths, reporter) = (&self.paths, self.reporter());
        let results = self.build_each(&selected, |sandbox, sel| {
            let started = std::time::Instant::now();
            let built = build::build_task(sandbox, paths, kernel, source, sel)
                .with_context(|| format!("building {}", sel.id()))?;
            // The style of what built (a build error is what to fix first).
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
        })?;
        let mut out = Vec::new();
        for (sel, result) in selected.into_iter().zip(results) {
            let (built, style) = result?;
            if let Err(output) = &built {
                self.reporter().report(Event::BuildFailed {
                    task: sel.id(),
                    output: output.clone(),
                });
            }
            let mut prepared = Prepared::new(sel, built);
            prepared.style = style;
            out.push(prepared);
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
        let paths = &self.paths;
        let results = self.build_each(&selected, |sandbox, sel| {
            build::build_task(sandbox, paths, kernel, source, sel)
                .with_context(|| format!("building the skeleton of {}", sel.id()))
        })?;
        let mut unbuilt = Vec::new();
        for (sel, result) in selected.iter().zip(results) {
            if result?.is_err() {
                unbuilt.push(sel.id());
            }
        }
        step.done();
        Ok(unbuilt)
    }

    /// `each` over every selected task on the worker pool, one worker per core (kbuild of one
    /// small module is mostly serial), through this workspace's sandbox; results in order.
    fn build_each<'s, T: Send>(
        &self,
        selected: &[Selected<'s>],
        each: impl Fn(&Sandbox, &Selected<'s>) -> Result<T> + Sync,
    ) -> Result<Vec<Result<T>>> {
        let sandbox = self.sandbox()?;
        let workers = vec![(); pool::width(pool::cores(), selected.len())];
        let results = pool::run(workers, selected, || false, |_, _, sel| each(&sandbox, sel));
        Ok(results
            .into_iter()
            .map(|r| r.expect("every task was built"))
            .collect())
    }
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
