//! `cargo xtask doc [SEL] [--open]`: the lab kernel's Rust documentation (`make LLVM=1
//! rustdoc`: the `kernel` crate with the lab's own abstractions, and `core`, `macros`, `ffi`),
//! built once per kernel and kept beside it (`<kernel cache folder>/rustdoc/`), then where the
//! items each selected Rust lab's README names are documented.
//!
//! `make rustdoc` is not read-only on a built tree: kbuild rebuilds the Rust libraries it
//! judges out of date (`rust/kernel.o`, `libkernel.rmeta`, the doctests' sources) and writes
//! its `.cmd` files. Module builds of other klab processes read that tree without a lock, so
//! it runs in a private copy of the tree, under the kernel cache's lock (no import or build
//! replaces the tree while it is copied, and two processes do not build the same
//! documentation). The output goes straight to the cache (`rustdoc_output=`), the copy is
//! removed. The shared tree is never written.

use std::path::{Path, PathBuf};

use crate::lab::doc_items;
use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::events::{Reporter, Step, StepKind};
use crate::kernel::make::Counting;
use crate::kernel::{self, KernelTree};
use crate::paths::Paths;
use crate::run::Workspace;

/// Written last into the documentation folder: the documentation is complete.
const READY: &str = ".klab-ready";

/// `cargo xtask doc`.
pub fn run(ctx: &Workspace, select: &[String], open: bool) -> Result<bool> {
    let selected = ctx.select(select)?;
    let kernel = ctx.kernel()?;
    let reporter = ctx.reporter();
    let root = ensure(&ctx.sh, &ctx.paths, &kernel, reporter)?;
    let index = root.join("kernel/index.html");
    reporter.output_line(format!("the kernel crate: {}", index.display()));
    let mut labs: Vec<&crate::lab::manifest::Lab> = Vec::new();
    for s in &selected {
        if s.lab.manifest.language == "rust" && !labs.iter().any(|l| l.name == s.lab.name) {
            labs.push(s.lab);
        }
    }
    let mut all_found = true;
    for lab in labs {
        let readme = lab.dir.join("README.md");
        let text = std::fs::read_to_string(&readme)
            .with_context(|| format!("reading {}", ctx.paths.show(&readme)))?;
        let items = doc_items::items(&text).with_context(|| ctx.paths.show(&readme))?;
        reporter.output_line(format!("\n{} ({}):", lab.name, ctx.paths.show(&readme)));
        if items.is_empty() {
            reporter.output_line(format!(
                "  (its README lists no items: no \"{}\" section)",
                doc_items::SECTION
            ));
        }
        let width = items.iter().map(|i| i.path.len()).max().unwrap_or(0);
        for item in items {
            match doc_items::resolve(&root, &item.path) {
                Some(page) => reporter.output_line(format!(
                    "  {:width$}  {}",
                    item.path,
                    root.join(page.shown()).display()
                )),
                None => {
                    all_found = false;
                    reporter.output_line(format!(
                        "  {:width$}  not in the documentation ({}:{})",
                        item.path,
                        ctx.paths.show(&readme),
                        item.line
                    ));
                }
            }
        }
    }
    if open {
        crate::host::run_on_stderr(cmd!(ctx.sh, "xdg-open {index}")).with_context(|| {
            format!(
                "no browser opened (xdg-open); open {} yourself",
                index.display()
            )
        })?;
    }
    Ok(all_found)
}

/// Where the documentation of `kernel` goes: beside a cached kernel's tree; for a
/// `--kernel-tree`, under `target/klab/rustdoc/`.
fn docs_dir(paths: &Paths, kernel: &KernelTree) -> PathBuf {
    match kernel.dir.parent() {
        Some(cache) if cache.join(kernel::READY_STAMP).exists() => cache.join("rustdoc"),
        _ => {
            let key = kernel::fnv64(&[kernel.dir.as_os_str().as_encoded_bytes()]);
            paths.out.join("rustdoc").join(format!("{key:016x}"))
        }
    }
}

/// The documentation folder of `kernel` (its `kernel/index.html` and the rest), built first
/// if needed.
pub fn ensure(
    sh: &Shell,
    paths: &Paths,
    kernel: &KernelTree,
    reporter: &dyn Reporter,
) -> Result<PathBuf> {
    let dir = docs_dir(paths, kernel);
    if dir.join(READY).exists() {
        return Ok(dir);
    }
    let _lock = kernel::lock_cache(paths, reporter)?;
    if dir.join(READY).exists() {
        return Ok(dir);
    }
    for needed in ["rust/kernel/lib.rs", "rust/Makefile", "Documentation"] {
        if !kernel.dir.join(needed).exists() {
            bail!(
                "{} has no {needed}: a kernel imported from a pack holds only what module \
                 builds need; the documentation needs the kernel's full tree (build the kernel \
                 here with `cargo xtask kernel build` after `cargo xtask kernel clean`)",
                kernel.dir.display()
            );
        }
    }
    build(sh, kernel, &dir, reporter)?;
    Ok(dir)
}

/// Removes a folder when dropped (the tree's copy, also after an error or Ctrl-C).
struct Removed(PathBuf);

impl Drop for Removed {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn build(sh: &Shell, kernel: &KernelTree, dir: &Path, reporter: &dyn Reporter) -> Result<()> {
    let parent = dir
        .parent()
        .context("the documentation folder has no parent")?;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let work = parent.join("rustdoc-build");
    let partial = parent.join("rustdoc.partial");
    for old in [&work, &partial, &dir.to_path_buf()] {
        if old.exists() {
            std::fs::remove_dir_all(old).with_context(|| format!("removing {}", old.display()))?;
        }
    }
    std::fs::create_dir_all(&work)?;
    let _work = Removed(work.clone());
    let _partial = Removed(partial.clone());

    let step = Step::start(reporter, StepKind::Kernel, format!(
        "copying the kernel tree to {} (make rustdoc writes in its tree; the shared one stays untouched)",
        work.display()
    ));
    let (tree, copy) = (&kernel.dir, work.join("linux"));
    cmd!(sh, "cp -a --reflink=auto {tree} {copy}")
        .quiet()
        .run()
        .with_context(|| format!("copying {} to {}", tree.display(), copy.display()))?;
    step.done();

    let log = parent.join("rustdoc.log");
    let jobs = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let step = Step::start(reporter, StepKind::Kernel, format!(
        "building the kernel crate's documentation (make LLVM=1 rustdoc, about a minute on 2 cores; log: {})",
        log.display()
    ));
    let args = [
        format!("-j{jobs}"),
        "rustdoc".to_owned(),
        format!("rustdoc_output={}", partial.display()),
    ];
    kernel::run_logged(sh, &copy, &args, &log, &step, Counting::LastLine)
        .context("building the kernel crate's documentation")?;
    let took = step.elapsed();
    if !partial.join("kernel/index.html").is_file() {
        bail!(
            "make rustdoc wrote no kernel/index.html into {}; see {}",
            partial.display(),
            log.display()
        );
    }
    std::fs::write(
        partial.join(READY),
        format!("make rustdoc: {:.1} s\n", took.as_secs_f64()),
    )?;
    std::fs::rename(&partial, dir)
        .with_context(|| format!("moving the documentation to {}", dir.display()))?;
    step.done();
    Ok(())
}
