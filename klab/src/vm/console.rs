//! Reading the kernel console: recognising the reports that mean a task broke the kernel.
//!
//! The patterns follow the report titles the kernel prints (the same ones syzkaller keys
//! on). A report is a fault of the task that was running when it appeared. An excerpt keeps
//! at most [`EXCERPT_LINES`] lines of at most [`EXCERPT_LINE_BYTES`] each, whatever the
//! console carries.

use crate::vm::limits::{cut_line, floor_boundary, EXCERPT_LINE_BYTES, TITLE_BYTES};

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
    // The debug profile's checkers (kernel/debug.config).
    Kasan,
    Lockdep,
    SleepInAtomic,
    MemoryLeak,
    Refcount,
    DebugObjects,
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
            FaultKind::Kasan => "KASAN memory error",
            FaultKind::Lockdep => "lockdep locking error",
            FaultKind::SleepInAtomic => "sleep in atomic context",
            FaultKind::MemoryLeak => "memory leak (kmemleak)",
            FaultKind::Refcount => "refcount_t error",
            FaultKind::DebugObjects => "debug-objects error (ODEBUG)",
        }
    }

    /// A report of one of the debug profile's checkers (a precise bug class).
    pub fn is_checker(self) -> bool {
        matches!(
            self,
            FaultKind::Kasan
                | FaultKind::Lockdep
                | FaultKind::SleepInAtomic
                | FaultKind::MemoryLeak
                | FaultKind::Refcount
                | FaultKind::DebugObjects
        )
    }

    /// What the student should look for, after the report's first lines.
    pub fn hint(self) -> &'static str {
        match self {
            FaultKind::Kasan => "your module touched memory it does not own (freed, out of bounds); the first frames of your module say where",
            FaultKind::Lockdep => "a lock taken and not released, released twice, or taken in an order that can deadlock; the report lists the locks held",
            FaultKind::SleepInAtomic => "a function that may sleep (msleep, a GFP_KERNEL allocation, a mutex) was called while holding a spinlock or in a hook, timer or interrupt",
            FaultKind::MemoryLeak => "memory allocated while the task ran was still unreferenced after the test (and its rmmod) ended: free it on every path, including exit",
            FaultKind::Refcount => "a reference count went below zero or was used after reaching zero: a put without a get, or a use after the last put",
            FaultKind::DebugObjects => "a timer or work item was freed or re-initialised while still active",
            _ => "look for your module's functions in the call trace above",
        }
    }
}

/// Report titles, most specific first: a line is the kind of its first matching pattern.
const PATTERNS: &[(&str, FaultKind)] = &[
    ("Kernel panic - not syncing", FaultKind::Panic),
    ("BUG: KASAN: ", FaultKind::Kasan),
    (
        "BUG: sleeping function called from invalid context",
        FaultKind::SleepInAtomic,
    ),
    ("BUG: scheduling while atomic", FaultKind::SleepInAtomic),
    (
        "WARNING: possible circular locking dependency",
        FaultKind::Lockdep,
    ),
    ("-unsafe lock order detected", FaultKind::Lockdep),
    ("WARNING: possible recursive locking", FaultKind::Lockdep),
    ("WARNING: inconsistent lock state", FaultKind::Lockdep),
    ("WARNING: possible irq lock inversion", FaultKind::Lockdep),
    ("WARNING: Nested lock was not taken", FaultKind::Lockdep),
    ("WARNING: bad unlock balance detected", FaultKind::Lockdep),
    ("WARNING: held lock freed", FaultKind::Lockdep),
    ("still has locks held!", FaultKind::Lockdep),
    (
        "WARNING: lock held when returning to user space",
        FaultKind::Lockdep,
    ),
    ("WARNING: suspicious RCU usage", FaultKind::Lockdep),
    ("[ BUG: Invalid wait context ]", FaultKind::Lockdep),
    ("unreferenced object 0x", FaultKind::MemoryLeak),
    ("new suspected memory leaks", FaultKind::MemoryLeak),
    ("refcount_t: ", FaultKind::Refcount),
    ("ODEBUG: ", FaultKind::DebugObjects),
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
/// Only the line's first [`TITLE_BYTES`] are searched: a title is where a line starts.
pub fn fault_in(line: &str) -> Option<FaultKind> {
    let line = &line[..floor_boundary(line, TITLE_BYTES)];
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

impl Fault {
    /// The bug class a verdict names: the kind, made precise where the title says more
    /// (`KASAN: slab-use-after-free`, `lockdep: bad unlock balance detected`).
    pub fn class(&self) -> String {
        // The title is the line that made the kind (a later one when a checker's report
        // followed a generic warning).
        let title = self
            .excerpt
            .iter()
            .find(|l| fault_in(l) == Some(self.kind))
            .or(self.excerpt.first())
            .map(|l| strip_timestamp(l))
            .unwrap_or("");
        let after = |marker: &str| {
            title
                .split_once(marker)
                .map(|(_, rest)| rest.trim().trim_end_matches('!').to_owned())
        };
        let precise = match self.kind {
            FaultKind::Kasan => after("BUG: KASAN: ")
                .and_then(|r| r.split_whitespace().next().map(|w| format!("KASAN: {w}"))),
            FaultKind::Lockdep => after("WARNING: ").or_else(|| after("BUG: ")).map(|r| {
                format!(
                    "lockdep: {}",
                    r.trim_end_matches(" ]").trim_end_matches('!')
                )
            }),
            FaultKind::Refcount => after("refcount_t: ").map(|r| format!("refcount_t: {r}")),
            _ => None,
        };
        precise.unwrap_or_else(|| self.kind.describe().to_owned())
    }
}

/// Watches console lines; keeps the first report and the lines that follow it.
#[derive(Debug, Default)]
pub struct FaultWatch {
    fault: Option<Fault>,
}

/// How many lines of a report the excerpt keeps.
pub const EXCERPT_LINES: usize = crate::vm::limits::EXCERPT_LINES;

impl FaultWatch {
    pub fn feed(&mut self, line: &str) {
        match &mut self.fault {
            Some(fault) => {
                match fault_in(line) {
                    // A panic that follows an oops is the more severe verdict; keep both
                    // excerpts. A checker's report keeps its class: it names the cause.
                    Some(FaultKind::Panic) if !fault.kind.is_checker() => {
                        fault.kind = FaultKind::Panic
                    }
                    // A checker's report that follows a generic warning names the bug better
                    // (a spinlock held at the end of init: the WARN about preemption
                    // imbalance comes first, lockdep's report next).
                    Some(kind)
                        if kind.is_checker()
                            && matches!(fault.kind, FaultKind::Warning | FaultKind::Bug) =>
                    {
                        // The excerpt becomes the checker's report, after the generic title.
                        fault.kind = kind;
                        fault.excerpt.truncate(1);
                        fault.excerpt.push("...".to_owned());
                    }
                    _ => {}
                }
                if fault.excerpt.len() < EXCERPT_LINES {
                    fault.excerpt.push(cut_line(line, EXCERPT_LINE_BYTES));
                }
            }
            None => {
                if let Some(kind) = fault_in(line) {
                    self.fault = Some(Fault {
                        kind,
                        excerpt: vec![cut_line(line, EXCERPT_LINE_BYTES)],
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

/// The first report in a kernel log (`dmesg` text), as the console watch would have kept it.
/// The console is read by another thread and can lag behind the command port, so a task's
/// own log is looked at too: a report in it is never judged as a mere mismatch.
pub fn fault_in_log(log: &str) -> Option<Fault> {
    let mut watch = FaultWatch::default();
    for line in log.lines() {
        watch.feed(line);
    }
    watch.take()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_in_a_kernel_log_is_found_with_the_lines_after_it() {
        let log = "[    1.0] oops: hello\n[    3.3] rust_kernel: panicked at oops.rs:39:35:\n[    3.3] called `Option::unwrap()` on a `None` value\n[    3.4] Oops: invalid opcode: 0000 [#1] SMP\n";
        let fault = fault_in_log(log).unwrap();
        assert_eq!(fault.kind, FaultKind::RustPanic);
        assert_eq!(fault.excerpt.len(), 3);
        assert!(fault.excerpt[0].contains("panicked at oops.rs:39:35"));
        assert!(fault_in_log("[    1.0] oops: counter set to 123\n").is_none());
    }

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
    fn debug_checkers_reports_have_their_own_classes() {
        let cases = [
            ("[ 5.1] BUG: KASAN: slab-use-after-free in uaf_init+0x95/0x1000 [uaf]", FaultKind::Kasan, "KASAN: slab-use-after-free"),
            ("[ 5.1] BUG: sleeping function called from invalid context at kernel/time/sleep_timeout.c:300", FaultKind::SleepInAtomic, "sleep in atomic context"),
            ("[ 5.1] BUG: scheduling while atomic: insmod/60/0x00000002", FaultKind::SleepInAtomic, "sleep in atomic context"),
            ("[ 5.1] WARNING: lock held when returning to user space!", FaultKind::Lockdep, "lockdep: lock held when returning to user space"),
            ("[ 5.1] WARNING: bad unlock balance detected!", FaultKind::Lockdep, "lockdep: bad unlock balance detected"),
            ("[ 5.1] WARNING: possible recursive locking detected", FaultKind::Lockdep, "lockdep: possible recursive locking detected"),
            ("[ 5.1] [ BUG: Invalid wait context ]", FaultKind::Lockdep, "lockdep: Invalid wait context"),
            ("unreferenced object 0xffff888003f2e400 (size 64):", FaultKind::MemoryLeak, "memory leak (kmemleak)"),
            ("[ 5.1] refcount_t: underflow; use-after-free.", FaultKind::Refcount, "refcount_t: underflow; use-after-free."),
            ("[ 5.1] ODEBUG: free active (active state 0) object: 0000 object type: timer_list hint: f+0x0/0x10", FaultKind::DebugObjects, "debug-objects error (ODEBUG)"),
        ];
        for (line, kind, class) in cases {
            assert_eq!(fault_in(line), Some(kind), "{line}");
            let fault = Fault {
                kind,
                excerpt: vec![line.to_owned()],
            };
            assert_eq!(fault.class(), class, "{line}");
        }
        // A plain oops keeps its generic class.
        let oops = Fault {
            kind: FaultKind::Oops,
            excerpt: vec!["Oops: 0002".into()],
        };
        assert_eq!(oops.class(), "kernel oops");
    }

    #[test]
    fn a_checker_report_after_a_generic_warning_names_the_bug() {
        let mut watch = FaultWatch::default();
        watch.feed(
            "[2.0] initcall lock_init+0x0/0x40 [tcp_sock] returned with preemption imbalance",
        );
        watch.feed("[2.0] WARNING: CPU: 0 PID: 60 at init/main.c:1290 do_one_initcall+0x1/0x2");
        watch.feed("[2.1] WARNING: lock held when returning to user space!");
        watch.feed("[2.2] BUG: KASAN: slab-use-after-free in f+0x1/0x2");
        let fault = watch.take().unwrap();
        assert_eq!(fault.kind, FaultKind::Lockdep);
        assert_eq!(
            fault.class(),
            "lockdep: lock held when returning to user space"
        );
        assert_eq!(
            fault.excerpt,
            [
                "[2.0] WARNING: CPU: 0 PID: 60 at init/main.c:1290 do_one_initcall+0x1/0x2",
                "...",
                "[2.1] WARNING: lock held when returning to user space!",
                "[2.2] BUG: KASAN: slab-use-after-free in f+0x1/0x2",
            ],
            "the generic title, then the checker's report"
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

    #[test]
    fn an_excerpt_stays_bounded_in_lines_and_bytes() {
        let mut watch = FaultWatch::default();
        let long = "w".repeat(1 << 20);
        let title = format!("[1.0] Oops: 0002 [#1] {long}");
        watch.feed(&title);
        let line = "v".repeat(10 << 10);
        for i in 0..1000 {
            watch.feed(&format!("[1.{i}] line {i} {line}"));
        }
        let fault = watch.take().unwrap();
        assert_eq!(fault.excerpt.len(), EXCERPT_LINES);
        assert!(fault
            .excerpt
            .iter()
            .all(|l| l.len() < EXCERPT_LINE_BYTES + 40));
        let cut = format!("[… {} bytes cut]", title.len() - EXCERPT_LINE_BYTES);
        assert!(
            fault.excerpt[0].ends_with(&cut),
            "{}",
            &fault.excerpt[0][EXCERPT_LINE_BYTES - 5..]
        );
        assert_eq!(
            fault.class(),
            "kernel oops",
            "a cut title still names its class"
        );
    }

    #[test]
    fn a_title_is_looked_for_only_where_a_line_starts() {
        let padding = "p".repeat(TITLE_BYTES);
        assert_eq!(fault_in(&format!("{padding} Oops: 0002")), None);
        // A cut inside a multibyte char is no panic.
        let padding = "é".repeat(TITLE_BYTES);
        assert_eq!(
            fault_in(&format!("Oops: 0002 {padding}")),
            Some(FaultKind::Oops)
        );
        assert_eq!(fault_in(&format!("x{padding}")), None);
    }
}
