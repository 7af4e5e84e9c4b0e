//! The Kbuild file the harness writes for a task, and compiler output a student can click.
//!
//! Student code is untrusted: the harness never runs a student's Makefile or Kbuild; it
//! writes its own from the lab manifest, naming only the modules the manifest lists.

use std::path::Path;

use crate::manifest::TaskManifest;

/// The Kbuild text for a task's modules: each `foo` becomes `foo.ko` from `foo.c`/`foo.rs`.
/// `debug_info`: build with debug info, so kernel reports can be placed at file:line.
pub fn kbuild_for(task: &TaskManifest, debug_info: bool) -> String {
    let mut text = String::from(
        "# Written by klab from the lab manifest; a Kbuild in the task folder is ignored.\n",
    );
    for module in &task.modules {
        text.push_str(&format!("obj-m += {module}.o\n"));
    }
    if debug_info {
        text.push_str("# debug info: reports of the debug kernel name file:line\n");
        text.push_str("ccflags-y += -g\nrustflags-y += -Cdebuginfo=2\n");
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
    use crate::manifest::TaskManifest;

    #[test]
    fn kbuild_lists_the_manifest_modules() {
        let task: TaskManifest = toml::from_str("name = 'x'\nmodules = ['hello', 'fail']").unwrap();
        assert_eq!(
            kbuild_for(&task, false),
            "# Written by klab from the lab manifest; a Kbuild in the task folder is ignored.\nobj-m += hello.o\nobj-m += fail.o\n"
        );
        assert!(
            kbuild_for(&task, true).ends_with("ccflags-y += -g\nrustflags-y += -Cdebuginfo=2\n")
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
