//! Where a grade's results go: per submission results.json (Gradescope), junit.xml and
//! grade.json, written atomically as soon as it is graded; then scores.csv and the summary
//! (a table, or KTAP on stdout).

use std::path::Path;

use anyhow::Result;

use crate::atomic_file;
use crate::events::{Event, Reporter};
use crate::grade::Format;
use crate::lab::manifest::Lab;
use crate::report::{self, SubmissionGrade};

pub(super) fn write_results(out: &Path, grade: &SubmissionGrade) -> Result<()> {
    let dir = out.join(&grade.name);
    atomic_file::write(
        &dir.join("results.json"),
        serde_json::to_string_pretty(&report::gradescope(grade))?.as_bytes(),
    )?;
    atomic_file::write(&dir.join("junit.xml"), report::junit(grade).as_bytes())?;
    atomic_file::write(
        &dir.join("grade.json"),
        serde_json::to_string_pretty(grade)?.as_bytes(),
    )?;
    // The page sits beside the console logs it links to.
    let page = report::html::submission_page(grade, |log| log.to_owned());
    atomic_file::write(&dir.join("report.html"), page.as_bytes())?;
    Ok(())
}

pub(super) fn task_ids(lab: &Lab) -> Vec<String> {
    lab.manifest
        .tasks
        .iter()
        .map(|t| format!("{}/{}", lab.name, t.name))
        .collect()
}

/// Writes scores.csv and the class's report.html (`page_of(name)`: the link to a
/// submission's page), then reports the summary.
pub(super) fn finish(
    out: &Path,
    grades: &[SubmissionGrade],
    ids: &[String],
    format: Format,
    reporter: &dyn Reporter,
    page_of: impl Fn(&str) -> String,
) -> Result<()> {
    atomic_file::write(&out.join("scores.csv"), report::csv(grades, ids).as_bytes())?;
    let lab = grades.first().map(|g| g.lab.as_str()).unwrap_or_default();
    atomic_file::write(
        &out.join("report.html"),
        report::html::class_page(lab, grades, page_of).as_bytes(),
    )?;
    let text = match format {
        Format::Tap => report::ktap(grades),
        Format::Human => format!(
            "\n{}results: {} (report.html; results.json, junit.xml, report.html per submission; scores.csv)\n",
            report::summary_table(grades, ids),
            out.display()
        ),
    };
    reporter.report(Event::Output { text });
    Ok(())
}
