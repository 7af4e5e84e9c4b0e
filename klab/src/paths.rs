//! Where things are: the repository's folders, the build output and the kernel cache.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub mod label;

pub use label::{Origin, RunLabel};

#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
    pub labs: PathBuf,
    pub templates: PathBuf,
    pub skels: PathBuf,
    pub rootfs: PathBuf,
    pub kernel_dir: PathBuf,
    /// `target/klab`: shared build output (the base initramfs, saved guests, probes).
    pub out: PathBuf,
    /// Where one run's stages, images and VM logs go: `out`, or a grader's private
    /// temporary folder outside the repository.
    pub work: PathBuf,
    /// Outside the repo, survives `cargo clean`: the lab kernel and downloads.
    pub cache: PathBuf,
}

impl Paths {
    pub fn discover(skels_override: Option<&Path>) -> Result<Paths> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("xtask has no parent folder")?
            .to_path_buf();
        let cache = match std::env::var_os("KLAB_CACHE_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => match std::env::var_os("XDG_CACHE_HOME") {
                Some(dir) => PathBuf::from(dir).join("klab"),
                None => PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?)
                    .join(".cache/klab"),
            },
        };
        let out = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(t) => PathBuf::from(t).join("klab"),
            None => root.join("target/klab"),
        };
        Ok(Paths {
            labs: root.join("labs"),
            templates: root.join("templates"),
            skels: skels_override
                .map(Path::to_path_buf)
                .unwrap_or_else(|| root.join("skels")),
            rootfs: root.join("rootfs"),
            kernel_dir: root.join("kernel"),
            work: out.clone(),
            out,
            cache,
            root,
        })
    }

    /// A path as the user should see it: relative to the repository when inside it.
    /// A graded submission's sources (`work/src/<lab>/…`) show as `<lab>/…`.
    pub fn show(&self, path: &Path) -> String {
        let graded = self.work.join("src");
        path.strip_prefix(&self.root)
            .or_else(|_| path.strip_prefix(&graded))
            .unwrap_or(path)
            .display()
            .to_string()
    }

    /// The same paths with one run's stages, images and VM logs in `work`.
    pub fn working_in(&self, work: &Path) -> Paths {
        Paths {
            work: work.to_path_buf(),
            ..self.clone()
        }
    }
}
