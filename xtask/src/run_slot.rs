//! A run identity of its own for one grading process: slot `N` under `target/klab/grade/`,
//! claimed with a file lock held for the whole run.
//!
//! Concurrent graders in one checkout (CI shards, a course's parallel jobs, containers that
//! share the checkout and whose process ids coincide) never get the same slot, so their
//! work folders, stages, images and VM run folders (all named `grade-<N>-<submission>`)
//! never meet. A slot whose lock is free belonged to a run that ended or crashed: whatever
//! it left is removed when the slot is claimed again.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::paths::Paths;

/// More graders than this at once in one checkout is a mistake, not a workload.
const MAX_SLOTS: u32 = 1000;

pub struct RunSlot {
    /// `N`: the part of every label of this run that no other live run has.
    pub id: String,
    /// `target/klab/grade/<N>/`: this run's work folders (unpacked submissions, sources).
    pub dir: PathBuf,
    /// Held (locked) until the run ends.
    _lock: File,
}

impl RunSlot {
    /// Claims the lowest free slot and removes what an earlier owner left of it.
    pub fn claim(paths: &Paths) -> Result<RunSlot> {
        let root = paths.out.join("grade");
        std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        for n in 1..=MAX_SLOTS {
            let lock_path = root.join(format!("{n}.lock"));
            let lock = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)
                .with_context(|| format!("opening {}", lock_path.display()))?;
            match lock.try_lock() {
                Ok(()) => {
                    let slot = RunSlot {
                        id: n.to_string(),
                        dir: root.join(n.to_string()),
                        _lock: lock,
                    };
                    slot.remove_leftovers(paths);
                    std::fs::create_dir_all(&slot.dir)
                        .with_context(|| format!("creating {}", slot.dir.display()))?;
                    return Ok(slot);
                }
                Err(TryLockError::WouldBlock) => continue,
                Err(TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("locking {}", lock_path.display()))
                }
            }
        }
        bail!(
            "{MAX_SLOTS} graders already run in this checkout (slots in {})",
            root.display()
        )
    }

    /// The label prefix of this run's stages, images and VM run folders.
    pub fn label(&self, submission: &str) -> String {
        format!("grade-{}-{submission}", self.id)
    }

    /// Removes this slot's work folder and every file named with its labels: what a crashed
    /// run with this slot left. Only this slot's: the lock says nobody else uses them.
    fn remove_leftovers(&self, paths: &Paths) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let prefix = self.label("");
        for (dir, before) in [
            (paths.out.join("stage"), ""),
            (paths.out.join("runs"), ""),
            (paths.out.clone(), "initrd-"),
            (paths.out.clone(), "lab-"),
        ] {
            let start = format!("{before}{prefix}");
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if entry.file_name().to_string_lossy().starts_with(&start) {
                    remove_any(&entry.path());
                }
            }
        }
    }
}

fn remove_any(path: &Path) {
    let _ = std::fs::remove_dir_all(path).or_else(|_| std::fs::remove_file(path));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths_in(dir: &Path) -> Paths {
        let mut paths = Paths::discover(None).unwrap();
        paths.out = dir.to_path_buf();
        paths
    }

    #[test]
    fn live_runs_get_distinct_slots_and_a_free_slot_is_cleaned() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = paths_in(tmp.path());
        let one = RunSlot::claim(&paths).unwrap();
        let two = RunSlot::claim(&paths).unwrap();
        assert_eq!((one.id.as_str(), two.id.as_str()), ("1", "2"));
        assert_ne!(one.label("x"), two.label("x"));
        // What run 1 leaves behind when it crashes; run 10's files are not its own.
        let stage = tmp.path().join("stage").join(one.label("alice"));
        std::fs::create_dir_all(&stage).unwrap();
        let other = tmp.path().join("stage/grade-10-alice");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(
            tmp.path()
                .join(format!("initrd-{}.cpio", one.label("alice"))),
            "",
        )
        .unwrap();
        std::fs::write(one.dir.join("work"), "").unwrap();
        drop(one);
        let again = RunSlot::claim(&paths).unwrap();
        assert_eq!(again.id, "1");
        assert!(!stage.exists() && other.exists());
        assert!(!tmp.path().join("initrd-grade-1-alice.cpio").exists());
        assert!(again.dir.is_dir() && !again.dir.join("work").exists());
        assert!(two.dir.is_dir());
    }
}
