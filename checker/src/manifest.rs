//! Lab manifests: `labs/<lab>/lab.toml`, the one file that says what a lab's tasks are.
//!
//! Adding a lab is adding a folder; the harness knows nothing lab-specific.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::naming::{is_safe_name, is_safe_relative_path, SAFE_NAME_RULE};
use crate::normalize::Filter;
use crate::params::Params;

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
    pub tasks: Vec<TaskManifest>,
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
    /// Kernel modules: `foo` is built from `foo.c` or `foo.rs` in the task folder.
    #[serde(default)]
    pub modules: Vec<String>,
    /// User-space test programs (C sources, relative to the task folder), built static.
    #[serde(default)]
    pub programs: Vec<String>,
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
    pub checks: Vec<crate::rubric::Check>,
    /// Files a grader takes from a submission (relative to the task folder); everything else
    /// comes from the generated skeleton. Default: the modules' `.c`/`.rs` sources.
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
            for module in &task.modules {
                if !is_safe_name(module) || module.contains('.') {
                    bail!(
                        "task `{}`: `modules` entry `{module}` must be letters, digits, `_` or `-`, starting with a letter or a digit",
                        task.name
                    );
                }
            }
            for program in &task.programs {
                let binary = TaskManifest::program_binary_name(program);
                if !program.ends_with(".c")
                    || !is_safe_relative_path(program)
                    || !is_safe_name(binary)
                {
                    bail!(
                        "task `{}`: `programs` entry `{program}` must be a relative path to a .c file, each part {SAFE_NAME_RULE}",
                        task.name
                    );
                }
            }
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
            crate::normalize::Normalizer::new(&task.filters).with_context(|| {
                format!("task `{}`: a filter regex does not compile", task.name)
            })?;
            crate::rubric::validate(task).with_context(|| format!("task `{}`", task.name))?;
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
        let file = program.rsplit('/').next().unwrap_or(program);
        file.strip_suffix(".c").unwrap_or(file)
    }
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
mod tests {
    use super::*;

    fn lab_from(toml_text: &str) -> Result<Lab> {
        let dir = tempfile::tempdir()?;
        let lab_dir = dir.path().join("demo");
        std::fs::create_dir(&lab_dir)?;
        std::fs::write(lab_dir.join("lab.toml"), toml_text)?;
        Lab::load(&lab_dir)
    }

    #[test]
    fn a_minimal_manifest_loads_with_defaults() {
        let lab = lab_from(
            "title = 'Demo'\nlanguage = 'rust'\n[[tasks]]\nname = '1-hello'\nmodules = ['hello']\n",
        )
        .unwrap();
        assert_eq!(lab.name, "demo");
        let task = lab.task("1-hello").unwrap();
        assert_eq!(task.timeout_secs, DEFAULT_TASK_TIMEOUT_SECS);
        assert!(lab
            .snapshot_path(task)
            .ends_with("demo/snapshots/1-hello.snap"));
    }

    #[test]
    fn unknown_fields_are_errors_naming_the_file() {
        let err = lab_from("title = 'Demo'\nlanguage = 'c'\n[[tasks]]\nname = 'a'\nmodulez = []\n")
            .unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("lab.toml") && text.contains("modulez"),
            "{text}"
        );
    }

    #[test]
    fn duplicate_tasks_and_bad_names_are_rejected() {
        let dup = "title = 'D'\nlanguage = 'c'\n[[tasks]]\nname = 'a'\n[[tasks]]\nname = 'a'\n";
        assert!(format!("{:#}", lab_from(dup).unwrap_err()).contains("listed twice"));
        let bad = "title = 'D'\nlanguage = 'c'\n[[tasks]]\nname = '../x'\n";
        assert!(format!("{:#}", lab_from(bad).unwrap_err()).contains("plain folder name"));
        let prog = "title = 'D'\nlanguage = 'c'\n[[tasks]]\nname = 'a'\nprograms = ['../evil.c']\n";
        assert!(format!("{:#}", lab_from(prog).unwrap_err()).contains("relative path"));
    }

    #[test]
    fn names_that_would_reach_a_shell_or_climb_a_path_are_rejected_naming_the_field() {
        let task =
            |field: &str| format!("title = 'D'\nlanguage = 'c'\n[[tasks]]\nname = 'a'\n{field}\n");
        for (field, named) in [
            ("modules = ['-f']", "`modules` entry `-f`"),
            ("modules = ['x; poweroff']", "`modules` entry"),
            ("modules = ['a.b']", "`modules` entry `a.b`"),
            ("programs = ['user/../../x.c']", "`programs` entry"),
            ("programs = ['user/$(id).c']", "`programs` entry"),
            ("programs = ['user/-x.c']", "`programs` entry"),
            (
                "student_files = ['../../etc/passwd']",
                "`student_files` entry",
            ),
        ] {
            let text = format!("{:#}", lab_from(&task(field)).unwrap_err());
            assert!(
                text.contains("lab.toml") && text.contains(named),
                "{field}: {text}"
            );
        }
        for name in ["a b", "-x", "$(id)", "a..b"] {
            let bad = format!("title = 'D'\nlanguage = 'c'\n[[tasks]]\nname = '{name}'\n");
            let text = format!("{:#}", lab_from(&bad).unwrap_err());
            assert!(text.contains("task name"), "{name}: {text}");
        }
        let dir = tempfile::tempdir().unwrap();
        let lab_dir = dir.path().join("my lab");
        std::fs::create_dir(&lab_dir).unwrap();
        std::fs::write(
            lab_dir.join("lab.toml"),
            "title = 'D'\nlanguage = 'c'\ntasks = []\n",
        )
        .unwrap();
        let text = format!("{:#}", Lab::load(&lab_dir).unwrap_err());
        assert!(
            text.contains("lab.toml") && text.contains("folder name `my lab`"),
            "{text}"
        );
        let ok = task("modules = ['udp_sock', 'tcp-sock']\nprograms = ['user/test.c']");
        assert!(lab_from(&ok).is_ok());
    }

    #[test]
    fn scripts_can_come_from_another_lab() {
        let lab = lab_from(
            "title = 'D'\nlanguage = 'rust'\nscripts_from = 'demo-c'\n[[tasks]]\nname = '1-a'\n",
        )
        .unwrap();
        let task = lab.task("1-a").unwrap();
        assert!(
            lab.test_script(task).ends_with("demo-c/1-a/test.sh"),
            "{}",
            lab.test_script(task).display()
        );
        assert!(lab.stress_script(task).ends_with("demo-c/1-a/stress.sh"));
        assert!(lab_from("title = 'D'\nlanguage = 'c'\nscripts_from = '../x'\n").is_err());
    }

    #[test]
    fn params_load_and_a_scripts_from_lab_takes_the_other_labs() {
        let dir = tempfile::tempdir().unwrap();
        let write = |lab: &str, text: &str| {
            std::fs::create_dir_all(dir.path().join(lab)).unwrap();
            std::fs::write(dir.path().join(lab).join("lab.toml"), text).unwrap();
        };
        let tasks = "[[tasks]]\nname = '1-a'\n";
        write(
            "c",
            &format!("title = 'C'\nlanguage = 'c'\n[params.PORT]\nkind = 'port'\ndefault = 60000\n{tasks}"),
        );
        write(
            "rust",
            &format!("title = 'R'\nlanguage = 'rust'\nscripts_from = 'c'\n{tasks}"),
        );
        let c = Lab::load(&dir.path().join("c")).unwrap();
        let rust = Lab::load(&dir.path().join("rust")).unwrap();
        assert_eq!(c.manifest.params.defaults().get("PORT"), Some("60000"));
        assert_eq!(
            rust.manifest.params.defaults(),
            c.manifest.params.defaults()
        );

        write(
            "both",
            &format!("title = 'R'\nlanguage = 'rust'\nscripts_from = 'c'\n[params.N]\nkind = 'int'\ndefault = 1\nmin = 2\nmax = 3\n{tasks}"),
        );
        let e = format!("{:#}", Lab::load(&dir.path().join("both")).unwrap_err());
        assert!(
            e.contains("both/lab.toml") && e.contains("labs/c/lab.toml"),
            "{e}"
        );

        write(
            "bad",
            &format!("title = 'B'\nlanguage = 'c'\n[params.N]\nkind = 'int'\ndefault = 1\nmin = 5\nmax = 3\n{tasks}"),
        );
        let e = format!("{:#}", Lab::load(&dir.path().join("bad")).unwrap_err());
        assert!(e.contains("bad/lab.toml") && e.contains("params.N"), "{e}");
    }

    #[test]
    fn program_binary_names() {
        assert_eq!(TaskManifest::program_binary_name("user/test.c"), "test");
        assert_eq!(TaskManifest::program_binary_name("probe.c"), "probe");
    }
}
