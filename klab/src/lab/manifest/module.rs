//! A task's kernel module in `lab.toml`: a plain name (`"hello"`: `hello.c` or `hello.rs` in
//! the task folder) or a `[[tasks.modules]]` table that names its sources, its folder and
//! the C flags the instructor wants (never the student: ccflags come only from `labs/`).

use std::path::Path;

use anyhow::{bail, Result};
use serde::{de, Deserialize, Deserializer};

use crate::lab::naming::{is_safe_name, is_safe_relative_path, SAFE_NAME_RULE};

/// One kernel module of a task, as the harness builds it into `<name>.ko`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// The module's name: its `.ko` (`rmmod <name>`).
    pub name: String,
    /// Its folder, relative to the task folder (`kernel`); `None`: the task folder.
    pub dir: Option<String>,
    /// Its sources, file names in `dir`: several C files, or one Rust crate root named
    /// `<name>.rs` (the `mod` files it declares are found beside it). Empty: `<name>.c` or
    /// `<name>.rs`, whichever exists.
    pub sources: Vec<String>,
    /// Extra C compiler flags for the module's objects (instructor-trusted).
    pub ccflags: Vec<String>,
}

/// The table form, with every field a lab may give.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModuleTable {
    name: String,
    #[serde(default)]
    dir: Option<String>,
    #[serde(default)]
    sources: Vec<String>,
    #[serde(default)]
    ccflags: Vec<String>,
}

/// A string or a table, like `#[serde(untagged)]`, but a table's own error (an unknown or
/// missing field) reaches the instructor instead of "did not match any variant".
impl<'de> Deserialize<'de> for Module {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match toml::Value::deserialize(deserializer)? {
            toml::Value::String(name) => Ok(Module::plain(name)),
            table @ toml::Value::Table(_) => {
                let t: ModuleTable = table
                    .try_into()
                    .map_err(|e| de::Error::custom(format!("`modules` entry: {e}")))?;
                Ok(Module {
                    name: t.name,
                    dir: t.dir,
                    sources: t.sources,
                    ccflags: t.ccflags,
                })
            }
            other => Err(de::Error::custom(format!(
                "a `modules` entry is a module name or a table (name, sources, dir, ccflags), not a {}",
                other.type_str()
            ))),
        }
    }
}

impl Module {
    /// A module built from `<name>.c` or `<name>.rs` in the task folder.
    pub fn plain(name: String) -> Module {
        Module {
            name,
            dir: None,
            sources: Vec::new(),
            ccflags: Vec::new(),
        }
    }

    /// `rel` inside the module's folder, as a path relative to the task folder.
    pub fn in_dir(&self, rel: &str) -> String {
        match &self.dir {
            Some(dir) => format!("{dir}/{rel}"),
            None => rel.to_owned(),
        }
    }

    /// Where kbuild puts the module, relative to the task folder: `kernel/foo.ko`.
    pub fn ko_path(&self) -> String {
        self.in_dir(&format!("{}.ko", self.name))
    }

    /// Whether the listed sources are Rust (a crate root).
    fn is_rust_listed(&self) -> bool {
        self.sources.iter().any(|s| s.ends_with(".rs"))
    }

    /// Whether the sources are anything but the default single file named after the module.
    pub fn is_composite(&self) -> bool {
        !self.sources.is_empty()
            && self.sources != [format!("{}.c", self.name)]
            && self.sources != [format!("{}.rs", self.name)]
    }

    /// The sources that exist under `task_dir`, relative to it: the listed ones (all of them,
    /// present or not), or the default `<name>.c`/`<name>.rs` that is there.
    pub fn source_paths(&self, task_dir: &Path) -> Vec<String> {
        if !self.sources.is_empty() {
            return self.sources.iter().map(|s| self.in_dir(s)).collect();
        }
        ["c", "rs"]
            .iter()
            .map(|ext| self.in_dir(&format!("{}.{ext}", self.name)))
            .filter(|p| task_dir.join(p).is_file())
            .collect()
    }

    /// The files a student writes for this module: its sources, and beside a Rust crate
    /// root the files of the `mod NAME;` items it declares (`NAME.rs`, when present).
    pub fn student_sources(&self, task_dir: &Path) -> Vec<String> {
        let mut files = self.source_paths(task_dir);
        let roots: Vec<String> = files
            .iter()
            .filter(|f| f.ends_with(".rs"))
            .cloned()
            .collect();
        for root in roots {
            let text = std::fs::read_to_string(task_dir.join(&root)).unwrap_or_default();
            for name in declared_mod_files(&text) {
                let file = self.in_dir(&format!("{name}.rs"));
                if task_dir.join(&file).is_file() && !files.contains(&file) {
                    files.push(file);
                }
            }
        }
        files
    }

    /// Checks the fields against the safe name rules; errors name the field.
    pub fn validate(&self) -> Result<()> {
        let name = &self.name;
        if !is_safe_name(name) || name.contains('.') {
            bail!("`modules` entry `{name}` must be letters, digits, `_` or `-`, starting with a letter or a digit");
        }
        if let Some(dir) = &self.dir {
            if !is_safe_relative_path(dir) {
                bail!("module `{name}`: `dir` `{dir}` must be a relative path, each part {SAFE_NAME_RULE}");
            }
        }
        let mut stems = std::collections::HashSet::new();
        for source in &self.sources {
            let stem = source
                .strip_suffix(".c")
                .or_else(|| source.strip_suffix(".rs"));
            let Some(stem) = stem.filter(|_| is_safe_name(source)) else {
                bail!("module `{name}`: `sources` entry `{source}` must be a .c or .rs file name in the module's folder ({SAFE_NAME_RULE})");
            };
            if !stems.insert(stem) {
                bail!("module `{name}`: `sources` lists `{stem}` twice (each source is one object, `{stem}.o`)");
            }
        }
        if self.is_rust_listed() {
            if self.sources != [format!("{name}.rs")] {
                bail!("module `{name}`: `sources` of a Rust module is its one crate root, `{name}.rs` (its `mod` files are found beside it), not {:?}", self.sources);
            }
            if !self.ccflags.is_empty() {
                bail!("module `{name}`: `ccflags` apply to C sources; a Rust module has none");
            }
        } else if self.is_composite() && stems.contains(name.as_str()) {
            bail!("module `{name}`: `sources` of a module built from several files must not include `{name}.c` (kbuild links them into `{name}.o`); rename it");
        }
        for flag in &self.ccflags {
            if !flag.starts_with('-') || flag.contains(['\n', '\r', '#']) {
                bail!("module `{name}`: `ccflags` entry `{flag}` must be one compiler option starting with `-`, without `#` or a line break");
            }
        }
        Ok(())
    }
}

/// The names of `mod NAME;` items (not inline `mod NAME { … }`) in a Rust source.
fn declared_mod_files(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|line| {
            let code = line.split("//").next()?.trim();
            let code = code.strip_prefix("pub ").unwrap_or(code);
            let name = code.strip_prefix("mod ")?.strip_suffix(';')?.trim();
            is_safe_name(name).then_some(name)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Task {
        modules: Vec<Module>,
    }

    fn modules(text: &str) -> Result<Vec<Module>> {
        let task: Task = toml::from_str(text)?;
        for m in &task.modules {
            m.validate()?;
        }
        Ok(task.modules)
    }

    #[test]
    fn plain_names_and_tables_mix() {
        let m = modules(
            "modules = ['hello', { name = 'multi', dir = 'kernel', sources = ['a.c', 'b.c'], ccflags = ['-DX=1'] }]",
        )
        .unwrap();
        assert_eq!(m[0], Module::plain("hello".into()));
        assert_eq!(m[1].dir.as_deref(), Some("kernel"));
        assert_eq!(m[1].ko_path(), "kernel/multi.ko");
        assert!(m[1].is_composite() && !m[0].is_composite());
        assert_eq!(m[1].ccflags, ["-DX=1"]);
    }

    #[test]
    fn each_bad_field_is_named() {
        for (entry, named) in [
            ("{ name = 'm', sorces = ['a.c'] }", "unknown field `sorces`"),
            ("{ sources = ['a.c'] }", "missing field `name`"),
            ("3", "module name or a table"),
            ("{ name = 'm', dir = '../x' }", "`dir` `../x`"),
            ("{ name = 'm', sources = ['a.h'] }", "`sources` entry `a.h`"),
            (
                "{ name = 'm', sources = ['x/a.c'] }",
                "`sources` entry `x/a.c`",
            ),
            (
                "{ name = 'm', sources = ['a.c', 'a.c'] }",
                "lists `a` twice",
            ),
            (
                "{ name = 'm', sources = ['m.c', 'b.c'] }",
                "must not include `m.c`",
            ),
            (
                "{ name = 'm', sources = ['lib.rs'] }",
                "one crate root, `m.rs`",
            ),
            (
                "{ name = 'm', sources = ['m.rs'], ccflags = ['-O1'] }",
                "`ccflags` apply to C",
            ),
            ("{ name = 'm', ccflags = ['O1'] }", "`ccflags` entry `O1`"),
            (
                "{ name = 'm', ccflags = [\"-O1\\nobj-m += x.o\"] }",
                "`ccflags` entry",
            ),
            ("{ name = 'a.b' }", "`modules` entry `a.b`"),
        ] {
            let err = format!(
                "{:#}",
                modules(&format!("modules = [{entry}]")).unwrap_err()
            );
            assert!(err.contains(named), "{entry}: {err}");
        }
        assert!(modules("modules = [{ name = 'm', sources = ['m.c'] }]").is_ok());
        assert!(modules("modules = [{ name = 'm', sources = ['main.c'] }]").is_ok());
    }

    #[test]
    fn sources_default_to_the_file_named_after_the_module_and_rust_mod_files_join_them() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("kernel")).unwrap();
        let root = "// SPDX\nmod util;\npub mod table; // the table\nmod inline {}\n// mod commented;\nmod missing;\n";
        std::fs::write(dir.path().join("kernel/walk.rs"), root).unwrap();
        std::fs::write(dir.path().join("kernel/util.rs"), "").unwrap();
        std::fs::write(dir.path().join("kernel/table.rs"), "").unwrap();
        std::fs::write(dir.path().join("hello.c"), "").unwrap();
        let walk = Module {
            dir: Some("kernel".into()),
            ..Module::plain("walk".into())
        };
        assert_eq!(
            walk.student_sources(dir.path()),
            ["kernel/walk.rs", "kernel/util.rs", "kernel/table.rs"]
        );
        assert_eq!(
            Module::plain("hello".into()).student_sources(dir.path()),
            ["hello.c"]
        );
        assert!(Module::plain("gone".into())
            .student_sources(dir.path())
            .is_empty());
        let listed = Module {
            sources: vec!["a.c".into(), "b.c".into()],
            ..Module::plain("m".into())
        };
        assert_eq!(listed.student_sources(dir.path()), ["a.c", "b.c"]);
    }
}
