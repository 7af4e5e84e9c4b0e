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
    Ok(())
}

pub(super) fn task_ids(lab: &Lab) -> Vec<String> {
    lab.manifest
        .tasks
        .iter()
        .map(|t| format!("{}/{}", lab.name, t.name))
        .collect()
}

pub(super) fn finish(
    out: &Path,
    grades: &[SubmissionGrade],
    ids: &[String],
    format: Format,
    reporter: &dyn Reporter,
) -> Result<()> {
    atomic_file::write(&out.join("scores.csv"), report::csv(grades, ids).as_bytes())?;
    let text = match format {
        Format::Tap => report::ktap(grades),
        Format::Human => format!(
            "\n{}results: {} (results.json, junit.xml per submission; scores.csv)\n",
            report::summary_table(grades, ids),
            out.display()
        ),
    };
    reporter.report(Event::Output { text });
    Ok(())
}
