//! `cargo xtask kernel export|import`: the built lab kernel as one `.tar.gz`, so that a course
//! hands out the kernel once instead of every machine building it (5-15 min).
//!
//! A pack holds `klab-kernel.json` first (the cache key and each of its inputs, readable), then
//! `linux/`: what external module builds need, chosen by the kernel's own
//! `scripts/package/install-extmod-build`, plus the Rust build outputs (`rust/*.rmeta`,
//! `rust/libmacros.so`), `.config` and the `bzImage` the VMs boot. An import compares the
//! inputs with this checkout and machine before it touches the cache, then unpacks entry by
//! entry: no absolute paths, no `..`, no links out of the tree, no hard links or devices.

mod manifest;
mod unpack;

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::events::{Reporter, Step, StepKind};
use crate::kernel::profile::Profile;
use crate::kernel::{self, SourceSpec};
use crate::paths::Paths;
use manifest::{differences, read_manifest, shown, PackManifest, FORMAT, MANIFEST};

/// The folder in the pack, and in the cache folder, that holds the tree.
const TREE: &str = "linux";
const BZIMAGE: &str = "arch/x86/boot/bzImage";
/// How often a long step says how far it got.
const TICK: Duration = Duration::from_secs(10);

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// `cargo xtask kernel export FILE`.
pub fn export(
    sh: &Shell,
    paths: &Paths,
    spec: &SourceSpec,
    profile: Profile,
    file: &Path,
    reporter: &dyn Reporter,
) -> Result<()> {
    let inputs = kernel::key_inputs(sh, paths, spec, profile)?;
    let dir = kernel::cache_dir_for(paths, spec, profile, &inputs);
    if !kernel::is_built(&dir) {
        bail!(
            "no built lab kernel for this checkout and toolchain (expected in {}); run `cargo xtask kernel build` first (5-15 min), then export",
            dir.display()
        );
    }
    let tree = dir.join(TREE);
    let staging = std::path::absolute(paths.out.join("kernel-export"))?;

    let step = Step::start(
        reporter,
        StepKind::Kernel,
        "choosing what module builds need (the kernel's install-extmod-build)",
    );
    stage_extmod(sh, &tree, &staging)?;
    step.done();

    let mut sources: Vec<(PathBuf, PathBuf)> = Vec::new();
    collect(&staging, &mut sources)?;
    for rel in extra_files(&tree)? {
        sources.push((tree.join(&rel), rel));
    }
    let (files, unpacked_bytes) = sizes(&sources)?;
    let manifest = PackManifest {
        format: FORMAT,
        key: key_name(&dir),
        inputs: shown(&inputs),
        bzimage_bytes: std::fs::metadata(tree.join(BZIMAGE))?.len(),
        files,
        unpacked_bytes,
    };

    let step = Step::start(
        reporter,
        StepKind::Kernel,
        format!(
            "writing {} ({files} files, {} before compression)",
            file.display(),
            mb(unpacked_bytes)
        ),
    );
    let partial = partial_path(file);
    let written = write_pack(&partial, &manifest, &sources, &step);
    let _ = std::fs::remove_dir_all(&staging);
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(e.context(format!("writing {}", partial.display())));
    }
    std::fs::rename(&partial, file)
        .with_context(|| format!("renaming {} to {}", partial.display(), file.display()))?;
    step.done();
    reporter.output_line(format!(
        "{}: {} (kernel {}); on a machine with this checkout and the same toolchain: cargo xtask kernel import {}",
        file.display(),
        mb(std::fs::metadata(file)?.len()),
        manifest.key,
        file.display()
    ));
    Ok(())
}

fn key_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn partial_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Runs the kernel's own list of what external module builds need, into `staging`.
fn stage_extmod(sh: &Shell, tree: &Path, staging: &Path) -> Result<()> {
    let script = tree.join("scripts/package/install-extmod-build");
    if !script.is_file() {
        bail!(
            "{} is missing: this kernel is too old for `kernel export` (Linux 6.6+ has it)",
            script.display()
        );
    }
    let _ = std::fs::remove_dir_all(staging);
    let _cwd = sh.push_dir(tree);
    // CC equal to HOSTCC (LLVM=1 builds both with clang): the script copies, rebuilds nothing.
    let _env = [
        sh.push_env("srctree", "."),
        sh.push_env("SRCARCH", "x86"),
        sh.push_env("CC", "clang"),
        sh.push_env("HOSTCC", "clang"),
        sh.push_env("MAKE", "make"),
    ];
    crate::host::run_on_stderr(cmd!(sh, "sh {script} {staging}"))
        .with_context(|| format!("{} failed", script.display()))
}

/// Every entry below `root`, as (path on disk, path in the tree), parents first.
fn collect(root: &Path, out: &mut Vec<(PathBuf, PathBuf)>) -> Result<()> {
    for entry in walkdir::WalkDir::new(root)
        .min_depth(1)
        .follow_links(false)
        .sort_by_file_name()
    {
        let entry = entry.with_context(|| format!("reading {}", root.display()))?;
        let rel = entry.path().strip_prefix(root)?.to_path_buf();
        out.push((entry.into_path(), rel));
    }
    Ok(())
}

/// What Rust modules and our VMs need beyond install-extmod-build's list.
fn extra_files(tree: &Path) -> Result<Vec<PathBuf>> {
    let mut extra = vec![PathBuf::from(".config"), PathBuf::from(BZIMAGE)];
    let rust = tree.join("rust");
    if rust.is_dir() {
        let mut outputs: Vec<PathBuf> = std::fs::read_dir(&rust)
            .with_context(|| format!("reading {}", rust.display()))?
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .filter(|name| name.ends_with(".rmeta") || name == "libmacros.so")
            .map(|name| Path::new("rust").join(name))
            .collect();
        outputs.sort();
        extra.extend(outputs);
    }
    for rel in &extra {
        if !tree.join(rel).is_file() {
            bail!(
                "{} is missing from the built tree; rebuild it: cargo xtask kernel clean && cargo xtask kernel build",
                tree.join(rel).display()
            );
        }
    }
    Ok(extra)
}

fn sizes(sources: &[(PathBuf, PathBuf)]) -> Result<(u64, u64)> {
    let (mut files, mut bytes) = (0, 0);
    for (path, _) in sources {
        let meta = std::fs::symlink_metadata(path)?;
        if meta.is_file() {
            files += 1;
            bytes += meta.len();
        }
    }
    Ok((files, bytes))
}

fn write_pack(
    partial: &Path,
    manifest: &PackManifest,
    sources: &[(PathBuf, PathBuf)],
    step: &Step,
) -> Result<()> {
    let out = File::create(partial)?;
    let gz = flate2::write::GzEncoder::new(BufWriter::new(out), flate2::Compression::default());
    let mut pack = tar::Builder::new(gz);
    pack.follow_symlinks(false);
    let json = serde_json::to_vec_pretty(manifest)?;
    let mut header = tar::Header::new_gnu();
    header.set_size(json.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    );
    header.set_cksum();
    pack.append_data(&mut header, MANIFEST, json.as_slice())?;

    let (mut done, mut last_tick) = (0u64, Duration::ZERO);
    for (path, rel) in sources {
        pack.append_path_with_name(path, Path::new(TREE).join(rel))
            .with_context(|| format!("adding {}", path.display()))?;
        done += std::fs::symlink_metadata(path)?.len();
        if step.elapsed() - last_tick >= TICK {
            last_tick = step.elapsed();
            step.tick(&format!(
                "{} of {} compressed",
                mb(done),
                mb(manifest.unpacked_bytes)
            ));
        }
    }
    let file = pack
        .into_inner()?
        .finish()?
        .into_inner()
        .map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(())
}

/// Removes a scratch folder however the import ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `cargo xtask kernel import FILE`.
pub fn import(
    sh: &Shell,
    paths: &Paths,
    spec: &SourceSpec,
    profile: Profile,
    file: &Path,
    force: bool,
    reporter: &dyn Reporter,
) -> Result<()> {
    let manifest = read_manifest(file)?;
    // A pack says which profile it is by its fragments: take the profile whose inputs match,
    // else report the differences from the one asked for.
    let matching = Profile::ALL.into_iter().find_map(|p| {
        let inputs = kernel::key_inputs(sh, paths, spec, p).ok()?;
        differences(&manifest.inputs, &shown(&inputs))
            .is_empty()
            .then_some((p, inputs))
    });
    let (profile, inputs) = match matching {
        Some(found) => found,
        None => (profile, kernel::key_inputs(sh, paths, spec, profile)?),
    };
    let diffs = differences(&manifest.inputs, &shown(&inputs));
    if !diffs.is_empty() {
        bail!(
            "{} was built from other inputs than this checkout and machine have:\n  {}\nthe cache is untouched; build the kernel instead: cargo xtask kernel build",
            file.display(),
            diffs.join("\n  ")
        );
    }
    let dir = kernel::cache_dir_for(paths, spec, profile, &inputs);
    if manifest.key != key_name(&dir) {
        bail!(
            "{}: same inputs, but its key {} is not this klab's {} (a klab with another cache key made it); build the kernel instead: cargo xtask kernel build",
            file.display(),
            manifest.key,
            key_name(&dir)
        );
    }
    let already = || {
        reporter.output_line(format!(
            "a built lab kernel is already cached for this key ({}); nothing to do (--force replaces it)",
            dir.display()
        ))
    };
    if kernel::is_built(&dir) && !force {
        already();
        return Ok(());
    }
    let _lock = kernel::lock_cache(paths, reporter)?;
    if kernel::is_built(&dir) && !force {
        already();
        return Ok(());
    }

    let kernels = dir.parent().context("the cache folder has no parent")?;
    let scratch = Scratch(kernels.join(format!(".import-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&scratch.0);
    std::fs::create_dir_all(&scratch.0)
        .with_context(|| format!("creating {}", scratch.0.display()))?;
    let step = Step::start(
        reporter,
        StepKind::Kernel,
        format!(
            "unpacking {} ({} files, {}) into {}",
            file.display(),
            manifest.files,
            mb(manifest.unpacked_bytes),
            scratch.0.display()
        ),
    );
    unpack::unpack(file, &scratch.0, &step).with_context(|| {
        format!(
            "unpacking {}; the cache is untouched; build the kernel instead: cargo xtask kernel build",
            file.display()
        )
    })?;
    let unpacked = scratch.0.join(TREE);
    let bzimage = unpacked.join(BZIMAGE);
    let size = std::fs::metadata(&bzimage).map(|m| m.len()).unwrap_or(0);
    if size != manifest.bzimage_bytes || !unpacked.join("Module.symvers").is_file() {
        bail!(
            "{} is incomplete (its bzImage is {size} bytes, the manifest says {}, or Module.symvers is missing); export it again, or build: cargo xtask kernel build",
            file.display(),
            manifest.bzimage_bytes
        );
    }
    step.done();

    // The stamp goes first and comes back last: a crash in between leaves an unbuilt cache.
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let stamp = dir.join(kernel::READY_STAMP);
    if stamp.exists() {
        std::fs::remove_file(&stamp).with_context(|| format!("removing {}", stamp.display()))?;
    }
    let target = dir.join(TREE);
    if std::fs::symlink_metadata(&target).is_ok() {
        std::fs::remove_dir_all(&target)
            .with_context(|| format!("removing the old {}", target.display()))?;
    }
    std::fs::rename(&unpacked, &target)
        .with_context(|| format!("moving {} to {}", unpacked.display(), target.display()))?;
    std::fs::write(&stamp, format!("{} {}\n", spec.package, spec.version))
        .with_context(|| format!("writing {}", stamp.display()))?;
    reporter.output_line(format!(
        "lab kernel imported: {}",
        target.join(BZIMAGE).display()
    ));
    Ok(())
}
