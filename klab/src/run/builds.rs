//! The selected tasks' builds, in parallel on the worker pool; a failed build is a verdict
//! (and a `BuildFailed` event with the compiler's output).

use anyhow::{Context, Result};

use crate::build::{self, SourceRoot};
use crate::events::{Event, Step, StepKind};
use crate::kernel::KernelTree;
use crate::lab::selection::Selected;
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
        let sandbox = self.sandbox()?;
        let paths = &self.paths;
        // Tasks build in parallel (kbuild of one small module is mostly serial).
        let workers = vec![(); pool::width(pool::cores(), selected.len())];
        let results = pool::run(
            workers,
            &selected,
            || false,
            |_, _, sel| {
                build::build_task(&sandbox, paths, kernel, source, sel)
                    .with_context(|| format!("building {}", sel.id()))
            },
        );
        let mut out = Vec::new();
        for (sel, result) in selected.into_iter().zip(results) {
            let built = result.expect("every task was built")?;
            if let Err(output) = &built {
                self.reporter().report(Event::BuildFailed {
                    task: sel.id(),
                    output: output.clone(),
                });
            }
            out.push(Prepared::new(sel, built));
        }
        step.done();
        Ok(out)
    }
}
