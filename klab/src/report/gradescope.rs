//! Gradescope's autograder `results.json`: one test per check, each with its visibility
//! (`visible`, `after_due_date`, `after_published`, `hidden`, from lab.toml) and, for a
//! failed check, its hint and why the task failed, as Markdown (`output_format: "md"`) with
//! the diff in a fenced `diff` block.

use serde_json::{json, Value};

use crate::judge::diff::Plain;
use crate::judge::rubric::CheckScore;
use crate::report::{fmt_points, SubmissionGrade, TaskGrade};

/// Gradescope's autograder `results.json`.
pub fn gradescope(grade: &SubmissionGrade) -> Value {
    let mut tests = Vec::new();
    for (ti, task) in grade.tasks.iter().enumerate() {
        for (ci, check) in task.checks.iter().enumerate() {
            tests.push(json!({
                "name": format!("{} — {}", task.id, check.name),
                "number": format!("{}.{}", ti + 1, ci + 1),
                "score": check.points,
                "max_score": check.max_points,
                "status": if check.passed { "passed" } else { "failed" },
                "output": check_output(task, check),
                "output_format": "md",
                "visibility": check.visibility.name(),
            }));
        }
    }
    let mut output = format!(
        "{}: {} of {} points",
        grade.name,
        fmt_points(grade.score()),
        fmt_points(grade.max_score())
    );
    for note in &grade.notes {
        output.push_str(&format!("\n{note}"));
    }
    if grade.incomplete {
        output.push_str("\ngrading was interrupted: this result is incomplete");
    }
    if let Some(draw) = &grade.params {
        output.push_str(&format!(
            "\nlab parameters of this grading: {} (seed {})",
            draw.values.describe(),
            draw.seed
        ));
    }
    let mut results = json!({
        "score": grade.score(),
        "max_score": grade.max_score(),
        "execution_time": grade.execution_time.as_secs_f64().round() as u64,
        "output": output,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    });
    // Gradescope stores `extra_data` untouched: where a grade's parameters can be found again.
    if let Some(draw) = &grade.params {
        results["extra_data"] = json!({ "klab": { "seed": draw.seed, "params": draw.values } });
    }
    results
}

/// A check's output in Markdown: the task's verdict; on failure the check's hint, and the
/// explanation in code blocks (the diff as a `diff` block).
fn check_output(task: &TaskGrade, check: &CheckScore) -> String {
    let mut out = format!("**{}: {}**\n", task.id, task.status);
    if check.passed {
        return out;
    }
    if let Some(hint) = &check.hint {
        out.push_str(&format!("\nHint: {hint}\n"));
    }
    match &task.mismatch {
        Some(mismatch) => {
            if let Some(checks) = &mismatch.checks {
                out.push_str(&format!("\n{}", fenced("text", &checks.summary())));
            }
            out.push_str("\nOutput differs from the reviewed snapshot (- expected, + yours):\n\n");
            out.push_str(&fenced("diff", &mismatch.diff.render("", &Plain)));
            if !task.warnings.is_empty() {
                let warnings: Vec<String> = task
                    .warnings
                    .iter()
                    .map(|w| format!("warning: {w}"))
                    .collect();
                out.push_str(&format!("\n{}", fenced("text", &warnings.join("\n"))));
            }
        }
        None if !task.explanation.is_empty() => {
            out.push_str(&format!("\n{}", fenced("text", &dedent(&task.explanation))));
        }
        None => {}
    }
    out
}

/// `text` in a fenced code block: a fence longer than any run of backticks in `text`, so
/// nothing a student's module prints can close it.
fn fenced(info: &str, text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}{info}\n{}\n{fence}\n", text.trim_end_matches('\n'))
}

/// The explanation without the two spaces every line of it starts with on a terminal.
fn dedent(text: &str) -> String {
    text.lines()
        .map(|l| l.strip_prefix("  ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fence_is_longer_than_any_backtick_run_inside() {
        assert_eq!(fenced("diff", "- a\n+ b\n"), "```diff\n- a\n+ b\n```\n");
        assert_eq!(fenced("text", "x ```` y"), "`````text\nx ```` y\n`````\n");
    }
}
