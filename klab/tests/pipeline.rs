//! The engine's task pipeline ([`klab::run::tasks::run_tasks`]: VM start, the command
//! protocol, verdicts, VM reuse and restarts, limits) against `klab-fake-vm`, a stand-in for
//! QEMU whose guest does what each test says. No kernel, no QEMU: each test takes a moment.

mod support;

use std::time::{Duration, Instant};

use klab::events::Event;
use klab::judge::verdict::Outcome;
use klab::run::tasks::VmPolicy;
use klab::vm::console::FaultKind;
use klab::vm::limits::{COMMAND_OUTPUT_BYTES, CONSOLE_LOG_BYTES};
use support::{passing, read, statuses, FakeTask, Rig};

fn owned(pairs: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
    pairs.iter().map(|(t, s)| (t.to_string(), *s)).collect()
}

#[test]
fn a_task_whose_output_matches_its_snapshot_passes_and_one_that_differs_fails() {
    let rig = Rig::new(&[passing("pass"), passing("differs")]);
    rig.expect("differs", "something else\n", 0, "differs: loaded\n");
    let verdicts = rig.run(VmPolicy::Reuse);
    assert_eq!(
        statuses(&verdicts),
        owned(&[("fake/pass", "PASS"), ("fake/differs", "FAIL")])
    );
    let Outcome::Mismatch(_) = &verdicts[1].outcome else {
        panic!("{:?}", verdicts[1].outcome)
    };
    let diff = verdicts[1].explain();
    assert!(diff.contains("hello from differs"), "{diff}");
    // The verdicts were reported as events, in order.
    let reported: Vec<String> = rig
        .recorder
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::Verdict(v) => Some(format!("{} {}", v.task, v.status)),
            _ => None,
        })
        .collect();
    assert_eq!(reported, ["fake/pass PASS", "fake/differs FAIL"]);
    // The console log has the boot, the harness's notes and the kernel's messages, in order
    // (the boot's lines and the ready line come on two streams: only their presence holds).
    let log = read(&rig.console_log(1));
    let at = |text: &str| log.find(text).unwrap_or_else(|| panic!("{text}: {log}"));
    at("Linux version");
    assert!(at("===== klab: task fake/pass =====") < at("pass: loaded"));
    assert!(at("pass: loaded") < at("===== klab: task fake/differs ====="));
}

#[test]
fn passing_tasks_share_one_vm_unless_each_must_have_its_own() {
    let tasks = [passing("a"), passing("b"), passing("c")];
    let rig = Rig::new(&tasks);
    let verdicts = rig.run(VmPolicy::Reuse);
    assert!(
        verdicts.iter().all(|v| v.passed()),
        "{:?}",
        statuses(&verdicts)
    );
    assert_eq!(rig.vm_starts_and_stops(), (1, 1));

    let rig = Rig::new(&tasks);
    let verdicts = rig.run(VmPolicy::FreshPerTask);
    assert!(
        verdicts.iter().all(|v| v.passed()),
        "{:?}",
        statuses(&verdicts)
    );
    assert_eq!(rig.vm_starts_and_stops(), (3, 3));
}

#[test]
fn a_command_that_hangs_times_out_and_the_next_task_gets_a_fresh_vm() {
    let hang = FakeTask {
        name: "hang",
        timeout_secs: 1,
        rule: "hang = true",
    };
    let rig = Rig::new(&[passing("before"), hang, passing("after")]);
    let start = Instant::now();
    let verdicts = rig.run(VmPolicy::Reuse);
    assert_eq!(
        statuses(&verdicts),
        owned(&[
            ("fake/before", "PASS"),
            ("fake/hang", "TIMEOUT"),
            ("fake/after", "PASS")
        ])
    );
    assert!(matches!(verdicts[1].outcome, Outcome::Timeout { secs: 1 }));
    assert_eq!(rig.vm_starts_and_stops(), (2, 2));
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn an_oops_is_a_fault_with_its_title_and_the_vm_restarts() {
    let oops = FakeTask {
        name: "oops",
        timeout_secs: 1,
        rule: "oops = \"BUG: kernel NULL pointer dereference, address: 0000000000000008\"",
    };
    let rig = Rig::new(&[oops, passing("after")]);
    let verdicts = rig.run(VmPolicy::Reuse);
    assert_eq!(
        statuses(&verdicts),
        owned(&[("fake/oops", "FAULT"), ("fake/after", "PASS")])
    );
    let Outcome::Fault(fault) = &verdicts[0].outcome else {
        unreachable!()
    };
    assert_eq!(fault.kind, FaultKind::Oops);
    assert!(
        fault.excerpt[0].contains("BUG: kernel NULL pointer dereference"),
        "{:?}",
        fault.excerpt
    );
    assert!(
        fault.excerpt.iter().any(|l| l.contains("fake_init")),
        "{:?}",
        fault.excerpt
    );
    assert_eq!(rig.vm_starts_and_stops(), (2, 2));
}

#[test]
fn floods_of_output_and_console_stay_within_the_limits() {
    // Past the caps, yet small enough to take a moment in a debug build (the console log's
    // own cap, 16 MB, is left to the unit tests' budget).
    let flood = FakeTask {
        name: "flood",
        timeout_secs: 5,
        rule: "flood_bytes = 1_500_000\nflood_console_bytes = 1_500_000\noutput = \"end\\n\"",
    };
    let rig = Rig::new(&[flood, passing("after")]);
    rig.expect("flood", "end\n", 0, "");
    let verdicts = rig.run(VmPolicy::Reuse);
    assert_eq!(
        statuses(&verdicts),
        owned(&[("fake/flood", "FAIL"), ("fake/after", "PASS")])
    );
    let record = verdicts[0].record.as_ref().expect("a record");
    let kept: usize = record.output.iter().map(|l| l.len() + 1).sum();
    assert!(kept < COMMAND_OUTPUT_BYTES + 1000, "{kept} bytes kept");
    assert!(
        record.output.iter().any(|l| l.contains("bytes cut]")),
        "the cut is marked"
    );
    let log = read(&rig.console_log(1));
    assert!(log.len() < CONSOLE_LOG_BYTES as usize, "{}", log.len());
    assert!(log.contains("fake: console flood"));
    // The protocol went on: the next task ran in the same VM.
    assert_eq!(rig.vm_starts_and_stops(), (1, 1));
}

#[test]
fn a_command_port_that_closes_is_a_vm_error_naming_the_step() {
    let dead = FakeTask {
        name: "dead",
        timeout_secs: 1,
        rule: "close_socket = true",
    };
    let rig = Rig::new(&[dead, passing("after")]);
    let verdicts = rig.run(VmPolicy::Reuse);
    assert_eq!(
        statuses(&verdicts),
        owned(&[("fake/dead", "VM ERROR"), ("fake/after", "PASS")])
    );
    let Outcome::VmError { message } = &verdicts[0].outcome else {
        unreachable!()
    };
    assert!(message.starts_with("running the test: "), "{message}");
    assert!(message.contains("command port (ttyS1) closed"), "{message}");
    assert_eq!(rig.vm_starts_and_stops(), (2, 2));
}

#[test]
fn a_vm_that_cannot_start_is_a_vm_error_for_the_task() {
    let rig = Rig::new(&[passing("a")]);
    std::fs::write(rig.dir.path().join("script.toml"), "no = \"such field\"\n").unwrap();
    let verdicts = rig.run(VmPolicy::Reuse);
    let Outcome::VmError { message } = &verdicts[0].outcome else {
        panic!("{:?}", verdicts[0].outcome)
    };
    assert!(message.starts_with("booting the VM: "), "{message}");
    assert!(message.contains("unknown field"), "{message}");
}
