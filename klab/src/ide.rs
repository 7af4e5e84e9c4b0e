//! `cargo xtask ide` (and the end of `cargo xtask skels`): editor support in each task folder,
//! from the lab kernel's own generators. A Rust task gets `rust-project.json` for
//! rust-analyzer, a C task `compile_commands.json` for clangd; both name the student's real
//! files (`skels/…`, or `templates/…` with `--solution`), never a build stage.
//!
//! The generators run in the sandbox, over an IDE stage under `target/klab/ide/` that holds
//! the Kbuild the harness writes and an empty file per module (`filter.rs`, `filter.c`): what
//! they produce depends on the file names and on the kernel, not on what the files say, so no
//! student code is read, compiled or run. `make M=<stage> rust-analyzer` writes the Rust
//! project (then fixed for rust-analyzer, see `rust_project`); for C, kbuild compiles the
//! empty module file (`make M=<stage> filter.o`) and `scripts/clang-tools/
//! gen_compile_commands.py` turns the `.cmd` file kbuild wrote into compile commands.
//!
//! The files are regenerated every time: they are generated, not the student's work, and they
//! are never part of a skeleton or a submission.

mod compile_commands;
mod rust_project;
mod shell_words;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::build::write_if_changed;
use crate::lab::selection::Selected;
use anyhow::{bail, Context, Result};

use crate::build::sandbox::{Job, Limits, Sandbox};
use crate::build::SourceRoot;
use crate::events::{Step, StepKind};
use crate::kernel::KernelTree;
use crate::paths::Paths;
use crate::run::Workspace;

pub const RUST_PROJECT: &str = "rust-project.json";
pub const COMPILE_COMMANDS: &str = "compile_commands.json";

/// Whether `rel` (relative to a task folder) is editor state rather than a source: the files
/// written here, and the index clangd keeps beside `compile_commands.json` (`.cache/`).
pub fn is_editor_file(rel: &Path) -> bool {
    let first = rel.components().next().map(|c| c.as_os_str());
    let name = rel.file_name();
    first.is_some_and(|c| c == ".cache")
        || name.is_some_and(|n| n == RUST_PROJECT || n == COMPILE_COMMANDS)
}

/// `cargo xtask ide [SEL] [--solution]`.
pub fn run(ctx: &Workspace, select: &[String], solution: bool) -> Result<bool> {
    let selected = ctx.select(select)?;
    let kernel = ctx.kernel()?;
    let source = ctx.source(solution);
    write_all(ctx, &kernel, &source, &selected)?;
    Ok(true)
}

/// After `cargo xtask skels`: the editor files too, if the lab kernel is there already (a
/// kernel build is not for `skels` to start).
pub fn after_skels(ctx: &Workspace, selected: &[Selected]) -> Result<()> {
    let Some(kernel) = ctx.kernel_if_built()? else {
        ctx.reporter().note(
            "editor files: the lab kernel is not built yet; once it is (`cargo xtask setup`), \
             run `cargo xtask ide` (see skels/README.md)"
                .into(),
        );
        return Ok(());
    };
    write_all(ctx, &kernel, &ctx.source(false), selected)
}

fn write_all(
    ctx: &Workspace,
    kernel: &KernelTree,
    source: &SourceRoot,
    selected: &[Selected],
) -> Result<()> {
    let step = Step::start(
        ctx.reporter(),
        StepKind::Skeletons,
        format!(
            "writing editor files for {} task(s) (the kernel's generators, in the sandbox)",
            selected.len()
        ),
    );
    let sandbox = ctx.sandbox()?;
    for sel in selected {
        let written = for_task(&sandbox, &ctx.paths, kernel, source, sel)
            .with_context(|| format!("writing the editor files of {}", sel.id()))?;
        for file in written {
            step.tick(&ctx.paths.show(&file));
        }
    }
    step.done();
    Ok(())
}

/// What a module of a task is written in, by the file the task folder has for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Language {
    Rust,
    C,
}

fn for_task(
    sandbox: &Sandbox,
    paths: &Paths,
    kernel: &KernelTree,
    source: &SourceRoot,
    sel: &Selected,
) -> Result<Vec<PathBuf>> {
    let (lab, task) = (&sel.lab.name, &sel.task.name);
    let dir = source.dir.join(lab).join(task);
    if !dir.is_dir() {
        bail!(
            "{} does not exist: generate it with `cargo xtask skels {}`",
            paths.show(&dir),
            sel.id()
        );
    }
    // Editors are given real, absolute paths.
    let task_dir = dir
        .canonicalize()
        .with_context(|| format!("resolving {}", paths.show(&dir)))?;
    // Each module's language and its sources (relative to the task folder).
    let modules: Vec<(Language, Vec<String>)> = sel
        .task
        .modules
        .iter()
        .filter_map(|m| {
            let sources = m.source_paths(&task_dir);
            let language = if sources.iter().any(|s| s.ends_with(".rs")) {
                Language::Rust
            } else if sources.iter().any(|s| s.ends_with(".c")) {
                Language::C
            } else {
                // A missing source is `build`'s to report.
                return None;
            };
            Some((language, sources))
        })
        .collect();
    if modules.is_empty() {
        return Ok(Vec::new());
    }
    let stage = fresh_stage(paths, source, sel)?;
    for (rel, text) in
        crate::build::kbuild::kbuild_files(sel.task, kernel.profile.module_debug_info())
    {
        let file = stage.join(&rel);
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
    }
    for (_, sources) in &modules {
        for rel in sources {
            let file = stage.join(rel);
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&file, "")?;
        }
    }
    let limits = Limits::build(Duration::from_secs(sel.lab.manifest.build_timeout_secs));
    let kdir = &kernel.dir;
    let make = |goals: Vec<String>| -> Vec<std::ffi::OsString> {
        let mut args: Vec<std::ffi::OsString> = vec![
            "-C".into(),
            kdir.into(),
            "LLVM=1".into(),
            format!("M={}", stage.display()).into(),
        ];
        args.extend(goals.into_iter().map(Into::into));
        args
    };
    let mut written = Vec::new();
    if modules.iter().any(|(l, _)| *l == Language::Rust) {
        needs(kdir, "scripts/generate_rust_analyzer.py")?;
        needs(kdir, "rust/kernel/lib.rs")?;
        // The target checks the Rust toolchain first, bindgen included (`cargo install`ed,
        // outside the sandbox's /usr): the binary alone is bound in.
        let bindgen = crate::host::find_program(Path::new("bindgen"))
            .and_then(|p| p.canonicalize().ok())
            .context("bindgen is not on PATH (`cargo xtask setup` installs it)")?;
        let job = Job {
            program: "make",
            args: make(vec![
                "rust-analyzer".into(),
                format!("BINDGEN={}", bindgen.display()),
            ]),
            writable: Some(&stage),
            readable: vec![kdir, &bindgen],
        };
        run_job(sandbox, &job, &limits, "make rust-analyzer")?;
        let generated = read(&stage.join(RUST_PROJECT))?;
        let file = task_dir.join(RUST_PROJECT);
        write_if_changed(
            &file,
            &rust_project::for_task(&generated, &stage, &task_dir)?,
        )?;
        written.push(file);
    }
    let c_objects: Vec<String> = modules
        .iter()
        .filter(|(l, _)| *l == Language::C)
        .flat_map(|(_, sources)| sources.iter())
        .filter_map(|s| s.strip_suffix(".c").map(|o| format!("{o}.o")))
        .collect();
    if !c_objects.is_empty() {
        let script = needs(kdir, "scripts/clang-tools/gen_compile_commands.py")?;
        let job = Job {
            program: "make",
            args: make(c_objects),
            writable: Some(&stage),
            readable: vec![kdir],
        };
        run_job(sandbox, &job, &limits, "make (the module objects)")?;
        let output = stage.join(COMPILE_COMMANDS);
        let job = Job {
            program: "python3",
            args: vec![
                script.into(),
                "-d".into(),
                kdir.into(),
                "-o".into(),
                output.clone().into(),
                stage.clone().into(),
            ],
            writable: Some(&stage),
            readable: vec![kdir],
        };
        run_job(sandbox, &job, &limits, "gen_compile_commands.py")?;
        let file = task_dir.join(COMPILE_COMMANDS);
        let generated = read(&output)?;
        write_if_changed(
            &file,
            &compile_commands::for_task(&generated, &stage, &task_dir, &sel.task.programs)?,
        )?;
        written.push(file);
    }
    Ok(written)
}

/// `target/klab/ide/<source>/<lab>/<task>`, empty, as a canonical path (the generators
/// resolve theirs, and entries are matched against it).
fn fresh_stage(paths: &Paths, source: &SourceRoot, sel: &Selected) -> Result<PathBuf> {
    let stage = paths
        .out
        .join("ide")
        .join(&source.label)
        .join(&sel.lab.name)
        .join(&sel.task.name);
    if stage.exists() {
        std::fs::remove_dir_all(&stage).with_context(|| format!("emptying {}", stage.display()))?;
    }
    std::fs::create_dir_all(&stage).with_context(|| format!("creating {}", stage.display()))?;
    Ok(stage.canonicalize()?)
}

/// `kdir/rel`, which a generator needs; a kernel imported from a pack may lack it.
fn needs(kdir: &Path, rel: &str) -> Result<PathBuf> {
    let path = kdir.join(rel);
    if !path.is_file() {
        bail!(
            "{} has no {rel}: a kernel imported from a pack holds only what module builds \
             need, and editor files need the kernel's full tree (build the kernel here with \
             `cargo xtask kernel build` after `cargo xtask kernel clean`)",
            kdir.display()
        );
    }
    Ok(path)
}

fn run_job(sandbox: &Sandbox, job: &Job, limits: &Limits, what: &str) -> Result<()> {
    let done = sandbox.run(job, limits)?;
    if !done.success {
        let limit = done
            .limit
            .map(|l| format!(" ({})", l.describe(limits)))
            .unwrap_or_default();
        bail!("{what} failed{limit}:\n{}", done.output.trim_end());
    }
    Ok(())
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::is_editor_file;
    use std::path::Path;

    #[test]
    fn editor_files_and_clangd_s_index_are_not_sources() {
        for rel in [
            "rust-project.json",
            "compile_commands.json",
            ".cache/clangd/index/filter.c.1234.idx",
        ] {
            assert!(is_editor_file(Path::new(rel)), "{rel}");
        }
        for rel in [
            "filter.rs",
            "filter.c",
            "user/test.c",
            "user/.cache.c",
            "project.json",
        ] {
            assert!(!is_editor_file(Path::new(rel)), "{rel}");
        }
    }
}
