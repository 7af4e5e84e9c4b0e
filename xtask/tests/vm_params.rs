//! Lab parameters in real grading runs: `grade` draws fresh values per submission, the
//! reference solutions still get full marks with them, and modules that hard-code what
//! students see in `check` (a greeting for `students`, a refusal of `keep.me`) lose the
//! points of exactly the checks that depend on the parameter. Results record the seed and
//! the values, and the seed alone says what they were.
//!
//! Each lab is graded once, its submissions in parallel: two VMs per test, one test at a time.

mod support;

use std::path::Path;

use support::{checks, copy_template_task, replace_in, repo, results, xtask};

/// One grading run at a time: each already runs two VMs on a machine with few cores.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A seed of our choosing, so that the values can be recomputed here.
const SEED: u64 = 20261125;

/// Grades `names` (folders under `subs`) for `lab` with `--seed SEED`.
fn grade(dir: &Path, lab: &str, names: &[&str]) -> std::path::PathBuf {
    let out = dir.join("out");
    let seed = SEED.to_string();
    let mut args = vec![
        "grade",
        "--lab",
        lab,
        "--jobs",
        "2",
        "--seed",
        &seed,
        "--out",
        out.to_str().unwrap(),
    ];
    let paths: Vec<String> = names
        .iter()
        .map(|n| dir.join("subs").join(n).to_string_lossy().into_owned())
        .collect();
    args.extend(paths.iter().map(String::as_str));
    let run = xtask(&args);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains(&format!("with seed {SEED}")),
        "the seed is shown: {}",
        run.all()
    );
    out
}

/// What `grade --seed SEED` draws for submission `name` of `lab`, computed from the manifest.
fn expected_values(lab: &str, name: &str) -> klab::lab::params::Values {
    let lab = klab::lab::manifest::Lab::load(&repo().join("labs").join(lab)).unwrap();
    lab.manifest
        .params
        .draw(klab::lab::params::submission_seed(SEED, name))
        .unwrap()
}

fn assert_full_marks(lab: &str, v: &serde_json::Value) {
    assert!(
        v["score"].as_f64().unwrap() > 0.0 && v["score"] == v["max_score"],
        "{lab}: the reference solution gets full marks with drawn parameters: {v:#}"
    );
}

/// The seed and the values in results.json and grade.json are those `--seed` draws again.
fn assert_recorded(out: &Path, lab: &str, name: &str) -> klab::lab::params::Values {
    let expected = expected_values(lab, name);
    let v = results(out, name);
    assert_eq!(v["extra_data"]["klab"]["seed"], SEED, "{v:#}");
    assert_eq!(
        v["extra_data"]["klab"]["params"],
        serde_json::to_value(&expected).unwrap(),
        "{v:#}"
    );
    let grade: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join(name).join("grade.json")).unwrap())
            .unwrap();
    assert_eq!(grade["params"]["seed"], SEED);
    assert_eq!(
        grade["params"]["values"],
        serde_json::to_value(&expected).unwrap()
    );
    let defaults = klab::lab::manifest::Lab::load(&repo().join("labs").join(lab))
        .unwrap()
        .manifest
        .params
        .defaults();
    for (param, value) in expected.iter() {
        assert_ne!(
            Some(value),
            defaults.get(param),
            "{param} was drawn as its default"
        );
    }
    expected
}

#[test]
fn a_greeting_written_in_loses_the_parameter_check_and_the_solution_passes() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let subs = dir.path().join("subs");
    copy_template_task(&subs.join("solution"), "intro", "1-2-hello");
    copy_template_task(&subs.join("solution"), "intro", "3-fail");
    // Passes `check` (who=students there), whatever `who` is.
    let fixed = copy_template_task(&subs.join("hardcoded"), "intro", "1-2-hello");
    replace_in(
        &fixed.join("hello.rs"),
        "pr_info!(\"Hello, {}!\\n\", WHO.get());",
        "pr_info!(\"Hello, students!\\n\");",
    );
    copy_template_task(&subs.join("hardcoded"), "intro", "3-fail");

    let out = grade(dir.path(), "intro", &["solution", "hardcoded"]);
    assert_full_marks("intro", &results(&out, "solution"));
    assert_recorded(&out, "intro", "solution");
    let who = assert_recorded(&out, "intro", "hardcoded");
    let who = who.get("WHO").unwrap();

    let v = results(&out, "hardcoded");
    assert_eq!(
        checks(&v),
        [
            ("messages on load and unload".to_string(), true),
            ("parameter who honoured".to_string(), false),
            ("init fails with ENODEV".to_string(), true),
        ],
        "{v:#}"
    );
    let output = v["tests"][1]["output"].as_str().unwrap();
    assert!(
        output.contains(&format!("- hello: Hello, {who}!"))
            && output.contains("+ hello: Hello, students!"),
        "the diff shows the drawn name against the written-in one: {output}"
    );
    let record = std::fs::read_to_string(out.join("hardcoded/1-2-hello.record.txt")).unwrap();
    assert!(
        record.contains(&format!("insmod hello.ko who={who}: ok")),
        "the test ran with the drawn name: {record}"
    );
}

#[test]
fn a_refusal_of_keep_me_written_in_loses_the_protection_checks_and_the_solution_passes() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let subs = dir.path().join("subs");
    copy_template_task(&subs.join("solution"), "syscall-hook", "1-2-unlink-hook");
    // Refuses `keep.me` whether or not `protect` names it.
    let fixed = copy_template_task(&subs.join("hardcoded"), "syscall-hook", "1-2-unlink-hook");
    replace_in(
        &fixed.join("unlink_hook.rs"),
        "if !PROTECT.get().is_empty() && name.as_bytes() == PROTECT.get().as_bytes() {",
        "if name.as_bytes() == b\"keep.me\" {",
    );

    let out = grade(dir.path(), "syscall-hook", &["solution", "hardcoded"]);
    assert_full_marks("syscall-hook", &results(&out, "solution"));
    let drawn = assert_recorded(&out, "syscall-hook", "hardcoded");
    let v = results(&out, "hardcoded");
    assert_eq!(
        checks(&v),
        [
            ("every unlink is intercepted and logged".to_string(), true),
            (
                "the protected name is refused with EPERM".to_string(),
                false
            ),
            ("the refusal is logged".to_string(), false),
            ("nothing is intercepted after rmmod".to_string(), false),
        ],
        "{v:#}"
    );
    let protect = drawn.get("PROTECT").unwrap();
    let record = std::fs::read_to_string(out.join("hardcoded/1-2-unlink-hook.record.txt")).unwrap();
    assert!(
        record.contains(&format!(
            "rm {protect}: removed\nrm b.txt: removed\nfiles left:\n"
        )),
        "the drawn name was not protected: {record}"
    );
}

#[test]
fn the_networking_solutions_pass_with_drawn_ports_and_address() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let subs = dir.path().join("subs");
    for task in ["1-2-netfilter", "3-4-tcp-sock", "5-udp-sock"] {
        copy_template_task(&subs.join("c"), "networking-c", task);
    }
    let out = grade(dir.path(), "networking-c", &["c"]);
    assert_full_marks("networking-c", &results(&out, "c"));
    let drawn = assert_recorded(&out, "networking-c", "c");
    let record = std::fs::read_to_string(out.join("c/3-4-tcp-sock.record.txt")).unwrap();
    let port = drawn.get("TCP_PORT").unwrap();
    assert!(
        record.contains(&format!("listener on 127.0.0.1:{port}: yes")),
        "{record}"
    );
}
