//! `check --html`: the student's own page, the page `grade` writes per submission, made
//! from a self-check's verdicts (the lab's default parameters, its rubric's checks), beside
//! the run's console logs. Never grades: the scores shown are what the rubric gives these
//! verdicts, with no drawn parameters.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;

use crate::atomic_file;
use crate::judge::rubric::Rubric;
use crate::judge::verdict::TaskVerdict;
use crate::lab::selection::Selected;
use crate::report::{html, SubmissionGrade, TaskGrade};

/// The self-check as a [`SubmissionGrade`] named `name`; console logs relative to `dir`.
pub fn self_check(
    name: &str,
    selected: &[Selected],
    verdicts: &[TaskVerdict],
    dir: &Path,
) -> Result<SubmissionGrade> {
    let mut tasks = Vec::new();
    let mut labs: Vec<&str> = Vec::new();
    for verdict in verdicts {
        let Some(sel) = selected.iter().find(|s| s.id() == verdict.id) else {
            continue;
        };
        if !labs.contains(&sel.lab.name.as_str()) {
            labs.push(&sel.lab.name);
        }
        let rubric = Rubric::of_lab(sel.lab, sel.task)?;
        let checks = rubric.score_verdict_with(verdict, &sel.lab.manifest.params.defaults());
        let explanation = TaskGrade::explanation_of(verdict);
        let log = verdict.console_log.as_deref().map(|log| relative(dir, log));
        tasks.push(TaskGrade::of(verdict, checks, explanation, log));
    }
    Ok(SubmissionGrade {
        name: name.into(),
        lab: labs.join(", "),
        execution_time: verdicts.iter().map(|v| v.duration).sum::<Duration>(),
        tasks,
        notes: vec![],
        incomplete: false,
        params: None,
    })
}

/// `log` as a link from a page in `dir`: relative when inside it, else absolute.
fn relative(dir: &Path, log: &Path) -> String {
    log.strip_prefix(dir)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| log.to_string_lossy().into_owned())
}

/// Writes the page as `dir/report.html` and returns its path.
pub fn write(grade: &SubmissionGrade, dir: &Path) -> Result<PathBuf> {
    let path = dir.join("report.html");
    atomic_file::write(
        &path,
        html::submission_page(grade, |log| log.to_owned()).as_bytes(),
    )?;
    Ok(path)
}
