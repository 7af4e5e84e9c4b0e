//! How a task's VM starts: restored from a saved, booted guest (the fast path), or booted.
//!
//! The fast path: a guest booted once from the base initramfs (no lab files) with an empty
//! virtio disk is saved at its shell prompt (`saved_guest`). Each VM then resumes that state
//! with the run's lab disk attached instead of the empty one, and `klab-load-lab` unpacks
//! the disk into `/lab`.
//!
//! Anything wrong with the fast path (a kernel without virtio-blk given with --kernel-tree,
//! QEMU refusing the state) falls back to booting, with a warning, once per process.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::vm::qemu::VmImage;
use crate::vm::session::{SessionError, VmSession};

use crate::events::Reporter;
use crate::kernel::profile::Profile;

/// Whether `KLAB_BOOT` asks for cold boots (`cold`); the fast path is the default.
pub fn fast_path_wanted() -> bool {
    std::env::var("KLAB_BOOT").map_or(true, |v| v.trim() != "cold")
}

/// A saved guest to resume, and the image that resumes it (with this run's lab disk).
#[derive(Debug, Clone)]
pub struct Restore {
    pub image: VmImage,
    pub state: PathBuf,
    /// A shared lock on `state` while this run may resume it: nobody prunes it meanwhile.
    pub in_use: std::sync::Arc<std::fs::File>,
}

/// How to start the VMs of one run.
#[derive(Debug, Clone)]
pub struct Launch {
    /// Boots with the lab's files in the initramfs.
    pub cold: VmImage,
    pub fast: Option<Restore>,
    /// The profile of the kernel the VMs run: what the harness checks after each task.
    pub profile: Profile,
    /// Set once the fast path failed in this run: later VMs boot without trying again.
    pub fast_path_broken: Arc<AtomicBool>,
}

impl Launch {
    /// VMs that start from `cold`, or resumed from `fast` when given.
    pub fn new(cold: VmImage, fast: Option<Restore>, profile: Profile) -> Launch {
        Launch {
            cold,
            fast,
            profile,
            fast_path_broken: Default::default(),
        }
    }

    /// Starts a VM in `run_dir`: restored if possible, else booted.
    pub fn start(
        &self,
        run_dir: &Path,
        timeout: Duration,
        reporter: &dyn Reporter,
    ) -> Result<(VmSession, Started), SessionError> {
        if let Some(fast) = self
            .fast
            .as_ref()
            .filter(|_| !self.fast_path_broken.load(Ordering::SeqCst))
        {
            match restore(fast, run_dir, timeout) {
                Ok(vm) => return Ok((vm, Started::Restored)),
                Err(e) => {
                    if !self.fast_path_broken.swap(true, Ordering::SeqCst) {
                        reporter.warning(format!(
                            "resuming the saved VM failed ({e}); booting instead \
                             (KLAB_BOOT=cold skips the attempt)"
                        ));
                    }
                }
            }
        }
        VmSession::boot(&self.cold, run_dir, timeout).map(|vm| (vm, Started::Booted))
    }
}

/// How a VM was started (for progress lines and benchmarks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    Restored,
    Booted,
}

/// A VM being resumed in the background while the run's first tasks build (its lab disk is
/// written when they are).
pub struct Early(std::thread::JoinHandle<Result<VmSession, SessionError>>);

impl Early {
    pub fn start(fast: Restore, run_dir: PathBuf, timeout: Duration) -> Early {
        Early(std::thread::spawn(move || {
            VmSession::restore(&fast.image, &fast.state, &run_dir, timeout)
        }))
    }

    /// Waits for the VM and stops it (the run failed before it could use it).
    pub fn cancel(self) {
        if let Ok(Ok(vm)) = self.0.join() {
            vm.shutdown();
        }
    }

    /// The resumed VM with the lab's files loaded (call once the lab disk is written), or
    /// `None`: the caller then starts VMs the usual way.
    pub fn finish(self) -> Option<VmSession> {
        let mut vm = self.0.join().ok()?.ok()?;
        load_lab(&mut vm).ok()?;
        Some(vm)
    }
}

fn restore(fast: &Restore, run_dir: &Path, timeout: Duration) -> Result<VmSession, SessionError> {
    let mut vm = VmSession::restore(&fast.image, &fast.state, run_dir, timeout)?;
    load_lab(&mut vm)?;
    Ok(vm)
}

/// Unpacks the lab disk into the resumed guest's `/lab`.
pub fn load_lab(vm: &mut VmSession) -> Result<(), SessionError> {
    vm.run_checked("klab-load-lab", Duration::from_secs(15))
        .map(|_| ())
}
