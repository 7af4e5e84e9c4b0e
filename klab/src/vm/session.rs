//! A running guest and the command protocol over its serial ports.
//!
//! The kernel console (ttyS0) arrives on QEMU's stdout: every line goes to the console log
//! and through a [`FaultWatch`]. The guest's init runs a command loop on ttyS1 (a unix
//! socket here): the harness sends one line per command and the guest answers with the
//! command's output followed by a sentinel with its exit status ([`crate::vm::protocol`]).
//! How QEMU is started and attached is in `start`, saving and resuming in `state`. Every
//! wait has a timeout; a VM that misbehaves is killed, never waited on forever. What the
//! guest sends is kept within the caps of [`crate::vm::limits`]: lines are cut, a command's
//! output is capped, and so are the console lines kept. A session knows its QEMU's peak
//! memory once stopped (the run reports it as `VmStopped`); the interrupt token knows every
//! live QEMU, to kill on Ctrl-C.

mod events;
mod start;
mod state;
#[cfg(test)]
mod tests;

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use crate::run::interrupt;
use crate::vm::console::{Fault, FaultKind, FaultWatch};
use crate::vm::deadline::is_timeout;
use crate::vm::limits::{
    CappedLines, CappedText, COMMAND_OUTPUT_BYTES, DRAIN_TIME, SHELL_WRITE_TIMEOUT,
};
use crate::vm::protocol::{command_line, Sentinel};
use events::{Event, Events};

/// How long a command may go on after the kernel reported a bug (the report's own lines
/// arrive within it).
const FAULT_GRACE: Duration = Duration::from_secs(5);
/// The console log stops growing past this size (a printk flood must not fill the disk).
pub const CONSOLE_LOG_CAP: u64 = crate::vm::limits::CONSOLE_LOG_BYTES;

/// The largest resident set (VmHWM) QEMU `pid` reached so far, in KiB (0 once it is gone).
fn peak_rss_kb_of(pid: u32) -> u64 {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return 0;
    };
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
}

/// Why a session could not finish what it was asked.
#[derive(Debug)]
pub enum SessionError {
    /// No answer within the time limit: the VM is killed.
    Timeout { secs: u64 },
    /// The kernel crashed (panic) or the VM exited; carries the report when there was one.
    Died {
        fault: Option<Fault>,
        detail: String,
    },
    /// Starting QEMU or talking to it failed.
    Io(String),
}

impl std::fmt::Display for SessionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SessionError::Timeout { secs } => write!(f, "no answer from the guest within {secs} s"),
            SessionError::Died { detail, .. } => write!(f, "the VM died: {detail}"),
            SessionError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SessionError {}

/// What a command printed (at most [`COMMAND_OUTPUT_BYTES`], then a marker line) and how it
/// exited.
#[derive(Debug, Clone)]
pub struct CommandOutput {
    pub output: String,
    pub status: i32,
}

/// A booted guest with a command shell.
pub struct VmSession {
    child: Child,
    shell: UnixStream,
    events: Events,
    watch: FaultWatch,
    console_log: PathBuf,
    next_id: u64,
    alive: bool,
    /// Kernel console lines seen since the last [`VmSession::take_console`].
    console_lines: CappedLines,
    /// QEMU's human monitor socket (used to save and restore the guest's state).
    monitor: PathBuf,
    run_dir: PathBuf,
    /// QEMU's largest resident set, in KiB, read when it is stopped.
    peak_rss_kb: u64,
}

impl VmSession {
    /// The file the kernel console is written to.
    pub fn console_log(&self) -> &Path {
        &self.console_log
    }

    /// Writes a note into the console log (e.g. which task starts), for whoever reads it.
    pub fn note(&self, text: &str) {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.console_log)
        {
            let _ = writeln!(f, "\n===== klab: {text} =====");
        }
    }

    /// Runs one shell command line in the guest (stdin is /dev/null, stderr joins stdout).
    pub fn run(&mut self, command: &str, timeout: Duration) -> Result<CommandOutput, SessionError> {
        if !self.alive {
            return Err(SessionError::Died {
                fault: None,
                detail: "the VM is no longer running".into(),
            });
        }
        let id = self.next_id;
        self.next_id += 1;
        if let Err(e) = self.shell.write_all(command_line(id, command).as_bytes()) {
            self.kill();
            if is_timeout(&e) {
                // The guest stopped reading its command port: it hangs.
                let limit = self.shell.write_timeout().ok().flatten();
                return Err(SessionError::Timeout {
                    secs: limit.unwrap_or(SHELL_WRITE_TIMEOUT).as_secs(),
                });
            }
            return Err(SessionError::Died {
                fault: self.watch.take(),
                detail: format!("writing to the guest: {e}"),
            });
        }
        // Past the cap the output is read and discarded: the sentinel still ends the command.
        let mut output = CappedText::new(COMMAND_OUTPUT_BYTES);
        let sentinel = Sentinel::of(id);
        let status = self.wait_for(timeout, Some(FAULT_GRACE), |line| {
            if let Some((pos, status)) = sentinel.find(line) {
                output.push_str(&line[..pos]);
                if pos > 0 {
                    output.push_str("\n");
                }
                return Some(status);
            }
            output.push_str(line);
            output.push_str("\n");
            None
        })?;
        Ok(CommandOutput {
            output: output.into_string(),
            status,
        })
    }

    /// Like [`VmSession::run`], for harness commands that must succeed.
    pub fn run_checked(
        &mut self,
        command: &str,
        timeout: Duration,
    ) -> Result<CommandOutput, SessionError> {
        let out = self.run(command, timeout)?;
        if out.status != 0 {
            return Err(SessionError::Io(format!(
                "`{command}` failed in the guest (status {}): {}",
                out.status,
                out.output.trim()
            )));
        }
        Ok(out)
    }

    /// Waits for a shell line that `done` accepts, feeding console lines to the fault watch.
    ///
    /// `fault_grace`: once the kernel has reported a bug, wait at most this much longer (the
    /// verdict is the report's, whatever the command does next: a broken kernel must not
    /// hold the task until its time limit).
    fn wait_for<T>(
        &mut self,
        timeout: Duration,
        fault_grace: Option<Duration>,
        mut done: impl FnMut(&str) -> Option<T>,
    ) -> Result<T, SessionError> {
        let mut deadline = Instant::now() + timeout;
        let mut cut_by_fault = false;
        loop {
            if let (Some(grace), false, true) =
                (fault_grace, cut_by_fault, self.watch.fault().is_some())
            {
                cut_by_fault = true;
                deadline = deadline.min(Instant::now() + grace);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            // Checked before receiving: a guest that never stops printing must time out too.
            let event = match left.is_zero() {
                true => Err(RecvTimeoutError::Timeout),
                false => self.events.recv_timeout(left),
            };
            match event {
                Ok(Event::Shell(line)) => {
                    if let Some(value) = done(&line) {
                        return Ok(value);
                    }
                }
                Ok(Event::Console(line)) => {
                    self.watch.feed(&line);
                    self.console_lines.push(line);
                    if self
                        .watch
                        .fault()
                        .is_some_and(|f| f.kind == FaultKind::Panic)
                    {
                        return Err(self.died("the kernel panicked"));
                    }
                }
                Ok(Event::ConsoleClosed) => return Err(self.died("QEMU exited")),
                Ok(Event::ShellClosed) => {
                    return Err(self.died("the guest's command port (ttyS1) closed"));
                }
                Err(RecvTimeoutError::Timeout) if cut_by_fault => {
                    return Err(self.died("the kernel reported a bug; the command was stopped"));
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.kill();
                    return Err(SessionError::Timeout {
                        secs: timeout.as_secs(),
                    });
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(self.died("the console readers stopped"))
                }
            }
        }
    }

    /// The VM is gone or going: collect the rest of the report (briefly), then kill it.
    fn died(&mut self, detail: &str) -> SessionError {
        let until = Instant::now() + Duration::from_millis(1500);
        while let Ok(event) = self
            .events
            .recv_timeout(until.saturating_duration_since(Instant::now()))
        {
            match event {
                Event::Console(line) => {
                    self.watch.feed(&line);
                    self.console_lines.push(line);
                }
                Event::ConsoleClosed => break,
                _ => {}
            }
        }
        self.kill();
        SessionError::Died {
            fault: self.watch.take(),
            detail: detail.into(),
        }
    }

    /// The first kernel report since the last call, if any.
    pub fn take_fault(&mut self) -> Option<Fault> {
        self.drain_console();
        self.watch.take()
    }

    /// Kernel console lines since the last call: the first [`crate::vm::limits::CONSOLE_KEPT_BYTES`] of them,
    /// then a line saying how many more were not kept.
    pub fn take_console(&mut self) -> Vec<String> {
        self.drain_console();
        self.console_lines.take()
    }

    /// Handles the console lines already read, for at most [`DRAIN_TIME`] (a flood that
    /// goes on is left to the next wait).
    fn drain_console(&mut self) {
        let until = Instant::now() + DRAIN_TIME;
        while let Ok(event) = self.events.try_recv() {
            if let Event::Console(line) = event {
                self.watch.feed(&line);
                self.console_lines.push(line);
            }
            if Instant::now() >= until {
                break;
            }
        }
    }

    pub fn is_alive(&self) -> bool {
        self.alive
    }

    /// The largest resident set QEMU reached, in KiB: known once the VM is stopped (by
    /// [`VmSession::kill`] or [`VmSession::shutdown`]), 0 before.
    pub fn peak_rss_kb(&self) -> u64 {
        self.peak_rss_kb
    }

    /// The PID of the VM's QEMU.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn note_peak_rss(&mut self) {
        self.peak_rss_kb = self.peak_rss_kb.max(peak_rss_kb_of(self.child.id()));
    }

    pub fn kill(&mut self) {
        if self.alive {
            self.note_peak_rss();
            let _ = self.child.kill();
            let _ = self.child.wait();
            interrupt::untrack_vm(self.child.id());
            self.alive = false;
            self.events.close();
        }
    }

    /// Ends the guest (sysrq `b`: an immediate reboot, which `-no-reboot` turns into QEMU's
    /// exit; the lab kernel has no ACPI to power off with), killing it if it does not go
    /// within 5 s.
    /// Returns QEMU's peak resident set in KiB ([`VmSession::peak_rss_kb`]).
    pub fn shutdown(mut self) -> u64 {
        if self.alive {
            self.note_peak_rss();
            let _ = self.shell.set_write_timeout(Some(Duration::from_secs(1)));
            let _ = self.shell.write_all(b"echo b > /proc/sysrq-trigger\n");
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    interrupt::untrack_vm(self.child.id());
                    self.alive = false;
                    self.events.close();
                    return self.peak_rss_kb;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.kill();
        self.peak_rss_kb
    }
}

impl Drop for VmSession {
    fn drop(&mut self) {
        self.kill();
    }
}
