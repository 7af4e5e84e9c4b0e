//! The lab kernel: fetched from Debian's `linux-source-6.12`, configured with `tinyconfig` plus
//! the profile's fragments (`kernel/lean.config`, and `kernel/kunit.config` and
//! `kernel/debug.config` for `debug`), built once with `make LLVM=1`, cached outside the
//! repository.
//!
//! The cache key covers everything that changes the result: the pinned source, how it is
//! configured, the fragments, the patches and the toolchain versions. A second run with the same key never rebuilds; the
//! profiles' kernels sit side by side (`<version>-<profile>-<key>`).
//!
//! This module owns what a kernel is ([`SourceSpec`], [`KernelTree`]) and the stable hash of
//! cache keys; its submodules own the cache ([`cache`]), the source package and its unpacked
//! trees ([`source`]), the build from source (`from_source`), `make`'s run with progress ([`make`], [`objects`]), the `kernel info` and
//! `clean` commands ([`info`]) and packs ([`pack`]). It never builds a task's modules (that
//! is [`crate::build`]) and never prints: progress and results are events.

pub mod cache;
mod from_source;
pub mod info;
pub mod kconfig;
pub mod make;
pub mod objects;
pub mod pack;
pub mod profile;
pub mod source;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::kernel::profile::Profile;
use crate::paths::Paths;

pub use cache::{
    cache_dir, cache_dir_for, cached, ensure, is_built, key_inputs, lock_cache, KeyInput,
    BUILD_TIME, READY_STAMP,
};
pub use info::{clean, info};
pub use make::run_logged;

/// `kernel/source.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    pub package: String,
    pub version: String,
    pub tarball: String,
    pub bindgen: String,
}

impl SourceSpec {
    pub fn load(paths: &Paths) -> Result<SourceSpec> {
        let path = paths.kernel_dir.join("source.toml");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

/// A kbuild tree modules can be built against, and the kernel image to boot.
#[derive(Debug, Clone)]
pub struct KernelTree {
    pub dir: PathBuf,
    pub bzimage: PathBuf,
    /// What the kernel checks: the harness scans for leaks and builds modules with debug
    /// info (to name the student's file:line in a report) under `debug`.
    pub profile: Profile,
}

impl KernelTree {
    /// A tree given with `--kernel-tree`: it must be built already.
    pub fn external(dir: &Path) -> Result<KernelTree> {
        let dir = dir
            .canonicalize()
            .with_context(|| format!("--kernel-tree {}", dir.display()))?;
        let config = std::fs::read_to_string(dir.join(".config")).unwrap_or_default();
        let tree = KernelTree {
            bzimage: dir.join("arch/x86/boot/bzImage"),
            profile: Profile::of_config(&config),
            dir,
        };
        for needed in [tree.bzimage.clone(), tree.dir.join("Module.symvers")] {
            if !needed.exists() {
                bail!(
                    "--kernel-tree {}: {} is missing; build the tree first (make bzImage modules)",
                    tree.dir.display(),
                    needed.display()
                );
            }
        }
        Ok(tree)
    }
}

/// FNV-1a, 64 bit: a stable hash for cache keys (std's hasher may change between releases).
pub fn fnv64(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf29ce484222325;
    for part in parts {
        for byte in part.iter().chain(b"\x00") {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x100000001b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_is_stable_and_separates_parts() {
        assert_eq!(fnv64(&[b"a"]), fnv64(&[b"a"]));
        assert_ne!(fnv64(&[b"ab", b"c"]), fnv64(&[b"a", b"bc"]));
        assert_eq!(fnv64(&[]), 0xcbf29ce484222325);
    }

    #[test]
    fn the_checked_in_source_spec_parses() {
        let paths = Paths::discover(None).unwrap();
        let spec = SourceSpec::load(&paths).unwrap();
        assert_eq!(spec.package, "linux-source-6.12");
        assert!(spec.tarball.ends_with(".tar.xz"));
    }
}
