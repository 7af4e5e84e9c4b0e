//! The labs made from the seed articles (ftp-client, syscall-hook, netlink-kthread) and in
//! their style (char-device-c), graded by `cargo xtask grade` in real VMs: full marks for the
//! reference solutions, zero for the generated skeletons, and partial credit, check by check,
//! for a submission that does only part of the work.
//!
//! (That every solution passes `check` and every skeleton builds and fails it is proven for
//! all labs by vm_check.rs.)

mod support;

use std::path::Path;

use support::{checks, copy_template_task, replace_in, results, xtask};

/// One grading run at a time: each already runs two VMs, and the guest scripts' waits (a
/// few seconds for rmmod, for an echo) are meant for a machine that is not overloaded.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Grades `solution`, the skeleton and `partial` of `lab`; returns the partial submission's
/// results after checking the other two.
fn grade_three(dir: &Path, lab: &str) -> serde_json::Value {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let subs = dir.join("subs");
    let skels = dir.join("skels");
    let gen = xtask(&["--skels-dir", skels.to_str().unwrap(), "skels", lab]);
    assert_eq!(gen.code, 0, "{}", gen.all());
    let out = dir.join("out");
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
        "{lab}: the reference solution gets full marks: {solution:#}"
    );
    let skeleton = results(&out, "skels");
    assert_eq!(
        skeleton["score"].as_f64(),
        Some(0.0),
        "{lab}: the skeleton gets nothing: {skeleton:#}"
    );
    results(&out, "partial")
}

fn assert_checks(lab: &str, v: &serde_json::Value, expected: &[(&str, bool)]) {
    let got = checks(v);
    let want: Vec<(String, bool)> = expected.iter().map(|(n, p)| (n.to_string(), *p)).collect();
    assert_eq!(got, want, "{lab}: partial credit, check by check: {v:#}");
}

#[test]
fn syscall_hook_grades_logging_without_refusing_as_partial_credit() {
    let dir = tempfile::tempdir().unwrap();
    let subs = dir.path().join("subs");
    copy_template_task(&subs.join("solution"), "syscall-hook", "1-2-unlink-hook");
    // Task 1 done, task 2 not: every unlink is logged, none is refused.
    let partial = copy_template_task(&subs.join("partial"), "syscall-hook", "1-2-unlink-hook");
    replace_in(
        &partial.join("unlink_hook.rs"),
        "            return Action::Fail(EPERM);\n",
        "",
    );
    let v = grade_three(dir.path(), "syscall-hook");
    assert_checks(
        "syscall-hook",
        &v,
        &[
            ("every unlink is intercepted and logged", true),
            ("the protected name is refused with EPERM", false),
            ("the refusal is logged", true),
            ("nothing is intercepted after rmmod", false),
        ],
    );
}

#[test]
fn netlink_kthread_grades_a_thread_stopped_without_shutdown_as_partial_credit() {
    let dir = tempfile::tempdir().unwrap();
    let subs = dir.path().join("subs");
    copy_template_task(&subs.join("solution"), "netlink-kthread", "1-3-echo");
    // Task 2 half done: no shutdown before stop(). kthread_stop interrupts the blocked
    // receive, so rmmod returns, but the thread ends with ERESTARTSYS instead of cleanly.
    let partial = copy_template_task(&subs.join("partial"), "netlink-kthread", "1-3-echo");
    replace_in(
        &partial.join("echo.rs"),
        "        let _ = self.sock.shutdown();\n",
        "",
    );
    let v = grade_three(dir.path(), "netlink-kthread");
    assert_checks(
        "netlink-kthread",
        &v,
        &[
            (
                "the klab_echo thread runs and serves UDP on 127.0.0.1, port `port`",
                true,
            ),
            ("datagrams are echoed", true),
            (
                "rmmod stops the thread cleanly (it exits before the module)",
                false,
            ),
            ("generic netlink GET_STATS reports the counters", true),
            ("rmmod returns and leaves no thread, socket or family", true),
        ],
    );
    let output = v["tests"][2]["output"].as_str().unwrap();
    assert!(
        output.contains("+ echo: echo thread failed: ERESTARTSYS"),
        "the interrupted receive is in the diff: {output}"
    );
}

#[test]
fn ftp_client_grades_an_ascii_mode_client_as_partial_credit() {
    let dir = tempfile::tempdir().unwrap();
    let subs = dir.path().join("subs");
    copy_template_task(&subs.join("solution"), "ftp-client", "1-4-ftp-get");
    // No TYPE I: the server sends in ASCII mode, line feeds become CR LF and the downloads
    // differ from the served files; the rest of the protocol and the path checks still work.
    let partial = copy_template_task(&subs.join("partial"), "ftp-client", "1-4-ftp-get");
    replace_in(
        &partial.join("ftp_get.rs"),
        "    ctl.command(kernel::fmt!(\"TYPE I\"), 200)?;\n",
        "",
    );
    let v = grade_three(dir.path(), "ftp-client");
    assert_checks(
        "ftp-client",
        &v,
        &[
            (
                "logs in (USER, PASS) and switches to binary (TYPE I)",
                false,
            ),
            ("active mode: text file downloaded byte for byte", false),
            ("active mode: binary file with all 256 byte values", false),
            ("the length is logged (return = N)", false),
            (
                "server errors become errno values (550: ENOENT, existing file: EEXIST)",
                true,
            ),
            ("passive mode (PASV)", false),
            (
                "local paths under /dev, /proc, /sys, relative or with dot components are refused",
                true,
            ),
            ("a refused login is EACCES", true),
        ],
    );
}

#[test]
fn char_device_grades_a_driver_without_the_length_ioctl_as_partial_credit() {
    let dir = tempfile::tempdir().unwrap();
    let subs = dir.path().join("subs");
    copy_template_task(&subs.join("solution"), "char-device-c", "1-4-chrbuf");
    // Task 3 half done: CHRBUF_IOCTL_CLEAR works, CHRBUF_IOCTL_LENGTH falls to ENOTTY. Reading,
    // writing, clearing and the one-opener rule still earn their points.
    let partial = copy_template_task(&subs.join("partial"), "char-device-c", "1-4-chrbuf");
    replace_in(
        &partial.join("chrbuf.c"),
        "\tcase CHRBUF_IOCTL_LENGTH:\n\t\tmutex_lock(&chrbuf.lock);\n\t\tif (put_user((__u32)chrbuf.len, (__u32 __user *)arg))\n\t\t\tret = -EFAULT;\n\t\tmutex_unlock(&chrbuf.lock);\n\t\tbreak;\n",
        "",
    );
    let v = grade_three(dir.path(), "char-device-c");
    assert_checks(
        "char-device-c",
        &v,
        &[
            ("/dev/chrbuf is a misc character device", true),
            ("what is written is read back (printf, cat)", true),
            ("reads at an offset (dd skip=)", true),
            ("writes at an offset (dd seek=)", true),
            ("short reads, and 0 at the end", true),
            ("a bad user pointer gives EFAULT", true),
            ("a full buffer: a short write, then ENOSPC", true),
            ("CHRBUF_IOCTL_LENGTH reports the length", false),
            ("CHRBUF_IOCTL_CLEAR empties the buffer", true),
            ("a write after a clear starts afresh", true),
            ("unknown commands are ENOTTY, a bad pointer EFAULT", false),
            ("a second opener gets EBUSY", true),
            (
                "the device is free again after close and after the holder exits",
                true,
            ),
            ("rmmod removes /dev/chrbuf", true),
        ],
    );
    assert_eq!(
        v["score"].as_f64(),
        Some(17.0),
        "2 of 19 points lost: {v:#}"
    );
}
