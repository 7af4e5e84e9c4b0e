//! A running guest and the command protocol over its serial ports.
//!
//! The kernel console (ttyS0) arrives on QEMU's stdout: every line goes to the console log
//! and through a [`FaultWatch`]. The guest's init runs a command loop on ttyS1 (a unix
//! socket here): the harness sends one line per command and the guest answers with the
//! command's output followed by a sentinel `@@KLAB-DONE <id> <status>@@`. Every wait has a
//! timeout; a VM that misbehaves is killed, never waited on forever. What the guest sends is
//! kept within the caps of [`crate::vm::limits`]: lines are cut, a command's output is capped,
//! and so are the console lines kept.

mod events;
mod state;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use crate::vm::console::{Fault, FaultKind, FaultWatch};
use crate::vm::deadline::is_timeout;
use crate::vm::limits::{
    CappedLines, CappedText, COMMAND_OUTPUT_BYTES, CONSOLE_KEPT_BYTES, DRAIN_TIME, READER_POLL,
    SHELL_WRITE_TIMEOUT,
};
use crate::vm::qemu::{qemu_args, ShellPort, VmImage};
use events::{Event, Events, Stream};

/// The line the guest prints on its command port once it is ready.
pub const READY_LINE: &str = "@@KLAB-READY@@";
const DONE_PREFIX: &str = "@@KLAB-DONE ";
/// How long a command may go on after the kernel reported a bug (the report's own lines
/// arrive within it).
const FAULT_GRACE: Duration = Duration::from_secs(5);
/// The console log stops growing past this size (a printk flood must not fill the disk).
pub const CONSOLE_LOG_CAP: u64 = crate::vm::limits::CONSOLE_LOG_BYTES;

/// PIDs of every QEMU this process started and has not reaped: an interrupted harness kills
/// them all ([`kill_all_vms`]) so that no VM outlives it.
static LIVE_VMS: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

fn track(pid: u32) {
    LIVE_VMS.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
}

fn untrack(pid: u32) {
    LIVE_VMS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|p| *p != pid);
}

/// The largest resident set (VmHWM) any VM of this process reached, in KiB.
static PEAK_VM_RSS_KB: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub fn peak_vm_rss_kb() -> u64 {
    PEAK_VM_RSS_KB.load(std::sync::atomic::Ordering::Relaxed)
}

fn record_peak_rss(pid: u32) {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return;
    };
    let kb = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    PEAK_VM_RSS_KB.fetch_max(kb, std::sync::atomic::Ordering::Relaxed);
}

/// Kills every VM still running (for a Ctrl-C handler). Returns how many were signalled.
pub fn kill_all_vms() -> usize {
    let pids = std::mem::take(&mut *LIVE_VMS.lock().unwrap_or_else(|e| e.into_inner()));
    for pid in &pids {
        let _ = Command::new("kill")
            .arg("-KILL")
            .arg(pid.to_string())
            .status();
    }
    pids.len()
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
}

impl VmSession {
    /// Starts QEMU and waits for the guest's ready line. `run_dir` holds the shell and
    /// monitor sockets, the console log and QEMU's stderr.
    pub fn boot(
        image: &VmImage,
        run_dir: &Path,
        boot_timeout: Duration,
    ) -> Result<VmSession, SessionError> {
        Self::start(image, run_dir, boot_timeout, None)
    }

    /// Starts QEMU on a guest state saved by [`VmSession::save_state`] from the same image
    /// (same kernel, initramfs, memory and devices) instead of booting: the guest resumes at
    /// its shell prompt. Fails, like a boot, within `timeout`.
    pub fn restore(
        image: &VmImage,
        state: &Path,
        run_dir: &Path,
        timeout: Duration,
    ) -> Result<VmSession, SessionError> {
        Self::start(image, run_dir, timeout, Some(state))
    }

    fn start(
        image: &VmImage,
        run_dir: &Path,
        boot_timeout: Duration,
        state: Option<&Path>,
    ) -> Result<VmSession, SessionError> {
        let io = |what: &str, e: std::io::Error| SessionError::Io(format!("{what}: {e}"));
        std::fs::create_dir_all(run_dir)
            .map_err(|e| io(&format!("creating {}", run_dir.display()), e))?;
        let socket = run_dir.join("shell.sock");
        let _ = std::fs::remove_file(&socket);
        let console_log = run_dir.join("console.log");
        let log = File::create(&console_log)
            .map_err(|e| io(&format!("creating {}", console_log.display()), e))?;
        let stderr_path = run_dir.join("qemu.stderr");
        let stderr = File::create(&stderr_path).map_err(|e| io("creating qemu.stderr", e))?;
        let monitor = run_dir.join("monitor.sock");
        let incoming = state.map(|_| run_dir.join("incoming.sock"));
        for path in std::iter::once(&monitor).chain(incoming.as_ref()) {
            let _ = std::fs::remove_file(path);
        }
        let args = qemu_args(
            image,
            &ShellPort::Harness {
                socket: socket.clone(),
                monitor: Some(monitor.clone()),
                incoming: incoming.clone(),
            },
        );
        let mut child = Command::new(&image.qemu)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| io(&format!("starting {}", image.qemu.display()), e))?;
        track(child.id());

        let stdout = child.stdout.take().expect("piped stdout");

        // QEMU waits for us to connect before it starts the guest (server=on,wait=on).
        let start = Instant::now();
        let shell = loop {
            match UnixStream::connect(&socket) {
                Ok(s) => break s,
                Err(e) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        untrack(child.id());
                        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                        return Err(SessionError::Died {
                            fault: None,
                            detail: format!(
                                "QEMU exited ({status}) before the guest started: {}",
                                stderr.trim()
                            ),
                        });
                    }
                    if start.elapsed() > Duration::from_secs(10) {
                        let _ = child.kill();
                        let _ = child.wait();
                        untrack(child.id());
                        return Err(io("connecting to the guest shell socket", e));
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        };
        let mut session = VmSession::attach(child, stdout, shell, log, console_log, run_dir)?;
        match (state, incoming) {
            (Some(state), Some(incoming)) => {
                if let Err(e) = session.resume(state, &incoming, boot_timeout) {
                    session.kill();
                    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                    let what = format!(
                        "restoring the saved VM state {}{}",
                        state.display(),
                        match stderr.trim() {
                            "" => String::new(),
                            s => format!(" (QEMU: {s})"),
                        }
                    );
                    return Err(state::state_error(&what, e, boot_timeout));
                }
                // The command loop was waiting for a line when the state was saved.
                session.run_checked("true", boot_timeout)?;
            }
            _ => {
                session.wait_for(boot_timeout, None, |line| {
                    line.contains(READY_LINE).then_some(())
                })?;
            }
        }
        Ok(session)
    }

    /// The session over a started QEMU: `console` is its stdout (ttyS0), `shell` the
    /// connected command port (ttyS1), `log` the console log file.
    fn attach(
        child: Child,
        console: impl Read + Send + 'static,
        shell: UnixStream,
        log: File,
        console_log: PathBuf,
        run_dir: &Path,
    ) -> Result<VmSession, SessionError> {
        let io = |what: &str, e: std::io::Error| SessionError::Io(format!("{what}: {e}"));
        let mut session = VmSession {
            child,
            shell,
            events: Events::new(),
            watch: FaultWatch::default(),
            console_log,
            next_id: 1,
            alive: true,
            console_lines: CappedLines::new(CONSOLE_KEPT_BYTES),
            monitor: run_dir.join("monitor.sock"),
            run_dir: run_dir.to_path_buf(),
        };
        // From here on, an error drops the session, which kills QEMU.
        session
            .events
            .spawn_reader(console, Stream::Console, Some(log));
        let reader = session
            .shell
            .try_clone()
            .map_err(|e| io("cloning the shell socket", e))?;
        // The reader wakes now and then to see whether the session is gone; writes to a
        // guest that stopped reading give up.
        reader
            .set_read_timeout(Some(READER_POLL))
            .and_then(|()| session.shell.set_write_timeout(Some(SHELL_WRITE_TIMEOUT)))
            .map_err(|e| io("setting the shell socket's timeouts", e))?;
        session.events.spawn_reader(reader, Stream::Shell, None);
        session.events.readers_started();
        Ok(session)
    }

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
        // The split quotes keep the sentinel out of any echo of the command line itself.
        let line = format!("( {command} ) 2>&1; echo \"@@KLAB\"\"-DONE {id} $?@@\"\n");
        if let Err(e) = self.shell.write_all(line.as_bytes()) {
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
        let tag = format!("{DONE_PREFIX}{id} ");
        let status = self.wait_for(timeout, Some(FAULT_GRACE), |line| {
            if let Some(pos) = line.find(&tag) {
                output.push_str(&line[..pos]);
                let rest = &line[pos + tag.len()..];
                let code = rest
                    .trim_end_matches("@@")
                    .trim()
                    .parse::<i32>()
                    .unwrap_or(-1);
                if pos > 0 {
                    output.push_str("\n");
                }
                return Some(code);
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
                Ok(Event::ConsoleClosed) | Ok(Event::ShellClosed) => {
                    return Err(self.died("QEMU exited"));
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

    /// Kernel console lines since the last call: the first [`CONSOLE_KEPT_BYTES`] of them,
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

    pub fn kill(&mut self) {
        if self.alive {
            record_peak_rss(self.child.id());
            let _ = self.child.kill();
            let _ = self.child.wait();
            untrack(self.child.id());
            self.alive = false;
            self.events.close();
        }
    }

    /// Powers the guest off cleanly (sysrq `o`), killing it if it does not go within 5 s.
    pub fn shutdown(mut self) {
        if self.alive {
            record_peak_rss(self.child.id());
            let _ = self.shell.set_write_timeout(Some(Duration::from_secs(1)));
            let _ = self.shell.write_all(b"echo o > /proc/sysrq-trigger\n");
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    untrack(self.child.id());
                    self.alive = false;
                    self.events.close();
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.kill();
    }
}

impl Drop for VmSession {
    fn drop(&mut self) {
        self.kill();
    }
}
