//! The terminal face of the engine's events: verdicts, summaries and command output on
//! stdout (what a script or a test reads), progress on stderr. A long step with a count
//! (the kernel build's objects) is an indicatif bar when stderr is a terminal, and a
//! progress line every few seconds when it is not (CI logs, pipes).

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use klab::events::{Event, Reporter, VerdictEvent};
use klab::report::fmt_points;

/// How often a long step says where it is when stderr is not a terminal.
const LINE_EVERY: Duration = Duration::from_secs(10);

pub struct Terminal {
    /// Print each task verdict as it comes (`check`, `bless`, `stress`); a grade reports
    /// scores instead.
    verdicts: bool,
    interactive: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    bar: Option<ProgressBar>,
    last_line: Option<Instant>,
}

impl Terminal {
    pub fn new(verdicts: bool) -> Terminal {
        Terminal {
            verdicts,
            interactive: std::io::stderr().is_terminal(),
            state: Mutex::default(),
        }
    }

    fn progress(&self, state: &mut State, what: &str, elapsed: f64, count: Option<(u64, u64)>) {
        match (count, self.interactive) {
            (Some((done, total)), true) => {
                let bar = state.bar.get_or_insert_with(|| {
                    let bar = ProgressBar::new(total);
                    bar.set_style(
                        ProgressStyle::with_template(
                            "    [{elapsed_precise}] {bar:40} {pos}/{len} {msg}",
                        )
                        .expect("a valid template"),
                    );
                    bar
                });
                bar.set_length(total.max(done));
                bar.set_position(done);
                bar.set_message(what.to_owned());
            }
            _ => {
                let due = state.last_line.is_none_or(|t| t.elapsed() >= LINE_EVERY);
                if count.is_none() || due {
                    state.last_line = Some(Instant::now());
                    let count = count.map_or(String::new(), |(d, t)| format!("{d}/{t} "));
                    eprintln!("    [{elapsed:.1} s] {count}{what}");
                }
            }
        }
    }
}

impl Reporter for Terminal {
    fn report(&self, event: Event) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(bar) = state.bar.take() {
            if matches!(event, Event::StepProgress { .. }) {
                state.bar = Some(bar);
            } else {
                bar.finish_and_clear();
            }
        }
        match event {
            Event::StepStarted { what, .. } => eprintln!("==> {what}"),
            Event::StepProgress {
                what,
                elapsed_secs,
                done,
                total,
                ..
            } => {
                let count = done.map(|d| (d, total.unwrap_or(d)));
                self.progress(&mut state, &what, elapsed_secs, count);
            }
            Event::StepFinished {
                what, elapsed_secs, ..
            } => eprintln!("    {what} done in {elapsed_secs:.1} s"),
            Event::BuildFailed { task, output } => {
                eprintln!("    {task}: build failed");
                output.lines().for_each(|l| eprintln!("    | {l}"));
            }
            Event::Verdict(v) if self.verdicts => print_verdict(&v),
            Event::Verdict(_) | Event::VmStarted { .. } | Event::VmStopped { .. } => {}
            Event::Warning { message } => eprintln!("warning: {message}"),
            Event::Note { message } => eprintln!("    {message}"),
            Event::Graded {
                submission,
                score,
                max_score,
            } => eprintln!(
                "    {submission}: {}/{}",
                fmt_points(score),
                fmt_points(max_score)
            ),
            Event::Output { text } => print!("{text}"),
            Event::Summary {
                command,
                passed,
                total,
                console_logs,
            } => {
                println!();
                println!("klab {command}: {passed} of {total} tasks passed");
                console_logs
                    .iter()
                    .for_each(|log| println!("  console log: {log}"));
            }
        }
    }
}

/// `PASS  lab/task  (1.2 s)`, its warnings, and why it did not pass.
fn print_verdict(v: &VerdictEvent) {
    println!("{:<12} {:<36} ({:.1} s)", v.status, v.task, v.duration_secs);
    for w in &v.warnings {
        println!("  warning: {w}");
    }
    if v.status != "PASS" {
        if !v.explanation.is_empty() {
            println!("{}", v.explanation);
        }
        if let Some(log) = &v.console_log {
            println!("  kernel console log: {log}");
        }
    }
}
