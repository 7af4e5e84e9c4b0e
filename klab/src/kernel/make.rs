//! `make LLVM=1 ...` in a kernel tree with its output in a log file, and progress while it
//! runs: the log's last line every 15 s, or the objects compiled so far out of those
//! expected (the kernel build; counted by [`super::objects`]).
//!
//! It never reads the tree and never decides what to build: callers give the goals.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use super::objects::{self, ObjectCounter};
use crate::events::{secs, Step};

/// How a run of `make` shows its progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// The log's last line every 15 s (the documentation's build).
    LastLine,
    /// The objects made so far out of `expected`, every second (the kernel build).
    Objects { expected: u64 },
}

/// How often the object count is reported.
const COUNT_EVERY: Duration = Duration::from_secs(1);
/// How often the log's last line is.
const LINE_EVERY: Duration = Duration::from_secs(15);

/// `make LLVM=1 ARGS...` in `tree` with its output in a log file and progress on `step` as
/// `counting` says (the kernel build; the documentation's, in a copy of the tree).
pub fn run_logged(
    sh: &Shell,
    tree: &Path,
    args: &[String],
    log_path: &Path,
    step: &Step,
    counting: Counting,
) -> Result<()> {
    let mut command: std::process::Command = cmd!(sh, "make LLVM=1 {args...}").into();
    let log = std::fs::File::create(log_path)?;
    let mut growing =
        std::fs::File::open(log_path).with_context(|| format!("reading {}", log_path.display()))?;
    let mut child = command
        .current_dir(tree)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("starting make")?;
    let mut counter = ObjectCounter::default();
    let (mut last_tick, mut reported) = (Duration::ZERO, None);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(500));
        match counting {
            Counting::LastLine => {
                if step.elapsed() - last_tick >= LINE_EVERY {
                    last_tick = step.elapsed();
                    step.tick(&last_log_line(log_path));
                }
            }
            Counting::Objects { expected } => {
                let mut new = Vec::new();
                let _ = growing.read_to_end(&mut new);
                counter.feed(&new);
                let due = step.elapsed() - last_tick >= COUNT_EVERY;
                if due && reported != Some(counter.done()) {
                    last_tick = step.elapsed();
                    reported = Some(counter.done());
                    let (done, total) = objects::shown(counter.done(), expected);
                    step.progress(
                        &format!("{}%, {}", objects::percent(done, total), counter.last()),
                        Some((done, Some(total))),
                    );
                }
            }
        }
    };
    if !status.success() {
        let tail = tail_lines(log_path, 30);
        bail!(
            "make {} failed after {} ({status}); last lines of {}:\n{tail}",
            args.join(" "),
            secs(step.elapsed()),
            log_path.display()
        );
    }
    Ok(())
}

fn last_log_line(path: &Path) -> String {
    tail_lines(path, 1).trim().to_owned()
}

fn tail_lines(path: &Path, n: usize) -> String {
    let Ok(file) = std::fs::File::open(path) else {
        return String::new();
    };
    let lines: Vec<String> = BufReader::new(file).lines().map_while(Result::ok).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
