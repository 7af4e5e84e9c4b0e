//! The selected tasks' builds, in parallel on the worker pool; a failed build is a verdict.

use anyhow::{Context, Result};

use crate::build::{self, SourceRoot};
use crate::kernel::KernelTree;
use crate::lab::selection::Selected;
use crate::progress::Step;
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
        let step = Step::start(format!(
            "building {} task(s) from {}/",
            selected.len(),
            source.label
        ));
        // Tasks build in parallel (kbuild of one small module is mostly serial), one shell each.
        let jobs = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .min(selected.len().max(1));
        let next = std::sync::atomic::AtomicUsize::new(0);
        let results: Vec<std::sync::Mutex<Option<Result<build::BuildOutcome>>>> = selected
            .iter()
            .map(|_| std::sync::Mutex::new(None))
            .collect();
        let sandbox = self.sandbox()?;
        let paths = &self.paths;
        std::thread::scope(|scope| {
            for _ in 0..jobs {
                let (next, results, selected, sandbox) = (&next, &results, &selected, &sandbox);
                scope.spawn(move || loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(sel) = selected.get(i) else { break };
                    let built = build::build_task(sandbox, paths, kernel, source, sel)
                        .with_context(|| format!("building {}", sel.id()));
                    *results[i].lock().unwrap() = Some(built);
                });
            }
        });
        let mut out = Vec::new();
        for (sel, result) in selected.into_iter().zip(results) {
            let built = result
                .into_inner()
                .unwrap()
                .expect("every task was built")?;
            if let Err(message) = &built {
                eprintln!("    {}: build failed", sel.id());
                eprintln!(
                    "{}",
                    message
                        .lines()
                        .map(|l| format!("    | {l}\n"))
                        .collect::<String>()
                        .trim_end()
                );
            }
            out.push(Prepared::new(sel, built));
        }
        step.done();
        Ok(out)
    }
}
