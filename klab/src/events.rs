//! What the engine tells the person or program that runs it: steps started, advanced and
//! finished (with elapsed time), task verdicts, build output, warnings, notes and a run's
//! summary, as [`Event`]s sent to a [`Reporter`].
//!
//! The engine never prints: every line a user sees is an event, rendered by the face
//! (`cargo xtask`'s terminal renderer) or written as JSON lines ([`json::JsonLines`],
//! `--message-format json`; schema in docs/events.md). Reporters are shared by worker
//! threads, so they take `&self` and are `Send + Sync`.

pub mod json;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::judge::diff::Mismatch;
use crate::judge::verdict::{Outcome, TaskVerdict};

/// Which part of the flow a step belongs to: a renderer may draw some differently (a
/// progress bar for the kernel build), and bench adds their times up by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Host tools and packages.
    Tools,
    /// The lab kernel: fetch, configure, build, export, import, its documentation.
    Kernel,
    /// Skeletons and editor files.
    Skeletons,
    /// Modules and test programs.
    Build,
    /// The guest's root image and lab disk.
    Image,
    /// Making the saved guest; a VM booted or resumed.
    Vm,
    /// Tasks running in VMs.
    Run,
    /// Rubric lints, grading, stress cycles.
    Judge,
}

/// How a task's modules were made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuildHow {
    /// A kbuild run (`make M=… modules`).
    Kbuild,
    /// kbuild's recorded commands replayed for the sources that changed (`build::replay`).
    Replayed,
    /// Nothing changed since the last build; nothing ran.
    UpToDate,
    /// The task has no modules: only its test programs (kept when up to date).
    Programs,
}

/// One thing that happened. Serialized as one JSON object per line, `"event"` naming the
/// variant (docs/events.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    StepStarted {
        kind: StepKind,
        what: String,
    },
    /// A long step's progress: a line of what it does now, and how far when it is countable.
    StepProgress {
        kind: StepKind,
        what: String,
        elapsed_secs: f64,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        done: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        total: Option<u64>,
    },
    StepFinished {
        kind: StepKind,
        what: String,
        elapsed_secs: f64,
    },
    /// A VM is ready for tasks: resumed from the saved guest, or booted; how long that took
    /// (for the first VM of `check`, resumed while the first tasks build: the wait left once
    /// its first task is built).
    VmStarted {
        resumed: bool,
        elapsed_secs: f64,
    },
    /// A VM of a run of tasks was stopped (killed, or powered off): the largest resident set
    /// its QEMU reached, in KiB (0 when it could not be read). Bench reports the peak.
    VmStopped {
        peak_rss_kb: u64,
    },
    /// A task was built: how its modules were made (a task without modules: `programs`).
    TaskBuilt {
        task: String,
        how: BuildHow,
        elapsed_secs: f64,
    },
    /// A task's build failed: the compiler's output, paths pointing at the student's files.
    BuildFailed {
        task: String,
        output: String,
    },
    /// A task's verdict, as soon as it is known.
    Verdict(VerdictEvent),
    /// Something the user should know that does not change an outcome.
    Warning {
        message: String,
    },
    /// Information for the user (where files were written, what to do next).
    Note {
        message: String,
    },
    /// A graded submission's score.
    Graded {
        submission: String,
        score: f64,
        max_score: f64,
    },
    /// A command's result for stdout, as is (grade's summary table, or its KTAP stream).
    Output {
        text: String,
    },
    /// The end of a run of tasks (`check`, `bless`).
    Summary {
        command: String,
        passed: usize,
        total: usize,
        console_logs: Vec<String>,
    },
}

/// A task's verdict as events carry it: what a user or an editor needs, paths as shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictEvent {
    /// `lab/task`.
    pub task: String,
    /// PASS, FAIL, FAULT, TIMEOUT, BUILD FAILED, VM ERROR.
    pub status: String,
    pub duration_secs: f64,
    pub warnings: Vec<String>,
    /// Why it did not pass (the diff, the fault's excerpt, the compiler's message); empty on
    /// a pass.
    pub explanation: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub console_log: Option<String>,
    /// A FAIL's diff and failed checks as data, for a reporter that styles them (the
    /// explanation holds them as plain text).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mismatch: Option<Mismatch>,
}

impl VerdictEvent {
    /// `verdict` with its console log shown by `show` (relative to the repository).
    pub fn of(verdict: &TaskVerdict, show: impl Fn(&std::path::Path) -> String) -> VerdictEvent {
        VerdictEvent {
            task: verdict.id.clone(),
            status: verdict.status().to_owned(),
            duration_secs: verdict.duration.as_secs_f64(),
            warnings: verdict.warnings.clone(),
            explanation: if verdict.passed() {
                String::new()
            } else {
                verdict.explain().trim_end().to_owned()
            },
            console_log: verdict.console_log.as_deref().map(show),
            mismatch: match &verdict.outcome {
                Outcome::Mismatch(m) => Some(m.clone()),
                _ => None,
            },
        }
    }
}

/// Where events go.
pub trait Reporter: Send + Sync {
    fn report(&self, event: Event);

    fn warning(&self, message: String) {
        self.report(Event::Warning { message });
    }

    fn note(&self, message: String) {
        self.report(Event::Note { message });
    }

    /// A line of a command's result, for stdout (`kernel info`, `doc`'s pages).
    fn output_line(&self, line: String) {
        self.report(Event::Output {
            text: format!("{line}\n"),
        });
    }
}

/// Drops every event (a caller that wants no output).
pub struct Silent;

impl Reporter for Silent {
    fn report(&self, _: Event) {}
}

/// Keeps every event (tests, and bench, which adds step times up by kind), and passes each
/// on to another reporter when made [`Recorder::forwarding`].
#[derive(Default)]
pub struct Recorder {
    events: Mutex<Vec<Event>>,
    next: Option<std::sync::Arc<dyn Reporter>>,
}

impl Recorder {
    /// A recorder that also sends every event on to `next` (the terminal).
    pub fn forwarding(next: std::sync::Arc<dyn Reporter>) -> Recorder {
        Recorder {
            events: Mutex::default(),
            next: Some(next),
        }
    }

    pub fn events(&self) -> Vec<Event> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Forgets the events kept so far.
    pub fn clear(&self) {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// The time spent in finished steps of `kind`.
    pub fn time_in(&self, kind: StepKind) -> Duration {
        let secs: f64 = self
            .events()
            .iter()
            .filter_map(|e| match e {
                Event::StepFinished {
                    kind: k,
                    elapsed_secs,
                    ..
                } if *k == kind => Some(*elapsed_secs),
                _ => None,
            })
            .sum();
        Duration::from_secs_f64(secs)
    }
}

impl Reporter for Recorder {
    fn report(&self, event: Event) {
        if let Some(next) = &self.next {
            next.report(event.clone());
        }
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(event);
    }
}

/// A step in progress: `StepStarted` when made, `StepFinished` with the elapsed time when
/// [`Step::done`] is called.
pub struct Step<'r> {
    reporter: &'r dyn Reporter,
    kind: StepKind,
    what: String,
    start: Instant,
}

impl<'r> Step<'r> {
    pub fn start(reporter: &'r dyn Reporter, kind: StepKind, what: impl Into<String>) -> Step<'r> {
        let what = what.into();
        reporter.report(Event::StepStarted {
            kind,
            what: what.clone(),
        });
        Step {
            reporter,
            kind,
            what,
            start: Instant::now(),
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// A progress line while the step runs.
    pub fn tick(&self, what: &str) {
        self.progress(what, None);
    }

    /// A progress line with a count: `done` of `total` (when known).
    pub fn progress(&self, what: &str, count: Option<(u64, Option<u64>)>) {
        self.reporter.report(Event::StepProgress {
            kind: self.kind,
            what: what.to_owned(),
            elapsed_secs: self.elapsed().as_secs_f64(),
            done: count.map(|(done, _)| done),
            total: count.and_then(|(_, total)| total),
        });
    }

    pub fn done(self) -> Duration {
        let elapsed = self.elapsed();
        self.reporter.report(Event::StepFinished {
            kind: self.kind,
            what: self.what,
            elapsed_secs: elapsed.as_secs_f64(),
        });
        elapsed
    }
}

/// `1.2 s`: how durations are shown.
pub fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}
