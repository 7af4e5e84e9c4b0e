//! A task run's record, in two sections that are kept apart: what the test script printed
//! (the `output` section) and what the kernel logged (the `dmesg` section).
//!
//! The snapshot text is the two joined by a `--- dmesg ---` line. A record made from a run
//! knows its sections from where each line came from, so a module that logs the separator
//! or the script's lines never moves a line from one section to the other. A snapshot read
//! back is split at its first separator: the reviewed snapshots are written by `bless`, which
//! refuses a run whose script printed the separator itself.

use serde::{Deserialize, Serialize};

use crate::judge::snapshot::Snapshot;

/// The first line of every record.
pub const HEADER: &str = "$ sh test.sh";

/// The line between the two sections.
pub const SEPARATOR: &str = "--- dmesg ---";

/// Where in a record a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Section {
    /// The test script's output: [`HEADER`], the script's lines, its exit status line.
    Output,
    /// The kernel log lines the task produced.
    Dmesg,
}

impl Section {
    pub const ALL: [Section; 2] = [Section::Output, Section::Dmesg];

    /// The name a manifest uses (`section = "output"`).
    pub fn name(self) -> &'static str {
        match self {
            Section::Output => "output",
            Section::Dmesg => "dmesg",
        }
    }
}

/// A normalised record, section by section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// [`HEADER`], the script's normalised lines, `[exit status N]`.
    pub output: Vec<String>,
    /// The normalised kernel log lines.
    pub dmesg: Vec<String>,
}

impl Record {
    pub fn section(&self, section: Section) -> &[String] {
        match section {
            Section::Output => &self.output,
            Section::Dmesg => &self.dmesg,
        }
    }

    /// The snapshot text: the output section, [`SEPARATOR`], the dmesg section.
    pub fn snapshot(&self) -> Snapshot {
        let mut body = String::new();
        let separator = SEPARATOR.to_owned();
        for line in self
            .output
            .iter()
            .chain(std::iter::once(&separator))
            .chain(&self.dmesg)
        {
            body.push_str(line);
            body.push('\n');
        }
        Snapshot::new(&body)
    }

    /// The sections of a snapshot text, split at its first [`SEPARATOR`] line (everything is
    /// output when there is none). Lines lose trailing whitespace, as a run's lines do.
    pub fn of_snapshot(snapshot: &Snapshot) -> Record {
        let mut lines = snapshot.body.lines().map(|l| l.trim_end().to_owned());
        let output = lines.by_ref().take_while(|l| l != SEPARATOR).collect();
        Record {
            output,
            dmesg: lines.collect(),
        }
    }

    /// Whether the script printed a line equal to the separator: the snapshot text of such a
    /// record would not read back into the same sections.
    pub fn separator_in_output(&self) -> bool {
        self.output.iter().any(|l| l == SEPARATOR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn snapshot_text_and_back() {
        let record = Record {
            output: lines("$ sh test.sh\nok\n[exit status 0]"),
            dmesg: lines("hello: init"),
        };
        let snap = record.snapshot();
        assert_eq!(
            snap.body,
            "$ sh test.sh\nok\n[exit status 0]\n--- dmesg ---\nhello: init\n"
        );
        assert_eq!(Record::of_snapshot(&snap), record);
    }

    #[test]
    fn a_separator_logged_by_the_kernel_stays_in_dmesg() {
        let record = Record {
            output: lines("$ sh test.sh\n[exit status 0]"),
            dmesg: lines("--- dmesg ---\nok"),
        };
        assert!(!record.separator_in_output());
        assert_eq!(Record::of_snapshot(&record.snapshot()), record);
    }

    #[test]
    fn a_separator_printed_by_the_script_is_detected() {
        let record = Record {
            output: lines("$ sh test.sh\n--- dmesg ---\n[exit status 0]"),
            dmesg: vec![],
        };
        assert!(record.separator_in_output());
        assert_ne!(Record::of_snapshot(&record.snapshot()), record);
    }

    #[test]
    fn a_reviewed_line_loses_trailing_whitespace_as_a_run_line_does() {
        let r = Record::of_snapshot(&Snapshot::new("a \t\n--- dmesg ---\nb\r\n"));
        assert_eq!((r.output, r.dmesg), (lines("a"), lines("b")));
    }

    #[test]
    fn a_text_without_separator_is_all_output() {
        let r = Record::of_snapshot(&Snapshot::new("a\nb"));
        assert_eq!((r.output, r.dmesg), (lines("a\nb"), vec![]));
    }
}
