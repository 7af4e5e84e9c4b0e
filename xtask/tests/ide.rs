//! `cargo xtask ide` (and `skels`) against the cached lab kernel: the editor files name the
//! student's files, rust-analyzer and clangd read them with no error on every reference
//! solution, and a misspelled item is reported, alone. No VM. rust-analyzer and clangd are
//! `cargo xtask setup`'s to install: a missing one fails the test, saying so.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{copy_template_task, replace_in, repo, xtask};

/// `program args...`, run; a program that does not start or does not know `--version` is
/// missing, and that is a failure of its own.
fn tool(program: &str, args: &[&str]) -> (String, String) {
    let out = Command::new(program).args(args).output();
    match out {
        Ok(out) => (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ),
        Err(e) => panic!("{program} does not run ({e}): `cargo xtask setup` installs it"),
    }
}

fn require(program: &str) {
    let ok = Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "{program} is not installed (`{program} --version` fails): `cargo xtask setup` installs it"
    );
}

/// Every task of the labs in `language`, as `(lab, task, first module source)`, the source
/// relative to the task folder (`hello.rs`, `kernel/multi_main.c`).
fn tasks(language: &str) -> Vec<(String, String, String)> {
    let labs = klab::lab::manifest::discover(&repo().join("labs")).unwrap();
    labs.iter()
        .filter(|l| l.manifest.language == language)
        .flat_map(|l| {
            l.manifest.tasks.iter().map(move |t| {
                let dir = repo().join("templates").join(&l.name).join(&t.name);
                let source = t.modules[0].source_paths(&dir)[0].clone();
                (l.name.clone(), t.name.clone(), source)
            })
        })
        .collect()
}

/// `cargo xtask --skels-dir SKELS ide SEL...`, which must succeed.
fn ide(skels: &Path, sel: &[String]) {
    let mut args = vec!["--skels-dir", skels.to_str().unwrap(), "ide"];
    args.extend(sel.iter().map(String::as_str));
    let run = xtask(&args);
    assert_eq!(run.code, 0, "{}", run.all());
}

/// The reference solutions of every task in `language`, copied as a student's folder, with
/// their editor files.
fn solutions(language: &str) -> (tempfile::TempDir, Vec<(String, String, String)>) {
    let dir = tempfile::tempdir().unwrap();
    let tasks = tasks(language);
    assert!(!tasks.is_empty(), "no {language} lab");
    for (lab, task, _) in &tasks {
        copy_template_task(dir.path(), lab, task);
    }
    let ids: Vec<String> = tasks.iter().map(|(l, t, _)| format!("{l}/{t}")).collect();
    ide(dir.path(), &ids);
    (dir, tasks)
}

/// A reference solution with `from` replaced by `to` in `file`, and its editor files; the
/// folder and the edited file (its real path).
fn misspelled(
    lab: &str,
    task: &str,
    file: &str,
    from: &str,
    to: &str,
) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let task_dir = copy_template_task(dir.path(), lab, task);
    replace_in(&task_dir.join(file), from, to);
    ide(dir.path(), &[format!("{lab}/{task}")]);
    let file = real(&task_dir.join(file));
    (dir, file)
}

/// rust-analyzer's errors in its `diagnostics` report: `(file, message)`.
fn rust_analyzer_errors(task_dir: &Path) -> (Vec<(String, String)>, String) {
    let (stdout, stderr) = tool(
        "rust-analyzer",
        &["diagnostics", task_dir.to_str().unwrap()],
    );
    // Progress and diagnostics share stdout, without line breaks between them.
    let errors = stdout
        .split("at crate ")
        .skip(1)
        .filter_map(|d| {
            let (_, rest) = d.split_once(", file ")?;
            let (file, rest) = rest.split_once(": ")?;
            let rest = rest.strip_prefix("Error ")?;
            let message = rest.rsplit_once("}: ").map(|(_, m)| m).unwrap_or(rest);
            Some((
                file.to_owned(),
                message.lines().next().unwrap_or("").to_owned(),
            ))
        })
        .collect();
    (errors, format!("{stdout}\n{stderr}"))
}

fn real(path: &Path) -> PathBuf {
    path.canonicalize().unwrap()
}

#[test]
fn rust_analyzer_reads_every_rust_solution_without_a_false_error() {
    require("rust-analyzer");
    let (dir, tasks) = solutions("rust");
    assert!(tasks.len() >= 8, "{tasks:?}");
    for (lab, task, module) in &tasks {
        let task_dir = real(&dir.path().join(lab).join(task));
        let text = std::fs::read_to_string(task_dir.join("rust-project.json")).unwrap();
        let project: serde_json::Value = serde_json::from_str(&text).unwrap();
        let members: Vec<&serde_json::Value> = project["crates"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["is_workspace_member"] == true)
            .collect();
        let file = task_dir.join(module);
        assert_eq!(members.len(), 1, "{lab}/{task}: {text}");
        assert_eq!(members[0]["root_module"], file.to_str().unwrap());
        assert!(
            !text.contains("target/klab"),
            "a build stage is named: {text}"
        );
        assert!(project["sysroot_src"]
            .as_str()
            .unwrap()
            .ends_with("lib/rustlib/src/rust/library"));

        let (errors, output) = rust_analyzer_errors(&task_dir);
        assert!(
            output.contains(file.to_str().unwrap()) && output.contains("diagnostic scan complete"),
            "{lab}/{task}: rust-analyzer did not analyse {}:\n{output}",
            file.display()
        );
        assert!(errors.is_empty(), "{lab}/{task}: {errors:#?}");
    }
}

#[test]
fn rust_analyzer_reports_a_misspelled_kernel_item_and_nothing_else() {
    require("rust-analyzer");
    // rust-analyzer reports an unresolved path in a `use` (E0432); one in an expression or a
    // type it leaves to the compiler.
    let (_dir, file) = misspelled(
        "networking",
        "1-2-netfilter",
        "filter.rs",
        "use kernel::net::filter::{self, Hook};",
        "use kernel::net::filter::{self, Hook, Regstration};",
    );
    let (errors, output) = rust_analyzer_errors(file.parent().unwrap());
    assert_eq!(
        errors,
        [(file.display().to_string(), "unresolved import".to_owned())],
        "{output}"
    );
    assert!(output.contains("E0432"), "{output}");
}

/// clangd's count of errors in `--check` mode, and its whole log.
fn clangd_errors(file: &Path) -> (usize, String) {
    let (stdout, stderr) = tool("clangd", &[&format!("--check={}", file.display())]);
    let log = format!("{stdout}{stderr}");
    let count = log
        .lines()
        .find_map(|l| l.split("All checks completed, ").nth(1))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("clangd did not finish checking {}:\n{log}", file.display()));
    (count, log)
}

#[test]
fn clangd_reads_every_c_solution_with_kbuild_s_flags_and_no_error() {
    require("clangd");
    let (dir, tasks) = solutions("c");
    for (lab, task, module) in &tasks {
        let task_dir = real(&dir.path().join(lab).join(task));
        let database = task_dir.join("compile_commands.json");
        let text = std::fs::read_to_string(&database).unwrap();
        let file = task_dir.join(module);
        let entries: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(entries[0]["file"], file.to_str().unwrap(), "{text}");
        assert!(
            !text.contains("target/klab"),
            "a build stage is named: {text}"
        );
        let programs = program_files(lab, task, &task_dir);
        let sources = module_sources(lab, task, &task_dir);
        assert_eq!(entries.len(), sources.len() + programs.len(), "{text}");
        for file in std::iter::once(file).chain(programs) {
            let (errors, log) = clangd_errors(&file);
            assert!(
                log.contains(&format!(
                    "Loaded compilation database from {}",
                    database.display()
                )),
                "{log}"
            );
            assert_eq!(errors, 0, "{}:\n{log}", file.display());
        }
    }
}

/// The module sources of `lab/task`, in `task_dir`.
fn module_sources(lab: &str, task: &str, task_dir: &Path) -> Vec<PathBuf> {
    let labs = klab::lab::manifest::discover(&repo().join("labs")).unwrap();
    let lab = labs.iter().find(|l| l.name == lab).unwrap();
    let modules = &lab.task(task).unwrap().modules;
    modules
        .iter()
        .flat_map(|m| m.source_paths(task_dir))
        .map(|s| task_dir.join(s))
        .collect()
}

/// The test programs of `lab/task`, in `task_dir`.
fn program_files(lab: &str, task: &str, task_dir: &Path) -> Vec<PathBuf> {
    let labs = klab::lab::manifest::discover(&repo().join("labs")).unwrap();
    let lab = labs.iter().find(|l| l.name == lab).unwrap();
    let programs = &lab.task(task).unwrap().programs;
    programs
        .iter()
        .flat_map(|p| p.sources.iter().map(|s| task_dir.join(s)))
        .collect()
}

#[test]
fn clangd_reads_the_rust_labs_test_programs_without_an_error() {
    // A Rust task has no compile_commands.json: clangd's defaults serve its C programs.
    require("clangd");
    let (dir, tasks) = solutions("rust");
    let mut checked = 0;
    for (lab, task, _) in &tasks {
        let task_dir = real(&dir.path().join(lab).join(task));
        for file in program_files(lab, task, &task_dir) {
            let (errors, log) = clangd_errors(&file);
            assert_eq!(errors, 0, "{}:\n{log}", file.display());
            checked += 1;
        }
    }
    assert!(checked >= 3, "{checked} programs");
}

#[test]
fn clangd_reports_a_misspelled_kernel_function() {
    require("clangd");
    let (_dir, file) = misspelled(
        "networking-c",
        "1-2-netfilter",
        "filter.c",
        "nf_register_net_hook(&init_net",
        "nf_register_net_hok(&init_net",
    );
    let (errors, log) = clangd_errors(&file);
    assert_eq!(errors, 1, "{log}");
    assert!(log.contains("nf_register_net_hok"), "{log}");
}

#[test]
fn skels_writes_the_editor_files_beside_the_skeleton_never_into_it() {
    // `ide --solution` leaves editor files in templates/; a skeleton must not copy them.
    let solution = xtask(&["ide", "--solution", "intro/3-fail"]);
    assert_eq!(solution.code, 0, "{}", solution.all());
    assert!(repo()
        .join("templates/intro/3-fail/rust-project.json")
        .is_file());

    let dir = tempfile::tempdir().unwrap();
    let run = xtask(&[
        "--skels-dir",
        dir.path().to_str().unwrap(),
        "skels",
        "intro/3-fail",
    ]);
    assert_eq!(run.code, 0, "{}", run.all());
    let task_dir = real(&dir.path().join("intro/3-fail"));
    let text = std::fs::read_to_string(task_dir.join("rust-project.json")).unwrap();
    assert!(
        text.contains(task_dir.join("fail.rs").to_str().unwrap()) && !text.contains("templates"),
        "{text}"
    );
    let stamp = std::fs::read_to_string(task_dir.join(".klab-skel")).unwrap();
    assert!(!stamp.contains("rust-project.json"), "{stamp}");
}
