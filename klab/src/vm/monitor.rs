//! A client for QEMU's human monitor (HMP) on a unix socket: `stop`, `cont`, `migrate`,
//! `info status`, `quit` — what saving and restoring a booted guest needs.
//!
//! HMP is a line protocol with a `(qemu) ` prompt after the banner and after every
//! command's output; the output may carry terminal escape sequences, which are removed.
//! Every read and write has the monitor's timeout, and a reply at most
//! [`MONITOR_REPLY_BYTES`].

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::vm::limits::MONITOR_REPLY_BYTES;

const PROMPT: &str = "(qemu) ";

pub struct Monitor {
    stream: UnixStream,
    timeout: Duration,
}

impl Monitor {
    /// Connects to the monitor socket (retrying until `timeout`, while QEMU starts) and
    /// reads the banner.
    pub fn connect(socket: &Path, timeout: Duration) -> std::io::Result<Monitor> {
        let stream = connect_when_listening(socket, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let mut monitor = Monitor { stream, timeout };
        monitor.read_to_prompt()?;
        Ok(monitor)
    }

    /// Runs one command and returns its output (without the echoed command and prompt).
    pub fn command(&mut self, line: &str) -> std::io::Result<String> {
        self.stream.write_all(format!("{line}\n").as_bytes())?;
        let raw = self.read_to_prompt()?;
        Ok(command_output(&raw, line))
    }

    /// Polls `info status` until `done` accepts its status (e.g. `paused`, `running`), or
    /// fails after the monitor's timeout.
    pub fn wait_status(&mut self, done: impl Fn(&str) -> bool) -> std::io::Result<String> {
        let start = Instant::now();
        loop {
            let out = self.command("info status")?;
            if let Some(state) = vm_status(&out) {
                if done(&state) {
                    return Ok(state);
                }
            }
            if start.elapsed() > self.timeout {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("waiting for the VM; last status: {}", out.trim()),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Reads up to the next prompt, within the monitor's timeout in all.
    fn read_to_prompt(&mut self) -> std::io::Result<String> {
        let deadline = Instant::now() + self.timeout;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let left = crate::vm::deadline::left(deadline, "waiting for the QEMU monitor")?;
            self.stream.set_read_timeout(Some(left))?;
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..n]);
            let text = strip_escapes(&String::from_utf8_lossy(&buf));
            if text.ends_with(PROMPT) {
                return Ok(text);
            }
            if buf.len() > MONITOR_REPLY_BYTES {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "the QEMU monitor sent over {MONITOR_REPLY_BYTES} bytes without a prompt"
                    ),
                ));
            }
        }
    }
}

/// Connects to a unix socket QEMU creates while it starts, retrying until `timeout`.
pub fn connect_when_listening(socket: &Path, timeout: Duration) -> std::io::Result<UnixStream> {
    let start = Instant::now();
    loop {
        match UnixStream::connect(socket) {
            Ok(s) => return Ok(s),
            Err(e) if start.elapsed() > timeout => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// Removes ANSI escape sequences (`ESC [ ... letter`) and carriage returns.
pub fn strip_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for c in chars.by_ref() {
                        if c.is_ascii_alphabetic() {
                            break;
                        }
                    }
                }
            }
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// The output of `command` in `raw` (echo of the command line first, prompt last).
fn command_output(raw: &str, command: &str) -> String {
    let body = raw.strip_suffix(PROMPT).unwrap_or(raw);
    let body = match body.find(command) {
        Some(pos) => &body[pos + command.len()..],
        None => body,
    };
    body.trim_start_matches('\n').to_owned()
}

/// The state in `info status` output: `VM status: paused (inmigrate)` → `paused (inmigrate)`.
pub fn vm_status(output: &str) -> Option<String> {
    let line = output.lines().find(|l| l.contains("VM status:"))?;
    Some(line.split("VM status:").nth(1)?.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_echo_are_removed() {
        let raw = "info status\r\n\u{1b}[K\u{1b}[DVM status: paused (inmigrate)\r\n(qemu) ";
        let clean = strip_escapes(raw);
        assert_eq!(
            command_output(&clean, "info status"),
            "VM status: paused (inmigrate)\n"
        );
        assert_eq!(vm_status(&clean).as_deref(), Some("paused (inmigrate)"));
        assert_eq!(
            vm_status("VM status: running\n").as_deref(),
            Some("running")
        );
        assert_eq!(vm_status("unknown command\n"), None);
    }

    /// A monitor socket in a fresh folder, served by `serve` on a thread.
    fn fake_monitor(
        serve: impl FnOnce(UnixStream) + Send + 'static,
    ) -> (
        tempfile::TempDir,
        std::path::PathBuf,
        std::thread::JoinHandle<()>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("mon.sock");
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let server = std::thread::spawn(move || serve(listener.accept().unwrap().0));
        (dir, sock, server)
    }

    #[test]
    fn a_fake_monitor_answers_commands() {
        let (_dir, sock, server) = fake_monitor(|mut s| {
            s.write_all(b"QEMU 7.2 monitor - type 'help' for more information\r\n(qemu) ")
                .unwrap();
            let mut buf = [0u8; 256];
            let mut got = String::new();
            while !got.contains('\n') {
                let n = s.read(&mut buf).unwrap();
                got.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
            assert_eq!(got, "info status\n");
            s.write_all(b"info status\r\nVM status: running\r\n(qemu) ")
                .unwrap();
        });
        let mut m = Monitor::connect(&sock, Duration::from_secs(5)).unwrap();
        assert_eq!(m.wait_status(|s| s == "running").unwrap(), "running");
        server.join().unwrap();
    }

    #[test]
    fn a_monitor_that_drips_bytes_without_a_prompt_times_out() {
        let (_dir, sock, server) = fake_monitor(|mut s| {
            // Each read gets a byte well within the read timeout, the prompt never comes.
            for _ in 0..100 {
                if s.write_all(b"x").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let start = Instant::now();
        let err = Monitor::connect(&sock, Duration::from_millis(400))
            .err()
            .unwrap();
        assert!(crate::vm::deadline::is_timeout(&err), "{err}");
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
        drop(server);
    }
}
