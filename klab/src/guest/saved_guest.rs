//! The saved guest every fast-path VM resumes: `target/klab/vmstate/<key>.state`, a guest
//! booted once from the base initramfs with an empty lab disk and saved at its prompt. It is
//! keyed by everything the guest booted from (kernel, base initramfs, QEMU, memory,
//! accelerator, command line), so a change to any of them makes a new one.
//!
//! Several klab processes share one checkout's states (parallel tests, a `check` beside a
//! `grade`, CI jobs), so:
//! - a state is made under an exclusive file lock (`vmstate/make.lock`), by one process at a
//!   time, in a run folder only that process then uses;
//! - it is saved under a temporary name and renamed to `<key>.state` only once a guest
//!   resumed from it has answered: a state under its final name is complete and good;
//! - a process that may resume a state holds a shared lock on it ([`SavedState`]), and old
//!   states are pruned only when nobody holds one.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::vm::qemu::{kernel_cmdline, ShellPort, VmImage};
use crate::vm::session::VmSession;
use anyhow::{anyhow, Context, Result};

use crate::events::Reporter;
use crate::paths::Paths;

/// Bump when the saved state's meaning changes (guest protocol, disk layout).
const STATE_FORMAT: u32 = 1;

/// Saved states kept side by side: one per kernel profile, and a spare.
const KEPT_STATES: usize = 3;

/// A saved state, and a shared lock on it held while this process may resume it.
#[derive(Debug, Clone)]
pub struct SavedState {
    pub path: PathBuf,
    pub in_use: Arc<File>,
}

/// The saved state for `base` (the base initramfs and the empty lab disk), made now by
/// booting and saving a guest if there is none yet.
///
/// `one_thread`: threads of this process (grading workers) wait there for each other, so
/// that the file lock's "waiting for another process" is only said of another process.
pub fn saved_state(
    paths: &Paths,
    base: &VmImage,
    timeout: Duration,
    one_thread: &Mutex<()>,
    reporter: &dyn Reporter,
) -> Result<SavedState> {
    let dir = paths.out.join("vmstate");
    let path = dir.join(format!("{:016x}.state", state_key(base)?));
    if let Some(held) = hold(&path)? {
        return Ok(held);
    }
    let _one_thread = one_thread.lock().unwrap_or_else(|e| e.into_inner());
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let _one_process = lock_exclusive(&dir.join("make.lock"), reporter)?;
    if let Some(held) = hold(&path)? {
        return Ok(held);
    }
    prune(&dir, KEPT_STATES);
    make(paths, base, &path, timeout)?;
    hold(&path)?.with_context(|| format!("{} went away as it was made", path.display()))
}

/// A shared lock on the state at `path`, if there is one (`None`: make it).
fn hold(path: &Path) -> Result<Option<SavedState>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
    };
    file.lock_shared()
        .with_context(|| format!("locking {}", path.display()))?;
    // Pruned between the open and the lock: the name is gone, or another file's.
    if !same_file(&file, path) {
        return Ok(None);
    }
    Ok(Some(SavedState {
        path: path.to_owned(),
        in_use: Arc::new(file),
    }))
}

fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

fn lock_exclusive(path: &Path, reporter: &dyn Reporter) -> Result<File> {
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            reporter.note("another klab process is saving the guest; waiting for it".into());
            lock.lock()
                .with_context(|| format!("locking {}", path.display()))?;
        }
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
    Ok(lock)
}

/// Boots a guest from `base`, saves it, and keeps the state (as `path`) only once a guest
/// resumed from it answered: a bad one (seen once, made on a heavily loaded machine) would
/// otherwise cost every later VM a resume timeout. Called with the make lock held.
fn make(paths: &Paths, base: &VmImage, path: &Path, timeout: Duration) -> Result<()> {
    let run_dir = paths.out.join("runs/vmstate");
    let candidate = path.with_extension(format!("state.new-{}", std::process::id()));
    let mut last_error = None;
    for _attempt in 0..2 {
        let made = (|| -> Result<()> {
            let mut vm = VmSession::boot(base, &run_dir, timeout)
                .map_err(|e| anyhow!("{e}"))
                .context("booting the guest to save")?;
            vm.save_state(&candidate, timeout)
                .map_err(|e| anyhow!("{e}"))
                .context("saving the booted guest")?;
            let mut resumed = VmSession::restore(base, &candidate, &run_dir, timeout)
                .map_err(|e| anyhow!("{e}"))
                .context("resuming the saved guest once to check it")?;
            let answered = resumed.run_checked("true", Duration::from_secs(15));
            resumed.shutdown();
            answered
                .map(|_| ())
                .map_err(|e| anyhow!("the resumed guest did not answer: {e}"))?;
            std::fs::rename(&candidate, path)
                .with_context(|| format!("renaming to {}", path.display()))
        })();
        match made {
            Ok(()) => return Ok(()),
            Err(e) => {
                let _ = std::fs::remove_file(&candidate);
                last_error = Some(e);
            }
        }
    }
    Err(last_error.expect("two attempts were made"))
}

/// Removes all but the `keep` newest states (older ones are for another kernel, base or
/// QEMU), and any state left half made; never one another process holds. Lean and debug
/// runs alternate in one checkout, so each keeps its own.
fn prune(dir: &Path, keep: usize) {
    let mut states: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    for path in std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
    {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.contains(".state.new-") {
            // Only the make lock's holder writes these, and that is us now.
            let _ = std::fs::remove_file(&path);
        } else if name.ends_with(".state") {
            if let Ok(time) = std::fs::metadata(&path).and_then(|m| m.modified()) {
                states.push((time, path));
            }
        }
    }
    states.sort();
    let excess = states.len().saturating_sub(keep);
    for (_, path) in states.into_iter().take(excess) {
        let Ok(file) = File::open(&path) else {
            continue;
        };
        // Removed under an exclusive lock: a process between its open and its shared lock
        // then finds the name gone (`hold`), and one holding a shared lock keeps the file.
        if file.try_lock().is_ok() {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// What the saved guest depends on: kernel and base initramfs bytes, QEMU, machine options
/// and the kernel command line.
fn state_key(base: &VmImage) -> Result<u64> {
    let mut parts: Vec<Vec<u8>> = vec![STATE_FORMAT.to_le_bytes().to_vec()];
    for file in [&base.kernel, &base.initrd] {
        parts.push(std::fs::read(file).with_context(|| format!("reading {}", file.display()))?);
    }
    let qemu = crate::host::find_program(&base.qemu)
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
            crate::guest::rootfs::LAB_DISK_BYTES
        )
        .into_bytes(),
    );
    // xxh3 (a real, fast hash): the kernel and the base image are megabytes, hashed on every
    // run of every command that starts a VM.
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for part in &parts {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    Ok(hasher.digest())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path, age_secs: u64) {
        std::fs::write(path, "state").unwrap();
        let time = std::time::SystemTime::now() - Duration::from_secs(age_secs);
        File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(time)
            .unwrap();
    }

    #[test]
    fn pruning_keeps_the_newest_and_every_state_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str| dir.path().join(name);
        for (name, age) in [
            ("a.state", 40),
            ("b.state", 30),
            ("c.state", 20),
            ("d.state", 10),
        ] {
            touch(&p(name), age);
        }
        touch(&p("e.state.new-123"), 0);
        // Another process resumes from the oldest state.
        let held = hold(&p("a.state")).unwrap().expect("a.state exists");
        prune(dir.path(), 2);
        let left: Vec<bool> = [
            "a.state",
            "b.state",
            "c.state",
            "d.state",
            "e.state.new-123",
        ]
        .iter()
        .map(|n| p(n).exists())
        .collect();
        assert_eq!(left, [true, false, true, true, false]);
        drop(held);
        prune(dir.path(), 2);
        assert!(!p("a.state").exists());
    }

    #[test]
    fn holding_a_missing_or_replaced_state_says_make_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.state");
        assert!(hold(&path).unwrap().is_none());
        std::fs::write(&path, "old").unwrap();
        let file = File::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "new").unwrap();
        assert!(!same_file(&file, &path));
        assert!(hold(&path).unwrap().is_some());
    }

    #[test]
    fn the_make_lock_excludes_a_second_holder() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("make.lock");
        let first = lock_exclusive(&lock, &crate::events::Silent).unwrap();
        let second = File::options().write(true).open(&lock).unwrap();
        assert!(matches!(second.try_lock(), Err(TryLockError::WouldBlock)));
        drop(first);
        assert!(second.try_lock().is_ok());
    }
}
