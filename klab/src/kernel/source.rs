//! The kernel's source on this machine: Debian's source package downloaded once
//! (`apt-get download`, unpacked with `dpkg-deb` into the cache's `downloads/`), and its
//! tarball unpacked into the tree a build works in.
//!
//! A tree can be unpacked ahead of the build ([`prefetch`]: on a fresh machine, while
//! `cargo install bindgen-cli` compiles and before the Kconfig step needs bindgen), as a
//! spare tree beside the package; the next build takes it by a rename instead of unpacking
//! (15-20 s). The spare is pristine (no patch applied): the build applies `kernel/patches/`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use super::cache::is_built;
use super::SourceSpec;
use crate::events::{Reporter, Step, StepKind};
use crate::host::run_on_stderr;
use crate::kernel::profile::Profile;
use crate::paths::Paths;

/// The folder the source package is unpacked into (`dpkg-deb -x`).
fn package_dir(paths: &Paths, spec: &SourceSpec) -> PathBuf {
    paths.cache.join("downloads").join(format!(
        "{}_{}",
        spec.package,
        spec.version.replace('~', "_")
    ))
}

/// The spare unpacked tree beside the package, when [`prefetch`] made one.
fn spare_tree(paths: &Paths, spec: &SourceSpec) -> PathBuf {
    package_dir(paths, spec).join("spare-tree")
}

/// The source tarball, downloaded and taken out of its package first if needed. The package
/// is downloaded into a folder of its own and taken apart there, and that folder becomes
/// the package folder by a rename: an interrupted download or `dpkg-deb` never leaves a
/// truncated tarball where a later run would take it for a complete one, and the `.deb`
/// unpacked is always the one just downloaded.
pub(super) fn fetch_tarball(
    sh: &Shell,
    paths: &Paths,
    spec: &SourceSpec,
    reporter: &dyn Reporter,
) -> Result<PathBuf> {
    let downloads = paths.cache.join("downloads");
    std::fs::create_dir_all(&downloads)
        .with_context(|| format!("creating {}", downloads.display()))?;
    let unpacked = package_dir(paths, spec);
    let tarball = unpacked.join(&spec.tarball);
    if tarball.exists() {
        return Ok(tarball);
    }
    remove_leftovers(&downloads, SCRATCH_PREFIX);
    let step = Step::start(
        reporter,
        StepKind::Kernel,
        format!(
            "downloading {} {} (apt-get download)",
            spec.package, spec.version
        ),
    );
    let scratch = scratch_in(&downloads)?;
    let _dir = sh.push_dir(scratch.path());
    let (package, version) = (&spec.package, &spec.version);
    let pinned = format!("{package}={version}");
    if run_on_stderr(cmd!(sh, "apt-get download {pinned}")).is_err() {
        // The package lists may be stale on a fresh machine: refresh once, then try again.
        let _ = run_on_stderr(cmd!(sh, "apt-get update -q"));
        if run_on_stderr(cmd!(sh, "apt-get download {pinned}")).is_err() {
            reporter.note(format!(
                "{pinned} is no longer in the archive; taking the newest {package} instead"
            ));
            run_on_stderr(cmd!(sh, "apt-get download {package}")).with_context(|| {
                format!("apt-get download {package} failed: is Debian's archive reachable?")
            })?;
        }
    }
    let deb = std::fs::read_dir(scratch.path())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .with_context(|| format!("apt-get download left no {package}_*.deb"))?;
    let contents = scratch.path().join("contents");
    cmd!(sh, "dpkg-deb -x {deb} {contents}")
        .run()
        .with_context(|| format!("unpacking {}", deb.display()))?;
    if !contents.join(&spec.tarball).exists() {
        bail!(
            "{} has no {}: update `tarball` in kernel/source.toml",
            deb.display(),
            spec.tarball
        );
    }
    // A package folder without its tarball is what an older klab left half-made.
    let _ = std::fs::remove_dir_all(&unpacked);
    std::fs::rename(&contents, &unpacked)
        .with_context(|| format!("moving the source package to {}", unpacked.display()))?;
    step.done();
    Ok(tarball)
}

/// The prefix of klab's scratch folders beside the package and the trees: what a run that
/// was interrupted (Ctrl-C exits without unwinding) left behind starts with it.
const SCRATCH_PREFIX: &str = ".klab-scratch-";

/// A scratch folder in `parent`, removed when dropped.
fn scratch_in(parent: &Path) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(SCRATCH_PREFIX)
        .tempdir_in(parent)
        .with_context(|| format!("creating a folder in {}", parent.display()))
}

/// Removes what interrupted runs left in `folder` (entries named `prefix…`). Called with the
/// kernel cache's lock held, so no other klab process is using them.
fn remove_leftovers(folder: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        if entry.file_name().to_string_lossy().starts_with(prefix) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Puts a pristine source tree at `tree` (which must not exist): the spare tree when
/// [`prefetch`] left one, otherwise the tarball unpacked.
pub(super) fn unpack_into(
    sh: &Shell,
    paths: &Paths,
    spec: &SourceSpec,
    tree: &Path,
    reporter: &dyn Reporter,
) -> Result<()> {
    let spare = spare_tree(paths, spec);
    if let Some(parent) = tree.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    if std::fs::rename(&spare, tree).is_ok() {
        reporter.note(format!(
            "took the kernel source unpacked ahead of the build ({})",
            spare.display()
        ));
        return Ok(());
    }
    let tarball = fetch_tarball(sh, paths, spec, reporter)?;
    let step = Step::start(
        reporter,
        StepKind::Kernel,
        format!("unpacking the kernel source into {}", tree.display()),
    );
    unpack_tarball(sh, &tarball, tree)?;
    step.done();
    Ok(())
}

/// Unpacks `tarball` (one top folder) as `tree`, through a temporary folder beside it.
fn unpack_tarball(sh: &Shell, tarball: &Path, tree: &Path) -> Result<()> {
    let parent = tree
        .parent()
        .context("an unpacked tree needs a parent folder")?;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    remove_leftovers(parent, SCRATCH_PREFIX);
    let scratch = scratch_in(parent)?;
    let into = scratch.path();
    cmd!(sh, "tar -xf {tarball} -C {into}")
        .run()
        .with_context(|| format!("unpacking {}", tarball.display()))?;
    let top = std::fs::read_dir(into)
        .with_context(|| format!("reading {}", into.display()))?
        .filter_map(|e| e.ok())
        .find(|e| e.path().is_dir())
        .with_context(|| format!("{} holds no folder", tarball.display()))?
        .path();
    std::fs::rename(&top, tree)
        .with_context(|| format!("moving the unpacked source to {}", tree.display()))?;
    Ok(())
}

/// Whether a fresh machine is building its first kernel of `profile` soon: the cache holds no
/// built kernel of that profile at all (whatever its key) and no spare tree is waiting.
pub fn worth_prefetching(paths: &Paths, spec: &SourceSpec, profile: Profile) -> bool {
    !spare_tree(paths, spec).exists() && !has_built_kernel(&paths.cache.join("kernel"), profile)
}

/// Whether the kernel cache folder holds a built kernel of `profile`, whatever its key.
fn has_built_kernel(kernel_cache: &Path, profile: Profile) -> bool {
    let infix = format!("-{}-", profile.name());
    let Ok(entries) = std::fs::read_dir(kernel_cache) else {
        return false;
    };
    entries
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().contains(&infix) && is_built(&e.path()))
}

/// Downloads the source package and unpacks a spare tree for the next build, holding the
/// kernel cache's lock (nothing to do when another klab process holds it: it is building).
/// Run beside the host's package install, so it starts when `apt_done` returns (apt must not
/// run twice at once, and the tarball's `xz` may be among the packages), and not at all when
/// that install failed (`false`): its error is the one to read.
pub fn prefetch(
    sh: &Shell,
    paths: &Paths,
    spec: &SourceSpec,
    apt_done: impl FnOnce() -> bool,
    reporter: &dyn Reporter,
) -> Result<()> {
    if !apt_done() {
        return Ok(());
    }
    std::fs::create_dir_all(&paths.cache)
        .with_context(|| format!("creating {}", paths.cache.display()))?;
    let lock_path = paths.cache.join("kernel.lock");
    let lock = std::fs::File::create(&lock_path)
        .with_context(|| format!("opening {}", lock_path.display()))?;
    match lock.try_lock() {
        Ok(()) => {}
        // Another klab process is building: it unpacks what it needs itself.
        Err(std::fs::TryLockError::WouldBlock) => return Ok(()),
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", lock_path.display()))
        }
    }
    let tarball = fetch_tarball(sh, paths, spec, reporter)?;
    let spare = spare_tree(paths, spec);
    if spare.exists() {
        return Ok(());
    }
    let step = Step::start(
        reporter,
        StepKind::Kernel,
        "unpacking the kernel source ahead of the build",
    );
    unpack_tarball(sh, &tarball, &spare)?;
    step.done();
    drop(lock);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_built_kernel_of_the_profile_counts() {
        let cache = tempfile::tempdir().unwrap();
        let kernels = cache.path().join("kernel");
        assert!(
            !has_built_kernel(&kernels, Profile::Lean),
            "no cache folder yet"
        );
        let lean = kernels.join("6.12.117-lean-0123456789abcdef");
        std::fs::create_dir_all(lean.join("linux/arch/x86/boot")).unwrap();
        assert!(
            !has_built_kernel(&kernels, Profile::Lean),
            "a build that did not finish"
        );
        std::fs::write(lean.join("linux/arch/x86/boot/bzImage"), "").unwrap();
        std::fs::write(lean.join(crate::kernel::READY_STAMP), "").unwrap();
        assert!(has_built_kernel(&kernels, Profile::Lean));
        assert!(
            !has_built_kernel(&kernels, Profile::Debug),
            "another profile's"
        );
    }

    /// An empty kernel cache (with the repository's other paths) and a made-up source spec.
    struct Fixture {
        cache: tempfile::TempDir,
        paths: Paths,
        spec: SourceSpec,
        sh: Shell,
        reporter: crate::events::Recorder,
    }

    impl Fixture {
        fn new() -> Fixture {
            let cache = tempfile::tempdir().unwrap();
            let mut paths = Paths::discover(None).unwrap();
            paths.cache = cache.path().to_path_buf();
            let spec = SourceSpec {
                package: "linux-source-9.9".into(),
                version: "9.9.1-1~deb12u1".into(),
                tarball: "usr/src/linux-source-9.9.tar.xz".into(),
                bindgen: "0.73.2".into(),
            };
            Fixture {
                cache,
                paths,
                spec,
                sh: Shell::new().unwrap(),
                reporter: crate::events::Recorder::default(),
            }
        }

        /// A prefetch after the package install succeeded (`apt_ok`) or failed.
        fn prefetch(&self, apt_ok: bool) {
            prefetch(&self.sh, &self.paths, &self.spec, || apt_ok, &self.reporter).unwrap();
        }

        fn downloaded(&self) -> bool {
            self.paths.cache.join("downloads").exists()
        }
    }

    #[test]
    fn a_build_takes_the_spare_tree_once_and_then_unpacks_the_tarball() {
        let Fixture {
            cache,
            paths,
            spec,
            sh,
            reporter,
        } = Fixture::new();
        let spare = spare_tree(&paths, &spec);
        std::fs::create_dir_all(&spare).unwrap();
        std::fs::write(spare.join("Makefile"), "spare\n").unwrap();
        assert!(
            !worth_prefetching(&paths, &spec, Profile::Lean),
            "a spare is waiting"
        );
        let tree = cache.path().join("kernel/a/linux");
        unpack_into(&sh, &paths, &spec, &tree, &reporter).unwrap();
        assert_eq!(
            std::fs::read_to_string(tree.join("Makefile")).unwrap(),
            "spare\n"
        );
        assert!(!spare.exists(), "taken by a rename, not copied");
        assert!(worth_prefetching(&paths, &spec, Profile::Lean));

        // The next build unpacks the (already downloaded) tarball.
        let src = cache.path().join("src/linux-source-9.9");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("Makefile"), "tarball\n").unwrap();
        let tarball = package_dir(&paths, &spec).join(&spec.tarball);
        std::fs::create_dir_all(tarball.parent().unwrap()).unwrap();
        let from = cache.path().join("src");
        cmd!(sh, "tar -cJf {tarball} -C {from} linux-source-9.9")
            .run()
            .unwrap();
        let tree = cache.path().join("kernel/b/linux");
        unpack_into(&sh, &paths, &spec, &tree, &reporter).unwrap();
        assert_eq!(
            std::fs::read_to_string(tree.join("Makefile")).unwrap(),
            "tarball\n"
        );
    }

    #[test]
    fn a_prefetch_after_a_failed_package_install_does_nothing() {
        let f = Fixture::new();
        f.prefetch(false);
        assert!(!f.downloaded(), "nothing downloaded");
    }

    #[test]
    fn a_prefetch_while_another_process_holds_the_lock_leaves_the_work_to_it() {
        let f = Fixture::new();
        let held = std::fs::File::create(f.cache.path().join("kernel.lock")).unwrap();
        held.lock().unwrap();
        f.prefetch(true);
        assert!(!f.downloaded(), "nothing downloaded");
    }

    #[test]
    fn a_tarball_unpacks_as_the_tree_and_leaves_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src/linux-source-9.9");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("Makefile"), "all:\n").unwrap();
        let tarball = dir.path().join("linux.tar");
        let sh = Shell::new().unwrap();
        let from = dir.path().join("src");
        cmd!(sh, "tar -cf {tarball} -C {from} linux-source-9.9")
            .run()
            .unwrap();
        let into = dir.path().join("cache/linux");
        let leftover = dir
            .path()
            .join("cache")
            .join(format!("{SCRATCH_PREFIX}interrupted"));
        std::fs::create_dir_all(&leftover).unwrap();
        unpack_tarball(&sh, &tarball, &into).unwrap();
        assert!(into.join("Makefile").is_file());
        let left: Vec<_> = std::fs::read_dir(dir.path().join("cache"))
            .unwrap()
            .collect();
        assert_eq!(
            left.len(),
            1,
            "no scratch folder (this run's or an interrupted one's) left beside the tree"
        );
    }
}
