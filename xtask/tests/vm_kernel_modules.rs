//! The kernel-modules labs (C and Rust tracks) on the lean kernel: the oops exercise's
//! skeleton is a FAULT placed at the student's own file:line in both tracks, and the Rust
//! track grades a half-done submission check by check.
//!
//! (That every solution passes `check` and every skeleton builds and fails it, or faults for
//! the oops exercise, is proven for all labs by vm_check.rs.)

mod support;

use std::path::Path;

use support::{check_skels, checks, copy_template_task, replace_in, results, xtask};

/// One VM-heavy run at a time (each grades with two VMs).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The 1-based line of `file` that holds `marker`.
fn line_of(file: &Path, marker: &str) -> usize {
    let text = std::fs::read_to_string(file).unwrap();
    text.lines()
        .position(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("{} has no line with {marker:?}", file.display()))
        + 1
}

/// The lines printed under a task's verdict line, up to the next verdict.
fn explanation<'a>(stdout: &'a str, id: &str) -> &'a str {
    let start = stdout
        .find(&format!(" {id} "))
        .unwrap_or_else(|| panic!("no verdict for {id} in\n{stdout}"));
    let rest = &stdout[start..];
    let end = [
        "\nPASS",
        "\nFAIL",
        "\nFAULT",
        "\nTIMEOUT",
        "\nBUILD",
        "\nVM ERROR",
        "\nklab ",
    ]
    .iter()
    .filter_map(|m| rest[1..].find(m))
    .min()
    .unwrap_or(rest.len() - 1);
    &rest[..end + 1]
}

#[test]
fn the_oops_skeletons_fault_at_the_students_line_on_lean() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let skels = dir.path();
    let gen = xtask(&[
        "--skels-dir",
        skels.to_str().unwrap(),
        "skels",
        "kernel-modules-c/5-oops",
        "kernel-modules/5-oops",
    ]);
    assert_eq!(gen.code, 0, "{}", gen.all());
    let run = check_skels(
        &["--kernel-profile", "lean"],
        skels,
        &["kernel-modules-c/5-oops", "kernel-modules/5-oops"],
    );
    assert_eq!(run.code, 1, "{}", run.all());
    let places = [
        (
            "kernel-modules-c/5-oops",
            "oops.c",
            "counter->value = value;",
            "the kernel reported a bug while this task ran: ",
        ),
        (
            "kernel-modules/5-oops",
            "oops.rs",
            "counter.unwrap()",
            "the kernel reported a bug while this task ran: Rust panic in the kernel",
        ),
    ];
    for (id, file, marker, class) in places {
        assert!(
            run.verdicts().contains(&("FAULT".into(), id.into())),
            "the skeleton of {id} oopses: FAULT\n{}",
            run.all()
        );
        let text = explanation(&run.stdout, id);
        assert!(text.contains(class), "{id}: {class}\n{text}");
        // The faulting line, in the student's own file (not the stage it was built in).
        let source = skels.join(id).join(file);
        let place = format!("<- {}:{}", source.display(), line_of(&source, marker));
        assert!(text.contains(&place), "expected `{place}` in\n{text}");
        assert!(
            !text.contains("target/klab/stage"),
            "no stage path shown\n{text}"
        );
    }
}

#[test]
fn kernel_modules_rust_grades_a_half_done_submission_check_by_check() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let lab = "kernel-modules";
    let dir = tempfile::tempdir().unwrap();
    let subs = dir.path().join("subs");
    let tasks = ["1-params", "2-fail", "3-multi", "4-list", "5-oops"];
    for task in tasks {
        copy_template_task(&subs.join("solution"), lab, task);
    }
    // Half done: module information never written; gcd called but not written (Euclid left
    // out); the list walked but `current` not logged; the oops not fixed.
    let partial = subs.join("partial").join(lab);
    for task in tasks {
        copy_template_task(&subs.join("partial"), lab, task);
    }
    replace_in(
        &partial.join("1-params/params.rs"),
        "    author: \"klab\",\n    description: \"Greets whoever its parameters name\",\n",
        "",
    );
    replace_in(
        &partial.join("3-multi/kernel/ops.rs"),
        "    while b != 0 {",
        "    while b != 0 && false {",
    );
    replace_in(
        &partial.join("4-list/plist.rs"),
        "        pr_info!(\"current: pid {} comm {}\\n\", pid(me), comm(me));\n",
        "        let _ = me;\n",
    );
    replace_in(
        &partial.join("5-oops/oops.rs"),
        "        counter = Some(KBox::new(Counter { value: 0 }, GFP_KERNEL)?);\n",
        "",
    );

    let skels = dir.path().join("skels");
    let gen = xtask(&["--skels-dir", skels.to_str().unwrap(), "skels", lab]);
    assert_eq!(gen.code, 0, "{}", gen.all());
    let out = dir.path().join("out");
    let run = xtask(&[
        "grade",
        "--lab",
        lab,
        "--jobs",
        "2",
        "--out",
        out.to_str().unwrap(),
        subs.join("solution").to_str().unwrap(),
        subs.join("partial").to_str().unwrap(),
        skels.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.all());
    let solution = results(&out, "solution");
    assert!(
        solution["score"].as_f64().unwrap() > 0.0 && solution["score"] == solution["max_score"],
        "the reference solution gets full marks: {solution:#}"
    );
    let skeleton = results(&out, "skels");
    assert_eq!(skeleton["score"].as_f64(), Some(0.0), "{skeleton:#}");

    let v = results(&out, "partial");
    let expected = [
        ("module information", false),
        ("parameters described", true),
        ("greeting with the parameters", true),
        ("init fails with ENODEV", true),
        ("failure logged", true),
        ("the other file computes the gcd", false),
        ("current process", false),
        ("every process listed", true),
        ("loads without an oops", false),
        ("the counter keeps the value given", false),
    ];
    let want: Vec<(String, bool)> = expected.iter().map(|(n, p)| (n.to_string(), *p)).collect();
    assert_eq!(checks(&v), want, "partial credit, check by check: {v:#}");
    // 1-params 2 of 3, 2-fail 2 of 2, 3-multi 0 of 3, 4-list 2 of 3, 5-oops 0 of 2.
    assert_eq!(v["score"].as_f64(), Some(6.0), "{v:#}");
    assert_eq!(v["max_score"].as_f64(), Some(13.0), "{v:#}");
}
