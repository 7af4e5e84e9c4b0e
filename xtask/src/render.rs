//! The terminal face of the engine's events: verdicts, summaries and command output on
//! stdout (what a script or a test reads), progress on stderr. A long step with a count
//! (the kernel build's objects) is an indicatif bar when stderr is a terminal, and a
//! progress line every few seconds when it is not (CI logs, pipes).
//!
//! Verdicts are coloured (the status word, a FAIL's diff) when stdout is a terminal and
//! `NO_COLOR` is not set (<https://no-color.org>); plain otherwise, as in every file klab
//! writes. The engine's events carry the diff as data; how it looks is decided here.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use klab::events::{Event, Reporter, VerdictEvent};
use klab::judge::diff::{Paint, Plain, Role};
use klab::report::fmt_points;

/// How often a long step says where it is when stderr is not a terminal.
const LINE_EVERY: Duration = Duration::from_secs(10);

pub struct Terminal {
    /// Print each task verdict as it comes (`check`, `bless`, `stress`); a grade reports
    /// scores instead.
    verdicts: bool,
    interactive: bool,
    /// Colour verdicts on stdout.
    colour: bool,
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
            colour: use_colour(
                std::io::stdout().is_terminal(),
                std::env::var_os("NO_COLOR").as_deref(),
            ),
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
            Event::Verdict(v) if self.verdicts => print!("{}", verdict_text(&v, self.colour)),
            Event::Verdict(_)
            | Event::VmStarted { .. }
            | Event::VmStopped { .. }
            | Event::TaskBuilt { .. } => {}
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

/// Colour only for a terminal, and never when `NO_COLOR` is set to something.
fn use_colour(terminal: bool, no_colour: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_colour.is_none_or(|v| v.is_empty())
}

/// A terminal's colours (SGR escape sequences).
struct Ansi;

impl Paint for Ansi {
    fn paint(&self, role: Role, text: &str) -> String {
        let sgr = match role {
            Role::Text | Role::Context => return text.to_owned(),
            Role::Checks => "1;33",
            Role::Section => "1",
            Role::Hunk => "36",
            Role::Expected => "31",
            Role::Actual => "32",
        };
        format!("\x1b[{sgr}m{text}\x1b[0m")
    }
}

/// `PASS  lab/task  (1.2 s)`, its warnings, and why it did not pass.
fn verdict_text(v: &VerdictEvent, colour: bool) -> String {
    let paint: &dyn Paint = if colour { &Ansi } else { &Plain };
    let status = format!("{:<12}", v.status);
    let status = match (colour, v.status.as_str()) {
        (false, _) => status,
        (true, "PASS") => format!("\x1b[32m{status}\x1b[0m"),
        (true, _) => format!("\x1b[1;31m{status}\x1b[0m"),
    };
    let mut out = format!("{status} {:<36} ({:.1} s)\n", v.task, v.duration_secs);
    for w in &v.warnings {
        out.push_str(&format!("  warning: {w}\n"));
    }
    if v.status != "PASS" {
        match &v.mismatch {
            Some(mismatch) => out.push_str(&mismatch.explain(paint)),
            None if !v.explanation.is_empty() => out.push_str(&format!("{}\n", v.explanation)),
            None => {}
        }
        if let Some(log) = &v.console_log {
            out.push_str(&format!("  kernel console log: {log}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
