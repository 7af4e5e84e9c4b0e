//! Scoring a task run: points per task and, where a task lists checks, per check.
//!
//! A check is a block of lines that must appear, contiguous and in order, in one section of
//! the task's normalised record: the test script's output or the kernel log (see
//! [`crate::judge::record`]). Instructors write checks by copying lines from the reviewed snapshot;
//! a check matches only in the section its block was copied from (or the one its `section`
//! names), so a module that logs the lines the script would print earns nothing for them.
//! Checks are independent: partial credit.

use std::path::Path;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::judge::diff::FailedChecks;
use crate::judge::record::{Record, Section};
use crate::judge::snapshot::Snapshot;
use crate::judge::verdict::{Outcome, TaskVerdict};
use crate::lab::manifest::{Lab, TaskManifest};
use crate::lab::params::Values;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub name: String,
    pub points: f64,
    /// Lines that must appear together in one section of the record.
    pub block: String,
    /// The section the block must be in; default: the one of the reviewed snapshot it is in.
    #[serde(default)]
    pub section: Option<Section>,
    /// When a student sees this check in Gradescope (default: always).
    #[serde(default)]
    pub visibility: Visibility,
    /// One or two sentences shown with the check when it fails (what to look at).
    #[serde(default)]
    pub hint: Option<String>,
}

/// When a student sees a check's result: Gradescope's test visibility. `hidden` checks are
/// never shown to students (Gradescope expects them to be worth no points).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    #[default]
    Visible,
    AfterDueDate,
    AfterPublished,
    Hidden,
}

impl Visibility {
    /// The value Gradescope's `results.json` takes.
    pub fn name(self) -> &'static str {
        match self {
            Visibility::Visible => "visible",
            Visibility::AfterDueDate => "after_due_date",
            Visibility::AfterPublished => "after_published",
            Visibility::Hidden => "hidden",
        }
    }
}

/// The longest `hint`, in characters.
pub const HINT_MAX_CHARS: usize = 500;

/// The score of one check (or of the whole task when it has no checks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckScore {
    pub name: String,
    pub points: f64,
    pub max_points: f64,
    pub passed: bool,
    #[serde(default)]
    pub visibility: Visibility,
    /// The check's hint, shown when it fails.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub hint: Option<String>,
}

pub fn validate(task: &TaskManifest) -> Result<()> {
    if task.points.is_some_and(|p| !(p.is_finite() && p >= 0.0)) {
        bail!("points must be a number >= 0");
    }
    let mut names = std::collections::HashSet::new();
    for check in &task.checks {
        if !names.insert(&check.name) {
            bail!("check `{}` is listed twice", check.name);
        }
        if check.block.trim().is_empty() {
            bail!("check `{}` has an empty block", check.name);
        }
        if !(check.points.is_finite() && check.points >= 0.0) {
            bail!("check `{}`: points must be a number >= 0", check.name);
        }
        if check.visibility == Visibility::Hidden && check.points != 0.0 {
            bail!(
                "check `{}`: `visibility = \"hidden\"` is for checks worth no points (Gradescope never shows them, yet would count them); use \"after_due_date\" or \"after_published\" to hide a scored check for a while",
                check.name
            );
        }
        if let Some(hint) = &check.hint {
            if hint.trim().is_empty() || hint.chars().count() > HINT_MAX_CHARS {
                bail!(
                    "check `{}`: `hint` must be a sentence or two (1 to {HINT_MAX_CHARS} characters), or left out",
                    check.name
                );
            }
            if hint.chars().any(|c| c.is_control() && c != '\n') {
                bail!(
                    "check `{}`: `hint` must be plain text (no control characters)",
                    check.name
                );
            }
        }
    }
    if let (Some(points), false) = (task.points, task.checks.is_empty()) {
        let sum: f64 = task.checks.iter().map(|c| c.points).sum();
        if (sum - points).abs() > 1e-9 {
            bail!("the checks' points add up to {sum}, but the task is worth {points}");
        }
    }
    Ok(())
}

/// What a task is worth in total.
pub fn max_points(task: &TaskManifest) -> f64 {
    if task.checks.is_empty() {
        task.points.unwrap_or(1.0)
    } else {
        task.checks.iter().map(|c| c.points).sum()
    }
}

fn lines_of(text: &str) -> Vec<&str> {
    text.lines().map(str::trim_end).collect()
}

/// Whether `block`'s lines appear contiguously in `lines`.
pub fn block_in<S: AsRef<str>>(lines: &[S], block: &str) -> bool {
    let hay: Vec<&str> = lines.iter().map(|l| l.as_ref().trim_end()).collect();
    let needle: Vec<&str> = lines_of(block.trim_matches('\n'));
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle.as_slice())
}

/// Whether `block`'s lines appear contiguously in `record` (any text).
pub fn contains_block(record: &str, block: &str) -> bool {
    block_in(&lines_of(record), block)
}

/// A task's checks, each with the section of the record it matches in.
#[derive(Debug, Clone)]
pub struct Rubric<'a> {
    pub task: &'a TaskManifest,
    /// One per check, in the manifest's order.
    pub sections: Vec<Section>,
}

impl<'a> Rubric<'a> {
    /// Resolves where each check of `task` looks, against the reviewed snapshot `reviewed`
    /// (read from `snapshot_file`): its `section`, which must hold the block, or else the one
    /// section that does. A block in neither section, or in both without a `section`, is an
    /// error naming the lab.toml and the check.
    pub fn resolve(
        lab: &Lab,
        task: &'a TaskManifest,
        reviewed: Option<&Snapshot>,
        snapshot_file: &Path,
    ) -> Result<Rubric<'a>> {
        let manifest = lab.dir.join("lab.toml");
        let snap = snapshot_file.display();
        let mut sections = Vec::new();
        for check in &task.checks {
            let at = || {
                format!(
                    "{}: task `{}`, check `{}`",
                    manifest.display(),
                    task.name,
                    check.name
                )
            };
            let Some(reviewed) = reviewed else {
                bail!(
                    "{}: there is no reviewed snapshot {snap} to copy its block from (`cargo xtask bless {}`)",
                    at(),
                    lab.name
                );
            };
            let record = Record::of_snapshot(reviewed);
            let found: Vec<Section> = Section::ALL
                .into_iter()
                .filter(|s| block_in(record.section(*s), &check.block))
                .collect();
            let section = match (check.section, found.as_slice()) {
                (Some(wanted), _) if found.contains(&wanted) => wanted,
                (Some(wanted), _) => bail!(
                    "{}: its block is not in the {} section of {snap} (`section = \"{}\"`); copy it from the snapshot",
                    at(),
                    wanted.name(),
                    wanted.name()
                ),
                (None, [one]) => *one,
                (None, []) => bail!(
                    "{}: its block is in neither section of {snap}, contiguous; copy it from the snapshot as it stands",
                    at()
                ),
                (None, _) => bail!(
                    "{}: its block is in both the output and the dmesg section of {snap}; say which one it checks with `section = \"output\"` or `section = \"dmesg\"`",
                    at()
                ),
            };
            sections.push(section);
        }
        Ok(Rubric { task, sections })
    }

    /// [`Rubric::resolve`] against the task's reviewed snapshot on disk.
    pub fn of_lab(lab: &Lab, task: &'a TaskManifest) -> Result<Rubric<'a>> {
        let path = lab.snapshot_path(task);
        let reviewed = Snapshot::read(&path)?;
        Rubric::resolve(lab, task, reviewed.as_ref(), &path)
    }

    /// Scores a run. `record` is `None` when the task did not run to the end (build failure,
    /// fault, timeout): every check scores 0. `whole_match` says whether the record matched
    /// the reviewed snapshot (used when the task has no checks).
    pub fn score(&self, record: Option<&Record>, whole_match: bool) -> Vec<CheckScore> {
        let task = self.task;
        if task.checks.is_empty() {
            let passed = record.is_some() && whole_match;
            return vec![CheckScore {
                name: WHOLE_SNAPSHOT.into(),
                points: if passed { max_points(task) } else { 0.0 },
                max_points: max_points(task),
                passed,
                visibility: Visibility::Visible,
                hint: None,
            }];
        }
        task.checks
            .iter()
            .zip(&self.sections)
            .map(|(check, section)| {
                let passed = record.is_some_and(|r| block_in(r.section(*section), &check.block));
                CheckScore {
                    name: check.name.clone(),
                    points: if passed { check.points } else { 0.0 },
                    max_points: check.points,
                    passed,
                    visibility: check.visibility,
                    hint: check.hint.clone(),
                }
            })
            .collect()
    }

    /// The checks `record` fails, its blocks' placeholders filled in with `params` (as
    /// `grade` fills them): the line under a FAIL verdict. `None` for a task without checks.
    pub fn failed_checks(&self, record: &Record, params: &Values) -> Option<FailedChecks> {
        if self.task.checks.is_empty() {
            return None;
        }
        let failed = self
            .task
            .checks
            .iter()
            .zip(&self.sections)
            .filter(|(check, section)| {
                !block_in(record.section(**section), &params.expand(&check.block))
            })
            .map(|(check, _)| check.name.clone())
            .collect();
        Some(FailedChecks {
            failed,
            total: self.task.checks.len(),
        })
    }

    /// Scores a verdict: its record when the task ran to the end (a pass, a mismatch, no
    /// snapshot yet), nothing after a fault, a timeout or a build failure.
    pub fn score_verdict(&self, verdict: &TaskVerdict) -> Vec<CheckScore> {
        let record = match verdict.outcome {
            Outcome::Pass | Outcome::Mismatch(_) | Outcome::NoSnapshot => verdict.record.as_ref(),
            _ => None,
        };
        self.score(record, verdict.passed())
    }

    /// [`Rubric::score_verdict`] for a run with `params`: blocks hold placeholders as
    /// snapshots do, filled in with the run's values, each check still looking in the section
    /// its block has in the reviewed snapshot (`grade`, `check --html`, `bless`'s lint).
    pub fn score_verdict_with(&self, verdict: &TaskVerdict, params: &Values) -> Vec<CheckScore> {
        let mut task = self.task.clone();
        for check in &mut task.checks {
            check.block = params.expand(&check.block);
        }
        let filled = Rubric {
            task: &task,
            sections: self.sections.clone(),
        };
        filled.score_verdict(verdict)
    }
}

/// The name of the one score of a task without checks.
pub const WHOLE_SNAPSHOT: &str = "output matches the reviewed snapshot";

/// Every check of `task` at 0 points: a submission that was not run.
pub fn zero(task: &TaskManifest) -> Vec<CheckScore> {
    let scores = |name: &str, max: f64| CheckScore {
        name: name.into(),
        points: 0.0,
        max_points: max,
        passed: false,
        visibility: Visibility::Visible,
        hint: None,
    };
    if task.checks.is_empty() {
        return vec![scores(WHOLE_SNAPSHOT, max_points(task))];
    }
    task.checks
        .iter()
        .map(|c| CheckScore {
            visibility: c.visibility,
            hint: c.hint.clone(),
            ..scores(&c.name, c.points)
        })
        .collect()
}

#[cfg(test)]
mod tests;
