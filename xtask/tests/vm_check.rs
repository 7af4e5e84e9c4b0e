//! End to end, on the real lab kernel in a real QEMU VM: the reference solutions pass every
//! task, the generated skeletons build and fail every task, and broken modules get clear
//! verdicts (a diff, a fault) instead of a hang.
//!
//! These tests need the provisioned machine (`cargo xtask test` provisions it first).

mod support;

use support::{all_task_ids, check_skels, copy_template_task, replace_in, xtask};

#[test]
fn solutions_pass_every_task() {
    let run = xtask(&["check", "--solution"]);
    let verdicts = run.verdicts();
    let ids: Vec<String> = verdicts.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(
        ids,
        all_task_ids(),
        "every task must get a verdict\n{}",
        run.all()
    );
    for (status, id) in &verdicts {
        assert_eq!(
            status,
            "PASS",
            "{id} must pass on its reference solution\n{}",
            run.all()
        );
    }
    assert_eq!(run.code, 0, "{}", run.all());
    // The reference solutions keep the kernel's style (checkpatch, rustfmt, compiler and
    // clippy warnings): a student's findings are theirs.
    let style: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.contains("warning: style:"))
        .collect();
    assert!(
        style.is_empty(),
        "style findings on the solutions:\n{}",
        style.join("\n")
    );
}

#[test]
fn style_findings_are_shown_with_a_passing_verdict_at_the_students_line() {
    let dir = tempfile::tempdir().unwrap();
    let hello = copy_template_task(dir.path(), "intro", "1-2-hello");
    replace_in(
        &hello.join("hello.rs"),
        "impl kernel::Module for Hello {",
        "impl kernel::Module for Hello{",
    );
    let params = copy_template_task(dir.path(), "kernel-modules-c", "1-params");
    replace_in(
        &params.join("params.c"),
        "MODULE_LICENSE(\"GPL\");",
        "MODULE_LICENSE(\"GPL\");   ",
    );
    let run = check_skels(
        &[],
        dir.path(),
        &["intro/1-2-hello", "kernel-modules-c/1-params"],
    );
    assert_eq!(run.code, 0, "style never fails a check\n{}", run.all());
    let shown = dir.path().display().to_string();
    let style: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.contains("warning: style:"))
        .collect();
    assert!(
        style.iter().any(
            |l| l.contains(&format!("{shown}/intro/1-2-hello/hello.rs:"))
                && l.contains(": rustfmt: ")
        ),
        "{}",
        run.all()
    );
    assert!(
        style.iter().any(
            |l| l.contains(&format!("{shown}/kernel-modules-c/1-params/params.c:"))
                && l.contains("checkpatch: ")
                && l.contains("TRAILING_WHITESPACE")
        ),
        "{}",
        run.all()
    );
    // Checked again with nothing changed: nothing is rebuilt, and the findings kept with the
    // build are shown the same.
    let again = check_skels(
        &[],
        dir.path(),
        &["intro/1-2-hello", "kernel-modules-c/1-params"],
    );
    let style_again: Vec<&str> = again
        .stdout
        .lines()
        .filter(|l| l.contains("warning: style:"))
        .collect();
    assert_eq!(style_again, style, "{}", again.all());
}

#[test]
fn skeletons_build_and_fail_every_task() {
    let dir = tempfile::tempdir().unwrap();
    let skels = dir.path().to_str().unwrap();
    let gen = xtask(&["--skels-dir", skels, "skels"]);
    assert_eq!(gen.code, 0, "generating skeletons\n{}", gen.all());

    let build = xtask(&["--skels-dir", skels, "build"]);
    assert_eq!(build.code, 0, "every skeleton must build\n{}", build.all());

    let run = xtask(&["--skels-dir", skels, "check"]);
    let verdicts = run.verdicts();
    let ids: Vec<String> = verdicts.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(
        ids,
        all_task_ids(),
        "every task must get a verdict\n{}",
        run.all()
    );
    for (status, id) in &verdicts {
        // The oops exercises' skeletons oops on load by design: the student reads the report.
        let expected = if SKELETONS_THAT_OOPS.contains(&id.as_str()) {
            "FAULT"
        } else {
            "FAIL"
        };
        assert_eq!(
            status,
            expected,
            "the skeleton of {id} must build, run and {}\n{}",
            if expected == "FAIL" {
                "fail its check"
            } else {
                "oops"
            },
            run.all()
        );
    }
    assert_eq!(run.code, 1, "{}", run.all());
}

/// Tasks whose skeleton oopses on load (an exercise in reading the report); every other
/// skeleton loads and fails its check. `vm_kernel_modules.rs` checks where they are placed.
const SKELETONS_THAT_OOPS: &[&str] = &["kernel-modules-c/5-oops", "kernel-modules/5-oops"];

#[test]
fn a_module_printing_the_wrong_thing_fails_with_a_diff() {
    let dir = tempfile::tempdir().unwrap();
    let task = copy_template_task(dir.path(), "intro", "1-2-hello");
    replace_in(
        &task.join("hello.rs"),
        "Hello from a Rust module!",
        "Helo from a Rust module!",
    );
    // Student code needs no `unsafe`; using it is a warning in the verdict, not a failure.
    replace_in(
        &task.join("hello.rs"),
        "Ok(Hello)",
        "let _zero: u8 = unsafe { core::mem::zeroed() };\n        Ok(Hello)",
    );

    let run = check_skels(&[], dir.path(), &["intro/1-2-hello"]);
    assert!(
        run.stdout.contains("hello.rs:28: uses `unsafe`"),
        "{}",
        run.all()
    );
    assert_eq!(
        run.verdicts(),
        [("FAIL".to_string(), "intro/1-2-hello".to_string())],
        "{}",
        run.all()
    );
    assert!(
        run.stdout.contains("  - hello: Hello from a Rust module!"),
        "{}",
        run.all()
    );
    assert!(
        run.stdout.contains("  + hello: Helo from a Rust module!"),
        "{}",
        run.all()
    );
    assert_eq!(run.code, 1);
}

#[test]
fn a_panic_at_insmod_is_a_fault_verdict_and_the_next_task_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    let task = copy_template_task(dir.path(), "intro", "1-2-hello");
    replace_in(
        &task.join("hello.rs"),
        "Ok(Hello)",
        "panic!(\"klab fixture: deliberate panic in init\")",
    );
    copy_template_task(dir.path(), "intro", "3-fail");

    let run = check_skels(&[], dir.path(), &["intro"]);
    assert_eq!(
        run.verdicts(),
        [
            ("FAULT".to_string(), "intro/1-2-hello".to_string()),
            ("PASS".to_string(), "intro/3-fail".to_string())
        ],
        "{}",
        run.all()
    );
    assert!(
        run.stdout
            .contains("klab fixture: deliberate panic in init"),
        "the report excerpt names the panic\n{}",
        run.all()
    );
    assert_eq!(run.code, 1);
}

#[test]
fn a_compile_error_is_shown_with_the_students_path() {
    let dir = tempfile::tempdir().unwrap();
    let task = copy_template_task(dir.path(), "intro", "3-fail");
    replace_in(&task.join("fail.rs"), "Ok(Fail)", "Ok(Fial)");

    let run = check_skels(&[], dir.path(), &["intro/3-fail"]);
    assert_eq!(
        run.verdicts(),
        [("BUILD FAILED".to_string(), "intro/3-fail".to_string())],
        "{}",
        run.all()
    );
    let shown = format!("{}/intro/3-fail/fail.rs:", dir.path().display());
    assert!(
        run.stdout.contains(&shown),
        "errors name the student's file\n{}",
        run.all()
    );
    assert!(
        !run.stdout.contains("target/klab/stage"),
        "no staging paths leak\n{}",
        run.all()
    );
}

#[test]
fn a_compile_error_in_a_module_folder_names_the_students_file_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let task = copy_template_task(dir.path(), "kernel-modules-c", "3-multi");
    replace_in(&task.join("kernel/multi_ops.c"), "return a;", "return a");

    let run = check_skels(&[], dir.path(), &["kernel-modules-c/3-multi"]);
    assert_eq!(
        run.verdicts(),
        [(
            "BUILD FAILED".to_string(),
            "kernel-modules-c/3-multi".to_string()
        )],
        "{}",
        run.all()
    );
    let shown = format!(
        "{}/kernel-modules-c/3-multi/kernel/multi_ops.c:",
        dir.path().display()
    );
    assert!(
        run.stdout.contains(&shown),
        "errors name the student's file in kernel/\n{}",
        run.all()
    );
    assert!(
        !run.stdout.contains("target/klab/stage"),
        "no staging paths leak\n{}",
        run.all()
    );
}

#[test]
fn a_module_init_that_never_returns_times_out_and_the_next_task_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    let task = copy_template_task(dir.path(), "intro", "1-2-hello");
    replace_in(
        &task.join("hello.rs"),
        "Ok(Hello)",
        "loop {\n            core::hint::spin_loop();\n        }",
    );
    copy_template_task(dir.path(), "intro", "3-fail");

    let started = std::time::Instant::now();
    let run = check_skels(&[], dir.path(), &["intro"]);
    assert_eq!(
        run.verdicts(),
        [
            ("TIMEOUT".to_string(), "intro/1-2-hello".to_string()),
            ("PASS".to_string(), "intro/3-fail".to_string())
        ],
        "{}",
        run.all()
    );
    assert!(
        run.stdout.contains("did not finish within 20 s"),
        "{}",
        run.all()
    );
    // The task is stopped at its limit, not later. (The command's own wall time also holds
    // cold builds and, in a fresh checkout, making the saved guest while the suite's other VM
    // tests load the same two cores: not this test's business.)
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("TIMEOUT"))
        .unwrap();
    let secs: f64 = line
        .rsplit_once('(')
        .and_then(|(_, t)| t.strip_suffix(" s)"))
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no duration in {line:?}"));
    assert!(
        (20.0..60.0).contains(&secs),
        "the hung VM was not killed at the task's 20 s limit: {line}\n(the whole check took {:?})",
        started.elapsed()
    );
    assert_eq!(run.code, 1);
}

#[test]
fn the_kernel_crates_doctests_pass_in_the_vm() {
    let run = xtask(&["kernel", "doctests"]);
    assert_eq!(run.code, 0, "{}", run.all());
    // The count is a note: the terminal renderer writes notes to stderr, indented.
    let all = run.all();
    let line = all
        .lines()
        .map(str::trim_start)
        .find(|l| l.starts_with("kunit: "))
        .unwrap_or_default()
        .to_owned();
    let passed: usize = line
        .split(", ")
        .nth(1)
        .and_then(|p| p.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        passed >= 100,
        "expected the kernel crate's doctests (100+) to run and pass: {line}"
    );
    assert!(line.contains(" 0 failed"), "{line}");
}
