//! A run's guest: the images written for the tasks that built, and how its VMs start
//! (resumed from the saved guest, made on first use, or booted).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;

use crate::build::{self, SourceRoot};
use crate::events::{Step, StepKind};
use crate::guest::{rootfs, saved_guest};
use crate::kernel::KernelTree;
use crate::run::tasks::{self, Prepared};
use crate::run::workspace::Workspace;
use crate::vm::accel;
use crate::vm::launch::{self, Launch, Restore};
use crate::vm::qemu::VmImage;

/// What `copy` wrote for a run.
pub struct GuestFiles {
    /// Base and lab files: what a booted VM starts from.
    pub initrd: PathBuf,
    /// The base alone: what the saved guest booted from.
    pub base_initrd: PathBuf,
    /// The lab files on a disk for a restored guest (`None`: too big, boot instead).
    pub lab_disk: Option<PathBuf>,
}

impl Workspace {
    /// Writes the guest's files for the tasks that built: the initramfs that boots with them,
    /// and the lab disk a restored guest loads them from.
    pub fn copy(&self, source: &SourceRoot, prepared: &[Prepared]) -> Result<GuestFiles> {
        let step = Step::start(
            self.reporter(),
            StepKind::Image,
            "writing the guest root (cpio initramfs)",
        );
        let base = self.base()?;
        let built: Vec<(String, &build::BuiltTask)> = prepared
            .iter()
            .filter_map(|p| p.built.as_ref().ok().map(|b| (p.sel.id(), b)))
            .collect();
        let lab = rootfs::lab_archive(&built)?;
        let initrd = rootfs::write_initrd(&self.paths, source.label.as_str(), &base, &lab)?;
        let base_initrd = rootfs::write_base_initrd(&self.paths, &base)?;
        let lab_disk = rootfs::write_lab_disk(&self.paths, source.label.as_str(), &lab)?;
        step.tick(&format!(
            "{} ({:.1} MB)",
            self.paths.show(&initrd),
            (base.len() + lab.len()) as f64 / 1e6
        ));
        step.done();
        Ok(GuestFiles {
            initrd,
            base_initrd,
            lab_disk,
        })
    }

    /// The base archive (busybox, rootfs/, guest tools), built on first use.
    pub(crate) fn base(&self) -> Result<Arc<Vec<u8>>> {
        let mut cached = self.base_archive.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(base) = cached.as_ref() {
            return Ok(base.clone());
        }
        let tools = rootfs::guest_tools(&self.sh, &self.paths)?;
        let base = Arc::new(rootfs::base_archive(&self.sh, &self.paths, &tools)?);
        *cached = Some(base.clone());
        Ok(base)
    }

    /// Starts resuming the saved guest for `source`'s run now (making it first, on first
    /// use), so that it is ready when the first task is built (the lab disk is written then).
    /// `None` if the fast path is off or unavailable; the run then starts its VMs the usual
    /// way.
    pub fn resume_early(&self, kernel: &KernelTree, source: &SourceRoot) -> Option<launch::Early> {
        if !launch::fast_path_wanted() {
            return None;
        }
        let disk = rootfs::lab_disk_path(&self.paths, source.label.as_str());
        let files = (|| -> Result<GuestFiles> {
            let base_initrd = rootfs::write_base_initrd(&self.paths, &self.base()?)?;
            // The disk must exist, at its size, when QEMU opens it.
            if std::fs::metadata(&disk).map(|m| m.len()).ok() != Some(rootfs::LAB_DISK_BYTES) {
                rootfs::write_lab_disk(&self.paths, source.label.as_str(), &[])?;
            }
            Ok(GuestFiles {
                initrd: base_initrd.clone(),
                base_initrd,
                lab_disk: Some(disk.clone()),
            })
        })()
        .ok()?;
        let fast = self.restore_for(kernel, &files, &disk)?;
        let runs_dir = self.paths.work.join("runs").join(&source.label);
        let _ = std::fs::remove_dir_all(&runs_dir);
        Some(launch::Early::start(
            fast,
            runs_dir.join("vm-1"),
            tasks::BOOT_TIMEOUT,
        ))
    }

    pub fn image(&self, kernel: &KernelTree, initrd: PathBuf) -> VmImage {
        VmImage {
            qemu: self.qemu.clone(),
            kernel: kernel.bzimage.clone(),
            initrd,
            // Also for the debug profile: KASAN's shadow (1/8) fits, and every kmemleak scan
            // walks each page's `struct page`, so more memory costs time after every task.
            memory_mb: 256,
            accel: accel::resolve(&self.paths, kernel, self.reporter()),
            kunit: false,
            lab_disk: None,
        }
    }

    /// VMs that boot, the lab's files in their initramfs (no saved guest).
    pub fn boot_only(&self, kernel: &KernelTree, files: &GuestFiles) -> Launch {
        Launch::new(
            self.image(kernel, files.initrd.clone()),
            None,
            kernel.profile,
        )
    }

    /// How this run's VMs start: restored from the saved guest (made on first use) unless
    /// `KLAB_BOOT=cold` or the lab does not fit the disk; booted otherwise.
    pub fn launch(&self, kernel: &KernelTree, files: &GuestFiles) -> Launch {
        let cold = self.image(kernel, files.initrd.clone());
        let fast = match (&files.lab_disk, launch::fast_path_wanted()) {
            (Some(disk), true) => self.restore_for(kernel, files, disk),
            _ => None,
        };
        Launch::new(cold, fast, kernel.profile)
    }

    fn restore_for(&self, kernel: &KernelTree, files: &GuestFiles, disk: &Path) -> Option<Restore> {
        let saved = (|| -> Result<Restore> {
            let mut base = self.image(kernel, files.base_initrd.clone());
            base.lab_disk = Some(rootfs::empty_lab_disk(&self.paths)?);
            let saved = saved_guest::saved_state(
                &self.paths,
                &base,
                tasks::BOOT_TIMEOUT,
                &self.making_saved_guest,
                self.reporter(),
            )?;
            base.lab_disk = Some(disk.to_path_buf());
            Ok(Restore {
                image: base,
                state: saved.path,
                in_use: saved.in_use,
            })
        })();
        match saved {
            Ok(restore) => Some(restore),
            Err(e) => {
                self.reporter()
                    .warning(format!("no saved VM to resume ({e:#}); booting instead"));
                None
            }
        }
    }
}
