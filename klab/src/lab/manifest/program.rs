//! A task's user-space test program in `lab.toml`: a plain path (`"user/test.c"`, built into
//! `test`) or a `[[tasks.programs]]` table with several sources, libraries and include
//! folders (a header shared with the module). Built static, in the sandbox.

use anyhow::{bail, Result};
use serde::{de, Deserialize, Deserializer};

use crate::lab::naming::{is_safe_name, is_safe_relative_path, SAFE_NAME_RULE};

/// One test program of a task: `cc -static -o <name> <sources> -I<include> -l<libs>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// The binary's name in the guest task folder.
    pub name: String,
    /// C sources, relative to the task folder.
    pub sources: Vec<String>,
    /// Libraries to link (`pthread` → `-lpthread`).
    pub libs: Vec<String>,
    /// Include folders, relative to the task folder (`-I`).
    pub include: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProgramTable {
    name: String,
    sources: Vec<String>,
    #[serde(default)]
    libs: Vec<String>,
    #[serde(default)]
    include: Vec<String>,
}

/// A string or a table (as `#[serde(untagged)]` would, keeping the table's own error).
impl<'de> Deserialize<'de> for Program {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match toml::Value::deserialize(deserializer)? {
            toml::Value::String(path) => Ok(Program::plain(path)),
            table @ toml::Value::Table(_) => {
                let t: ProgramTable = table
                    .try_into()
                    .map_err(|e| de::Error::custom(format!("`programs` entry: {e}")))?;
                Ok(Program {
                    name: t.name,
                    sources: t.sources,
                    libs: t.libs,
                    include: t.include,
                })
            }
            other => Err(de::Error::custom(format!(
                "a `programs` entry is a path to a .c file or a table (name, sources, libs, include), not a {}",
                other.type_str()
            ))),
        }
    }
}

impl Program {
    /// A program built from one source and named after it: `user/test.c` → `test`.
    pub fn plain(path: String) -> Program {
        Program {
            name: binary_name(&path).to_owned(),
            sources: vec![path],
            libs: Vec::new(),
            include: Vec::new(),
        }
    }

    /// Checks the fields against the safe name rules; errors name the field.
    pub fn validate(&self) -> Result<()> {
        let name = &self.name;
        if !is_safe_name(name) {
            bail!("`programs` entry `{name}`: `name` must be {SAFE_NAME_RULE}");
        }
        if self.sources.is_empty() {
            bail!("program `{name}`: `sources` lists no file");
        }
        for source in &self.sources {
            if !source.ends_with(".c") || !is_safe_relative_path(source) {
                bail!("`programs` entry `{source}` (program `{name}`): `sources` must be relative paths to .c files, each part {SAFE_NAME_RULE}");
            }
        }
        for lib in &self.libs {
            if !is_safe_name(lib) || lib.contains('.') {
                bail!("program `{name}`: `libs` entry `{lib}` must be a library name as `-l` takes it (`pthread`), letters, digits, `_` or `-`");
            }
        }
        for dir in &self.include {
            if !is_safe_relative_path(dir) {
                bail!("program `{name}`: `include` entry `{dir}` must be a relative path, each part {SAFE_NAME_RULE}");
            }
        }
        Ok(())
    }
}

/// The binary name a program source becomes in the guest: `user/test.c` → `test`.
pub fn binary_name(program: &str) -> &str {
    let file = program.rsplit('/').next().unwrap_or(program);
    file.strip_suffix(".c").unwrap_or(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Task {
        programs: Vec<Program>,
    }

    fn programs(text: &str) -> Result<Vec<Program>> {
        let task: Task = toml::from_str(text)?;
        for p in &task.programs {
            p.validate()?;
        }
        Ok(task.programs)
    }

    #[test]
    fn plain_paths_and_tables_mix() {
        let p = programs(
            "programs = ['user/test.c', { name = 'stress', sources = ['user/a.c', 'user/b.c'], libs = ['pthread'], include = ['include'] }]",
        )
        .unwrap();
        assert_eq!(p[0].name, "test");
        assert_eq!(p[0].sources, ["user/test.c"]);
        assert_eq!(p[1].libs, ["pthread"]);
        assert_eq!(p[1].include, ["include"]);
    }

    #[test]
    fn each_bad_field_is_named() {
        for (entry, named) in [
            (
                "{ name = 'p', sources = ['a.c'], lib = ['m'] }",
                "unknown field `lib`",
            ),
            ("{ name = 'p' }", "missing field `sources`"),
            ("1", "path to a .c file or a table"),
            ("{ name = '-p', sources = ['a.c'] }", "`name` must be"),
            ("{ name = 'p', sources = [] }", "`sources` lists no file"),
            ("{ name = 'p', sources = ['../a.c'] }", "`sources` must be"),
            (
                "{ name = 'p', sources = ['a.c'], libs = ['-static'] }",
                "`libs` entry `-static`",
            ),
            (
                "{ name = 'p', sources = ['a.c'], libs = ['x.so'] }",
                "`libs` entry `x.so`",
            ),
            (
                "{ name = 'p', sources = ['a.c'], include = ['/usr'] }",
                "`include` entry `/usr`",
            ),
        ] {
            let err = format!(
                "{:#}",
                programs(&format!("programs = [{entry}]")).unwrap_err()
            );
            assert!(err.contains(named), "{entry}: {err}");
        }
    }
}
