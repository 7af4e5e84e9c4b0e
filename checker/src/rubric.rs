//! Scoring a task run: points per task and, where a task lists checks, per check.
//!
//! A check is a block of lines that must appear, contiguous and in order, in the task's
//! normalised record (the same text the snapshot holds), so instructors write checks by
//! copying lines from the reviewed snapshot. Checks are independent: partial credit.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::manifest::TaskManifest;
use crate::snapshot::Snapshot;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub name: String,
    pub points: f64,
    /// Lines that must appear together in the record.
    pub block: String,
}

/// The score of one check (or of the whole task when it has no checks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckScore {
    pub name: String,
    pub points: f64,
    pub max_points: f64,
    pub passed: bool,
}

pub fn validate(task: &TaskManifest) -> Result<()> {
    if task.points.is_some_and(|p| !(p.is_finite() && p >= 0.0)) {
        bail!("points must be a number >= 0");
    }
    for check in &task.checks {
        if check.block.trim().is_empty() {
            bail!("check `{}` has an empty block", check.name);
        }
        if !(check.points.is_finite() && check.points >= 0.0) {
            bail!("check `{}`: points must be a number >= 0", check.name);
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

/// Whether `block`'s lines appear contiguously in `record`.
pub fn contains_block(record: &str, block: &str) -> bool {
    let hay = lines_of(record);
    let needle: Vec<&str> = lines_of(block.trim_matches('\n'));
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle.as_slice())
}

/// Scores a run. `record` is `None` when the task did not run to the end (build failure,
/// fault, timeout): every check scores 0. `whole_match` says whether the record matched
/// the reviewed snapshot (used when the task has no checks).
pub fn score(task: &TaskManifest, record: Option<&Snapshot>, whole_match: bool) -> Vec<CheckScore> {
    if task.checks.is_empty() {
        let passed = record.is_some() && whole_match;
        return vec![CheckScore {
            name: "output matches the reviewed snapshot".into(),
            points: if passed { max_points(task) } else { 0.0 },
            max_points: max_points(task),
            passed,
        }];
    }
    task.checks
        .iter()
        .map(|check| {
            let passed = record.is_some_and(|r| contains_block(&r.body, &check.block));
            CheckScore {
                name: check.name.clone(),
                points: if passed { check.points } else { 0.0 },
                max_points: check.points,
                passed,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(toml_text: &str) -> TaskManifest {
        toml::from_str(toml_text).unwrap()
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
    fn partial_credit_per_check() {
        let t = task("name = 't'\npoints = 5\n[[checks]]\nname = 'one'\npoints = 2\nblock = 'x: 1'\n[[checks]]\nname = 'two'\npoints = 3\nblock = 'y: 1'\n");
        validate(&t).unwrap();
        let rec = Snapshot::new("x: 1\ny: 0\n");
        let scores = score(&t, Some(&rec), false);
        assert_eq!(
            scores.iter().map(|s| s.points).collect::<Vec<_>>(),
            [2.0, 0.0]
        );
        assert_eq!(max_points(&t), 5.0);
        assert!(score(&t, None, false).iter().all(|s| s.points == 0.0));
    }

    #[test]
    fn without_checks_the_snapshot_decides() {
        let t = task("name = 't'\npoints = 4\n");
        let rec = Snapshot::new("anything");
        assert_eq!(score(&t, Some(&rec), true)[0].points, 4.0);
        assert_eq!(score(&t, Some(&rec), false)[0].points, 0.0);
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
    }
}
