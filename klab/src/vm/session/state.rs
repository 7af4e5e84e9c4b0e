//! Saving a guest's state and resuming one: QEMU's migration stream through unix sockets,
//! driven from its monitor. Every step has the caller's deadline: a QEMU that never
//! connects, never sends or never reads makes a [`SessionError::Timeout`], not a hang.

use std::fs::File;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{SessionError, VmSession};
use crate::vm::deadline::{accept_before, copy_before, is_timeout, join_before, SocketEnd};
use crate::vm::monitor::{connect_when_listening, Monitor};

/// A failure of a save or a resume: a timeout is typed, the rest says what failed.
pub(super) fn state_error(what: &str, e: std::io::Error, timeout: Duration) -> SessionError {
    if is_timeout(&e) {
        SessionError::Timeout {
            secs: timeout.as_secs(),
        }
    } else {
        SessionError::Io(format!("{what}: {e}"))
    }
}

impl VmSession {
    /// Streams `state` into QEMU's incoming socket, waits until it is loaded, and resumes the
    /// guest, all within `timeout`.
    pub(super) fn resume(
        &mut self,
        state: &Path,
        incoming: &Path,
        timeout: Duration,
    ) -> std::io::Result<()> {
        let deadline = Instant::now() + timeout;
        let mut file = File::open(state)?;
        let sink = connect_when_listening(incoming, timeout)?;
        copy_before(&mut file, &mut &sink, &sink, SocketEnd::Sink, deadline)?;
        drop(sink);
        let left = crate::vm::deadline::left(deadline, "resuming")?;
        let mut monitor = Monitor::connect(&self.monitor, left)?;
        // Saved while stopped, the guest arrives paused: wait for the load, then continue.
        monitor.wait_status(|s| {
            s == "paused" || s.starts_with("paused (postmigrate") || s == "running"
        })?;
        monitor.command("cont")?;
        Ok(())
    }

    /// Saves the guest's state (at its shell prompt) to `out` for [`VmSession::restore`]:
    /// the VM is stopped, migrated into the file through a unix socket, and killed. Fails
    /// within `timeout` (plus a second for the copier to report).
    pub fn save_state(&mut self, out: &Path, timeout: Duration) -> Result<(), SessionError> {
        let tmp = out.with_extension(format!("{}.tmp", std::process::id()));
        let result = self.save_to(&tmp, timeout);
        self.kill();
        match result {
            Ok(()) => std::fs::rename(&tmp, out)
                .map_err(|e| SessionError::Io(format!("writing {}: {e}", out.display()))),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    fn save_to(&mut self, tmp: &Path, timeout: Duration) -> Result<(), SessionError> {
        let io = |what: &str, e: std::io::Error| state_error(what, e, timeout);
        let deadline = Instant::now() + timeout;
        let sock = self.run_dir.join("save.sock");
        let _ = std::fs::remove_file(&sock);
        let listener = UnixListener::bind(&sock)
            .map_err(|e| io(&format!("listening on {}", sock.display()), e))?;
        let mut file =
            File::create(tmp).map_err(|e| io(&format!("creating {}", tmp.display()), e))?;
        let copier = std::thread::spawn(move || -> std::io::Result<u64> {
            let conn = accept_before(&listener, deadline)?;
            copy_before(&mut &conn, &mut file, &conn, SocketEnd::Source, deadline)
        });
        let mut monitor = Monitor::connect(&self.monitor, timeout)
            .map_err(|e| io("connecting to the QEMU monitor", e))?;
        monitor
            .command("stop")
            .map_err(|e| io("stopping the VM", e))?;
        let reply = monitor
            .command(&format!("migrate -d unix:{}", sock.display()))
            .map_err(|e| io("starting the migration", e))?;
        if reply.to_lowercase().contains("error") {
            return Err(SessionError::Io(format!(
                "QEMU refused to save the VM: {}",
                reply.trim()
            )));
        }
        let copied = join_before(copier, deadline + Duration::from_secs(1))
            .ok_or(SessionError::Timeout {
                secs: timeout.as_secs(),
            })?
            .map_err(|_| SessionError::Io("the state copier panicked".into()))?
            .map_err(|e| io("receiving the VM state", e))?;
        loop {
            let info = monitor
                .command("info migrate")
                .map_err(|e| io("info migrate", e))?;
            if info.contains("Migration status: completed") {
                break;
            }
            if info.contains("Migration status: failed") {
                return Err(SessionError::Io(format!(
                    "saving the VM failed: {}",
                    info.trim()
                )));
            }
            if Instant::now() > deadline {
                return Err(SessionError::Timeout {
                    secs: timeout.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if copied == 0 {
            return Err(SessionError::Io("QEMU sent an empty VM state".into()));
        }
        Ok(())
    }
}
