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

/// Copies the folder `from` to `to` (folders and regular files; links are not followed),
/// keeping each file's modification time: a test program's binary stays up to date when it is
/// newer than its sources.
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    for entry in walkdir::WalkDir::new(from).follow_links(false) {
        let entry = entry?;
        let dest = to.join(entry.path().strip_prefix(from)?);
        let kind = entry.file_type();
        if kind.is_dir() {
            std::fs::create_dir_all(&dest)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &dest)
                .with_context(|| format!("copying {}", entry.path().display()))?;
            let modified = entry.metadata()?.modified()?;
            std::fs::File::options()
                .write(true)
                .open(&dest)?
                .set_modified(modified)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copied_tree_keeps_contents_and_modification_times() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("a");
        std::fs::create_dir_all(from.join("sub")).unwrap();
        std::fs::write(from.join("sub/x.c"), "int x;").unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        std::fs::File::options()
            .write(true)
            .open(from.join("sub/x.c"))
            .unwrap()
            .set_modified(old)
            .unwrap();
        copy_tree(&from, &dir.path().join("b")).unwrap();
        let copied = dir.path().join("b/sub/x.c");
        assert_eq!(std::fs::read_to_string(&copied).unwrap(), "int x;");
        assert_eq!(std::fs::metadata(&copied).unwrap().modified().unwrap(), old);
    }
}
