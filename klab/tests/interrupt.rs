//! The interrupt token stops a run promptly and kills its VM. A test binary of its own: the
//! token is process-wide, and once set stays set.

mod support;

use std::time::{Duration, Instant};

use klab::events::Event;
use klab::judge::verdict::Outcome;
use klab::run::tasks::VmPolicy;
use support::{passing, read, statuses, FakeTask, Rig};

#[test]
fn an_interrupt_kills_the_running_vm_and_no_further_task_starts() {
    let hang = FakeTask {
        name: "hang",
        timeout_secs: 60,
        rule: "hang = true",
    };
    let rig = Rig::new(&[hang, passing("after")]);
    let (verdicts, took) = std::thread::scope(|s| {
        let run = s.spawn(|| rig.run(VmPolicy::Reuse));
        let waiting = Instant::now();
        while !rig
            .recorder
            .events()
            .iter()
            .any(|e| matches!(e, Event::VmStarted { .. }))
        {
            assert!(waiting.elapsed() < Duration::from_secs(10), "no VM started");
            std::thread::sleep(Duration::from_millis(10));
        }
        // The test command is running (it never ends by itself).
        std::thread::sleep(Duration::from_millis(200));
        let interrupted = Instant::now();
        assert_eq!(klab::run::interrupt::interrupt(), 1, "one VM was killed");
        (run.join().unwrap(), interrupted.elapsed())
    });
    assert!(
        took < Duration::from_secs(5),
        "the run stopped {took:?} after the interrupt"
    );
    assert_eq!(
        statuses(&verdicts),
        [
            ("fake/hang".to_owned(), "VM ERROR"),
            ("fake/after".to_owned(), "VM ERROR")
        ]
    );
    let Outcome::VmError { message } = &verdicts[1].outcome else {
        unreachable!()
    };
    assert!(message.contains("interrupted"), "{message}");
    assert_eq!(rig.vm_starts_and_stops(), (1, 1));
    // The fake's process is gone (killed and reaped).
    let log = read(&rig.console_log(1));
    let pid = log
        .lines()
        .find_map(|l| l.strip_prefix("klab-fake-vm: pid "))
        .unwrap_or_else(|| panic!("no pid line: {log}"));
    assert!(
        !std::path::Path::new(&format!("/proc/{}", pid.trim())).exists(),
        "the VM process {pid} still exists"
    );
}
