//! `report.html`: the pages people look at after a grade (the class at a glance, and one
//! page per submission) and after `check --html` (one student's page).
//!
//! Pure functions from grades to self-contained HTML: inline CSS, no script, no font, no
//! request to any server, so a page opens from a file, an archive or a CI artifact alike.
//! Markup comes from `maud`, whose `html!` escapes every value: a submission's names, diffs
//! and console excerpts are hostile text and must never become markup. Must never read or
//! write files (the caller writes the pages, atomically).

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::{fmt_points, SubmissionGrade, TaskGrade};

/// Inline style shared by every page: verdict colours, a table, a diff.
const STYLE: &str = "
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 72em; color: #1b1f24; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .6em 0; }
th, td { border: 1px solid #d0d7de; padding: .25em .55em; text-align: left; }
th { background: #f6f8fa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { background: #dafbe1; } .fail { background: #ffebe9; }
.fault { background: #f3d6ff; } .timeout { background: #fff1c2; }
.build { background: #e6e6e6; } .other { background: #ddf4ff; }
.verdict { font-weight: 600; padding: .1em .45em; border-radius: .3em; }
pre { background: #f6f8fa; padding: .6em; overflow-x: auto; border: 1px solid #d0d7de; }
pre .add { background: #dafbe1; } pre .del { background: #ffebe9; } pre .hunk { color: #8250df; }
.hist { display: flex; align-items: flex-end; gap: 3px; height: 8em; margin: .5em 0 1.8em; }
.hist div { background: #54aeff; flex: 1; position: relative; min-height: 1px; }
.hist span { position: absolute; bottom: -1.4em; width: 100%; text-align: center; font-size: .75em; }
.note { color: #57606a; }
";

/// The CSS class of a verdict word: the colour a cell or badge gets.
fn verdict_class(status: &str) -> &'static str {
    match status {
        "PASS" => "pass",
        "FAIL" | "NO SNAPSHOT" => "fail",
        "FAULT" => "fault",
        "TIMEOUT" => "timeout",
        "BUILD FAILED" => "build",
        _ => "other",
    }
}

fn page(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body { (body) }
        }
    }
    .into_string()
}

/// The checks of a lab as columns: `(task id, check name)`, in the order of the first
/// submission that has every task (submissions graded to zero have the same checks).
fn columns(grades: &[SubmissionGrade]) -> Vec<(String, String)> {
    let widest = grades.iter().max_by_key(|g| g.tasks.len());
    widest
        .map(|g| {
            g.tasks
                .iter()
                .flat_map(|t| t.checks.iter().map(|c| (t.id.clone(), c.name.clone())))
                .collect()
        })
        .unwrap_or_default()
}

/// How many submissions scored in each tenth of the maximum (the last bin holds full marks).
pub fn histogram(grades: &[SubmissionGrade], bins: usize) -> Vec<usize> {
    let mut counts = vec![0; bins];
    for g in grades {
        let max = g.max_score();
        let frac = if max > 0.0 { g.score() / max } else { 0.0 };
        let bin = ((frac.clamp(0.0, 1.0) * bins as f64) as usize).min(bins - 1);
        counts[bin] += 1;
    }
    counts
}

/// The class at a glance: one row per submission, one cell per check coloured by the
/// task's verdict, totals, and a histogram of scores. `page_of(name)` is the link to a
/// submission's page.
pub fn class_page(
    lab: &str,
    grades: &[SubmissionGrade],
    page_of: impl Fn(&str) -> String,
) -> String {
    let cols = columns(grades);
    let hist = histogram(grades, 10);
    let tallest = hist.iter().copied().max().unwrap_or(0).max(1);
    let body = html! {
        h1 { "Grades: " (lab) }
        p.note { (grades.len()) " submission(s), " (cols.len()) " check(s)." }
        h2 { "Scores" }
        div.hist role="img" aria-label="histogram of scores" {
            @for (i, n) in hist.iter().enumerate() {
                div style=(format!("height: {}%", n * 100 / tallest)) title=(format!("{n} submission(s)")) {
                    span { (i * 10) "%" }
                }
            }
        }
        table #grades {
            thead {
                tr {
                    th { "submission" }
                    @for (task, check) in &cols { th title=(task) { (check) } }
                    th.num { "score" }
                }
            }
            tbody {
                @for g in grades {
                    tr.submission data-name=(g.name) data-score=(fmt_points(g.score())) {
                        td { a href=(page_of(&g.name)) { (g.name) } @if g.incomplete { " (incomplete)" } }
                        @for (task, check) in &cols {
                            (check_cell(g, task, check))
                        }
                        td.num.score { (fmt_points(g.score())) " / " (fmt_points(g.max_score())) }
                    }
                }
            }
        }
    };
    page(&format!("Grades: {lab}"), body)
}

fn check_cell(grade: &SubmissionGrade, task: &str, check: &str) -> Markup {
    let found = grade.tasks.iter().find(|t| t.id == task).and_then(|t| {
        t.checks
            .iter()
            .find(|c| c.name == check)
            .map(|c| (t.status.as_str(), c))
    });
    match found {
        Some((status, c)) => {
            let class = if c.passed {
                "pass"
            } else {
                verdict_class(status)
            };
            html! {
                td.num.(class) title=(format!("{task}: {status}")) {
                    (fmt_points(c.points)) "/" (fmt_points(c.max_points))
                }
            }
        }
        None => html! { td.other { "—" } },
    }
}

/// One submission's page: each task's verdict and checks, what went wrong (the diff, the
/// fault's excerpt at the student's file:line, the compiler's message), links to the kernel
/// console logs (`log_href(file)`), and the lab parameters it ran with.
pub fn submission_page(grade: &SubmissionGrade, log_href: impl Fn(&str) -> String) -> String {
    let body = html! {
        h1 { (grade.name) ": " (grade.lab) }
        p {
            strong.score { (fmt_points(grade.score())) " / " (fmt_points(grade.max_score())) }
            " points"
            @if grade.incomplete { " — grading was interrupted: this result is incomplete" }
        }
        @if let Some(draw) = &grade.params {
            p.note { "Lab parameters: " (draw.values.describe()) " (seed " (draw.seed) ")" }
        }
        @for note in &grade.notes { p.note { (note) } }
        @for task in &grade.tasks { (task_section(task, &log_href)) }
    };
    page(&format!("{}: {}", grade.name, grade.lab), body)
}

fn task_section(task: &TaskGrade, log_href: &impl Fn(&str) -> String) -> Markup {
    let (points, max): (f64, f64) = (
        task.checks.iter().map(|c| c.points).sum(),
        task.checks.iter().map(|c| c.max_points).sum(),
    );
    html! {
        section.task data-task=(task.id) {
            h2 {
                (task.id) " "
                span.verdict.(verdict_class(&task.status)) { (task.status) }
                " " (fmt_points(points)) "/" (fmt_points(max))
                span.note { " (" (format!("{:.1}", task.duration.as_secs_f64())) " s)" }
            }
            table {
                @for c in &task.checks {
                    tr class=(if c.passed { "pass" } else { "fail" }) {
                        td { (c.name) }
                        td.num { (fmt_points(c.points)) "/" (fmt_points(c.max_points)) }
                    }
                }
            }
            @if !task.explanation.is_empty() { (explanation(&task.explanation)) }
            @if let Some(log) = &task.console_log {
                p { a href=(log_href(log)) { "kernel console log" } }
            }
        }
    }
}

/// The explanation with a diff's lines marked (added, removed, hunk headers).
fn explanation(text: &str) -> Markup {
    html! {
        pre {
            @for line in text.lines() {
                @let class = if line.starts_with("@@") || line.starts_with("-- ") {
                    Some("hunk")
                } else if line.starts_with('+') {
                    Some("add")
                } else if line.starts_with('-') {
                    Some("del")
                } else {
                    None
                };
                @match class {
                    Some(c) => { span class=(c) { (line) } "\n" }
                    None => { (line) "\n" }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
