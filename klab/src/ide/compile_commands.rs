//! `compile_commands.json` for clangd: the kernel's generator
//! (`scripts/clang-tools/gen_compile_commands.py`) read kbuild's `.cmd` files in the IDE
//! stage; each entry is moved to the student's file, its command split into arguments. The
//! task's test programs get the harness's own `cc` flags.
//!
//! Dropped from kbuild's commands: `-Wp,-MMD,<stage>/.x.o.d` (a dependency file kbuild wants
//! in its stage; an editor must write none), and `-ftrivial-auto-var-init=zero` with the
//! switch clang 14-15 require beside it
//! (`-enable-trivial-auto-var-init-zero-knowing-it-will-be-removed-from-clang`): clangd 16 and
//! later reject that switch as an unknown argument, clangd 14 rejects the option without it,
//! and zeroing locals changes the generated code, nothing clangd reports. The other flags stay
//! as kbuild gave them: the include paths, `-include` files and `-D`s are what make
//! `linux/netfilter.h` resolve as in the build.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use super::shell_words;
use crate::lab::manifest::Program;

use crate::build::PROGRAM_CFLAGS;

/// Arguments of kbuild's compile command that an editor's copy of it must not have.
fn dropped(arg: &str) -> bool {
    arg.starts_with("-Wp,-MMD,")
        || arg.starts_with("-Wp,-MD,")
        || arg == "-ftrivial-auto-var-init=zero"
        || arg == "-enable-trivial-auto-var-init-zero-knowing-it-will-be-removed-from-clang"
}

/// `arg` with the stage folder replaced by the task folder.
fn moved(arg: &str, stage: &str, task: &str) -> String {
    if arg == stage {
        return task.to_owned();
    }
    arg.replace(&format!("{stage}/"), &format!("{task}/"))
}

/// The task's `compile_commands.json` from the generator's output over `stage`, and an
/// entry for each of the task's test programs (`programs`, relative to the task folder):
/// without one, clangd would borrow a module's kernel flags for them (its nearest entry),
/// and `stdio.h` would not be found.
pub fn for_task(
    generated: &str,
    stage: &Path,
    task_dir: &Path,
    programs: &[Program],
) -> Result<String> {
    let entries: Vec<Value> =
        serde_json::from_str(generated).context("parsing the generator's compile_commands.json")?;
    let stage_text = stage.to_string_lossy();
    let task_text = task_dir.to_string_lossy();
    let mut out = Vec::new();
    for entry in &entries {
        let field = |name: &str| {
            entry[name]
                .as_str()
                .with_context(|| format!("an entry without `{name}`: {entry}"))
        };
        let file = Path::new(field("file")?);
        let Ok(rel) = file.strip_prefix(stage) else {
            continue;
        };
        let arguments: Vec<String> = shell_words::split(field("command")?)?
            .iter()
            .filter(|arg| !dropped(arg))
            .map(|arg| moved(arg, &stage_text, &task_text))
            .collect();
        out.push(json!({
            "directory": field("directory")?,
            "file": task_dir.join(rel),
            "arguments": arguments,
        }));
    }
    if out.is_empty() {
        bail!(
            "the generator listed no compile command for a file of {}",
            stage.display()
        );
    }
    for program in programs {
        for source in &program.sources {
            let file = task_dir.join(source);
            let mut arguments = vec!["cc".to_owned()];
            arguments.extend(PROGRAM_CFLAGS.iter().map(|f| f.to_string()));
            for dir in &program.include {
                arguments.push(format!("-I{}", task_dir.join(dir).display()));
            }
            arguments.extend(["-c".to_owned(), file.to_string_lossy().into_owned()]);
            out.push(json!({ "directory": task_dir, "file": file, "arguments": arguments }));
        }
    }
    Ok(serde_json::to_string_pretty(&out)? + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const GENERATED: &str = r#"[
      {"directory": "/k/linux", "file": "/out/ide/lab/t/filter.c",
       "command": "clang -Wp,-MMD,/out/ide/lab/t/.filter.o.d -nostdinc -I./include -ftrivial-auto-var-init=zero -enable-trivial-auto-var-init-zero-knowing-it-will-be-removed-from-clang -DKBUILD_MODNAME='\"filter\"' -c -o /out/ide/lab/t/filter.o /out/ide/lab/t/filter.c"},
      {"directory": "/k/linux", "file": "/k/linux/init/main.c", "command": "clang -c init/main.c"}
    ]"#;

    #[test]
    fn entries_move_to_the_student_s_file_with_kbuild_s_flags() {
        let text = for_task(
            GENERATED,
            Path::new("/out/ide/lab/t"),
            Path::new("/home/me/skels/lab/t"),
            &[Program::plain("user/test.c".to_owned())],
        )
        .unwrap();
        let entries: Vec<Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(
            entries.len(),
            2,
            "the stage's files and the program: {text}"
        );
        let entry = &entries[0];
        assert_eq!(entry["file"], "/home/me/skels/lab/t/filter.c");
        assert_eq!(entry["directory"], "/k/linux");
        let args: Vec<&str> = entry["arguments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(
            args,
            [
                "clang",
                "-nostdinc",
                "-I./include",
                "-DKBUILD_MODNAME=\"filter\"",
                "-c",
                "-o",
                "/home/me/skels/lab/t/filter.o",
                "/home/me/skels/lab/t/filter.c"
            ]
        );
        assert!(!text.contains("/out/ide"), "{text}");
        let program = &entries[1];
        assert_eq!(program["file"], "/home/me/skels/lab/t/user/test.c");
        assert_eq!(program["directory"], "/home/me/skels/lab/t");
        assert_eq!(
            program["arguments"],
            json!([
                "cc",
                "-O2",
                "-Wall",
                "-c",
                "/home/me/skels/lab/t/user/test.c"
            ])
        );
    }

    #[test]
    fn a_folder_whose_name_extends_the_stage_s_is_not_the_stage() {
        assert_eq!(moved("/s/t2/x.c", "/s/t", "/me"), "/s/t2/x.c");
        assert_eq!(moved("-I/s/t/inc", "/s/t", "/me"), "-I/me/inc");
        assert_eq!(moved("/s/t", "/s/t", "/me"), "/me");
    }

    #[test]
    fn no_entry_for_the_stage_is_an_error() {
        let err = for_task("[]", Path::new("/s"), Path::new("/t"), &[]).unwrap_err();
        assert!(err.to_string().contains("no compile command"), "{err}");
    }
}
