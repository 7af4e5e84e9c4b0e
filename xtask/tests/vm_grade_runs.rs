//! `cargo xtask grade` as a run: shards split the submissions and `--merge` joins their
//! results; Ctrl-C or SIGTERM stops the grader with no VM left running and the partial
//! results kept, marked incomplete; each job builds the skeleton once and replays its build
//! for each submission, leaving nothing behind.
//!
//! What each submission scores is vm_grade.rs's.

mod support;

use support::{copy_template_task, replace_in, repo, results, write, xtask, xtask_env};

#[test]
fn a_grading_run_builds_the_skeleton_once_and_replays_it_per_submission() {
    let dir = tempfile::tempdir().unwrap();
    let subs = dir.path().join("subs");
    copy_template_task(&subs.join("solution"), "intro", "1-2-hello");
    copy_template_task(&subs.join("solution"), "intro", "3-fail");
    // A task folder with nothing in it: the skeleton is graded, and not built again (the
    // seed is up to date).
    std::fs::create_dir_all(subs.join("untouched/1-2-hello")).unwrap();
    // A compile error: the replay fails, kbuild runs and says why.
    let broken = copy_template_task(&subs.join("typo"), "intro", "3-fail");
    replace_in(&broken.join("fail.rs"), "Ok(Fail)", "Ok(Fial)");
    copy_template_task(&subs.join("typo"), "intro", "1-2-hello");

    // The desks go in the test's own temporary folder: what is left there is this run's.
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let out = dir.path().join("out");
    let mut args = vec![
        "--message-format",
        "json",
        "grade",
        "--lab",
        "intro",
        "--jobs",
        "2",
        "--out",
        out.to_str().unwrap(),
    ];
    let names: Vec<String> = ["solution", "untouched", "typo"]
        .iter()
        .map(|n| subs.join(n).to_string_lossy().into_owned())
        .collect();
    args.extend(names.iter().map(String::as_str));
    let run = xtask_env(&args, &[("TMPDIR", tmp.to_str().unwrap())]);
    assert_eq!(run.code, 0, "{}", run.all());

    let events: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let seed_builds = events
        .iter()
        .filter(|e| {
            e["event"] == "step_finished" && e["what"].as_str().unwrap().contains("the skeleton")
        })
        .count();
    assert_eq!(seed_builds, 1, "one seed build per run: {}", run.stdout);
    // How each task of each submission was built (two jobs: in any order).
    let built: Vec<(String, String)> = events
        .iter()
        .filter(|e| e["event"] == "task_built")
        .map(|e| {
            (
                e["task"].as_str().unwrap().to_owned(),
                e["how"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let how = |task: &str| -> Vec<&str> {
        let mut how: Vec<&str> = built
            .iter()
            .filter(|(t, _)| t == task)
            .map(|(_, h)| h.as_str())
            .collect();
        how.sort();
        how
    };
    assert_eq!(
        how("intro/1-2-hello"),
        ["replayed", "replayed", "up_to_date"],
        "{built:?}"
    );
    assert_eq!(how("intro/3-fail"), ["replayed", "up_to_date"], "{built:?}");

    let score = |name: &str| results(&out, name)["score"].as_f64().unwrap();
    assert_eq!(score("solution"), 3.0);
    assert_eq!(score("untouched"), 0.0);
    let typo = results(&out, "typo").to_string();
    assert!(
        typo.contains("BUILD FAILED") && typo.contains("Fial"),
        "kbuild's message after the failed replay: {typo}"
    );

    // Every desk is gone, and no VM names one.
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().flatten().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let ps = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .unwrap();
    let tmp_text = tmp.to_string_lossy();
    assert!(
        !String::from_utf8_lossy(&ps.stdout)
            .lines()
            .any(|l| l.contains("qemu-system") && l.contains(&*tmp_text)),
        "a grading VM outlived the run"
    );
}

#[test]
fn shards_split_the_submissions_and_merge_joins_them() {
    let dir = tempfile::tempdir().unwrap();
    let subs = dir.path().join("subs");
    for name in ["a", "b", "c"] {
        // Rejected submissions grade without a VM: this test is about the bookkeeping.
        write(&subs.join(format!("{name}.txt")), "not an archive\n");
    }
    let names: Vec<String> = ["c", "a", "b"]
        .iter()
        .map(|n| subs.join(format!("{n}.txt")).to_string_lossy().into_owned())
        .collect();
    let out1 = dir.path().join("out1");
    let out2 = dir.path().join("out2");
    let mut one = vec![
        "grade",
        "--lab",
        "intro",
        "--shard",
        "1/2",
        "--out",
        out1.to_str().unwrap(),
    ];
    one.extend(names.iter().map(String::as_str));
    let mut two = vec![
        "grade",
        "--lab",
        "intro",
        "--shard",
        "2/2",
        "--format",
        "tap",
        "--out",
        out2.to_str().unwrap(),
    ];
    two.extend(names.iter().map(String::as_str));
    assert_eq!(xtask(&one).code, 0);
    let tap = xtask(&two);
    assert_eq!(tap.code, 0, "{}", tap.all());
    assert!(
        tap.stdout.starts_with("KTAP version 1\n1..1\n"),
        "{}",
        tap.stdout
    );
    assert!(out1.join("a.txt/results.json").is_file() && out1.join("c.txt/results.json").is_file());
    assert!(out2.join("b.txt/results.json").is_file() && !out2.join("a.txt").exists());

    let merged = dir.path().join("merged");
    let run = xtask(&[
        "grade",
        "--lab",
        "intro",
        "--out",
        merged.to_str().unwrap(),
        "--merge",
        out1.to_str().unwrap(),
        out2.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.all());
    let csv = std::fs::read_to_string(merged.join("scores.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.contains("\na.txt,0,0,0,3,false\nb.txt,"), "{csv}");
}

#[test]
fn ctrl_c_kills_the_vms_and_keeps_partial_results_marked_incomplete() {
    interrupted_by("-INT", "ctrlc");
}

/// SIGTERM (a cancelled CI job, `timeout`, a service stop) as Ctrl-C: without a handler the
/// grader died and left its VMs running (a guest spinning in a module's init, forever).
#[test]
fn sigterm_kills_the_vms_like_ctrl_c() {
    interrupted_by("-TERM", "sigterm");
}

/// Grades three submissions named `{prefix}N`, sends `signal` once a VM runs, and checks that
/// no VM outlives the grader and that the partial results are kept, marked incomplete.
fn interrupted_by(signal: &str, prefix: &str) {
    let dir = tempfile::tempdir().unwrap();
    let subs = dir.path().join("subs");
    let names: Vec<String> = (1..=3).map(|i| format!("{prefix}{i}")).collect();
    for name in &names {
        copy_template_task(&subs.join(name), "intro", "1-2-hello");
        copy_template_task(&subs.join(name), "intro", "3-fail");
    }
    let out = dir.path().join("out");
    // The grader's desks go in the test's own temporary folder: its VMs name it.
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["grade", "--lab", "intro", "--out"])
        .arg(&out)
        .args(names.iter().map(|n| subs.join(n)))
        .env_remove("LABS")
        .env("TMPDIR", &tmp)
        .current_dir(repo())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until a grading VM runs, then interrupt the grader.
    let qemu_of_this_run = || {
        let ps = std::process::Command::new("ps")
            .args(["-eo", "pid,args"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&ps.stdout)
            .lines()
            .filter(|l| l.contains("qemu-system") && l.contains(&*tmp.to_string_lossy()))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while qemu_of_this_run().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no grading VM started"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the grader ended before a VM started"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let status = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(130));
    assert!(
        qemu_of_this_run().is_empty(),
        "a VM outlived the interrupted grader: {:?}",
        qemu_of_this_run()
    );
    let csv = std::fs::read_to_string(out.join("scores.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "every submission is listed: {csv}");
    assert!(
        csv.lines().skip(1).any(|l| l.ends_with(",true")),
        "interrupted work is marked incomplete: {csv}"
    );
}
