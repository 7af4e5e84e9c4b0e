//! The lab kernel's cache: the key (the pinned source, how it is configured, the profile's
//! fragments, the patches, the toolchain's versions), the folder it names under `~/.cache/klab/kernel/`, the stamp
//! that says a tree there is complete, and the lock that lets one klab process build while
//! others wait.
//!
//! It never deletes a cache folder other than the one it builds into, and a tree without its
//! stamp is never used.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use xshell::Shell;

use super::{fnv64, from_source, KernelTree, SourceSpec};
use crate::events::Reporter;
use crate::kernel::profile::Profile;
use crate::paths::Paths;

/// The fragment files merged on top of tinyconfig, in order.
pub(super) fn fragments(paths: &Paths, profile: Profile) -> Vec<PathBuf> {
    profile
        .fragment_names()
        .iter()
        .map(|name| paths.kernel_dir.join(name))
        .collect()
}

/// Patches applied to the source before configuring (sorted by name).
pub(super) fn patches(paths: &Paths) -> Result<Vec<PathBuf>> {
    let dir = paths.kernel_dir.join("patches");
    let mut found = Vec::new();
    if dir.is_dir() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "patch") {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// One input of the kernel cache key.
#[derive(Debug, Clone)]
pub struct KeyInput {
    /// `source`, `configuration`, `kernel/lean.config`, `kernel/patches/NNNN-….patch`,
    /// `clang`, `rustc`, `bindgen`.
    pub name: String,
    /// The bytes hashed into the key.
    pub bytes: Vec<u8>,
    /// A file's contents (shown by its hash) rather than a line of text (shown as is).
    pub is_file: bool,
}

/// Everything the cache key covers, in the order it is hashed.
pub fn key_inputs(
    sh: &Shell,
    paths: &Paths,
    spec: &SourceSpec,
    profile: Profile,
) -> Result<Vec<KeyInput>> {
    let mut inputs = vec![
        KeyInput {
            name: "source".to_owned(),
            bytes: format!("{}={}", spec.package, spec.version).into_bytes(),
            is_file: false,
        },
        KeyInput {
            name: "configuration".to_owned(),
            bytes: super::from_source::CONFIGURE_RECIPE.as_bytes().to_vec(),
            is_file: false,
        },
    ];
    for file in fragments(paths, profile).into_iter().chain(patches(paths)?) {
        inputs.push(KeyInput {
            name: paths.show(&file),
            bytes: std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?,
            is_file: true,
        });
    }
    for (program, arg) in [
        ("clang", "--version"),
        ("rustc", "--version"),
        ("bindgen", "--version"),
    ] {
        inputs.push(KeyInput {
            name: program.to_owned(),
            bytes: crate::host::remembered::first_line(sh, paths, program, &[arg]).into_bytes(),
            is_file: false,
        });
    }
    Ok(inputs)
}

/// The cache folder for the current inputs.
pub fn cache_dir(
    sh: &Shell,
    paths: &Paths,
    spec: &SourceSpec,
    profile: Profile,
) -> Result<PathBuf> {
    Ok(cache_dir_for(
        paths,
        spec,
        profile,
        &key_inputs(sh, paths, spec, profile)?,
    ))
}

/// The cache folder for these inputs (from `key_inputs`).
pub fn cache_dir_for(
    paths: &Paths,
    spec: &SourceSpec,
    profile: Profile,
    inputs: &[KeyInput],
) -> PathBuf {
    let refs: Vec<&[u8]> = inputs.iter().map(|i| i.bytes.as_slice()).collect();
    let short = spec.version.split('-').next().unwrap_or(&spec.version);
    paths
        .cache
        .join("kernel")
        .join(format!("{short}-{}-{:016x}", profile.name(), fnv64(&refs)))
}

/// Seconds `make` took to build the kernel in this cache folder.
pub const BUILD_TIME: &str = "build-seconds";

/// Written into the cache folder last: the tree beside it is complete.
pub const READY_STAMP: &str = ".klab-ready";

/// Whether the cache folder `dir` holds a complete, built tree.
pub fn is_built(dir: &Path) -> bool {
    dir.join(READY_STAMP).exists() && dir.join("linux/arch/x86/boot/bzImage").exists()
}

/// The lock that lets one klab process build (or import) the lab kernel while others wait.
pub fn lock_cache(paths: &Paths, reporter: &dyn Reporter) -> Result<std::fs::File> {
    std::fs::create_dir_all(&paths.cache)
        .with_context(|| format!("creating {}", paths.cache.display()))?;
    let lock = std::fs::File::create(paths.cache.join("kernel.lock"))?;
    if lock.try_lock().is_err() {
        reporter.note("another klab process is building the lab kernel; waiting for it".to_owned());
        lock.lock()?;
    }
    Ok(lock)
}

/// The tree in the cache folder `dir`.
fn tree_in(dir: &Path, profile: Profile) -> KernelTree {
    KernelTree {
        bzimage: dir.join("linux/arch/x86/boot/bzImage"),
        dir: dir.join("linux"),
        profile,
    }
}

/// The cached lab kernel if it is built, without building it.
pub fn cached(
    sh: &Shell,
    paths: &Paths,
    spec: &SourceSpec,
    profile: Profile,
) -> Result<Option<KernelTree>> {
    let dir = cache_dir(sh, paths, spec, profile)?;
    Ok(is_built(&dir).then(|| tree_in(&dir, profile)))
}

/// The cached lab kernel, built first if needed.
pub fn ensure(
    sh: &Shell,
    paths: &Paths,
    spec: &SourceSpec,
    profile: Profile,
    jobs: usize,
    reporter: &dyn Reporter,
) -> Result<KernelTree> {
    let dir = cache_dir(sh, paths, spec, profile)?;
    let tree = tree_in(&dir, profile);
    if is_built(&dir) {
        return Ok(tree);
    }
    // Several klab processes (parallel tests, a grader) may want the kernel at once: one builds.
    let _lock = lock_cache(paths, reporter)?;
    if is_built(&dir) {
        return Ok(tree);
    }
    from_source::build(sh, paths, spec, profile, &dir, jobs, reporter)?;
    Ok(tree)
}
