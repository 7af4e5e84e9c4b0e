//! Removing what varies from run to run, and nothing else.
//!
//! A snapshot must fail on a wrong output, so normalisation is deliberately narrow: kernel
//! timestamps, the taint notices every out-of-tree module triggers, and whatever a lab's
//! manifest names (ephemeral ports, pids) through its own [`Filter`]s.

use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

/// A lab-defined replacement, applied line by line after the built-in rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    pub regex: String,
    pub replacement: String,
}

/// Filters compiled once per task.
#[derive(Debug, Default)]
pub struct Normalizer {
    filters: Vec<(Regex, String)>,
}

static TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\[\s*\d+\.\d+\]\s?").unwrap());

/// Kernel lines that depend on what ran before, not on the student's code (matched at the end).
const NOISE: &[&str] = &[
    "loading out-of-tree module taints kernel.",
    "module verification failed: signature and/or required key missing - tainting kernel",
];

/// Boot-time messages the kernel prints asynchronously, a second or two after boot, so they
/// land in whichever task runs first (matched at the start).
const LATE_BOOT: &[&str] = &[
    "tsc: Refined TSC clocksource calibration",
    "clocksource: tsc: mask:",
    "clocksource: Switched to clocksource",
    "input: ",
    "random: crng init done",
    // The clocksource watchdog under TCG, whenever the host is slow: timing, not the task.
    "clocksource: Long readout interval, skipping watchdog check",
];

impl Normalizer {
    pub fn new(filters: &[Filter]) -> Result<Normalizer, regex::Error> {
        let filters = filters
            .iter()
            .map(|f| Ok((Regex::new(&f.regex)?, f.replacement.clone())))
            .collect::<Result<_, regex::Error>>()?;
        Ok(Normalizer { filters })
    }

    fn apply_filters(&self, line: &str) -> String {
        let mut line = line.trim_end().to_owned();
        for (regex, replacement) in &self.filters {
            line = regex.replace_all(&line, replacement.as_str()).into_owned();
        }
        line
    }

    /// Normalises a kernel log (as printed by `dmesg`): timestamps go, noise lines go.
    pub fn dmesg(&self, log: &str) -> Vec<String> {
        log.lines()
            .map(|line| TIMESTAMP.replace(line, ""))
            .filter(|line| !NOISE.iter().any(|noise| line.ends_with(noise)))
            .filter(|line| !LATE_BOOT.iter().any(|late| line.starts_with(late)))
            .map(|line| self.apply_filters(&line))
            .collect()
    }

    /// Normalises a test script's output: only the lab's filters apply.
    pub fn output(&self, out: &str) -> Vec<String> {
        out.lines().map(|line| self.apply_filters(line)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port_filter() -> Normalizer {
        Normalizer::new(&[Filter {
            regex: r"127\.0\.0\.1:\d+".into(),
            replacement: "127.0.0.1:[PORT]".into(),
        }])
        .unwrap()
    }

    #[test]
    fn timestamps_and_taint_notices_go() {
        let log = "[    1.234567] filter: loading out-of-tree module taints kernel.\n[   12.000001] hello: loaded\n";
        assert_eq!(Normalizer::default().dmesg(log), ["hello: loaded"]);
    }

    #[test]
    fn late_boot_messages_go_but_a_module_line_mentioning_them_stays() {
        let log = "[ 1.8] tsc: Refined TSC clocksource calibration: 2445.415 MHz\n[ 1.9] clocksource: Switched to clocksource tsc\n[ 2.0] input: ImExPS/2 Generic Explorer Mouse as /devices\n[ 2.05] clocksource: Long readout interval, skipping watchdog check: cs_nsec: 1133248669 wd_nsec: 1133232390\n[ 2.1] hello: input: 3\n";
        assert_eq!(Normalizer::default().dmesg(log), ["hello: input: 3"]);
    }

    #[test]
    fn lab_filters_replace_only_what_they_match() {
        let n = port_filter();
        assert_eq!(
            n.dmesg(
                "[ 3.1] TCP connection initiated from 127.0.0.1:40312\n[ 3.2] from 10.0.0.1:5\n"
            ),
            [
                "TCP connection initiated from 127.0.0.1:[PORT]",
                "from 10.0.0.1:5"
            ]
        );
    }

    #[test]
    fn a_wrong_message_still_differs_after_normalisation() {
        let n = port_filter();
        assert_ne!(
            n.dmesg("[1.0] TCP connection initiated from 127.0.0.1:1"),
            n.dmesg("[1.0] TCP connection from 127.0.0.1:1")
        );
        assert_ne!(n.dmesg("[1.0] hello"), n.dmesg("[1.0] hello\n[1.1] hello"));
    }

    #[test]
    fn text_that_merely_looks_like_a_timestamp_inside_a_line_stays() {
        assert_eq!(
            Normalizer::default().dmesg("value [1.5] here"),
            ["value [1.5] here"]
        );
    }

    #[test]
    fn output_keeps_blank_lines_and_trims_trailing_spaces() {
        assert_eq!(port_filter().output("a  \n\nb"), ["a", "", "b"]);
    }

    #[test]
    fn bad_filter_regex_is_an_error() {
        assert!(Normalizer::new(&[Filter {
            regex: "(".into(),
            replacement: String::new()
        }])
        .is_err());
    }
}
