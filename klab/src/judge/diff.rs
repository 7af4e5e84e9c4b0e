//! What a student reads when a run differs from the reviewed snapshot: a unified diff per
//! section of the record (the script's output, the kernel log), three lines of context, each
//! hunk headed by the step of the test it is in.
//!
//! The diff is plain data ([`RecordDiff`]); [`Mismatch::explain`] lays it out and a
//! [`Paint`] decides how each part looks, so a terminal can colour what a results file keeps
//! plain. The step of a hunk is the nearest line starting with [`STEP_PREFIX`] at or above its
//! first changed line in the reviewed output (test scripts print `-- 1. no filter set, …`).

use serde::{Deserialize, Serialize};
use similar::{DiffOp, TextDiff};

use crate::judge::record::{Record, Section};
use crate::vm::limits::DIFF_TIME;

/// Lines of unchanged context around each change.
pub const CONTEXT: usize = 3;

/// A line of a test script's output that starts a step of the test.
pub const STEP_PREFIX: &str = "-- ";

/// How the two records of a mismatch differ, section by section (sections that do not
/// differ are left out).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordDiff {
    pub sections: Vec<SectionDiff>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionDiff {
    pub section: Section,
    pub hunks: Vec<Hunk>,
}

/// Changed lines with their context, at 1-based line numbers of the section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hunk {
    pub expected_start: usize,
    pub expected_len: usize,
    pub actual_start: usize,
    pub actual_len: usize,
    /// The step of the test the first change is in (a `-- ` line of the reviewed output).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub step: Option<String>,
    pub lines: Vec<DiffLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffLine {
    pub kind: LineKind,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LineKind {
    /// In both.
    Context,
    /// In the reviewed snapshot only (`-`).
    Expected,
    /// In this run only (`+`).
    Actual,
}

impl LineKind {
    pub fn sign(self) -> char {
        match self {
            LineKind::Context => ' ',
            LineKind::Expected => '-',
            LineKind::Actual => '+',
        }
    }
}

impl RecordDiff {
    /// `expected` (the reviewed snapshot) against `actual` (this run), each section apart.
    /// Lines are compared exactly; [`DIFF_TIME`] bounds the work (past it, coarser hunks).
    pub fn between(expected: &Record, actual: &Record) -> RecordDiff {
        let sections = Section::ALL
            .into_iter()
            .filter_map(|section| {
                let hunks = hunks(
                    expected.section(section),
                    actual.section(section),
                    section == Section::Output,
                );
                (!hunks.is_empty()).then_some(SectionDiff { section, hunks })
            })
            .collect();
        RecordDiff { sections }
    }

    pub fn is_empty(&self) -> bool {
        self.sections.is_empty()
    }

    /// The diff as text, each line after `indent`.
    pub fn render(&self, indent: &str, paint: &dyn Paint) -> String {
        let mut out = String::new();
        for section in &self.sections {
            let title = match section.section {
                Section::Output => "--- output (what test.sh printed)",
                Section::Dmesg => "--- dmesg (the kernel log)",
            };
            out.push_str(&format!("{indent}{}\n", paint.paint(Role::Section, title)));
            for hunk in &section.hunks {
                let mut head = format!(
                    "@@ -{} +{} @@",
                    range(hunk.expected_start, hunk.expected_len),
                    range(hunk.actual_start, hunk.actual_len)
                );
                if let Some(step) = &hunk.step {
                    head.push(' ');
                    head.push_str(&visible(step));
                }
                out.push_str(&format!("{indent}{}\n", paint.paint(Role::Hunk, &head)));
                for line in &hunk.lines {
                    let role = match line.kind {
                        LineKind::Context => Role::Context,
                        LineKind::Expected => Role::Expected,
                        LineKind::Actual => Role::Actual,
                    };
                    let text = format!("{} {}", line.kind.sign(), visible(&line.text));
                    out.push_str(&format!("{indent}{}\n", paint.paint(role, &text)));
                }
            }
        }
        out
    }
}

/// `start,len` as unified diffs write it (an empty range names the line before it).
fn range(start: usize, len: usize) -> String {
    match len {
        0 => format!("{},0", start.saturating_sub(1)),
        1 => start.to_string(),
        _ => format!("{start},{len}"),
    }
}

/// `text` with what a terminal would not show, or would act on, written out: control
/// characters and whitespace other than a space, as `\t`, `\x1b`, `\u{a0}`. Two lines that
/// differ never look the same.
pub fn visible(text: &str) -> std::borrow::Cow<'_, str> {
    let hidden = |c: char| c.is_control() || (c.is_whitespace() && c != ' ') || is_format(c);
    if !text.chars().any(hidden) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && hidden(c) => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if hidden(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.into()
}

/// Invisible formatting characters (zero-width spaces and joiners, direction marks, BOM).
fn is_format(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}' | '\u{ad}')
}

/// The hunks between two sections' lines; `steps`: head each hunk with its step.
fn hunks(expected: &[String], actual: &[String], steps: bool) -> Vec<Hunk> {
    let old: Vec<&str> = expected.iter().map(String::as_str).collect();
    let new: Vec<&str> = actual.iter().map(String::as_str).collect();
    let diff = TextDiff::configure()
        .timeout(DIFF_TIME)
        .diff_slices(&old, &new);
    diff.grouped_ops(CONTEXT)
        .iter()
        .map(|group| {
            let mut lines = Vec::new();
            let mut first_change = None;
            for op in group {
                let (_, old_range, new_range) = op.as_tag_tuple();
                if !matches!(op, DiffOp::Equal { .. }) && first_change.is_none() {
                    first_change = Some((old_range.start, !old_range.is_empty()));
                }
                match op {
                    DiffOp::Equal { .. } => {
                        lines.extend(old_range.map(|i| line(LineKind::Context, old[i])))
                    }
                    _ => {
                        lines.extend(old_range.map(|i| line(LineKind::Expected, old[i])));
                        lines.extend(new_range.map(|i| line(LineKind::Actual, new[i])));
                    }
                }
            }
            let first = group.first().map(|op| op.as_tag_tuple());
            let (expected_start, actual_start) =
                first.map_or((0, 0), |(_, o, n)| (o.start + 1, n.start + 1));
            let step = first_change
                .filter(|_| steps)
                .and_then(|(at, removed)| step_at(&old, if removed { at + 1 } else { at }));
            let lines = without_equal_pairs(lines);
            Hunk {
                expected_start,
                expected_len: lines.iter().filter(|l| l.kind != LineKind::Actual).count(),
                actual_start,
                actual_len: lines
                    .iter()
                    .filter(|l| l.kind != LineKind::Expected)
                    .count(),
                step,
                lines,
            }
        })
        .collect()
}

fn line(kind: LineKind, text: &str) -> DiffLine {
    DiffLine {
        kind,
        text: text.to_owned(),
    }
}

/// The nearest step line among the first `end` lines of the reviewed output.
fn step_at(lines: &[&str], end: usize) -> Option<String> {
    lines[..end.min(lines.len())]
        .iter()
        .rev()
        .find(|l| l.starts_with(STEP_PREFIX))
        .map(|l| l.to_string())
}

/// A diff cut short by its deadline may replace a block of lines by the same lines: the
/// lines both sides share at the start and end of such a replacement are context.
fn without_equal_pairs(lines: Vec<DiffLine>) -> Vec<DiffLine> {
    let mut out = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        if lines[i].kind == LineKind::Context {
            out.push(lines[i].clone());
            i += 1;
            continue;
        }
        let start = i;
        while i < lines.len() && lines[i].kind == LineKind::Expected {
            i += 1;
        }
        let mid = i;
        while i < lines.len() && lines[i].kind == LineKind::Actual {
            i += 1;
        }
        let (mut removed, mut added) = (&lines[start..mid], &lines[mid..i]);
        let mut tail = Vec::new();
        while let (Some(r), Some(a)) = (removed.first(), added.first()) {
            if r.text != a.text {
                break;
            }
            out.push(line(LineKind::Context, &r.text));
            (removed, added) = (&removed[1..], &added[1..]);
        }
        while let (Some(r), Some(a)) = (removed.last(), added.last()) {
            if r.text != a.text {
                break;
            }
            tail.push(line(LineKind::Context, &r.text));
            (removed, added) = (&removed[..removed.len() - 1], &added[..added.len() - 1]);
        }
        out.extend(removed.iter().chain(added).cloned());
        out.extend(tail.into_iter().rev());
    }
    out
}

/// What a part of an explanation is, for a [`Paint`] to style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A sentence of the explanation (`output differs …`).
    Text,
    /// The failed-checks line.
    Checks,
    /// `--- output (…)`, `--- dmesg (…)`.
    Section,
    /// `@@ -4,12 +4,12 @@ -- 1. …`.
    Hunk,
    Context,
    Expected,
    Actual,
}

/// How the parts of an explanation look: plain text, or a terminal's colours.
pub trait Paint {
    fn paint(&self, role: Role, text: &str) -> String;
}

/// Text as it is (results files, pipes, `NO_COLOR`).
pub struct Plain;

impl Paint for Plain {
    fn paint(&self, _: Role, text: &str) -> String {
        text.to_owned()
    }
}

/// A run that differs from the reviewed snapshot: the diff, and the rubric's checks it fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    pub diff: RecordDiff,
    /// The names of the task's checks this run fails, and how many checks it has (`None`: a
    /// task without checks, or a rubric that does not resolve).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub checks: Option<FailedChecks>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedChecks {
    pub failed: Vec<String>,
    pub total: usize,
}

impl FailedChecks {
    /// One line: `checks failed (2 of 5): a; b`.
    pub fn summary(&self) -> String {
        if self.failed.is_empty() {
            return format!(
                "every check of the rubric passes ({} of {}); other lines differ",
                self.total, self.total
            );
        }
        format!(
            "checks failed ({} of {}): {}",
            self.failed.len(),
            self.total,
            self.failed.join("; ")
        )
    }
}

impl Mismatch {
    /// The explanation under a FAIL verdict, each line indented by two spaces.
    pub fn explain(&self, paint: &dyn Paint) -> String {
        let mut out = String::new();
        if let Some(checks) = &self.checks {
            out.push_str(&format!(
                "  {}\n",
                paint.paint(Role::Checks, &visible(&checks.summary()))
            ));
        }
        out.push_str(&format!(
            "  {}\n",
            paint.paint(
                Role::Text,
                "output differs from the reviewed snapshot (- expected, + yours):"
            )
        ));
        out.push_str(&self.diff.render("  ", paint));
        out
    }
}

#[cfg(test)]
mod tests;
