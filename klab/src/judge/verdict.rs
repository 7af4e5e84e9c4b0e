//! What a task run produced, and the verdict on it.

use std::path::PathBuf;
use std::time::Duration;

use crate::judge::diff::{FailedChecks, Mismatch, Plain, RecordDiff};
use crate::judge::normalize::Normalizer;
use crate::judge::record::{self, Record};
use crate::judge::snapshot::Snapshot;
use crate::vm::console::Fault;

/// The raw result of running a task's test script in the guest.
#[derive(Debug, Clone, Default)]
pub struct TaskRun {
    /// The script's stdout and stderr, interleaved as printed.
    pub output: String,
    pub exit_status: Option<i32>,
    /// The kernel log lines the task produced (`dmesg` after the script).
    pub dmesg: String,
}

impl TaskRun {
    /// The normalised record compared against the snapshot: the script's output and the
    /// kernel log as separate sections.
    pub fn record(&self, normalizer: &Normalizer) -> Record {
        let mut output = vec![record::HEADER.to_owned()];
        output.extend(normalizer.output(&self.output));
        output.push(match self.exit_status {
            Some(code) => format!("[exit status {code}]"),
            None => "[no exit status]".into(),
        });
        Record {
            output,
            dmesg: normalizer.dmesg(&self.dmesg),
        }
    }
}

/// How a task ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    Pass,
    /// Output differs from the reviewed snapshot: the diff, and the checks that fail.
    Mismatch(Mismatch),
    /// No reviewed snapshot yet (instructors: `cargo xtask bless`).
    NoSnapshot,
    /// The kernel reported a fault while the task ran.
    Fault(Fault),
    /// The task did not finish within its time limit.
    Timeout {
        secs: u64,
    },
    /// A module or program did not build: the compiler's message.
    BuildFailed {
        message: String,
    },
    /// The VM could not run the task (it died, did not boot, …).
    VmError {
        message: String,
    },
}

#[derive(Debug, Clone)]
pub struct TaskVerdict {
    /// `lab/task`.
    pub id: String,
    pub outcome: Outcome,
    pub duration: Duration,
    /// Student-facing warnings that do not change the outcome.
    pub warnings: Vec<String>,
    /// The kernel console log of the VM that ran the task.
    pub console_log: Option<PathBuf>,
    /// The normalised record of this run, when the task ran to the end.
    pub record: Option<Record>,
}

impl TaskVerdict {
    /// A verdict reached before the task ran (build failure, interruption).
    pub fn early(id: String, outcome: Outcome) -> TaskVerdict {
        TaskVerdict {
            id,
            outcome,
            duration: Duration::ZERO,
            warnings: vec![],
            console_log: None,
            record: None,
        }
    }

    pub fn passed(&self) -> bool {
        matches!(self.outcome, Outcome::Pass)
    }

    /// One status word, for summaries.
    pub fn status(&self) -> &'static str {
        match self.outcome {
            Outcome::Pass => "PASS",
            Outcome::Mismatch(_) => "FAIL",
            Outcome::NoSnapshot => "NO SNAPSHOT",
            Outcome::Fault(_) => "FAULT",
            Outcome::Timeout { .. } => "TIMEOUT",
            Outcome::BuildFailed { .. } => "BUILD FAILED",
            Outcome::VmError { .. } => "VM ERROR",
        }
    }

    /// The explanation printed under a failed task, with what to do next.
    pub fn explain(&self) -> String {
        match &self.outcome {
            Outcome::Pass => String::new(),
            Outcome::Mismatch(mismatch) => mismatch.explain(&Plain),
            Outcome::NoSnapshot => {
                "  no reviewed snapshot for this task yet; instructors record one with `cargo xtask bless`".into()
            }
            Outcome::Fault(fault) => {
                let mut text = format!(
                    "  the kernel reported a bug while this task ran: {}; first lines of the report:\n",
                    fault.class()
                );
                for line in fault.excerpt.iter().take(20) {
                    text.push_str(&format!("  | {line}\n"));
                }
                // Lines placed in the student's source are shown even past the first 20.
                let placed: Vec<&String> = fault
                    .excerpt
                    .iter()
                    .skip(20)
                    .filter(|l| l.contains(crate::judge::symbolize::PLACE_MARK))
                    .collect();
                if !placed.is_empty() {
                    text.push_str("  | ...\n");
                    for line in placed {
                        text.push_str(&format!("  | {line}\n"));
                    }
                }
                text.push_str(&format!(
                    "  {}; the VM was restarted for the next task",
                    fault.kind.hint()
                ));
                text
            }
            Outcome::Timeout { secs } => format!(
                "  the task did not finish within {secs} s (a module init that never returns, a blocked socket call, a loop?); the VM was killed and restarted"
            ),
            Outcome::BuildFailed { message } => format!("  the build failed:\n{}", indent(message)),
            Outcome::VmError { message } => format!("  the VM could not run this task: {message}"),
        }
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  | {l}\n")).collect()
}

/// Compares a run's record with the reviewed snapshot, section by section. `checks` names
/// the rubric's checks the run fails, for the explanation of a mismatch.
pub fn judge(
    record: &Record,
    reviewed: Option<&Snapshot>,
    checks: impl FnOnce(&Record) -> Option<FailedChecks>,
) -> Outcome {
    let Some(expected) = reviewed else {
        return Outcome::NoSnapshot;
    };
    // Section by section: a script line equal to the separator never moves lines between
    // sections (the reviewed snapshot has none in its output: `bless` refuses one).
    let expected = Record::of_snapshot(expected);
    if &expected == record {
        return Outcome::Pass;
    }
    Outcome::Mismatch(Mismatch {
        diff: RecordDiff::between(&expected, record),
        checks: checks(record),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(output: &str, dmesg: &str) -> TaskRun {
        TaskRun {
            output: output.into(),
            exit_status: Some(0),
            dmesg: dmesg.into(),
        }
    }

    #[test]
    fn record_layout() {
        let rec = run("loaded\n", "[ 1.5] hello: init\n").record(&Normalizer::default());
        assert_eq!(rec.output, ["$ sh test.sh", "loaded", "[exit status 0]"]);
        assert_eq!(rec.dmesg, ["hello: init"]);
        assert_eq!(
            rec.snapshot().body,
            "$ sh test.sh\nloaded\n[exit status 0]\n--- dmesg ---\nhello: init\n"
        );
    }

    #[test]
    fn judge_passes_equal_records_and_diffs_others() {
        let n = Normalizer::default();
        let good = run("ok\n", "[1.0] hello\n").record(&n);
        assert!(matches!(
            judge(&good, Some(&good.snapshot()), |_| None),
            Outcome::Pass
        ));
        let bad = run("ok\n", "[1.0] helo\n").record(&n);
        let failed = |_: &Record| {
            Some(FailedChecks {
                failed: vec!["greets".into()],
                total: 1,
            })
        };
        let verdict = TaskVerdict::early("l/t".into(), judge(&bad, Some(&good.snapshot()), failed));
        let text = verdict.explain();
        assert!(
            text.starts_with("  checks failed (1 of 1): greets\n")
                && text
                    .contains("--- dmesg (the kernel log)\n  @@ -1 +1 @@\n  - hello\n  + helo\n")
                && !text.contains("--- output"),
            "{text}"
        );
        assert!(matches!(judge(&good, None, |_| None), Outcome::NoSnapshot));
    }

    #[test]
    fn a_run_whose_script_prints_the_separator_never_passes() {
        let n = Normalizer::default();
        // The reviewed run: the script printed `ok`; the kernel logged lines that look like
        // the end of an output section.
        let reviewed = run("ok\n", "[exit status 0]\n--- dmesg ---\nx\n")
            .record(&n)
            .snapshot();
        // A run whose script printed those lines instead: the same text, other sections.
        let moved = run("ok\n[exit status 0]\n--- dmesg ---\n", "x\n").record(&n);
        assert_eq!(moved.snapshot(), reviewed);
        assert!(matches!(
            judge(&moved, Some(&reviewed), |_| None),
            Outcome::Mismatch(_)
        ));
    }

    #[test]
    fn exit_status_is_part_of_the_record() {
        let n = Normalizer::default();
        let mut failed = run("ok\n", "");
        failed.exit_status = Some(1);
        assert_ne!(failed.record(&n), run("ok\n", "").record(&n));
    }
}
