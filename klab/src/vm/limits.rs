//! Every cap on what a guest can make the grader hold, in one place, and the small
//! containers that apply them.
//!
//! A student's module owns its VM, so whatever the guest prints is hostile input: a line
//! without an end, a flood of output, a report with a thousand frames. Each of these is kept
//! up to a cap, what goes past it is counted and named by a marker (`[… N bytes cut]`), never
//! silently dropped and never held without bound.

use std::time::Duration;

/// The longest console or command-port line kept whole (the kernel's own lines are under
/// 1 KiB). A longer line keeps its first `LINE_BYTES` and its last [`LINE_TAIL_BYTES`].
pub const LINE_BYTES: usize = 64 << 10;

/// The end of a cut line that is kept: where the command protocol's sentinel is when the
/// command's output had no final newline.
pub const LINE_TAIL_BYTES: usize = 256;

/// The output kept per command (test script, `dmesg`); the rest is read and discarded, so the
/// sentinel that ends the command is still seen.
pub const COMMAND_OUTPUT_BYTES: usize = 1 << 20;

/// Kernel console lines kept in memory between two [`crate::vm::session::VmSession::take_console`]
/// calls (the console log on disk has its own cap, [`CONSOLE_LOG_BYTES`]).
pub const CONSOLE_KEPT_BYTES: usize = 1 << 20;

/// The console log file stops growing past this size (a printk flood must not fill the disk).
pub const CONSOLE_LOG_BYTES: u64 = 16 << 20;

/// Lines read from the guest and not yet handled by the session. Past it, console lines are
/// dropped (and counted); the command port's reader waits, so the guest's writes block.
pub const PENDING_BYTES: usize = 8 << 20;

/// How many lines of a kernel report an excerpt keeps.
pub const EXCERPT_LINES: usize = 40;

/// The start of a console line searched for a report title (the kernel prints titles first,
/// and a printk line is at most 1 KiB).
pub const TITLE_BYTES: usize = 1 << 10;

/// The longest excerpt line kept (a report line is under 1 KiB).
pub const EXCERPT_LINE_BYTES: usize = 2 << 10;

/// Module frames looked up per report line (a real line names one or two; each lookup runs
/// `addr2line` on the host).
pub const FRAMES_PER_LINE: usize = 4;

/// The longest reply read from QEMU's monitor.
pub const MONITOR_REPLY_BYTES: usize = 1 << 20;

/// How long a write to the guest's command port may block (a guest that stops reading it).
pub const SHELL_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a blocked reader thread wakes to see whether its session is gone.
pub const READER_POLL: Duration = Duration::from_millis(200);

/// How long draining the console between commands may take (a flood never ends by itself).
pub const DRAIN_TIME: Duration = Duration::from_millis(500);

/// How long a snapshot diff may search for the smallest difference (a flood of wrong
/// output against a long snapshot); past it the diff is coarser, still correct.
pub const DIFF_TIME: Duration = Duration::from_secs(2);

/// The marker that stands for `n` bytes that were not kept.
pub fn cut_marker(n: u64) -> String {
    format!("[… {n} bytes cut]")
}

/// The largest char boundary of `s` at or below `at`.
pub fn floor_boundary(s: &str, at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    (0..=at).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
}

/// `line` itself when it is at most `max` bytes; else its first `max` bytes (at a char
/// boundary) and a [`cut_marker`].
pub fn cut_line(line: &str, max: usize) -> String {
    if line.len() <= max {
        return line.to_owned();
    }
    let keep = floor_boundary(line, max);
    format!(
        "{} {}",
        &line[..keep],
        cut_marker((line.len() - keep) as u64)
    )
}

/// Text kept up to a byte cap; what comes after is counted, not kept.
#[derive(Debug)]
pub struct CappedText {
    text: String,
    cap: usize,
    cut: u64,
}

impl CappedText {
    pub fn new(cap: usize) -> CappedText {
        CappedText {
            text: String::new(),
            cap,
            cut: 0,
        }
    }

    pub fn push_str(&mut self, s: &str) {
        let room = self.cap - self.text.len();
        if s.len() <= room {
            self.text.push_str(s);
        } else {
            let keep = floor_boundary(s, room);
            self.text.push_str(&s[..keep]);
            self.cut += (s.len() - keep) as u64;
        }
    }

    /// Bytes that did not fit.
    pub fn cut(&self) -> u64 {
        self.cut
    }

    /// The text, ending with a marker line when some of it was cut.
    pub fn into_string(mut self) -> String {
        if self.cut > 0 {
            if !self.text.is_empty() && !self.text.ends_with('\n') {
                self.text.push('\n');
            }
            self.text.push_str(&format!(
                "[klab: output over {} bytes] {}\n",
                self.cap,
                cut_marker(self.cut)
            ));
        }
        self.text
    }
}

/// Lines kept up to a total byte cap; later lines are counted, not kept.
#[derive(Debug)]
pub struct CappedLines {
    lines: Vec<String>,
    bytes: usize,
    cap: usize,
    dropped: usize,
}

impl CappedLines {
    pub fn new(cap: usize) -> CappedLines {
        CappedLines {
            lines: Vec::new(),
            bytes: 0,
            cap,
            dropped: 0,
        }
    }

    pub fn push(&mut self, line: String) {
        if self.dropped == 0 && self.bytes + line.len() <= self.cap {
            self.bytes += line.len();
            self.lines.push(line);
        } else {
            self.dropped += 1;
        }
    }

    /// The lines kept since the last call, ending with a marker line when some were not kept.
    pub fn take(&mut self) -> Vec<String> {
        let mut lines = std::mem::take(&mut self.lines);
        if self.dropped > 0 {
            lines.push(format!(
                "[klab: {} more lines not kept (over {} bytes)]",
                self.dropped, self.cap
            ));
        }
        self.bytes = 0;
        self.dropped = 0;
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_line_is_cut_at_a_char_boundary_with_a_marker() {
        assert_eq!(cut_line("short", 10), "short");
        assert_eq!(cut_line("abcdef", 4), "abcd [… 2 bytes cut]");
        // `é` is two bytes: a cut inside it keeps the whole char out.
        assert_eq!(cut_line("aé", 2), "a [… 2 bytes cut]");
        let long = "x".repeat(10 << 20);
        let cut = cut_line(&long, EXCERPT_LINE_BYTES);
        assert!(cut.len() < EXCERPT_LINE_BYTES + 40, "{}", cut.len());
        assert!(cut.ends_with(&format!(
            "[… {} bytes cut]",
            (10 << 20) - EXCERPT_LINE_BYTES
        )));
    }

    #[test]
    fn capped_text_keeps_the_cap_then_counts_and_marks() {
        let mut text = CappedText::new(8);
        text.push_str("1234\n");
        text.push_str("5678\n");
        text.push_str("more\n");
        assert_eq!(text.cut(), 7);
        assert_eq!(
            text.into_string(),
            "1234\n567\n[klab: output over 8 bytes] [… 7 bytes cut]\n"
        );
        let mut text = CappedText::new(8);
        text.push_str("fits\n");
        assert_eq!(
            text.into_string(),
            "fits\n",
            "no marker when nothing was cut"
        );
    }

    #[test]
    fn capped_text_under_a_flood_stays_at_its_cap() {
        let mut text = CappedText::new(COMMAND_OUTPUT_BYTES);
        let line = "y".repeat(999) + "\n";
        for _ in 0..5000 {
            text.push_str(&line);
        }
        let cut = 5000 * 1000 - COMMAND_OUTPUT_BYTES as u64;
        assert_eq!(text.cut(), cut);
        let out = text.into_string();
        assert!(out.len() < COMMAND_OUTPUT_BYTES + 100);
        assert!(out.ends_with(&format!("{}\n", cut_marker(cut))));
    }

    #[test]
    fn capped_lines_keep_the_first_lines_and_count_the_rest() {
        let mut lines = CappedLines::new(10);
        for l in ["aaaa", "bbbb", "cccc", "d"] {
            lines.push(l.to_owned());
        }
        assert_eq!(
            lines.take(),
            [
                "aaaa",
                "bbbb",
                "[klab: 2 more lines not kept (over 10 bytes)]"
            ]
        );
        lines.push("e".to_owned());
        assert_eq!(lines.take(), ["e"], "the cap applies again after a take");
    }
}
