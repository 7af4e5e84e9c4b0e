//! The lab kernel: fetched from Debian's `linux-source-6.12`, configured with `tinyconfig` plus
//! the profile's fragments (`kernel/lean.config`, and `kernel/debug.config` for `debug`), built
//! once with `make LLVM=1`, cached outside the repository.
//!
//! The cache key covers everything that changes the result: the pinned source, the fragments,
//! the patches and the toolchain versions. A second run with the same key never rebuilds; the
//! profiles' kernels sit side by side (`<version>-<profile>-<key>`).

pub mod kconfig;
pub mod pack;
pub mod profile;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use xshell::{cmd, Shell};

use crate::kernel::profile::Profile;
use crate::paths::Paths;
use crate::progress::{secs, Step};

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

/// The fragment files merged on top of tinyconfig, in order.
fn fragments(paths: &Paths, profile: Profile) -> Vec<PathBuf> {
    profile
        .fragment_names()
        .iter()
        .map(|name| paths.kernel_dir.join(name))
        .collect()
}

/// Patches applied to the source before configuring (sorted by name).
fn patches(paths: &Paths) -> Result<Vec<PathBuf>> {
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

fn first_line(sh: &Shell, program: &str, arg: &str) -> String {
    cmd!(sh, "{program} {arg}")
        .quiet()
        .ignore_status()
        .ignore_stderr()
        .read()
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

/// One input of the kernel cache key.
#[derive(Debug, Clone)]
pub struct KeyInput {
    /// `source`, `kernel/lean.config`, `kernel/patches/NNNN-….patch`, `clang`, `rustc`, `bindgen`.
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
    let mut inputs = vec![KeyInput {
        name: "source".to_owned(),
        bytes: format!("{}={}", spec.package, spec.version).into_bytes(),
        is_file: false,
    }];
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
            bytes: first_line(sh, program, arg).into_bytes(),
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
pub fn lock_cache(paths: &Paths) -> Result<std::fs::File> {
    std::fs::create_dir_all(&paths.cache)
        .with_context(|| format!("creating {}", paths.cache.display()))?;
    let lock = std::fs::File::create(paths.cache.join("kernel.lock"))?;
    if lock.try_lock().is_err() {
        eprintln!("==> another klab process is building the lab kernel; waiting for it");
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
) -> Result<KernelTree> {
    let dir = cache_dir(sh, paths, spec, profile)?;
    let tree = tree_in(&dir, profile);
    if is_built(&dir) {
        return Ok(tree);
    }
    // Several klab processes (parallel tests, a grader) may want the kernel at once: one builds.
    let _lock = lock_cache(paths)?;
    if is_built(&dir) {
        return Ok(tree);
    }
    build(sh, paths, spec, profile, &dir, jobs)?;
    Ok(tree)
}

fn fetch_tarball(sh: &Shell, paths: &Paths, spec: &SourceSpec) -> Result<PathBuf> {
    let downloads = paths.cache.join("downloads");
    std::fs::create_dir_all(&downloads)?;
    let unpacked = downloads.join(format!(
        "{}_{}",
        spec.package,
        spec.version.replace('~', "_")
    ));
    let tarball = unpacked.join(&spec.tarball);
    if tarball.exists() {
        return Ok(tarball);
    }
    let step = Step::start(format!(
        "downloading {} {} (apt-get download)",
        spec.package, spec.version
    ));
    let _dir = sh.push_dir(&downloads);
    let (package, version) = (&spec.package, &spec.version);
    let pinned = format!("{package}={version}");
    if cmd!(sh, "apt-get download {pinned}").run().is_err() {
        // The package lists may be stale on a fresh machine: refresh once, then try again.
        let _ = cmd!(sh, "apt-get update -q").run();
        if cmd!(sh, "apt-get download {pinned}").run().is_err() {
            eprintln!("    notice: {pinned} is no longer in the archive; taking the newest {package} instead");
            cmd!(sh, "apt-get download {package}")
                .run()
                .with_context(|| {
                    format!("apt-get download {package} failed: is Debian's archive reachable?")
                })?;
        }
    }
    let deb = std::fs::read_dir(&downloads)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{package}_")) && n.ends_with(".deb"))
        })
        .max()
        .with_context(|| {
            format!(
                "apt-get download left no {package}_*.deb in {}",
                downloads.display()
            )
        })?;
    cmd!(sh, "dpkg-deb -x {deb} {unpacked}")
        .run()
        .context("unpacking the source package")?;
    step.done();
    if !tarball.exists() {
        bail!(
            "{} has no {}: update `tarball` in kernel/source.toml",
            deb.display(),
            spec.tarball
        );
    }
    Ok(tarball)
}

fn build(
    sh: &Shell,
    paths: &Paths,
    spec: &SourceSpec,
    profile: Profile,
    dir: &Path,
    jobs: usize,
) -> Result<()> {
    let tarball = fetch_tarball(sh, paths, spec)?;
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let step = Step::start(format!(
        "unpacking the kernel source into {}",
        dir.display()
    ));
    cmd!(sh, "tar -xf {tarball} -C {dir}")
        .run()
        .context("unpacking the kernel tarball")?;
    let top = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .find(|e| e.path().is_dir())
        .context("the kernel tarball holds no folder")?
        .path();
    std::fs::rename(&top, dir.join("linux"))?;
    step.done();
    let tree = dir.join("linux");
    let _cwd = sh.push_dir(&tree);

    for patch in patches(paths)? {
        let step = Step::start(format!("applying {}", paths.show(&patch)));
        cmd!(sh, "patch -p1 --forward --batch -i {patch}")
            .run()
            .with_context(|| {
                format!(
                    "{} does not apply to {} {}",
                    patch.display(),
                    spec.package,
                    spec.version
                )
            })?;
        step.done();
    }

    let step = Step::start("checking the Rust toolchain (make LLVM=1 rustavailable)");
    let out = cmd!(sh, "make LLVM=1 rustavailable")
        .ignore_status()
        .quiet()
        .output()?;
    if !out.status.success() {
        bail!(
            "the kernel cannot build Rust with this toolchain:\n{}{}\nrun `cargo xtask setup`, which installs rust-src and bindgen-cli",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    step.done();

    let frags = fragments(paths, profile);
    let step = Step::start(format!(
        "configuring the {} profile: tinyconfig + {}",
        profile.name(),
        frags
            .iter()
            .map(|f| paths.show(f))
            .collect::<Vec<_>>()
            .join(" + ")
    ));
    cmd!(sh, "make LLVM=1 tinyconfig")
        .quiet()
        .ignore_stdout()
        .run()?;
    let frag_args = frags.clone();
    cmd!(
        sh,
        "scripts/kconfig/merge_config.sh -m .config {frag_args...}"
    )
    .quiet()
    .ignore_stdout()
    .run()?;
    cmd!(sh, "make LLVM=1 olddefconfig")
        .quiet()
        .ignore_stdout()
        .run()?;
    let config = std::fs::read_to_string(tree.join(".config"))?;
    for frag in &frags {
        for wanted in std::fs::read_to_string(frag)?
            .lines()
            .filter(|l| l.starts_with("CONFIG_"))
        {
            if !config.lines().any(|l| l == wanted) {
                bail!(
                    "{wanted} from {} did not survive olddefconfig (a dependency is missing); see {}",
                    paths.show(frag),
                    tree.join(".config").display()
                );
            }
        }
    }
    step.done();

    let log_path = dir.join("build.log");
    let step = Step::start(format!(
        "building the {} lab kernel with {jobs} jobs (5-20 min on 2 cores, longer while other work runs; log: {})",
        profile.name(),
        log_path.display()
    ));
    let goals = [format!("-j{jobs}"), "bzImage".into(), "modules".into()];
    run_logged(sh, &tree, &goals, &log_path, &step).context("the kernel build failed")?;
    // For `bench`, which compares the profiles' kernels.
    let _ = std::fs::write(
        dir.join(BUILD_TIME),
        format!("{:.1}\n", step.elapsed().as_secs_f64()),
    );
    step.done();
    std::fs::write(
        dir.join(READY_STAMP),
        format!("{} {} {}\n", spec.package, spec.version, profile.name()),
    )?;
    Ok(())
}

/// `make LLVM=1 ARGS...` in `tree` with its output in a log file and a progress line every
/// 15 s (the kernel build; the documentation's, in a copy of the tree).
pub fn run_logged(
    sh: &Shell,
    tree: &Path,
    args: &[String],
    log_path: &Path,
    step: &Step,
) -> Result<()> {
    let mut command: std::process::Command = cmd!(sh, "make LLVM=1 {args...}").into();
    let log = std::fs::File::create(log_path)?;
    let mut child = command
        .current_dir(tree)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("starting make")?;
    let mut last_tick = Duration::ZERO;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(500));
        if step.elapsed() - last_tick >= Duration::from_secs(15) {
            last_tick = step.elapsed();
            step.tick(&last_log_line(log_path));
        }
    };
    if !status.success() {
        let tail = tail_lines(log_path, 30);
        bail!(
            "make {} failed after {} ({status}); last lines of {}:\n{tail}",
            args.join(" "),
            secs(step.elapsed()),
            log_path.display()
        );
    }
    Ok(())
}

fn last_log_line(path: &Path) -> String {
    tail_lines(path, 1).trim().to_owned()
}

fn tail_lines(path: &Path, n: usize) -> String {
    let Ok(file) = std::fs::File::open(path) else {
        return String::new();
    };
    let lines: Vec<String> = BufReader::new(file).lines().map_while(Result::ok).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// `cargo xtask kernel info`.
pub fn info(sh: &Shell, paths: &Paths, spec: &SourceSpec, profile: Profile) -> Result<()> {
    let dir = cache_dir(sh, paths, spec, profile)?;
    println!("source:   {} {}", spec.package, spec.version);
    println!("profile:  {}", profile.name());
    println!(
        "fragment: {}",
        fragments(paths, profile)
            .iter()
            .map(|f| paths.show(f))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("patches:  {}", patches(paths)?.len());
    println!("cache:    {}", dir.display());
    let bzimage = dir.join("linux/arch/x86/boot/bzImage");
    if is_built(&dir) {
        let size = std::fs::metadata(&bzimage)?.len();
        println!("state:    built (bzImage {:.1} MB)", size as f64 / 1e6);
    } else {
        println!("state:    not built (any command builds it; or `cargo xtask kernel build`, or `cargo xtask kernel import PACK`)");
    }
    // The other profile's kernel for this checkout is current too, not stale.
    let other = match profile {
        Profile::Lean => Profile::Debug,
        Profile::Debug => Profile::Lean,
    };
    let other_dir = cache_dir(sh, paths, spec, other)?;
    println!(
        "{:<9} {} ({})",
        format!("{}:", other.name()),
        other_dir.display(),
        if is_built(&other_dir) {
            "built"
        } else {
            "not built"
        }
    );
    let others: Vec<String> = std::fs::read_dir(paths.cache.join("kernel"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| *p != dir && *p != other_dir)
                .map(|p| p.display().to_string())
                .collect()
        })
        .unwrap_or_default();
    if !others.is_empty() {
        println!(
            "stale:    {} (removed by `cargo xtask kernel clean`)",
            others.join(", ")
        );
    }
    Ok(())
}

/// `cargo xtask kernel clean`: removes every cached kernel (both profiles).
pub fn clean(paths: &Paths) -> Result<()> {
    let dir = paths.cache.join("kernel");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        println!("removed {}", dir.display());
    } else {
        println!("nothing to remove: {} does not exist", dir.display());
    }
    Ok(())
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
