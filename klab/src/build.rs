//! `cargo xtask build`: a task's modules through kbuild, its test programs as static binaries.
//!
//! Sources are copied into a staging folder under `target/klab/stage/` together with a
//! Kbuild the harness writes; the student's own Makefile or Kbuild is never used. Copies
//! keep unchanged files untouched, so kbuild's incremental build works.
//!
//! This module owns a task's build from its staged sources to the files the guest gets:
//! staging is [`stage`]'s, test programs [`program`]'s, every process runs in [`sandbox`].
//! It never runs the student's code and never starts a compiler outside the sandbox.

pub mod kbuild;
pub mod modules;
mod program;
pub mod replay;
pub mod sandbox;
mod stage;
pub mod style;
pub mod symbols;

use std::path::{Path, PathBuf};

use crate::build::sandbox::{Finished, Limits, Sandbox};
use crate::kernel::KernelTree;
use crate::lab::manifest::TaskManifest;
use crate::lab::selection::Selected;
use crate::paths::{Origin, Paths, RunLabel};
use anyhow::{Context, Result};
use program::build_program;
pub(crate) use stage::write_if_changed;
use stage::{stage_dir, sync_sources};

/// Where a build takes its sources from.
#[derive(Debug, Clone)]
pub struct SourceRoot {
    /// Names the run's stage, image and VM logs.
    pub label: RunLabel,
    pub dir: PathBuf,
}

impl BuiltTask {
    /// The same task after its stage folder `from` was moved to `to`.
    pub fn moved(mut self, from: &Path, to: &Path) -> BuiltTask {
        let moved = |p: &Path| match p.strip_prefix(from) {
            Ok(rest) => to.join(rest),
            Err(_) => p.to_path_buf(),
        };
        for (_, file) in &mut self.files {
            *file = moved(file);
        }
        self.stage = moved(&self.stage);
        self
    }
}

/// What a built task puts into the guest: `(name in the guest task folder, host file)`.
#[derive(Debug, Clone)]
pub struct BuiltTask {
    pub files: Vec<(String, PathBuf)>,
    /// Notes for the student that do not fail the build (ignored files, …).
    pub warnings: Vec<String>,
    /// The staged task folder its files are in.
    pub stage: PathBuf,
    /// The folder it was built in: what compiler messages and its modules' debug info name
    /// (the stage, unless the stage was moved after the build: `grade`'s build room).
    pub built_at: PathBuf,
    /// What the compilers printed while building its modules (warnings: style findings).
    pub build_output: String,
    /// How its modules were made.
    pub how: crate::events::BuildHow,
}

/// A build's outcome: the task's files, or the message to show the student.
pub type BuildOutcome = std::result::Result<BuiltTask, String>;

/// How a task's test programs are compiled (`cc -static FLAGS -o BIN SRC`); the editor files
/// give clangd the same.
pub const PROGRAM_CFLAGS: &[&str] = &["-O2", "-Wall"];

/// A task build's limits: the lab's `build_timeout_secs`, lowered by `KLAB_BUILD_TIMEOUT_SECS`
/// (tests of the limit itself).
fn build_limits(sel: &Selected) -> Limits {
    let lab = sel.lab.manifest.build_timeout_secs;
    let cap = std::env::var("KLAB_BUILD_TIMEOUT_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&v| v > 0)
        .unwrap_or(u64::MAX);
    Limits::build(std::time::Duration::from_secs(lab.min(cap)))
}

/// The kernel folders a module build reads: the tree, and the source tree an `O=` tree's
/// `source` link names.
fn kernel_folders<'a>(kdir: &'a Path, source_tree: &'a Option<PathBuf>) -> Vec<&'a Path> {
    let mut folders = vec![kdir];
    if let Some(source) = source_tree.as_deref().filter(|s| *s != kdir) {
        folders.push(source);
    }
    folders
}

/// A failed build's message: the limit it hit first, then the compiler's words.
pub(crate) fn failure(message: String, done: &Finished, limits: &Limits) -> String {
    let mut text = String::new();
    if let Some(limit) = done.limit {
        text.push_str(&format!(
            "{}; the build was stopped\n",
            limit.describe(limits)
        ));
    }
    text.push_str(&message);
    if done.dropped > 0 {
        text.push_str(&format!(
            "\n[{} more bytes of compiler output were not kept]",
            done.dropped
        ));
    }
    text
}

/// Builds one task. `Ok(Err(message))` is a build failure to show the student.
pub fn build_task(
    sandbox: &Sandbox,
    paths: &Paths,
    kernel: &KernelTree,
    source: &SourceRoot,
    sel: &Selected,
) -> Result<BuildOutcome> {
    let src = source.dir.join(&sel.lab.name).join(&sel.task.name);
    let shown = paths.show(&src);
    if !src.is_dir() {
        let hint = if *source.label.origin() == Origin::Skels {
            format!("run `cargo xtask skels {}` to generate it", sel.id())
        } else {
            "check the folder name against the lab manifest".to_owned()
        };
        return Ok(Err(format!("{shown} does not exist: {hint}")));
    }
    let mut warnings = Vec::new();
    let stage = stage_dir(paths, source, sel);
    let limits = build_limits(sel);
    sync_sources(&src, &stage, &shown, &mut warnings)?;
    let task: &TaskManifest = sel.task;

    if let Some(message) = missing_config(kernel, sel)? {
        return Ok(Err(message));
    }

    let mut files = Vec::new();
    let mut build_output = String::new();
    let mut how = crate::events::BuildHow::Programs;
    if !task.modules.is_empty() {
        for module in &task.modules {
            let sources = module.source_paths(&stage);
            let missing: Vec<&String> = sources
                .iter()
                .filter(|s| !stage.join(s).is_file())
                .collect();
            if let Some(source) = missing.first() {
                return Ok(Err(format!("{shown}/{source} is missing (the lab manifest lists it as a source of module `{}`)", module.name)));
            }
            if sources.is_empty() {
                let (c, rs) = (
                    module.in_dir(&format!("{}.c", module.name)),
                    module.in_dir(&format!("{}.rs", module.name)),
                );
                return Ok(Err(format!(
                    "{shown}/{c} or {rs} is missing (the lab manifest lists module `{}`)",
                    module.name
                )));
            }
        }
        for (rel, text) in kbuild::kbuild_files(task, kernel.profile.module_debug_info()) {
            write_if_changed(&stage.join(rel), &text)?;
        }
        match modules::build(sandbox, &kernel.dir, &stage, &shown, task, &limits)? {
            Ok((output, made)) => (build_output, how) = (output, made),
            Err(message) => return Ok(Err(message)),
        }
        match modules::outputs(&stage, task) {
            Ok(kos) => files.extend(kos),
            Err(message) => return Ok(Err(message)),
        }
    }
    for program in &task.programs {
        match build_program(sandbox, &stage, &shown, program, &limits)? {
            Ok(binary) => files.push((program.name.clone(), binary)),
            Err(message) => return Ok(Err(message)),
        }
    }
    for file in &task.files {
        let path = stage.join(file);
        if !path.is_file() {
            return Ok(Err(format!(
                "{shown}/{file} is missing (the lab manifest lists it in `files`)"
            )));
        }
        let name = file.rsplit('/').next().unwrap_or(file);
        files.push((name.to_owned(), path));
    }
    let script = sel.lab.test_script(task);
    if !script.is_file() {
        anyhow::bail!(
            "{} is missing: every task needs a test script",
            paths.show(&script)
        );
    }
    files.push(("test.sh".to_owned(), script));
    // `stress` runs it in the guest; a task without one ships none.
    let stress = sel.lab.stress_script(task);
    if stress.is_file() {
        files.push(("stress.sh".to_owned(), stress));
    }
    Ok(Ok(BuiltTask {
        files,
        warnings,
        built_at: stage.clone(),
        stage,
        build_output,
        how,
    }))
}

/// The lab's `requires_config` options the kernel's `.config` lacks, as the message that
/// says where to add them; `None` when all are set.
fn missing_config(kernel: &KernelTree, sel: &Selected) -> Result<Option<String>> {
    let required = &sel.lab.manifest.requires_config;
    if required.is_empty() {
        return Ok(None);
    }
    let path = kernel.dir.join(".config");
    let config = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} (lab.toml `requires_config`)", path.display()))?;
    let missing = crate::kernel::kconfig::missing(&config, required);
    if missing.is_empty() {
        return Ok(None);
    }
    Ok(Some(crate::kernel::kconfig::explain(
        &sel.lab.name,
        &missing,
        "kernel/lean.config",
    )))
}
