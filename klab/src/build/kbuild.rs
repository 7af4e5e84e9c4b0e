//! The Kbuild file the harness writes for a task, and compiler output a student can click.
//!
//! Student code is untrusted: the harness never runs a student's Makefile or Kbuild; it
//! writes its own from the lab manifest, naming only the modules the manifest lists.

use std::path::Path;

use crate::lab::manifest::{Module, TaskManifest};

const HEADER: &str =
    "# Written by klab from the lab manifest; a Kbuild in the task folder is ignored.\n";

/// The Kbuild files for a task's modules, as `(path relative to the task folder, text)`: the
/// task folder's own, and one per module folder (`dir`), which the first descends into
/// (`obj-m += kernel/`), so `kernel/foo.ko` is built beside its sources. Each module `foo`
/// becomes `foo.ko`: from `foo.c`/`foo.rs`, or linked from its listed C sources
/// (`foo-y := a.o b.o`); its `ccflags` go to each of its C objects (`CFLAGS_a.o`).
/// `debug_info`: what debug info to build with, so kernel reports can be placed at file:line.
pub fn kbuild_files(task: &TaskManifest, debug_info: DebugInfo) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = vec![("Kbuild".to_owned(), HEADER.to_owned())];
    for module in &task.modules {
        let kbuild = match &module.dir {
            Some(dir) => {
                let path = format!("{dir}/Kbuild");
                if !files.iter().any(|(p, _)| *p == path) {
                    files[0].1.push_str(&format!("obj-m += {dir}/\n"));
                    files.push((path.clone(), HEADER.to_owned()));
                }
                path
            }
            None => "Kbuild".to_owned(),
        };
        let text = &mut files.iter_mut().find(|(p, _)| *p == kbuild).unwrap().1;
        text.push_str(&module_lines(module));
    }
    for (_, text) in &mut files {
        text.push_str("# debug info: kernel reports name file:line\n");
        text.push_str(debug_info.flags());
    }
    files
}

/// The debug info a task's modules are built with (both kinds let `addr2line` place a
/// report's frames at file:line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DebugInfo {
    /// Line tables only: little bigger than no debug info.
    LineTables,
    /// Everything (types, variables): 20 to 80 times the size of a Rust module without.
    Full,
}

impl DebugInfo {
    /// The Kbuild lines that ask for it, for C and Rust objects.
    fn flags(self) -> &'static str {
        match self {
            DebugInfo::LineTables => {
                "ccflags-y += -gline-tables-only\nrustflags-y += -Cdebuginfo=line-tables-only\n"
            }
            DebugInfo::Full => "ccflags-y += -g\nrustflags-y += -Cdebuginfo=2\n",
        }
    }
}

/// One module's lines in the Kbuild of its folder.
fn module_lines(module: &Module) -> String {
    let name = &module.name;
    let mut text = format!("obj-m += {name}.o\n");
    let objects: Vec<String> = if module.sources.is_empty() {
        vec![format!("{name}.o")]
    } else {
        let stems = module.sources.iter().filter_map(|s| s.strip_suffix(".c"));
        stems.map(|stem| format!("{stem}.o")).collect()
    };
    if module.is_composite() {
        text.push_str(&format!("{name}-y := {}\n", objects.join(" ")));
    }
    if !module.ccflags.is_empty() {
        for object in &objects {
            text.push_str(&format!(
                "CFLAGS_{object} += {}\n",
                module.ccflags.join(" ")
            ));
        }
    }
    text
}

/// Rewrites paths inside the build staging folder to the student's own paths, so that
/// `/…/target/klab/stage/net/1-x/filter.c:12:5: error` reads `skels/net/1-x/filter.c:12:5: error`.
pub fn rewrite_paths(output: &str, stage_dir: &Path, shown_dir: &str) -> String {
    let stage = stage_dir.to_string_lossy();
    let stage = stage.trim_end_matches('/');
    let shown = shown_dir.trim_end_matches('/');
    output
        .replace(&format!("{stage}/"), &format!("{shown}/"))
        .replace(stage, shown)
}

/// Keeps the lines of a kbuild log worth showing a student: diagnostics and their context,
/// without make's chatter.
pub fn interesting_lines(log: &str) -> String {
    let chatter = [
        "make[",
        "make:",
        "  CC ",
        "  RUSTC ",
        "  LD ",
        "  MODPOST",
        "  CC [M]",
        "  LD [M]",
        "  RUSTC [M]",
    ];
    let kept: Vec<&str> = log
        .lines()
        .filter(|l| !chatter.iter().any(|c| l.starts_with(c)) && !l.trim().is_empty())
        .collect();
    kept.join("\n")
}

/// Lines (1-based) of a Rust source that use `unsafe` outside comments. Student code in the
/// Rust labs needs none: the kernel's abstractions carry the unsafety, argued once.
pub fn unsafe_lines(source: &str) -> Vec<usize> {
    source
        .lines()
        .enumerate()
        .filter(|(_, line)| {
            let code = line.split("//").next().unwrap_or("");
            code.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .any(|word| word == "unsafe")
        })
        .map(|(i, _)| i + 1)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn unsafe_is_found_in_code_not_in_comments_or_names() {
        let src = "fn a() {\n    unsafe { f() };\n    // unsafe in a comment\n    let not_unsafe_name = 1;\n}\nunsafe impl Sync for X {}\n";
        assert_eq!(super::unsafe_lines(src), [2, 6]);
    }

    use super::*;
    use crate::lab::manifest::TaskManifest;

    #[test]
    fn kbuild_lists_the_manifest_modules() {
        let task: TaskManifest = toml::from_str("name = 'x'\nmodules = ['hello', 'fail']").unwrap();
        assert_eq!(
            kbuild_files(&task, DebugInfo::LineTables),
            [("Kbuild".to_owned(), "# Written by klab from the lab manifest; a Kbuild in the task folder is ignored.\nobj-m += hello.o\nobj-m += fail.o\n# debug info: kernel reports name file:line\nccflags-y += -gline-tables-only\nrustflags-y += -Cdebuginfo=line-tables-only\n".to_owned())]
        );
        assert!(kbuild_files(&task, DebugInfo::Full)[0]
            .1
            .ends_with("ccflags-y += -g\nrustflags-y += -Cdebuginfo=2\n"));
    }

    #[test]
    fn several_sources_link_into_one_module_and_a_module_folder_gets_its_own_kbuild() {
        let task: TaskManifest = toml::from_str(
            "name = 'x'\nmodules = ['top', { name = 'multi', dir = 'kernel', sources = ['main.c', 'helper.c'], ccflags = ['-DLAB=1', '-Wextra'] }, { name = 'solo', dir = 'kernel', sources = ['solo.c'] }, { name = 'named', sources = ['impl.c'] }]",
        )
        .unwrap();
        let files = kbuild_files(&task, DebugInfo::Full);
        let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["Kbuild", "kernel/Kbuild"]);
        let body = |text: &str| text.lines().skip(1).collect::<Vec<_>>().join("\n");
        assert_eq!(
            body(&files[0].1),
            "obj-m += top.o\nobj-m += kernel/\nobj-m += named.o\nnamed-y := impl.o\n# debug info: kernel reports name file:line\nccflags-y += -g\nrustflags-y += -Cdebuginfo=2"
        );
        assert_eq!(
            body(&files[1].1),
            "obj-m += multi.o\nmulti-y := main.o helper.o\nCFLAGS_main.o += -DLAB=1 -Wextra\nCFLAGS_helper.o += -DLAB=1 -Wextra\nobj-m += solo.o\n# debug info: kernel reports name file:line\nccflags-y += -g\nrustflags-y += -Cdebuginfo=2"
        );
    }

    #[test]
    fn stage_paths_become_student_paths() {
        let log = "/r/target/klab/stage/net/1-x/filter.c:12:5: error: expected ';'\n  --> /r/target/klab/stage/net/1-x/hello.rs:3:9\nmake -C /r/target/klab/stage/net/1-x";
        assert_eq!(
            rewrite_paths(log, Path::new("/r/target/klab/stage/net/1-x/"), "skels/net/1-x"),
            "skels/net/1-x/filter.c:12:5: error: expected ';'\n  --> skels/net/1-x/hello.rs:3:9\nmake -C skels/net/1-x"
        );
    }

    #[test]
    fn chatter_is_dropped_and_diagnostics_stay() {
        let log = "make[1]: Entering directory '/k'\n  CC [M]  /s/filter.o\n/s/filter.c:3:1: error: unknown type name 'foo'\n    3 | foo x;\n";
        assert_eq!(
            interesting_lines(log),
            "/s/filter.c:3:1: error: unknown type name 'foo'\n    3 | foo x;"
        );
    }
}
