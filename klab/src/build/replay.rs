//! Rebuilding a task without kbuild's fixed cost: after a successful kbuild run, a rebuild
//! in which only the student's sources changed replays the commands kbuild recorded in its
//! `.cmd` files (the changed objects, a composite module's link, modpost, the `.mod.o` when
//! modpost's output changed, the final link), in one sandboxed shell.
//!
//! What was built from what is kept in the stage's `.klab-built` ([`Inputs`]): the kernel
//! and a hash of every source, header and Kbuild file. Anything else changed (the kernel,
//! the Kbuild text, a file added or removed, a changed file no object depends on) is a full
//! kbuild run, as is a replayed step that fails (kbuild then says why, as always). Must never
//! run a command kbuild did not record, nor anything outside the sandbox.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::build::sandbox::{Finished, Job, Limits, Sandbox};

/// Where the inputs of the stage's last successful build are recorded.
pub const RECORD: &str = ".klab-built";
/// The first line of a record.
const RECORD_FORMAT: &str = "klab-built 2";
/// Left in the stage by a build that was replayed (removed by a kbuild run): how tests and
/// bench tell the two apart.
pub const REPLAYED: &str = ".klab-replayed";

/// The inputs of a build: the kernel (its folder and `Module.symvers`), and a hash of each
/// source, header and Kbuild file of the stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inputs {
    pub kernel: String,
    pub files: BTreeMap<PathBuf, u64>,
}

/// What a rebuild needs.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    /// Nothing changed since the last successful build.
    UpToDate,
    /// Only these sources (or headers) changed: replay.
    Replay(Vec<PathBuf>),
    /// A kbuild run.
    Full,
}

/// Whether a stage file is an input of the build: anything but what kbuild and klab write
/// there (objects, modules, kbuild's `.cmd`/`.mod`/`.mod.c`/`modules.order`/`Module.symvers`,
/// the compilers' `.d` dependency files, which a replay leaves where kbuild's fixdep would
/// have folded them into the `.cmd`,
/// test program binaries `X.klab-program`, klab's own `.klab-*` records). A student file of any other kind
/// (`include_bytes!` data, an assembler source) counts: changed, it is replayed when an
/// object depends on it and is a kbuild run otherwise.
fn is_input(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let output = [
        ".o",
        ".ko",
        ".mod",
        ".mod.c",
        ".cmd",
        ".d",
        ".klab-program",
        ".order",
        ".symvers",
    ]
    .iter()
    .any(|ext| name.ends_with(ext))
        || name.starts_with(".klab-")
        || name == "Module.symvers";
    !output
}

/// Removes everything but the inputs from the stage (objects, modules, kbuild's and klab's
/// records): what a build against another kernel must not reuse.
pub fn clean_outputs(stage: &Path) -> Result<()> {
    for entry in walkdir::WalkDir::new(stage)
        .into_iter()
        .filter_map(|e| e.ok())
    {
        let path = entry.path();
        if entry.file_type().is_file() && !is_input(path) {
            std::fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    Ok(())
}

impl Inputs {
    /// The inputs as they are now.
    pub fn read(stage: &Path, kdir: &Path) -> Result<Inputs> {
        let mut files = BTreeMap::new();
        for entry in walkdir::WalkDir::new(stage)
            .into_iter()
            .filter_map(|e| e.ok())
        {
            let path = entry.path();
            if entry.file_type().is_file() && is_input(path) {
                let bytes =
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                files.insert(path.to_path_buf(), crate::kernel::fnv64(&[&bytes]));
            }
        }
        let symvers = std::fs::metadata(kdir.join("Module.symvers"))
            .map(|m| (m.len(), m.modified().ok()))
            .ok();
        Ok(Inputs {
            kernel: format!("{} {symvers:?}", kdir.display()),
            files,
        })
    }

    /// The record written by [`Inputs::save`], or `None` (no build yet, or another format).
    pub fn load(stage: &Path) -> Option<Inputs> {
        let text = std::fs::read_to_string(stage.join(RECORD)).ok()?;
        let mut lines = text.lines();
        // Records of an earlier format (before a kernel change cleaned the stage) are no
        // record: their stage is built again from scratch.
        if lines.next()? != RECORD_FORMAT {
            return None;
        }
        let kernel = lines.next()?.strip_prefix("kernel ")?.to_owned();
        let mut files = BTreeMap::new();
        for line in lines {
            let (hash, path) = line.split_once(' ')?;
            files.insert(PathBuf::from(path), u64::from_str_radix(hash, 16).ok()?);
        }
        Some(Inputs { kernel, files })
    }

    pub fn save(&self, stage: &Path) -> Result<()> {
        let mut text = format!("{RECORD_FORMAT}\nkernel {}\n", self.kernel);
        for (path, hash) in &self.files {
            text.push_str(&format!("{hash:016x} {}\n", path.display()));
        }
        crate::atomic_file::write(&stage.join(RECORD), text.as_bytes())
    }

    /// What it takes to go from the build that had `self` to `now`.
    pub fn plan(&self, now: &Inputs) -> Plan {
        if self.kernel != now.kernel || !self.files.keys().eq(now.files.keys()) {
            return Plan::Full;
        }
        let changed: Vec<PathBuf> = now
            .files
            .iter()
            .filter(|(p, h)| self.files.get(*p) != Some(h))
            .map(|(p, _)| p.clone())
            .collect();
        if changed.is_empty() {
            Plan::UpToDate
        } else if changed
            .iter()
            .any(|p| p.file_name().is_some_and(|n| n == "Kbuild"))
        {
            Plan::Full
        } else {
            Plan::Replay(changed)
        }
    }
}

/// One `.cmd` file: the target, the command that made it, and what it was made from.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub target: PathBuf,
    pub command: String,
    pub deps: Vec<PathBuf>,
}

/// Parses a `.cmd` file. Relative dependency paths are the kernel tree's.
pub fn parse_cmd(text: &str, kdir: &Path) -> Option<Recorded> {
    let mut target = None;
    let mut command = None;
    let mut deps = Vec::new();
    let mut in_deps = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("savedcmd_") {
            let (t, c) = rest.split_once(" := ")?;
            target = Some(PathBuf::from(t));
            // make's `$$` is the shell's `$`.
            command = Some(c.replace("$$", "$"));
        } else if let Some(rest) = line.strip_prefix("source_") {
            let (_, src) = rest.split_once(" := ")?;
            deps.push(absolute(src.trim(), kdir));
        } else if line.starts_with("deps_") {
            in_deps = true;
        } else if in_deps {
            let item = line.trim().trim_end_matches('\\').trim();
            if item.is_empty() || line.starts_with(|c: char| !c.is_whitespace()) {
                in_deps = false;
            } else if !item.starts_with("$(") {
                deps.push(absolute(item, kdir));
            }
        }
    }
    Some(Recorded {
        target: target?,
        command: command?,
        deps,
    })
}

fn absolute(path: &str, kdir: &Path) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        kdir.join(p)
    }
}

/// Every `.cmd` file kbuild left in the stage.
pub fn recorded(stage: &Path, kdir: &Path) -> Vec<Recorded> {
    let mut out: Vec<Recorded> = walkdir::WalkDir::new(stage)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy();
            e.file_type().is_file() && name.starts_with('.') && name.ends_with(".cmd")
        })
        .filter_map(|e| parse_cmd(&std::fs::read_to_string(e.path()).ok()?, kdir))
        .collect();
    out.sort_by(|a, b| a.target.cmp(&b.target));
    out
}

/// Whether `command` names `path`: as a word, or in a `@FILE` list of paths (kbuild links
/// a composite module's parts from its `.mod` file).
fn mentions(command: &str, path: &Path) -> bool {
    let p = path.to_string_lossy();
    command.split_whitespace().any(|w| {
        w == p
            || w.strip_prefix('@').is_some_and(|list| {
                std::fs::read_to_string(list).is_ok_and(|t| t.lines().any(|l| l.trim() == p))
            })
    })
}

/// The commands that rebuild the stage after `changed` changed, in kbuild's order, or `None`
/// when replaying cannot be trusted (a changed file no recorded object depends on, no
/// modpost or link command recorded).
pub fn commands(recorded: &[Recorded], changed: &[PathBuf]) -> Option<Steps> {
    let name = |r: &Recorded| r.target.to_string_lossy().into_owned();
    let is_object = |r: &Recorded| {
        let n = name(r);
        n.ends_with(".o") && !n.ends_with(".mod.o") && !n.ends_with("module-common.o")
    };
    let compiled: Vec<&Recorded> = recorded
        .iter()
        .filter(|r| is_object(r) && r.deps.iter().any(|d| changed.contains(d)))
        .collect();
    // Every changed file must be an input of some object, or we do not know what it feeds.
    if !changed
        .iter()
        .all(|c| compiled.iter().any(|r| r.deps.contains(c)))
    {
        return None;
    }
    let mut stale: Vec<&Path> = compiled.iter().map(|r| r.target.as_path()).collect();
    let mut before = compiled
        .iter()
        .map(|r| r.command.clone())
        .collect::<Vec<_>>();
    // A composite module's object links its parts (`ld -r`).
    for r in recorded
        .iter()
        .filter(|r| is_object(r) && !compiled.iter().any(|c| c.target == r.target))
    {
        if stale.iter().any(|s| mentions(&r.command, s)) {
            before.push(r.command.clone());
            stale.push(&r.target);
        }
    }
    let modpost = recorded
        .iter()
        .find(|r| name(r).ends_with("/Module.symvers"))?;
    let mod_objects: Vec<(PathBuf, String)> = recorded
        .iter()
        .filter(|r| name(r).ends_with(".mod.o"))
        .map(|r| (r.target.with_extension("c"), r.command.clone()))
        .collect();
    let links: Vec<String> = recorded
        .iter()
        .filter(|r| name(r).ends_with(".ko"))
        .map(|r| r.command.clone())
        .collect();
    if links.is_empty() {
        return None;
    }
    Some(Steps {
        compile: before,
        modpost: modpost.command.clone(),
        mod_objects,
        link: links,
    })
}

/// A replay, in kbuild's order.
#[derive(Debug, Clone)]
pub struct Steps {
    /// The changed objects, then the composite objects that link them.
    pub compile: Vec<String>,
    pub modpost: String,
    /// `(X.mod.c, the command building X.mod.o)`: rebuilt when modpost changed the `.mod.c`.
    pub mod_objects: Vec<(PathBuf, String)>,
    pub link: Vec<String>,
}

/// The one shell script every replay runs: `$1` is the kernel tree, then one recorded
/// command per argument, evaluated in order, as kbuild runs them (`sh -c`, in the kernel
/// tree, with the variables the kernel's Makefile exports that its commands read: rustc's
/// unstable options, clippy's configuration, the tree's paths). `set -e` stops at the first
/// failing part of a command (`rustc …; objtool …` must not hide rustc's failure). Nothing
/// is interpolated into it.
const SCRIPT: &str = r#"set -e
cd "$1"
shift
export RUSTC_BOOTSTRAP=1 srctree=. objtree=. CLIPPY_CONF_DIR=.
for c in "$@"; do eval "$c"; done"#;

/// Runs `commands` in the sandbox, in the kernel tree.
fn run_in_sandbox(
    sandbox: &Sandbox,
    kdir: &Path,
    stage: &Path,
    readable: &[&Path],
    commands: &[String],
    limits: &Limits,
) -> Result<Finished> {
    let mut args: Vec<OsString> = vec!["-c".into(), SCRIPT.into(), "sh".into(), kdir.into()];
    args.extend(commands.iter().map(OsString::from));
    let job = Job {
        program: "sh",
        args,
        writable: Some(stage),
        readable: readable.to_vec(),
    };
    sandbox.run(&job, limits)
}

/// Replays `steps`; `Ok(None)` when a step failed (the caller runs kbuild), else the
/// compilers' output (warnings).
pub fn replay(
    sandbox: &Sandbox,
    kdir: &Path,
    stage: &Path,
    readable: &[&Path],
    steps: &Steps,
    limits: &Limits,
) -> Result<Option<String>> {
    let mod_c_before: Vec<Option<Vec<u8>>> = steps
        .mod_objects
        .iter()
        .map(|(c, _)| std::fs::read(c).ok())
        .collect();
    let mut first = steps.compile.clone();
    first.push(steps.modpost.clone());
    let done = run_in_sandbox(sandbox, kdir, stage, readable, &first, limits)?;
    if !done.success {
        return Ok(None);
    }
    let mut output = done.output;
    let mut second: Vec<String> = steps
        .mod_objects
        .iter()
        .zip(&mod_c_before)
        .filter(|((c, _), before)| std::fs::read(c).ok() != **before)
        .map(|((_, cmd), _)| cmd.clone())
        .collect();
    second.extend(steps.link.iter().cloned());
    let done = run_in_sandbox(sandbox, kdir, stage, readable, &second, limits)?;
    if !done.success {
        return Ok(None);
    }
    output.push_str(&done.output);
    Ok(Some(output))
}

#[cfg(test)]
mod tests;
