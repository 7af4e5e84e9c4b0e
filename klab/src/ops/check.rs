//! `check` and `bless`'s recording: the selection through the pipeline, one VM reused while
//! healthy, each verdict reported as it comes, then a summary.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::Result;

use crate::events::Event;
use crate::judge::verdict::TaskVerdict;
use crate::run::tasks::SnapshotMode;
use crate::run::Workspace;

/// What to check.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// `LAB` or `LAB/TASK` words; none: `$LABS`, else every lab.
    pub select: Vec<String>,
    /// The reference solutions (templates/) instead of skels/.
    pub solution: bool,
    /// Compare, compare and write pending snapshots, or accept (`bless`).
    pub mode: SnapshotMode,
    /// Also write the student's page (report.html beside the run's console logs).
    pub html: bool,
}

mod page;

/// Checks the selection; `Ok(true)` when every task passed.
pub fn check(ws: &Workspace, options: &CheckOptions) -> Result<bool> {
    let selected = ws.select(&options.select)?;
    let kernel = ws.kernel()?;
    let source = ws.source(options.solution);
    let runs_dir = ws.paths.work.join("runs").join(&source.label);
    let what = source.label.to_string();
    let verdicts = ws
        .build_and_run(&kernel, source, selected.clone(), options.mode)?
        .verdicts;
    if options.html {
        let grade = page::self_check(&what, &selected, &verdicts, &runs_dir)?;
        let path = page::write(&grade, &runs_dir)?;
        ws.reporter()
            .note(format!("your page: {}", ws.paths.show(&path)));
    }
    let command = match options.mode {
        SnapshotMode::Accept => "bless",
        SnapshotMode::Compare | SnapshotMode::ComparePending => "check",
    };
    let ok = summarize(ws, &verdicts, command);
    if options.mode == SnapshotMode::Accept {
        ws.reporter().note(
            "snapshots written under labs/*/snapshots/: review them with `git diff` before committing"
                .into(),
        );
    }
    Ok(ok)
}

/// Reports the closing summary; whether everything passed.
fn summarize(ws: &Workspace, verdicts: &[TaskVerdict], command: &str) -> bool {
    let passed = verdicts.iter().filter(|v| v.passed()).count();
    let logs: BTreeSet<PathBuf> = verdicts
        .iter()
        .filter_map(|v| v.console_log.clone())
        .collect();
    ws.reporter().report(Event::Summary {
        command: command.into(),
        passed,
        total: verdicts.len(),
        console_logs: logs.iter().map(|l| ws.paths.show(l)).collect(),
    });
    passed == verdicts.len()
}
