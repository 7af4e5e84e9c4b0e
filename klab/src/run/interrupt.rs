//! The one interrupt token: set by Ctrl-C, SIGTERM or SIGHUP (the face installs the handler,
//! which calls [`interrupt`]). Long loops stop starting new work once it is set; the VMs
//! still running are killed; partial grading results are marked incomplete.
//!
//! The token also knows the VMs of this process (their QEMU PIDs, from start until reaped),
//! so that no VM outlives an interrupted harness. It is the only global mutable state in
//! klab.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

struct Token {
    interrupted: AtomicBool,
    /// PIDs of every QEMU this process started and has not reaped.
    live_vms: Mutex<Vec<u32>>,
}

static TOKEN: Token = Token {
    interrupted: AtomicBool::new(false),
    live_vms: Mutex::new(Vec::new()),
};

/// Marks the run interrupted (from a signal handler: only an atomic store).
pub fn request() {
    TOKEN.interrupted.store(true, Ordering::SeqCst);
}

/// Whether the run was interrupted.
pub fn requested() -> bool {
    TOKEN.interrupted.load(Ordering::SeqCst)
}

/// Marks the run interrupted and kills every VM still running (the face's Ctrl-C handler).
/// Returns how many VMs were signalled.
pub fn interrupt() -> usize {
    request();
    kill_vms()
}

/// Kills every VM still running. Returns how many were signalled.
pub fn kill_vms() -> usize {
    let pids = std::mem::take(&mut *live_vms());
    for pid in &pids {
        kill(*pid);
    }
    pids.len()
}

/// Records a VM just started. Once the run is interrupted a VM is killed at once instead:
/// `false` then.
pub(crate) fn track_vm(pid: u32) -> bool {
    let mut live = live_vms();
    // Checked under the lock: `interrupt` sets the flag before it takes the list.
    if requested() {
        drop(live);
        kill(pid);
        return false;
    }
    live.push(pid);
    true
}

/// Forgets a VM that was reaped (its PID may be reused).
pub(crate) fn untrack_vm(pid: u32) {
    live_vms().retain(|p| *p != pid);
}

fn live_vms() -> std::sync::MutexGuard<'static, Vec<u32>> {
    TOKEN.live_vms.lock().unwrap_or_else(|e| e.into_inner())
}

fn kill(pid: u32) {
    let _ = Command::new("kill")
        .arg("-KILL")
        .arg(pid.to_string())
        .status();
}
