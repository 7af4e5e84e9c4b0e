//! The kernel's style, shown with the verdict: `scripts/checkpatch.pl --strict` on a task's
//! C sources, `rustfmt --check` with the kernel's `.rustfmt.toml` on its Rust sources, and
//! the warnings rustc and clippy (kbuild's `CLIPPY=1`) print while building it.
//!
//! Findings are notes for the student (`file:line: tool: message`, the student's own path),
//! never a failure; a lab may give them points when graded (`[grading] style_points`). The
//! tools read student files, so they run in the build sandbox, like the compilers. This
//! module must never fail a build or a check: a tool that cannot run is one finding that
//! says so.

use std::ffi::OsString;
use std::fmt;
use std::path::Path;

use crate::build::sandbox::{Job, Limits, Sandbox};

/// One style finding in a student's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file as the student knows it (e.g. `skels/lab/task/foo.c`).
    pub file: String,
    pub line: Option<u32>,
    /// `checkpatch`, `rustfmt`, `rustc` or `clippy`.
    pub tool: &'static str,
    pub message: String,
}

impl Finding {
    /// Whether this says a tool did not run to its end, rather than what it found.
    pub fn is_tool_failure(&self) -> bool {
        self.file.is_empty()
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}: {}", self.file, self.tool, self.message),
            None => write!(f, "{}: {}: {}", self.file, self.tool, self.message),
        }
    }
}

/// At most this many findings a task: the first ones say what to fix.
pub const MAX_FINDINGS: usize = 30;

/// Runs checkpatch and rustfmt over `sources` (relative to `stage`, the staged task folder)
/// in the sandbox; paths are shown under `shown` (the student's task folder).
pub fn check_sources(
    sandbox: &Sandbox,
    kdir: &Path,
    stage: &Path,
    sources: &[String],
    shown: &Path,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let c: Vec<&String> = sources.iter().filter(|s| s.ends_with(".c")).collect();
    let rs: Vec<&String> = sources.iter().filter(|s| s.ends_with(".rs")).collect();
    let readable = vec![kdir, stage];
    if !c.is_empty() {
        let mut args: Vec<OsString> = vec![
            kdir.join("scripts/checkpatch.pl").into(),
            "--no-tree".into(),
            "--strict".into(),
            "--terse".into(),
            "--no-summary".into(),
            "--show-types".into(),
            "-f".into(),
        ];
        args.extend(c.iter().map(|f| stage.join(f).into_os_string()));
        let job = Job {
            program: "perl",
            args,
            writable: None,
            readable: readable.clone(),
        };
        match sandbox.run(&job, &Limits::tool()) {
            Ok(done) => {
                out.extend(parse_checkpatch(&done.output, stage, shown));
                out.extend(stopped("checkpatch", &done));
            }
            Err(e) => out.push(unavailable("checkpatch", &e)),
        }
    }
    if !rs.is_empty() {
        let mut args: Vec<OsString> = vec![
            "--check".into(),
            "--color=never".into(),
            "--edition=2021".into(),
            "--config-path".into(),
            kdir.join(".rustfmt.toml").into(),
        ];
        args.extend(rs.iter().map(|f| stage.join(f).into_os_string()));
        let job = Job {
            program: "rustfmt",
            args,
            writable: None,
            readable,
        };
        match sandbox.run(&job, &Limits::tool()) {
            Ok(done) => {
                out.extend(parse_rustfmt(&done.output, stage, shown));
                out.extend(stopped("rustfmt", &done));
            }
            Err(e) => out.push(unavailable("rustfmt", &e)),
        }
    }
    out.truncate(MAX_FINDINGS);
    out
}

/// A tool stopped by one of the sandbox's limits: its findings are partial.
fn stopped(tool: &'static str, done: &crate::build::sandbox::Finished) -> Option<Finding> {
    done.limit.map(|limit| {
        unavailable(
            tool,
            &anyhow::anyhow!("stopped by the sandbox's {limit:?} limit"),
        )
    })
}

/// A tool that could not run, or did not run to its end: a finding without a file.
fn unavailable(tool: &'static str, e: &anyhow::Error) -> Finding {
    Finding {
        file: String::new(),
        line: None,
        tool,
        message: format!("could not run: {e:#}"),
    }
}

/// `path` (absolute, in the stage) as the student's path; `None` when it is anywhere else
/// (kbuild names the kernel's own files relative to the kernel tree: not the student's to
/// fix).
fn students(path: &str, stage: &Path, shown: &Path) -> Option<String> {
    let rel = Path::new(path).strip_prefix(stage).ok()?;
    Some(shown.join(rel).display().to_string())
}

/// checkpatch's `--terse` lines: `FILE:LINE: WARNING:TYPE: message`.
pub fn parse_checkpatch(output: &str, stage: &Path, shown: &Path) -> Vec<Finding> {
    output
        .lines()
        .filter_map(|l| {
            let (file, rest) = l.split_once(':')?;
            let (line, rest) = rest.split_once(':')?;
            let line: u32 = line.trim().parse().ok()?;
            let rest = rest.trim();
            if !["ERROR:", "WARNING:", "CHECK:"]
                .iter()
                .any(|k| rest.starts_with(k))
            {
                return None;
            }
            Some(Finding {
                file: students(file, stage, shown)?,
                line: Some(line),
                tool: "checkpatch",
                message: rest.to_owned(),
            })
        })
        .collect()
}

/// rustfmt's `--check` output: a `Diff in FILE:LINE:` (or `Diff in FILE at line LINE:`)
/// header per place that is not formatted as the kernel's rustfmt.toml says.
pub fn parse_rustfmt(output: &str, stage: &Path, shown: &Path) -> Vec<Finding> {
    output
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("Diff in ")?.trim_end().strip_suffix(':')?;
            let (file, line) = match rest.split_once(" at line ") {
                Some((f, n)) => (f, n),
                None => rest.rsplit_once(':')?,
            };
            Some(Finding {
                file: students(file, stage, shown)?,
                line: line.trim().parse().ok(),
                tool: "rustfmt",
                message: "not formatted as the kernel's .rustfmt.toml says (run rustfmt on it)"
                    .into(),
            })
        })
        .collect()
}

/// The warnings of a successful build: rustc's and clippy's (`warning: msg` then
/// `--> FILE:LINE:COL`) and C compilers' (`FILE:LINE:COL: warning: msg`), in the student's
/// files only.
pub fn parse_compiler_warnings(output: &str, stage: &Path, shown: &Path) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    // The message of the rustc diagnostic being read, and whether its finding was kept.
    let mut pending: Option<String> = None;
    let mut last_rust: Option<usize> = None;
    for l in output.lines() {
        if let Some(msg) = l.strip_prefix("warning: ") {
            // The closing count (`warning: 2 warnings emitted`) has no location: dropped.
            pending = Some(msg.to_owned());
            last_rust = None;
        } else if let Some(loc) = l.trim_start().strip_prefix("--> ") {
            if let (Some(msg), Some((file, line))) = (pending.take(), file_line(loc)) {
                if let Some(file) = students(file, stage, shown) {
                    out.push(Finding {
                        file,
                        line: Some(line),
                        tool: "rustc",
                        message: msg,
                    });
                    last_rust = Some(out.len() - 1);
                }
            }
        } else if l.contains("clippy::") || l.contains("rust-clippy") {
            // Clippy's lints name themselves in the notes under the location.
            if let Some(i) = last_rust {
                out[i].tool = "clippy";
            }
        } else if let Some((loc, msg)) = l.split_once(": warning: ") {
            if let Some((file, line)) = file_line(loc) {
                if let Some(file) = students(file, stage, shown) {
                    out.push(Finding {
                        file,
                        line: Some(line),
                        tool: "cc",
                        message: msg.to_owned(),
                    });
                }
            }
        }
    }
    out.dedup();
    out
}

/// `FILE:LINE:COL` into `(FILE, LINE)`.
fn file_line(loc: &str) -> Option<(&str, u32)> {
    let mut parts = loc.trim().rsplitn(3, ':');
    let (_col, line, file) = (parts.next()?, parts.next()?, parts.next()?);
    Some((file, line.parse().ok()?))
}

pub mod cache;

#[cfg(test)]
mod tests;
