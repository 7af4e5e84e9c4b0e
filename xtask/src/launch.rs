//! How a task's VM starts: restored from a saved, booted guest (the fast path), or booted.
//!
//! The fast path: a guest booted once from the base initramfs (no lab files) with an empty
//! virtio disk is saved at its shell prompt (QEMU migration into a file, under
//! `target/klab/vmstate/`). Each VM then resumes that state with the run's lab disk attached
//! instead of the empty one, and `klab-load-lab` unpacks the disk into `/lab`. The saved
//! state is keyed by everything the guest booted from (kernel, base initramfs, QEMU, memory,
//! accelerator, command line), so a change to any of them makes a new one.
//!
//! Anything wrong with the fast path (a kernel without virtio-blk given with --kernel-tree,
//! QEMU refusing the state) falls back to booting, with a warning, once per process.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use checker::qemu::{kernel_cmdline, ShellPort, VmImage};
use checker::vm::{SessionError, VmSession};

use crate::paths::Paths;
use crate::profile::Profile;

/// Bump when the saved state's meaning changes (guest protocol, disk layout).
const STATE_FORMAT: u32 = 1;

/// Set once the fast path failed in this process: later VMs boot without trying again.
static FAST_PATH_BROKEN: AtomicBool = AtomicBool::new(false);

/// One saved state is made at a time (grading workers share it).
static SAVING: Mutex<()> = Mutex::new(());

/// Whether `KLAB_BOOT` asks for cold boots (`cold`); the fast path is the default.
pub fn fast_path_wanted() -> bool {
    std::env::var("KLAB_BOOT").map_or(true, |v| v.trim() != "cold")
}

/// A saved guest to resume, and the image that resumes it (with this run's lab disk).
#[derive(Debug, Clone)]
pub struct Restore {
    pub image: VmImage,
    pub state: PathBuf,
}

/// How to start the VMs of one run.
#[derive(Debug, Clone)]
pub struct Launch {
    /// Boots with the lab's files in the initramfs.
    pub cold: VmImage,
    pub fast: Option<Restore>,
    /// The profile of the kernel the VMs run: what the harness checks after each task.
    pub profile: Profile,
}

/// How a VM was started (for progress lines and benchmarks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    Restored,
    Booted,
}

impl Launch {
    /// Starts a VM in `run_dir`: restored if possible, else booted.
    pub fn start(
        &self,
        run_dir: &Path,
        timeout: Duration,
    ) -> Result<(VmSession, Started), SessionError> {
        if let Some(fast) = self
            .fast
            .as_ref()
            .filter(|_| !FAST_PATH_BROKEN.load(Ordering::SeqCst))
        {
            match restore(fast, run_dir, timeout) {
                Ok(vm) => return Ok((vm, Started::Restored)),
                Err(e) => {
                    if !FAST_PATH_BROKEN.swap(true, Ordering::SeqCst) {
                        eprintln!(
                            "warning: resuming the saved VM failed ({e}); booting instead \
                             (KLAB_BOOT=cold skips the attempt)"
                        );
                    }
                }
            }
        }
        VmSession::boot(&self.cold, run_dir, timeout).map(|vm| (vm, Started::Booted))
    }
}

/// A VM being resumed in the background while the run's tasks build (its lab disk is written
/// when they are done).
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
        vm.run_checked("klab-load-lab", Duration::from_secs(15))
            .ok()?;
        Some(vm)
    }
}

fn restore(fast: &Restore, run_dir: &Path, timeout: Duration) -> Result<VmSession, SessionError> {
    let mut vm = VmSession::restore(&fast.image, &fast.state, run_dir, timeout)?;
    load_lab(&mut vm)?;
    Ok(vm)
}

/// Unpacks the lab disk into the resumed guest's `/lab`.
fn load_lab(vm: &mut VmSession) -> Result<(), SessionError> {
    vm.run_checked("klab-load-lab", Duration::from_secs(15))
        .map(|_| ())
}

/// The saved state for `base` (the base initramfs and the empty lab disk), made now by
/// booting and saving a guest if there is none yet.
pub fn saved_state(paths: &Paths, base: &VmImage, timeout: Duration) -> Result<PathBuf> {
    let dir = paths.out.join("vmstate");
    let path = dir.join(format!("{:016x}.state", state_key(base)?));
    if path.is_file() {
        return Ok(path);
    }
    let _one_at_a_time = SAVING.lock().unwrap_or_else(|e| e.into_inner());
    if path.is_file() {
        return Ok(path);
    }
    std::fs::create_dir_all(&dir)?;
    prune_states(&dir, KEPT_STATES);
    let run_dir = paths.out.join("runs/vmstate");
    // A state is kept only once a guest resumed from it answered: a bad one (seen once, made
    // on a heavily loaded machine) would otherwise cost every later VM a resume timeout.
    let mut last_error = None;
    for _attempt in 0..2 {
        let made = (|| -> Result<()> {
            let mut vm = VmSession::boot(base, &run_dir, timeout)
                .map_err(|e| anyhow!("{e}"))
                .context("booting the guest to save")?;
            vm.save_state(&path, timeout)
                .map_err(|e| anyhow!("{e}"))
                .context("saving the booted guest")?;
            let mut resumed = VmSession::restore(base, &path, &run_dir, timeout)
                .map_err(|e| anyhow!("{e}"))
                .context("resuming the saved guest once to check it")?;
            let answered = resumed.run_checked("true", Duration::from_secs(15));
            resumed.shutdown();
            answered
                .map(|_| ())
                .map_err(|e| anyhow!("the resumed guest did not answer: {e}"))
        })();
        match made {
            Ok(()) => return Ok(path),
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                last_error = Some(e);
            }
        }
    }
    Err(last_error.expect("two attempts were made"))
}

/// Saved states kept side by side: one per kernel profile, and a spare.
const KEPT_STATES: usize = 3;

/// Removes all but the `keep` newest states (older ones are for another kernel, base or
/// QEMU). Lean and debug runs alternate in one checkout, so each keeps its own.
fn prune_states(dir: &Path, keep: usize) {
    let mut states: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "state"))
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .collect();
    states.sort();
    let excess = states.len().saturating_sub(keep);
    for (_, path) in states.into_iter().take(excess) {
        let _ = std::fs::remove_file(path);
    }
}

/// What the saved guest depends on: kernel and base initramfs bytes, QEMU, machine options
/// and the kernel command line.
fn state_key(base: &VmImage) -> Result<u64> {
    let mut parts: Vec<Vec<u8>> = vec![STATE_FORMAT.to_le_bytes().to_vec()];
    for file in [&base.kernel, &base.initrd] {
        parts.push(std::fs::read(file).with_context(|| format!("reading {}", file.display()))?);
    }
    let qemu = crate::setup::find_program(&base.qemu)
        .and_then(|p| std::fs::metadata(p).ok())
        .map(|m| (m.len(), m.modified().ok()));
    parts.push(format!("{qemu:?}").into_bytes());
    let shell = ShellPort::Harness {
        socket: PathBuf::new(),
        monitor: None,
        incoming: None,
    };
    parts.push(kernel_cmdline(&shell, base.kunit).into_bytes());
    parts.push(
        format!(
            "{} {} {}",
            base.memory_mb,
            base.accel.name(),
            crate::rootfs::LAB_DISK_BYTES
        )
        .into_bytes(),
    );
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    Ok(crate::kernel::fnv64(&refs))
}
