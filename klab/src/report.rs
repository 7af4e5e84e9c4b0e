//! Grading reports: Gradescope's `results.json`, JUnit XML, KTAP, a CSV of scores and a
//! summary table. Pure functions from grades to text; writing them is the caller's job.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::judge::diff::Mismatch;
use crate::judge::rubric::CheckScore;
use crate::lab::params::Draw;

mod gradescope;
pub mod html;

pub use gradescope::gradescope;

/// One task of one submission, graded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskGrade {
    /// `lab/task`.
    pub id: String,
    /// The verdict word (`PASS`, `FAIL`, `FAULT`, …).
    pub status: String,
    /// What the student should read: the diff, the compiler's message, the oops excerpt.
    pub explanation: String,
    /// A FAIL's diff and failed checks as data (results.json shows the diff as a `diff`
    /// code block).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mismatch: Option<Mismatch>,
    /// Student-facing warnings (also at the end of `explanation`).
    #[serde(default)]
    pub warnings: Vec<String>,
    pub checks: Vec<CheckScore>,
    pub duration: Duration,
    /// The kernel console log of the task's VM, as a file in the submission's results
    /// folder (`vm-1.console.log`).
    #[serde(default)]
    pub console_log: Option<String>,
}

/// One submission, graded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubmissionGrade {
    pub name: String,
    pub lab: String,
    pub tasks: Vec<TaskGrade>,
    /// Intake notes: ignored files, missing files, rejection.
    pub notes: Vec<String>,
    pub execution_time: Duration,
    /// The run was interrupted before every task was graded.
    pub incomplete: bool,
    /// The lab parameters the submission's tests ran with, and the seed that drew them
    /// (`None`: the lab has none, or nothing ran).
    #[serde(default)]
    pub params: Option<Draw>,
}

impl TaskGrade {
    /// What a student reads about `verdict`: why it did not pass (nothing on a pass), then its
    /// warnings (style findings, ignored files), one `  warning:` line each.
    pub fn explanation_of(verdict: &crate::judge::verdict::TaskVerdict) -> String {
        let mut explanation = if verdict.passed() {
            String::new()
        } else {
            verdict.explain().trim_end().to_owned()
        };
        for w in &verdict.warnings {
            explanation.push_str(&format!("\n  warning: {w}"));
        }
        explanation.trim_start_matches('\n').to_owned()
    }

    /// `verdict` graded with `checks`; `explanation` is what the student reads, `console_log`
    /// the log's name as the page beside it links it.
    pub fn of(
        verdict: &crate::judge::verdict::TaskVerdict,
        checks: Vec<CheckScore>,
        explanation: String,
        console_log: Option<String>,
    ) -> TaskGrade {
        TaskGrade {
            id: verdict.id.clone(),
            status: verdict.status().into(),
            explanation,
            mismatch: match &verdict.outcome {
                crate::judge::verdict::Outcome::Mismatch(m) => Some(m.clone()),
                _ => None,
            },
            warnings: verdict.warnings.clone(),
            checks,
            duration: verdict.duration,
            console_log,
        }
    }
}

impl SubmissionGrade {
    pub fn score(&self) -> f64 {
        self.tasks
            .iter()
            .flat_map(|t| &t.checks)
            .map(|c| c.points)
            .sum()
    }

    pub fn max_score(&self) -> f64 {
        self.tasks
            .iter()
            .flat_map(|t| &t.checks)
            .map(|c| c.max_points)
            .sum()
    }

    pub fn task_score(&self, id: &str) -> Option<(f64, f64)> {
        self.tasks.iter().find(|t| t.id == id).map(|t| {
            (
                t.checks.iter().map(|c| c.points).sum(),
                t.checks.iter().map(|c| c.max_points).sum(),
            )
        })
    }
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters, even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A JUnit XML report: one testcase per check.
pub fn junit(grade: &SubmissionGrade) -> String {
    let cases: usize = grade.tasks.iter().map(|t| t.checks.len()).sum();
    let failures: usize = grade
        .tasks
        .iter()
        .flat_map(|t| &t.checks)
        .filter(|c| !c.passed)
        .count();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<testsuites name=\"klab\" tests=\"{cases}\" failures=\"{failures}\" time=\"{:.3}\">\n",
        grade.execution_time.as_secs_f64()
    ));
    xml.push_str(&format!(
        "  <testsuite name=\"{}\" tests=\"{cases}\" failures=\"{failures}\" time=\"{:.3}\">\n",
        xml_escape(&grade.name),
        grade.execution_time.as_secs_f64()
    ));
    for task in &grade.tasks {
        let per_check = task.duration.as_secs_f64() / task.checks.len().max(1) as f64;
        for check in &task.checks {
            xml.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{per_check:.3}\"",
                xml_escape(&task.id),
                xml_escape(&check.name)
            ));
            if check.passed {
                xml.push_str("/>\n");
            } else {
                xml.push_str(&format!(
                    ">\n      <failure message=\"{}: {} of {} points\">{}</failure>\n    </testcase>\n",
                    xml_escape(&task.status),
                    fmt_points(check.points),
                    fmt_points(check.max_points),
                    xml_escape(&task.explanation)
                ));
            }
        }
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

/// A KTAP stream: one test per submission, one subtest per check.
pub fn ktap(grades: &[SubmissionGrade]) -> String {
    let mut out = format!("KTAP version 1\n1..{}\n", grades.len());
    for (i, grade) in grades.iter().enumerate() {
        let checks: Vec<(&TaskGrade, &CheckScore)> = grade
            .tasks
            .iter()
            .flat_map(|t| t.checks.iter().map(move |c| (t, c)))
            .collect();
        out.push_str("    KTAP version 1\n");
        out.push_str(&format!("    # Subtest: {}\n", grade.name));
        out.push_str(&format!("    1..{}\n", checks.len()));
        for (j, (task, check)) in checks.iter().enumerate() {
            let ok = if check.passed { "ok" } else { "not ok" };
            out.push_str(&format!(
                "    {ok} {} {} — {}\n",
                j + 1,
                task.id,
                check.name.replace('#', "")
            ));
            if !check.passed {
                out.push_str(&format!("    # {}\n", task.status));
            }
        }
        let ok = if grade.score() >= grade.max_score() && !grade.incomplete {
            "ok"
        } else {
            "not ok"
        };
        out.push_str(&format!(
            "{ok} {} {} # score {}/{}\n",
            i + 1,
            grade.name,
            fmt_points(grade.score()),
            fmt_points(grade.max_score())
        ));
    }
    out
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

pub fn fmt_points(p: f64) -> String {
    if p.fract() == 0.0 {
        format!("{p:.0}")
    } else {
        format!("{p:.2}")
    }
}

/// Scores of a whole run: a row per submission, a column per task.
pub fn csv(grades: &[SubmissionGrade], task_ids: &[String]) -> String {
    let mut out = String::from("submission");
    for id in task_ids {
        out.push(',');
        out.push_str(&csv_field(id));
    }
    out.push_str(",score,max_score,incomplete\n");
    for grade in grades {
        out.push_str(&csv_field(&grade.name));
        for id in task_ids {
            out.push(',');
            if let Some((score, _)) = grade.task_score(id) {
                out.push_str(&fmt_points(score));
            }
        }
        out.push_str(&format!(
            ",{},{},{}\n",
            fmt_points(grade.score()),
            fmt_points(grade.max_score()),
            grade.incomplete
        ));
    }
    out
}

/// A terminal table: submission × task, with each task's score or verdict.
pub fn summary_table(grades: &[SubmissionGrade], task_ids: &[String]) -> String {
    let short: Vec<&str> = task_ids
        .iter()
        .map(|id| id.rsplit('/').next().unwrap_or(id))
        .collect();
    let name_width = grades
        .iter()
        .map(|g| g.name.chars().count())
        .max()
        .unwrap_or(10)
        .max(10);
    let mut out = format!("{:<name_width$}", "submission");
    for s in &short {
        out.push_str(&format!("  {s:>14}"));
    }
    out.push_str("       total\n");
    for grade in grades {
        out.push_str(&format!("{:<name_width$}", grade.name));
        for id in task_ids {
            let cell = match (
                grade.task_score(id),
                grade.tasks.iter().find(|t| &t.id == id),
            ) {
                (Some((s, m)), Some(t)) if t.status == "PASS" || s > 0.0 => {
                    format!("{}/{}", fmt_points(s), fmt_points(m))
                }
                (Some((s, m)), Some(t)) => format!(
                    "{} {}/{}",
                    abbreviate(&t.status),
                    fmt_points(s),
                    fmt_points(m)
                ),
                _ => "-".into(),
            };
            out.push_str(&format!("  {cell:>14}"));
        }
        let mark = if grade.incomplete {
            " (incomplete)"
        } else {
            ""
        };
        out.push_str(&format!(
            "  {:>10}{mark}\n",
            format!(
                "{}/{}",
                fmt_points(grade.score()),
                fmt_points(grade.max_score())
            )
        ));
    }
    out
}

fn abbreviate(status: &str) -> &str {
    match status {
        "BUILD FAILED" => "BUILD",
        "NO SNAPSHOT" => "NOSNAP",
        "VM ERROR" => "VMERR",
        other => other,
    }
}

#[cfg(test)]
mod tests;
