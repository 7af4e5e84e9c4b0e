//! Reading the kernel console: recognising the reports that mean a task broke the kernel.
//!
//! The patterns follow the report titles the kernel prints (the same ones syzkaller keys
//! on). A report is a fault of the task that was running when it appeared.

/// What kind of kernel report a console line starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    Panic,
    Oops,
    Bug,
    Warning,
    SoftLockup,
    Hung,
    RustPanic,
}

impl FaultKind {
    pub fn describe(self) -> &'static str {
        match self {
            FaultKind::Panic => "kernel panic",
            FaultKind::Oops => "kernel oops",
            FaultKind::Bug => "kernel BUG",
            FaultKind::Warning => "kernel WARNING",
            FaultKind::SoftLockup => "soft lockup",
            FaultKind::Hung => "hung task / RCU stall",
            FaultKind::RustPanic => "Rust panic in the kernel",
        }
    }
}

const PATTERNS: &[(&str, FaultKind)] = &[
    ("Kernel panic - not syncing", FaultKind::Panic),
    ("watchdog: BUG: soft lockup", FaultKind::SoftLockup),
    ("BUG: soft lockup", FaultKind::SoftLockup),
    ("rcu_sched detected stall", FaultKind::Hung),
    ("rcu: INFO: rcu_", FaultKind::Hung),
    ("blocked for more than", FaultKind::Hung),
    ("rust_kernel: panicked at", FaultKind::RustPanic),
    ("panicked at ", FaultKind::RustPanic),
    ("Oops: ", FaultKind::Oops),
    ("general protection fault", FaultKind::Oops),
    ("Unable to handle kernel", FaultKind::Oops),
    ("BUG: kernel NULL pointer dereference", FaultKind::Oops),
    ("kernel BUG at", FaultKind::Bug),
    ("BUG: ", FaultKind::Bug),
    ("WARNING: CPU: ", FaultKind::Warning),
    ("WARNING: at ", FaultKind::Warning),
];

/// The kind of report a console line starts, if any. The kernel timestamp may precede it.
pub fn fault_in(line: &str) -> Option<FaultKind> {
    let text = strip_timestamp(line);
    PATTERNS
        .iter()
        .find(|(pattern, _)| text.contains(pattern))
        .map(|&(_, kind)| kind)
}

fn strip_timestamp(line: &str) -> &str {
    if let Some(rest) = line.strip_prefix('[') {
        if let Some((stamp, text)) = rest.split_once(']') {
            if stamp.trim().chars().all(|c| c.is_ascii_digit() || c == '.') {
                return text.trim_start();
            }
        }
    }
    line
}

/// The first fault seen in a stream of console lines, with an excerpt for the student.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    pub excerpt: Vec<String>,
}

/// Watches console lines; keeps the first report and the lines that follow it.
#[derive(Debug, Default)]
pub struct FaultWatch {
    fault: Option<Fault>,
}

/// How many lines of a report the excerpt keeps.
pub const EXCERPT_LINES: usize = 40;

impl FaultWatch {
    pub fn feed(&mut self, line: &str) {
        match &mut self.fault {
            Some(fault) => {
                // A panic that follows an oops is the more severe verdict; keep both excerpts.
                if fault.kind != FaultKind::Panic && fault_in(line) == Some(FaultKind::Panic) {
                    fault.kind = FaultKind::Panic;
                }
                if fault.excerpt.len() < EXCERPT_LINES {
                    fault.excerpt.push(line.to_owned());
                }
            }
            None => {
                if let Some(kind) = fault_in(line) {
                    self.fault = Some(Fault {
                        kind,
                        excerpt: vec![line.to_owned()],
                    });
                }
            }
        }
    }

    pub fn fault(&self) -> Option<&Fault> {
        self.fault.as_ref()
    }

    pub fn take(&mut self) -> Option<Fault> {
        self.fault.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_report_titles() {
        assert_eq!(
            fault_in("[   3.1] BUG: kernel NULL pointer dereference, address: 0000000000000000"),
            Some(FaultKind::Oops)
        );
        assert_eq!(
            fault_in("[   3.2] Oops: 0002 [#1] SMP NOPTI"),
            Some(FaultKind::Oops)
        );
        assert_eq!(
            fault_in("[   3.9] Kernel panic - not syncing: Fatal exception"),
            Some(FaultKind::Panic)
        );
        assert_eq!(fault_in("[ 1.0] WARNING: CPU: 0 PID: 53 at lib/refcount.c:25 refcount_warn_saturate+0x1/0x2"), Some(FaultKind::Warning));
        assert_eq!(
            fault_in("[ 22.1] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [insmod:55]"),
            Some(FaultKind::SoftLockup)
        );
        assert_eq!(
            fault_in("[ 1.0] kernel BUG at mm/slub.c:1:"),
            Some(FaultKind::Bug)
        );
        assert_eq!(
            fault_in("[ 1.0] rust_kernel: panicked at hello.rs:9:5:"),
            Some(FaultKind::RustPanic)
        );
    }

    #[test]
    fn ordinary_lines_are_not_faults() {
        assert_eq!(fault_in("[ 1.0] hello: module loaded"), None);
        assert_eq!(fault_in("TCP connection initiated from 127.0.0.1:5"), None);
        assert_eq!(fault_in("a WARNING for the student"), None);
    }

    #[test]
    fn watch_keeps_the_first_report_and_escalates_to_panic() {
        let mut watch = FaultWatch::default();
        watch.feed("[1.0] fine");
        watch.feed("[1.1] BUG: kernel NULL pointer dereference, address: 0");
        watch.feed("[1.2] RIP: 0010:init_module+0x5/0x10 [oops]");
        watch.feed("[1.3] Kernel panic - not syncing: Fatal exception");
        let fault = watch.take().unwrap();
        assert_eq!(fault.kind, FaultKind::Panic);
        assert_eq!(fault.excerpt.len(), 3);
        assert!(fault.excerpt[0].contains("NULL pointer"));
        assert!(watch.fault().is_none());
    }
}
