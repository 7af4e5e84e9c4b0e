//! Host processes that read student input (kbuild, `cc`, binutils on a student's `.ko`) run
//! here: inside a bubblewrap sandbox that sees only the toolchain, the lab kernel tree and the
//! task's own stage, under time, CPU, memory, file-size, process and output limits.
//!
//! This module owns the sandbox's shape (what is bound, which namespaces, which limits) and
//! the one place such a process is started and waited for. It never decides what to build:
//! callers give it a program, its arguments and the folders it may see.
//!
//! Inside: read-only `/usr` (with the merged-usr links), `/etc/alternatives` and
//! `/etc/ld.so.cache`, the Rust toolchain's sysroot and whatever read-only folders the job
//! names (the kernel tree); the stage read-write; a private `/tmp`, `/proc` and `/dev`; no
//! network, no view of the repository, `templates/`, other submissions or any home folder;
//! a cleared environment (bubblewrap itself is started with none: its process is the
//! sandbox's pid 1, whose `/proc/1/environ` an unprivileged job can read). As root,
//! bubblewrap keeps the host's user namespace so that the job can drop to an unprivileged
//! uid (`setpriv`): the kernel does not enforce the process-count limit for root, and an
//! unprivileged job cannot write what root owns.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::events::Reporter;

/// The uid and gid a sandboxed job runs as when klab runs as root (`nobody`).
pub const JOB_UID: u32 = 65534;

mod limits;
mod shape;
pub use limits::{Limit, Limits};

/// How jobs are isolated in this process.
#[derive(Debug, Clone)]
enum Isolation {
    Bubblewrap {
        bwrap: PathBuf,
        /// As root: keep the user namespace and drop to [`JOB_UID`] inside.
        as_root: bool,
    },
    /// No sandbox (`--no-sandbox`, or `check` where bubblewrap does not work): limits only.
    Unsandboxed,
}

/// Whether a command may run without the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// `grade`: untrusted submissions; no sandbox is an error.
    Required,
    /// `check` on a student's own machine: without bubblewrap, one warning and limits only.
    #[default]
    Preferred,
    /// `--no-sandbox`: trusted input.
    Off,
}

/// The sandbox of this process: probed once, shared by every build.
#[derive(Debug, Clone)]
pub struct Sandbox {
    isolation: Isolation,
    /// The Rust toolchain's sysroot (its `bin/` goes first on `PATH`).
    rust_sysroot: Option<PathBuf>,
}

/// One job: a program, its arguments, the folder it writes (also its working folder; else
/// it works in its private `/tmp`) and the folders it may read.
pub struct Job<'a> {
    pub program: &'a str,
    pub args: Vec<OsString>,
    pub writable: Option<&'a Path>,
    pub readable: Vec<&'a Path>,
}

/// How a job ended.
#[derive(Debug, Clone)]
pub struct Finished {
    pub success: bool,
    /// stdout and stderr, interleaved, at most [`Limits::output`] bytes.
    pub output: String,
    /// Output bytes read past the cap and dropped.
    pub dropped: u64,
    /// The limit the job ran into, if it failed on one.
    pub limit: Option<Limit>,
    pub elapsed: Duration,
}

impl Sandbox {
    /// Finds and tries bubblewrap. Under [`Policy::Required`], a sandbox that does not work is
    /// an error saying how to get one; under `Preferred`, a warning is reported once.
    pub fn probe(sh: &Shell, policy: Policy, reporter: &dyn Reporter) -> Result<Sandbox> {
        let rust_sysroot = cmd!(sh, "rustc --print sysroot")
            .quiet()
            .ignore_stderr()
            .read()
            .ok();
        Sandbox::probe_with(policy, reporter, rust_sysroot.as_deref())
    }

    /// [`Sandbox::probe`] with the Rust sysroot already known (`rustc --print sysroot`'s
    /// line, remembered by the caller).
    pub fn probe_with(
        policy: Policy,
        reporter: &dyn Reporter,
        rust_sysroot: Option<&str>,
    ) -> Result<Sandbox> {
        let rust_sysroot = rust_sysroot
            .map(|s| PathBuf::from(s.trim()))
            .filter(|p| p.is_dir());
        let unsandboxed = Sandbox {
            isolation: Isolation::Unsandboxed,
            rust_sysroot: rust_sysroot.clone(),
        };
        if policy == Policy::Off {
            return Ok(unsandboxed);
        }
        let tried = (|| -> Result<Sandbox> {
            // `KLAB_BWRAP`: another bubblewrap binary (tests use a missing one).
            let wanted = std::env::var_os("KLAB_BWRAP").unwrap_or_else(|| "bwrap".into());
            let bwrap = crate::host::find_program(Path::new(&wanted)).with_context(|| {
                format!(
                    "bubblewrap (`{}`) is not installed",
                    wanted.to_string_lossy()
                )
            })?;
            let sandbox = Sandbox {
                isolation: Isolation::Bubblewrap {
                    bwrap,
                    as_root: crate::host::is_root(),
                },
                rust_sysroot,
            };
            let probe = tempfile::tempdir().context("making a folder to try the sandbox in")?;
            let job = Job {
                program: "true",
                args: vec![],
                writable: Some(probe.path()),
                readable: vec![],
            };
            let done = sandbox.run(&job, &Limits::tool())?;
            if !done.success {
                bail!("bubblewrap does not work here: {}", done.output.trim());
            }
            Ok(sandbox)
        })();
        match (tried, policy) {
            (Ok(sandbox), _) => Ok(sandbox),
            (Err(e), Policy::Required) => Err(e.context(
                "grading needs the build sandbox: install bubblewrap (`cargo xtask setup` does, \
                 or `apt-get install bubblewrap`), or pass --no-sandbox for trusted submissions",
            )),
            (Err(e), _) => {
                reporter.warning(format!(
                    "builds run without a sandbox ({e:#}); fine for your own code, \
                     never for others' (`apt-get install bubblewrap`)"
                ));
                Ok(unsandboxed)
            }
        }
    }

    pub fn is_isolated(&self) -> bool {
        matches!(self.isolation, Isolation::Bubblewrap { .. })
    }

    /// Runs a job to its end or to its wall-clock limit (then it is killed, with everything it
    /// started). Output beyond the cap is drained and dropped.
    pub fn run(&self, job: &Job, limits: &Limits) -> Result<Finished> {
        let start = Instant::now();
        if let (Isolation::Bubblewrap { as_root: true, .. }, Some(dir)) =
            (&self.isolation, job.writable)
        {
            // The unprivileged job must be able to write its stage.
            chown_tree(dir, JOB_UID)?;
        }
        let argv = self.argv(job, limits);
        let sh = Shell::new()?;
        if let Some(dir) = job.writable {
            sh.change_dir(dir);
        }
        let (program, args) = argv.split_first().expect("a program");
        let mut command: std::process::Command = cmd!(sh, "{program} {args...}").into();
        match self.isolation {
            Isolation::Unsandboxed => {
                command.env("LC_ALL", "C");
            }
            // bubblewrap needs no environment, and `--clearenv` clears only the job's: its
            // own process stays the sandbox's pid 1, whose `/proc/1/environ` (the environment
            // it was started with) an unprivileged job can read.
            Isolation::Bubblewrap { .. } => {
                command.env_clear();
            }
        }
        let (mut reader, writer) = std::io::pipe().context("making a pipe")?;
        command
            .stdin(std::process::Stdio::null())
            .stdout(writer.try_clone()?)
            .stderr(writer);
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", job.program))?;
        // The parent's copies of the pipe's write end went with `command`.
        drop(command);
        let cap = limits.output;
        let collector = std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut dropped = 0u64;
            let mut buf = [0u8; 16384];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let room = cap.saturating_sub(kept.len()).min(n);
                kept.extend_from_slice(&buf[..room]);
                dropped += (n - room) as u64;
            }
            (kept, dropped)
        });
        let pid = child.id();
        let (tx, rx) = mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let status = child.wait();
            let _ = tx.send(());
            status
        });
        let timed_out = rx.recv_timeout(limits.wall).is_err();
        if timed_out {
            // The whole process group: bubblewrap (its namespace dies with it) or, without a
            // sandbox, make and the compilers it started.
            let group = format!("-{pid}");
            let _ = cmd!(sh, "kill -KILL -- {group}")
                .quiet()
                .ignore_status()
                .ignore_stderr()
                .run();
        }
        let status = waiter
            .join()
            .map_err(|_| anyhow::anyhow!("waiting for {} panicked", job.program))?
            .with_context(|| format!("waiting for {}", job.program))?;
        // A grandchild that escaped the group could hold the pipe open: wait a little only.
        let (kept, dropped) = join_within(collector, Duration::from_secs(2)).unwrap_or_default();
        let output = String::from_utf8_lossy(&kept).into_owned();
        let success = status.success() && !timed_out;
        let limit = match (timed_out, success) {
            (true, _) => Some(Limit::WallClock),
            (false, false) => Limit::seen_in(&output),
            (false, true) => None,
        };
        Ok(Finished {
            success,
            output,
            dropped,
            limit,
            elapsed: start.elapsed(),
        })
    }
}

/// A thread's result if it finishes within `timeout`.
fn join_within<T: Send + 'static>(
    handle: std::thread::JoinHandle<T>,
    timeout: Duration,
) -> Option<T> {
    let deadline = Instant::now() + timeout;
    while !handle.is_finished() {
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    handle.join().ok()
}

/// Gives `dir` and everything in it to `uid` (the stage of an unprivileged job). Links are
/// not followed.
fn chown_tree(dir: &Path, uid: u32) -> Result<()> {
    for entry in walkdir::WalkDir::new(dir).follow_links(false) {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        std::os::unix::fs::lchown(entry.path(), Some(uid), Some(uid))
            .with_context(|| format!("giving {} to the build user", entry.path().display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
