//! Starting a session: QEMU spawned on the command line of [`qemu_args`] (the console on its
//! stdout, the command port on a unix socket, the monitor on another), then either the
//! guest's ready line awaited (a boot) or a saved state streamed in (a resume).

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::events::{Events, Stream};
use super::{state, SessionError, VmSession};
use crate::run::interrupt;
use crate::vm::console::FaultWatch;
use crate::vm::limits::{CappedLines, CONSOLE_KEPT_BYTES, READER_POLL, SHELL_WRITE_TIMEOUT};
use crate::vm::protocol::READY_LINE;
use crate::vm::qemu::{qemu_args, ShellPort, VmImage};

/// How long QEMU may take to listen on the command port's socket.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(10);

/// Empties the console log at `path` and opens it for appending: the console's reader and
/// [`VmSession::note`] both write at its end, never over each other.
pub(super) fn open_console_log(path: &Path) -> std::io::Result<File> {
    File::create(path)?;
    OpenOptions::new().append(true).open(path)
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
        let log = open_console_log(&console_log)
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
        if !interrupt::track_vm(child.id()) {
            let _ = child.wait();
            return Err(SessionError::Io("interrupted".into()));
        }
        let stdout = child.stdout.take().expect("piped stdout");
        let qemu_stderr = || {
            let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            stderr.trim().to_owned()
        };

        // QEMU waits for us to connect before it starts the guest (server=on,wait=on).
        let start = Instant::now();
        let shell = loop {
            match UnixStream::connect(&socket) {
                Ok(s) => break s,
                Err(e) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        interrupt::untrack_vm(child.id());
                        return Err(SessionError::Died {
                            fault: None,
                            detail: format!(
                                "QEMU exited ({status}) before the guest started: {}",
                                qemu_stderr()
                            ),
                        });
                    }
                    if start.elapsed() > SOCKET_TIMEOUT {
                        let _ = child.kill();
                        let _ = child.wait();
                        interrupt::untrack_vm(child.id());
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
                    let what = format!(
                        "restoring the saved VM state {}{}",
                        state.display(),
                        match qemu_stderr().as_str() {
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
    /// connected command port (ttyS1), `log` the console log file (opened to append).
    pub(super) fn attach(
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
            peak_rss_kb: 0,
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
}
