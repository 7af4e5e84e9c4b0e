//! The debug kernel profile (`--kernel-profile debug`: KASAN, lockdep, atomic-sleep checks,
//! kmemleak): each fault fixture (`fixtures/faults/`) is caught with its bug class and the
//! student's file:line, and is graded as failed; under the lean profile the same fixtures are
//! graded to the end without a hang; every lab's reference solution passes under debug (no
//! false positives).

mod support;

use std::path::Path;

use support::{copy_template_task, repo, results, task_scores, xtask};

/// One debug run at a time: debug VMs are slow and big, and the guest scripts' waits are
/// meant for a machine that is not overloaded.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A student's folder for `lab`: the reference solution of every task, with the fixture
/// set's files laid over it.
fn fixture_skels(dir: &Path, set: &str, lab: &str) -> std::path::PathBuf {
    let skels = dir.join(set);
    let labs = klab::lab::manifest::discover(&repo().join("labs")).unwrap();
    let manifest = &labs.iter().find(|l| l.name == lab).unwrap().manifest;
    for task in &manifest.tasks {
        copy_template_task(&skels, lab, &task.name);
    }
    let fixtures = repo().join("xtask/tests/fixtures/faults").join(set);
    for entry in walkdir::WalkDir::new(&fixtures) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let rel = entry.path().strip_prefix(&fixtures).unwrap();
            std::fs::copy(entry.path(), skels.join(rel)).unwrap();
        }
    }
    skels
}

/// The lines printed under a task's verdict line.
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

/// The 1-based line of `file` that holds `marker`.
fn line_of(file: &Path, marker: &str) -> usize {
    let text = std::fs::read_to_string(file).unwrap();
    text.lines().position(|l| l.contains(marker)).unwrap() + 1
}

/// `cargo xtask --kernel-profile PROFILE --skels-dir SKELS check SEL...`.
fn check(profile: &str, skels: &Path, sel: &[&str]) -> support::Run {
    support::check_skels(&["--kernel-profile", profile], skels, sel)
}

#[test]
fn c_fixtures_are_caught_with_their_bug_class_and_place() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let skels = fixture_skels(dir.path(), "c", "networking-c");
    let run = check("debug", &skels, &["networking-c"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let expected = [
        ("networking-c/1-2-netfilter", "sleep in atomic context"),
        ("networking-c/3-4-tcp-sock", "KASAN: slab-use-after-free"),
        ("networking-c/5-udp-sock", "memory leak (kmemleak)"),
    ];
    for (id, class) in expected {
        assert!(
            run.verdicts().contains(&("FAULT".into(), id.into())),
            "{id} is a FAULT\n{}",
            run.all()
        );
        let text = explanation(&run.stdout, id);
        assert!(
            text.contains(&format!(
                "the kernel reported a bug while this task ran: {class};"
            )),
            "{id}: {class}\n{text}"
        );
    }
    // The use-after-free is placed at the student's line, in the student's folder.
    let uaf = skels.join("networking-c/3-4-tcp-sock/tcp_sock.c");
    let place = format!("<- {}:{}", uaf.display(), line_of(&uaf, "/* the bug */"));
    let text = explanation(&run.stdout, "networking-c/3-4-tcp-sock");
    assert!(text.contains(&place), "expected `{place}` in\n{text}");
    // The hook that sleeps is named by its file too.
    let filter = skels.join("networking-c/1-2-netfilter/filter.c");
    let text = explanation(&run.stdout, "networking-c/1-2-netfilter");
    assert!(
        text.contains(&format!("<- {}:", filter.display())),
        "the hook is placed in filter.c\n{text}"
    );

    // The spinlock fixture, alone (its task is also the use-after-free's).
    let skels = fixture_skels(dir.path(), "c-lock", "networking-c");
    let run = check("debug", &skels, &["networking-c/3-4-tcp-sock"]);
    assert_eq!(
        run.verdicts(),
        [("FAULT".to_string(), "networking-c/3-4-tcp-sock".to_string())],
        "{}",
        run.all()
    );
    let text = explanation(&run.stdout, "networking-c/3-4-tcp-sock");
    assert!(
        text.contains("the kernel reported a bug while this task ran: lockdep: "),
        "{}",
        run.all()
    );
}

/// Grades fixture submissions of `lab` under `profile` (2 jobs). Grading finishes, every task
/// of each submission gets a verdict, and none is a hang or a lost VM. Returns each
/// submission's results.json and the text of its tests' outputs.
fn grade(profile: &str, lab: &str, subs: &[&Path], out: &Path) -> Vec<(serde_json::Value, String)> {
    let mut args = vec![
        "--kernel-profile",
        profile,
        "grade",
        "--lab",
        lab,
        "--jobs",
        "2",
    ];
    args.extend(["--out", out.to_str().unwrap()]);
    args.extend(subs.iter().map(|s| s.to_str().unwrap()));
    let run = xtask(&args);
    assert_eq!(run.code, 0, "{profile}: grading finishes\n{}", run.all());
    subs.iter()
        .map(|sub| {
            let name = sub.file_name().unwrap().to_str().unwrap();
            let v = results(out, name);
            assert_eq!(
                task_scores(&v).len(),
                3,
                "{profile} {name}: every task graded: {v:#}"
            );
            let outputs: String = v["tests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["output"].as_str().unwrap_or("").to_owned())
                .collect();
            assert!(
                !outputs.contains("TIMEOUT") && !outputs.contains("VM ERROR"),
                "{profile} {name}: no hang, no lost VM\n{outputs}"
            );
            (v, outputs)
        })
        .collect()
}

#[test]
fn rust_fixtures_are_graded_as_failed_under_debug_and_to_the_end_under_lean() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let sub = fixture_skels(dir.path(), "rust", "networking");
    let graded = grade(
        "debug",
        "networking",
        &[&sub],
        &dir.path().join("out-debug"),
    );
    let (v, outputs) = &graded[0];
    assert!(
        task_scores(v).iter().all(|(_, s)| *s == 0.0),
        "debug: every fixture fails its task: {v:#}"
    );
    for class in [
        "sleep in atomic context",
        "this task ran: lockdep: ",
        "memory leak (kmemleak)",
    ] {
        assert!(
            outputs.contains(class),
            "debug: `{class}` reported\n{outputs}"
        );
    }
    // Lean has none of these checkers: the same submission is graded to the end, and no
    // debug class is claimed.
    let graded = grade("lean", "networking", &[&sub], &dir.path().join("out-lean"));
    let (_, outputs) = &graded[0];
    assert!(
        !outputs.contains("kmemleak") && !outputs.contains("lockdep"),
        "{outputs}"
    );
}

#[test]
fn c_fixtures_are_graded_to_the_end_under_lean() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let c = fixture_skels(dir.path(), "c", "networking-c");
    let lock = fixture_skels(dir.path(), "c-lock", "networking-c");
    grade(
        "lean",
        "networking-c",
        &[&c, &lock],
        &dir.path().join("out"),
    );
}

#[test]
fn a_leak_in_a_working_solution_passes_on_lean_and_fails_on_debug() {
    // The case the profile exists for: the reference solutions, each with a small leak,
    // pass every check on the lean kernel; the debug kernel's kmemleak fails them.
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let udp = copy_template_task(dir.path(), "networking-c", "5-udp-sock");
    // Several objects: kmemleak may take a stale copy of the last address on a stack for a
    // reference, not of all of them.
    support::replace_in(
        &udp.join("udp_sock.c"),
        "static int __init my_udp_sock_init(void)\n{\n",
        "static void *scratch[8];\n\nstatic void grab_scratch(void)\n{\n\tint i;\n\n\tfor (i = 0; i < 8; i++)\n\t\tscratch[i] = kmalloc(64, GFP_KERNEL);\t/* never freed */\n}\n\nstatic int __init my_udp_sock_init(void)\n{\n",
    );
    support::replace_in(
        &udp.join("udp_sock.c"),
        "\terr = sock_create_kern(",
        "\tgrab_scratch();\n\terr = sock_create_kern(",
    );
    let hello = copy_template_task(dir.path(), "intro", "1-2-hello");
    support::replace_in(
        &hello.join("hello.rs"),
        "    fn init(_module: &'static ThisModule) -> Result<Self> {\n",
        "    fn init(_module: &'static ThisModule) -> Result<Self> {\n        for _ in 0..8 {\n            KBox::leak(KBox::new([0u8; 64], GFP_KERNEL)?);\n        }\n",
    );
    let tasks = ["networking-c/5-udp-sock", "intro/1-2-hello"];
    for (profile, status) in [("lean", "PASS"), ("debug", "FAULT")] {
        let run = check(profile, dir.path(), &tasks);
        let expected: Vec<(String, String)> = tasks
            .iter()
            .map(|t| (status.to_string(), t.to_string()))
            .collect();
        assert_eq!(run.verdicts(), expected, "{profile}\n{}", run.all());
        if profile == "debug" {
            for id in tasks {
                let text = explanation(&run.stdout, id);
                assert!(text.contains("memory leak (kmemleak)"), "{text}");
            }
        }
    }
}

#[test]
fn every_reference_solution_passes_under_debug() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let run = xtask(&["--kernel-profile", "debug", "check", "--solution"]);
    let ids = support::all_task_ids();
    let passed: Vec<String> = run
        .verdicts()
        .into_iter()
        .filter(|(s, _)| s == "PASS")
        .map(|(_, id)| id)
        .collect();
    assert_eq!(passed, ids, "no false positives under debug\n{}", run.all());
    assert_eq!(run.code, 0, "{}", run.all());
}
