//! Lab manifests: `labs/<lab>/lab.toml`, the one file that says what a lab's tasks are.
//!
//! Adding a lab is adding a folder; the harness knows nothing lab-specific.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::judge::normalize::Filter;
use crate::lab::naming::{is_safe_name, is_safe_relative_path, SAFE_NAME_RULE};
use crate::lab::params::Params;

mod module;
mod program;

pub use module::Module;
pub use program::Program;

/// Default per-task time limit inside the VM.
pub const DEFAULT_TASK_TIMEOUT_SECS: u64 = 30;

/// Default wall-clock limit of one task's build on the host (modules and programs).
pub const DEFAULT_BUILD_TIMEOUT_SECS: u64 = 120;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabManifest {
    pub title: String,
    /// `c` or `rust`: informational (kbuild picks the compiler per source file).
    pub language: String,
    /// Take the tasks' test and stress scripts from this other lab (same task names), so that
    /// two tracks of one lab (C and Rust) are checked by the very same scripts.
    #[serde(default)]
    pub scripts_from: Option<String>,
    /// Wall-clock limit of each task's build in the sandbox (default 120 s).
    #[serde(default = "default_build_timeout")]
    pub build_timeout_secs: u64,
    /// Lab parameters (`[params.NAME]`): `check` runs with their defaults, `grade` draws
    /// fresh values per submission. A `scripts_from` lab takes the other lab's.
    #[serde(default)]
    pub params: Params,
    /// Kernel options the lab's modules need (`CONFIG_KPROBES`), checked against the lab
    /// kernel's `.config` before building.
    #[serde(default)]
    pub requires_config: Vec<String>,
    /// How `grade` scores beyond the tasks' checks.
    #[serde(default)]
    pub grading: Grading,
    pub tasks: Vec<TaskManifest>,
}

/// `[grading]` in lab.toml.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grading {
    /// Points for the kernel's style (checkpatch, rustfmt, rustc and clippy warnings over the
    /// student's files), scored by `grade` as a test of its own: full points with no finding,
    /// a fifth less per finding, none from five findings on. Default 0: style findings are
    /// shown, never scored.
    #[serde(default)]
    pub style_points: f64,
}

fn default_build_timeout() -> u64 {
    DEFAULT_BUILD_TIMEOUT_SECS
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskManifest {
    pub name: String,
    #[serde(default)]
    pub summary: String,
    /// Kernel modules: `foo` is built from `foo.c` or `foo.rs` in the task folder, or as a
    /// `[[tasks.modules]]` table says.
    #[serde(default)]
    pub modules: Vec<Module>,
    /// User-space test programs: a C source relative to the task folder, or a
    /// `[[tasks.programs]]` table; built static.
    #[serde(default)]
    pub programs: Vec<Program>,
    /// Extra files of the task folder copied next to the task in the guest (as their file
    /// name: `data/input.txt` → `input.txt`).
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    #[serde(default)]
    pub filters: Vec<Filter>,
    /// Points for the task when graded (`cargo xtask grade`); default 1, or the sum of the
    /// checks' points.
    #[serde(default)]
    pub points: Option<f64>,
    /// Independent checks with partial credit; without any, the whole snapshot decides.
    #[serde(default)]
    pub checks: Vec<crate::judge::rubric::Check>,
    /// Files a grader takes from a submission (relative to the task folder); everything else
    /// comes from the generated skeleton. Default: every module source (and the `mod` files
    /// beside a Rust crate root).
    #[serde(default)]
    pub student_files: Vec<String>,
}

fn default_timeout() -> u64 {
    DEFAULT_TASK_TIMEOUT_SECS
}

/// A lab on disk: its name (the folder), its manifest and where it lives.
#[derive(Debug, Clone)]
pub struct Lab {
    pub name: String,
    pub dir: PathBuf,
    pub manifest: LabManifest,
}

impl Lab {
    pub fn load(dir: &Path) -> Result<Lab> {
        let path = dir.join("lab.toml");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let mut manifest: LabManifest =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        inherit_params(dir, &mut manifest).with_context(|| format!("in {}", path.display()))?;
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("lab folder {} has no UTF-8 name", dir.display()))?
            .to_owned();
        let lab = Lab {
            name,
            dir: dir.to_owned(),
            manifest,
        };
        lab.validate()
            .with_context(|| format!("in {}", path.display()))?;
        Ok(lab)
    }

    fn validate(&self) -> Result<()> {
        if !is_safe_name(&self.name) {
            bail!(
                "the lab's folder name `{}` must be {SAFE_NAME_RULE}",
                self.name
            );
        }
        if let Some(other) = &self.manifest.scripts_from {
            if !is_safe_name(other) {
                bail!("scripts_from `{other}` must be the name of another lab ({SAFE_NAME_RULE})");
            }
        }
        if !(1..=3600).contains(&self.manifest.build_timeout_secs) {
            bail!("build_timeout_secs must be between 1 and 3600");
        }
        let style = self.manifest.grading.style_points;
        if !(style.is_finite() && (0.0..=1000.0).contains(&style)) {
            bail!("[grading] style_points must be a number of points between 0 and 1000");
        }
        for option in &self.manifest.requires_config {
            if !crate::kernel::kconfig::is_option_name(option) {
                bail!("`requires_config` entry `{option}` must be a kernel option as .config names it (`CONFIG_KPROBES`)");
            }
        }
        let mut seen = std::collections::HashSet::new();
        for task in &self.manifest.tasks {
            if !seen.insert(&task.name) {
                bail!("task `{}` is listed twice", task.name);
            }
            // Names reach guest commands (`cd /lab/{lab}/{task}`, `rmmod {module}`) and host
            // paths: nothing a shell would expand, no option, no climbing path.
            if !is_safe_name(&task.name) {
                bail!(
                    "task name `{}` must be a plain folder name: {SAFE_NAME_RULE}",
                    task.name
                );
            }
            validate_builds(task).with_context(|| format!("task `{}`", task.name))?;
            for file in &task.student_files {
                if !is_safe_relative_path(file) {
                    bail!(
                        "task `{}`: `student_files` entry `{file}` must be a relative path, each part {SAFE_NAME_RULE}",
                        task.name
                    );
                }
            }
            if task.timeout_secs == 0 {
                bail!("task `{}`: timeout_secs must be at least 1", task.name);
            }
            crate::judge::normalize::Normalizer::new(&task.filters).with_context(|| {
                format!("task `{}`: a filter regex does not compile", task.name)
            })?;
            crate::judge::rubric::validate(task)
                .with_context(|| format!("task `{}`", task.name))?;
        }
        let replacements = self.manifest.tasks.iter().flat_map(|t| &t.filters);
        self.manifest
            .params
            .validate(replacements.map(|f| f.replacement.as_str()))?;
        Ok(())
    }

    pub fn task(&self, name: &str) -> Option<&TaskManifest> {
        self.manifest.tasks.iter().find(|t| t.name == name)
    }

    /// The test script of a task, instructor-owned: `labs/<lab>/<task>/test.sh`, or the
    /// `scripts_from` lab's.
    pub fn test_script(&self, task: &TaskManifest) -> PathBuf {
        self.scripts_dir(task).join("test.sh")
    }

    /// The optional stress script of a task (`cargo xtask stress`).
    pub fn stress_script(&self, task: &TaskManifest) -> PathBuf {
        self.scripts_dir(task).join("stress.sh")
    }

    fn scripts_dir(&self, task: &TaskManifest) -> PathBuf {
        match (&self.manifest.scripts_from, self.dir.parent()) {
            (Some(other), Some(labs)) => labs.join(other).join(&task.name),
            _ => self.dir.join(&task.name),
        }
    }

    /// Where the reviewed snapshot of a task lives.
    pub fn snapshot_path(&self, task: &TaskManifest) -> PathBuf {
        self.dir
            .join("snapshots")
            .join(format!("{}.snap", task.name))
    }
}

impl TaskManifest {
    /// The binary name a program source becomes in the guest: `user/test.c` → `test`.
    pub fn program_binary_name(program: &str) -> &str {
        program::binary_name(program)
    }
}

/// A task's modules, programs and `files`: each valid, and no two of them the same name in
/// the guest task folder.
fn validate_builds(task: &TaskManifest) -> Result<()> {
    let mut guest_names = std::collections::HashSet::from(["test.sh".to_owned()]);
    let mut claim = |name: String, field: &str| -> Result<()> {
        if !guest_names.insert(name.clone()) {
            bail!("`{field}`: `{name}` is a second file of that name in the guest task folder");
        }
        Ok(())
    };
    for module in &task.modules {
        module.validate()?;
        claim(format!("{}.ko", module.name), "modules")?;
    }
    for program in &task.programs {
        program.validate()?;
        claim(program.name.clone(), "programs")?;
    }
    for file in &task.files {
        let name = file.rsplit('/').next().unwrap_or(file);
        if !is_safe_relative_path(file) {
            bail!("`files` entry `{file}` must be a relative path, each part {SAFE_NAME_RULE}");
        }
        claim(name.to_owned(), "files")?;
    }
    Ok(())
}

/// A `scripts_from` lab runs the other lab's scripts, so it takes that lab's parameters
/// (declaring its own would let the two tracks drift apart).
fn inherit_params(dir: &Path, manifest: &mut LabManifest) -> Result<()> {
    let (Some(other), Some(labs)) = (&manifest.scripts_from, dir.parent()) else {
        return Ok(());
    };
    if !manifest.params.is_empty() {
        bail!("params: this lab takes its scripts, and so their parameters, from `{other}`; declare them in labs/{other}/lab.toml");
    }
    let path = labs.join(other).join("lab.toml");
    if !path.is_file() {
        return Ok(()); // no scripts either: the lab lint reports the missing test.sh
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let source: LabManifest = toml::from_str(&text)
        .with_context(|| format!("parsing {} (scripts_from)", path.display()))?;
    manifest.params = source.params;
    Ok(())
}

/// Every lab under `labs_dir`, sorted by name.
pub fn discover(labs_dir: &Path) -> Result<Vec<Lab>> {
    let mut labs = Vec::new();
    let entries =
        std::fs::read_dir(labs_dir).with_context(|| format!("reading {}", labs_dir.display()))?;
    for entry in entries {
        let dir = entry?.path();
        if dir.join("lab.toml").is_file() {
            labs.push(Lab::load(&dir)?);
        }
    }
    labs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(labs)
}

#[cfg(test)]
mod tests;
