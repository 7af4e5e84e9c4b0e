//! The fast path (a VM resumed from the saved guest, lab files loaded from its disk) against
//! the cold path (a boot per VM): both give the same verdicts, and a task that faults cannot
//! leave anything behind for the next one, because the next VM starts from the clean saved
//! state. The other VM tests run on the fast path (the default); this file also runs the
//! cold path, so both stay proven.

mod support;

use support::{check_skels, copy_template_task, replace_in, xtask_env};

/// The intro lab as a student has it, with a module that leaves a file behind and one that
/// notices such a file (`KernelFile::create_new` fails with EEXIST on an existing file).
fn leak_fixture(dir: &std::path::Path, fault: bool) {
    let hello = copy_template_task(dir, "intro", "1-2-hello");
    let leave = "        let _ = kernel::fs::KernelFile::create_new(kernel::c_str!(\"/tmp/klab-leak\"), 0o644);\n";
    let then = if fault {
        "        panic!(\"klab fixture: fault after leaving a file behind\");\n"
    } else {
        ""
    };
    replace_in(
        &hello.join("hello.rs"),
        "    fn init(_module: &'static ThisModule) -> Result<Self> {\n",
        &format!("    fn init(_module: &'static ThisModule) -> Result<Self> {{\n{leave}{then}"),
    );
    // busybox insmod calls a failing init twice: only the first call in a VM looks (a
    // marker file tells them apart), so the detector does not see its own file.
    let fail = copy_template_task(dir, "intro", "3-fail");
    replace_in(
        &fail.join("fail.rs"),
        "        pr_info!(\"checking for the device\\n\");\n",
        concat!(
            "        let first_call = kernel::fs::KernelFile::create_new(kernel::c_str!(\"/tmp/klab-fail-ran\"), 0o644).is_ok();\n",
            "        if first_call && kernel::fs::KernelFile::create_new(kernel::c_str!(\"/tmp/klab-leak\"), 0o644).is_err() {\n",
            "            pr_info!(\"state left by an earlier task\\n\");\n",
            "        }\n",
            "        pr_info!(\"checking for the device\\n\");\n",
        ),
    );
}

#[test]
fn a_fault_cannot_leak_state_into_the_next_task() {
    let dir = tempfile::tempdir().unwrap();
    leak_fixture(dir.path(), true);
    let run = check_skels(&[], dir.path(), &["intro"]);
    assert!(
        run.stderr.contains("resumed from the saved guest"),
        "the fast path is the default\n{}",
        run.all()
    );
    assert_eq!(
        run.verdicts(),
        [
            ("FAULT".to_string(), "intro/1-2-hello".to_string()),
            ("PASS".to_string(), "intro/3-fail".to_string())
        ],
        "after the fault, the next task starts from the clean saved guest\n{}",
        run.all()
    );
}

#[test]
fn the_leak_detector_sees_state_when_the_vm_is_reused() {
    // The control for the test above: without a fault the VM serves both tasks, the file
    // is still there, and the second task's check fails on it. So the detector works.
    let dir = tempfile::tempdir().unwrap();
    leak_fixture(dir.path(), false);
    let run = check_skels(&[], dir.path(), &["intro"]);
    assert_eq!(
        run.verdicts(),
        [
            ("PASS".to_string(), "intro/1-2-hello".to_string()),
            ("FAIL".to_string(), "intro/3-fail".to_string())
        ],
        "{}",
        run.all()
    );
    assert!(
        run.stdout.contains("+ fail: state left by an earlier task"),
        "{}",
        run.all()
    );
}

#[test]
fn the_cold_path_gives_the_same_verdicts() {
    let run = xtask_env(&["check", "--solution"], &[("KLAB_BOOT", "cold")]);
    assert!(
        run.stderr.contains("(tcg, booted)") || run.stderr.contains("(kvm, booted)"),
        "{}",
        run.all()
    );
    let verdicts = run.verdicts();
    assert!(!verdicts.is_empty(), "{}", run.all());
    for (status, id) in &verdicts {
        assert_eq!(
            status,
            "PASS",
            "{id} must pass when booted too\n{}",
            run.all()
        );
    }
}

#[test]
fn check_watch_checks_again_when_a_file_changes() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let task = copy_template_task(dir.path(), "intro", "1-2-hello");
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "--skels-dir",
            dir.path().to_str().unwrap(),
            "check",
            "--watch",
            "intro/1-2-hello",
        ])
        .env_remove("LABS")
        .env_remove("KLAB_BOOT")
        .current_dir(support::repo())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let wait_for = |what: &str| -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(240);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            if let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) {
                let done = line.contains(what);
                seen.push(line);
                if done {
                    return seen;
                }
            }
        }
        panic!(
            "no line with {what:?} within 240 s; saw:\n{}",
            seen.join("\n")
        );
    };
    let first = wait_for("watching 1 task folder");
    assert!(
        first
            .iter()
            .any(|l| l.starts_with("PASS") && l.contains("intro/1-2-hello")),
        "{first:?}"
    );

    // The student breaks the greeting: the watcher checks again, by itself, and fails.
    replace_in(
        &task.join("hello.rs"),
        "Hello from a Rust module!",
        "Helo from a Rust module!",
    );
    let second = wait_for("watching 1 task folder");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        second
            .iter()
            .any(|l| l.contains("changed: intro/1-2-hello")),
        "{second:?}"
    );
    assert!(
        second
            .iter()
            .any(|l| l.starts_with("FAIL") && l.contains("intro/1-2-hello")),
        "{second:?}"
    );
}
