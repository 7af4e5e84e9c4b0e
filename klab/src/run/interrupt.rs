//! The one interrupt token: set by Ctrl-C, SIGTERM or SIGHUP (the face installs the
//! handler). Long loops stop starting new work once it is set; VMs are killed by the handler;
//! partial grading results are marked incomplete. The only global mutable state in klab.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Marks the run interrupted (from a signal handler: only an atomic store).
pub fn request() {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Whether the run was interrupted.
pub fn requested() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
