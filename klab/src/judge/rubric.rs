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
        if let Some(hint) = &check.hint {
            if hint.trim().is_empty() || hint.chars().count() > HINT_MAX_CHARS {
                bail!(
                    "check `{}`: `hint` must be a sentence or two (1 to {HINT_MAX_CHARS} characters), or left out",
                    check.name
                );
            }
            if hint.chars().any(|c| c.is_control() && c != '\n') {
                bail!("check `{}`: `hint` must be plain text (no control characters)", check.name);
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
            Outcome::Pass | Outcome::Mismatch(_) | Outcome::NoSnapshot => {
                verdict.record.as_ref()
            }
            _ => None,
        };
        self.score(record, verdict.passed())
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
mod tests {
    use super::*;
    use crate::lab::manifest::LabManifest;

    fn task(toml_text: &str) -> TaskManifest {
        toml::from_str(toml_text).unwrap()
    }

    fn lab() -> Lab {
        Lab {
            name: "demo".into(),
            dir: "labs/demo".into(),
            manifest: LabManifest {
                title: "Demo".into(),
                language: "c".into(),
                scripts_from: None,
                build_timeout_secs: crate::lab::manifest::DEFAULT_BUILD_TIMEOUT_SECS,
                params: Default::default(),
                requires_config: vec![],
                tasks: vec![],
            },
        }
    }

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    /// What the reference run recorded: `ok: 1` from the script, `x: 1` from the kernel.
    fn reviewed() -> Snapshot {
        Snapshot::new(
            "$ sh test.sh\nok: 1\nboth\n[exit status 0]\n--- dmesg ---\nx: 1\ny: 1\nboth\n",
        )
    }

    fn resolve<'a>(t: &'a TaskManifest) -> Result<Rubric<'a>> {
        Rubric::resolve(
            &lab(),
            t,
            Some(&reviewed()),
            Path::new("labs/demo/snapshots/t.snap"),
        )
    }

    #[test]
    fn blocks_must_be_contiguous_and_in_order() {
        let record = "a\nb\nc\nd\n";
        assert!(contains_block(record, "b\nc"));
        assert!(contains_block(record, "\nb\nc\n"));
        assert!(!contains_block(record, "b\nd"));
        assert!(!contains_block(record, "c\nb"));
        assert!(!contains_block(record, ""));
    }

    #[test]
    fn a_check_matches_only_in_the_section_its_block_comes_from() {
        let t = task("name = 't'\n[[checks]]\nname = 'prints ok'\npoints = 2\nblock = 'ok: 1'\n[[checks]]\nname = 'logs x'\npoints = 3\nblock = 'x: 1'\n");
        let rubric = resolve(&t).unwrap();
        assert_eq!(rubric.sections, [Section::Output, Section::Dmesg]);
        let points = |output: &str, dmesg: &str| {
            let record = Record {
                output: lines(output),
                dmesg: lines(dmesg),
            };
            rubric
                .score(Some(&record), false)
                .iter()
                .map(|s| s.points)
                .collect::<Vec<_>>()
        };
        assert_eq!(points("ok: 1", "x: 1"), [2.0, 3.0]);
        // A module that logs the script's line earns nothing for it, and the other way round.
        assert_eq!(points("x: 1", "ok: 1"), [0.0, 0.0]);
        assert_eq!(points("", "ok: 1\nx: 1"), [0.0, 3.0]);
        assert!(rubric.score(None, false).iter().all(|s| s.points == 0.0));
    }

    #[test]
    fn an_explicit_section_must_hold_the_block() {
        let t = task(
            "name = 't'\n[[checks]]\nname = 'c'\npoints = 1\nblock = 'both'\nsection = 'dmesg'\n",
        );
        assert_eq!(resolve(&t).unwrap().sections, [Section::Dmesg]);
        let wrong = task(
            "name = 't'\n[[checks]]\nname = 'c'\npoints = 1\nblock = 'ok: 1'\nsection = 'dmesg'\n",
        );
        let text = resolve(&wrong).unwrap_err().to_string();
        assert!(
            text.contains("labs/demo/lab.toml")
                && text.contains("check `c`")
                && text.contains("dmesg section"),
            "{text}"
        );
        assert!(toml::from_str::<TaskManifest>(
            "name = 't'\n[[checks]]\nname = 'c'\npoints = 1\nblock = 'x'\nsection = 'kernel'\n"
        )
        .is_err());
    }

    #[test]
    fn a_block_in_neither_or_both_sections_is_an_error_naming_the_check() {
        for (block, says) in [
            (
                "ok: 1\n[exit status 0]\n--- dmesg ---\nx: 1",
                "neither section",
            ),
            ("y: 1\nx: 1", "neither section"),
            ("both", "both the output and the dmesg section"),
        ] {
            let t = task(&format!(
                "name = 't'\n[[checks]]\nname = 'spans'\npoints = 1\nblock = {block:?}\n"
            ));
            let text = resolve(&t).unwrap_err().to_string();
            assert!(
                text.contains("labs/demo/lab.toml")
                    && text.contains("check `spans`")
                    && text.contains(says),
                "{block:?}: {text}"
            );
        }
        let t = task("name = 't'\n[[checks]]\nname = 'c'\npoints = 1\nblock = 'ok: 1'\n");
        let none = Rubric::resolve(&lab(), &t, None, Path::new("t.snap"));
        assert!(none
            .unwrap_err()
            .to_string()
            .contains("no reviewed snapshot"));
    }

    #[test]
    fn partial_credit_per_check() {
        let t = task("name = 't'\npoints = 5\n[[checks]]\nname = 'one'\npoints = 2\nblock = 'x: 1'\n[[checks]]\nname = 'two'\npoints = 3\nblock = 'y: 1'\n");
        validate(&t).unwrap();
        let rubric = resolve(&t).unwrap();
        let rec = Record {
            output: vec![],
            dmesg: lines("x: 1\ny: 0"),
        };
        let scores = rubric.score(Some(&rec), false);
        assert_eq!(
            scores.iter().map(|s| s.points).collect::<Vec<_>>(),
            [2.0, 0.0]
        );
        assert_eq!(max_points(&t), 5.0);
        assert_eq!(zero(&t).iter().map(|s| s.max_points).sum::<f64>(), 5.0);
        assert!(zero(&t).iter().all(|s| s.points == 0.0));
    }

    #[test]
    fn without_checks_the_snapshot_decides() {
        let t = task("name = 't'\npoints = 4\n");
        let rubric = Rubric::resolve(&lab(), &t, None, Path::new("t.snap")).unwrap();
        let rec = Record::of_snapshot(&Snapshot::new("anything"));
        assert_eq!(rubric.score(Some(&rec), true)[0].points, 4.0);
        assert_eq!(rubric.score(Some(&rec), false)[0].points, 0.0);
        assert_eq!(zero(&t)[0].max_points, 4.0);
    }

    #[test]
    fn inconsistent_rubrics_are_rejected() {
        let t = task("name = 't'\npoints = 5\n[[checks]]\nname = 'one'\npoints = 2\nblock = 'x'\n");
        assert!(validate(&t)
            .unwrap_err()
            .to_string()
            .contains("add up to 2"));
        let empty = task("name = 't'\n[[checks]]\nname = 'e'\npoints = 1\nblock = '  '\n");
        assert!(validate(&empty).is_err());
        let twice = task("name = 't'\n[[checks]]\nname = 'e'\npoints = 1\nblock = 'a'\n[[checks]]\nname = 'e'\npoints = 1\nblock = 'b'\n");
        assert!(validate(&twice)
            .unwrap_err()
            .to_string()
            .contains("listed twice"));
    }
}
