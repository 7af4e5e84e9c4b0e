//! The kernel build's progress as a count of objects: kbuild prints one line per object it
//! makes (`  CC      init/main.o`, `  RUSTC L rust/core.o`, `  AS      …`, `  LD      …`); the
//! count of those lines so far, out of the count in the previous build log of the same
//! profile (else the profile's measured constant, [`Profile::expected_objects`]), says how
//! far the build got.
//!
//! Pure functions of log text and of the cache's listing: it never runs `make` and never
//! reports; [`super::make`] feeds it the log as it grows.

use std::path::{Path, PathBuf};

use crate::kernel::profile::Profile;

/// The kbuild tags counted: objects compiled (C, Rust, assembly) or linked. Host tools
/// (`HOSTCC`), archives (`AR`) and generated headers are not counted: their number hardly
/// varies and they take no time.
const OBJECT_TAGS: &[&str] = &["CC", "RUSTC", "AS", "LD"];

/// Whether `line` is kbuild's line for an object (indented, a counted tag first).
pub fn is_object_line(line: &str) -> bool {
    line.starts_with(' ')
        && line
            .split_whitespace()
            .next()
            .is_some_and(|tag| OBJECT_TAGS.contains(&tag))
}

/// The object lines in a whole log.
pub fn count_objects(log: &str) -> u64 {
    log.lines().filter(|l| is_object_line(l)).count() as u64
}

/// Counts object lines in a log read in pieces as `make` writes it (a piece may end in the
/// middle of a line: that line is counted when its end comes).
#[derive(Debug, Default)]
pub struct ObjectCounter {
    partial: Vec<u8>,
    done: u64,
    last: String,
}

impl ObjectCounter {
    pub fn feed(&mut self, bytes: &[u8]) {
        self.partial.extend_from_slice(bytes);
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return;
        };
        let complete: Vec<u8> = self.partial.drain(..=end).collect();
        for line in String::from_utf8_lossy(&complete).lines() {
            if is_object_line(line) {
                self.done += 1;
                self.last = line.split_whitespace().collect::<Vec<_>>().join(" ");
            }
        }
    }

    /// Objects made so far.
    pub fn done(&self) -> u64 {
        self.done
    }

    /// The last object line, its spaces squeezed (`CC init/main.o`).
    pub fn last(&self) -> &str {
        &self.last
    }
}

/// How many objects a build is expected to make, and where that number comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub total: u64,
    /// The previous build log it was counted in; `None`: the profile's measured constant.
    pub from: Option<PathBuf>,
}

/// The expected total for a build of `profile` into the cache folder `building`: the object
/// lines of the newest complete build log of the same profile among `kernels`' folders
/// (`<version>-<profile>-<key>/build.log`; a log with none is skipped), else the profile's
/// constant.
pub fn expected(kernels: &Path, profile: Profile, building: &Path) -> Expected {
    let marker = format!("-{}-", profile.name());
    let mut logs: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(kernels)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|dir| dir != building)
        .filter(|dir| {
            dir.file_name()
                .is_some_and(|n| n.to_string_lossy().contains(&marker))
                && super::is_built(dir)
        })
        .filter_map(|dir| {
            let log = dir.join("build.log");
            let modified = std::fs::metadata(&log).and_then(|m| m.modified()).ok()?;
            Some((modified, log))
        })
        .collect();
    logs.sort();
    for (_, log) in logs.into_iter().rev() {
        let total = std::fs::read(&log)
            .map(|bytes| count_objects(&String::from_utf8_lossy(&bytes)))
            .unwrap_or(0);
        if total > 0 {
            return Expected {
                total,
                from: Some(log),
            };
        }
    }
    Expected {
        total: profile.expected_objects(),
        from: None,
    }
}

/// `done` of `expected` as shown: when a build makes more objects than expected (a new
/// option, a patch), the total grows with it rather than showing past 100%.
pub fn shown(done: u64, expected: u64) -> (u64, u64) {
    (done, expected.max(done))
}

/// How far, in whole percent, `done` of `total` is (0 for an empty total).
pub fn percent(done: u64, total: u64) -> u64 {
    (done.min(total) * 100).checked_div(total).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines of a real lean build log (6.12.117): host tools, objtool's objects with absolute
    /// paths, the Rust libraries, C objects among warnings, the final links.
    const EXCERPT: &str = include_str!("objects/build.log.excerpt");

    #[test]
    fn only_compiled_and_linked_objects_are_counted() {
        assert!(is_object_line("  CC      init/main.o"));
        assert!(is_object_line("  RUSTC L rust/core.o"));
        assert!(is_object_line("  AS      arch/x86/boot/header.o"));
        assert!(is_object_line("  LD      arch/x86/boot/setup.elf"));
        for other in [
            "  HOSTCC  scripts/kallsyms",
            "  AR      security/built-in.a",
            "  BINDGEN rust/uapi/uapi_generated.rs",
            "  HOSTRUSTC scripts/generate_rust_target",
            "  CCC     not/a/tag.o",
            "CC at the start of a compiler message",
            "fs/select.c:973:12: warning: stack frame size (1032) exceeds limit",
            "",
        ] {
            assert!(!is_object_line(other), "{other:?} was counted");
        }
    }

    #[test]
    fn the_excerpt_of_a_real_log_has_its_object_lines_counted() {
        // Counted by hand: 16 CC (5 of them objtool's, by absolute path), 8 RUSTC (7 `L`
        // libraries, 1 `P` proc-macro), 1 AS, 3 LD; the HOSTCC, AR, BINDGEN, warning and
        // OBJCOPY lines around them are not objects.
        assert_eq!(count_objects(EXCERPT), 16 + 8 + 1 + 3);
    }

    #[test]
    fn a_log_fed_in_pieces_counts_as_the_whole() {
        for piece in [1, 7, 64, 4096] {
            let mut counter = ObjectCounter::default();
            for chunk in EXCERPT.as_bytes().chunks(piece) {
                counter.feed(chunk);
            }
            assert_eq!(counter.done(), 28, "pieces of {piece} bytes");
            assert_eq!(counter.last(), "LD arch/x86/boot/setup.elf");
        }
    }

    #[test]
    fn a_line_is_counted_only_once_it_is_complete() {
        let mut counter = ObjectCounter::default();
        counter.feed(b"  CC      init/ma");
        assert_eq!(counter.done(), 0);
        counter.feed(b"in.o\n  AR      x.a\n  LD  ");
        assert_eq!((counter.done(), counter.last()), (1, "CC init/main.o"));
        counter.feed(b"    vmlinux.o\n");
        assert_eq!((counter.done(), counter.last()), (2, "LD vmlinux.o"));
    }

    #[test]
    fn the_total_grows_past_the_expected_and_percent_stays_in_bounds() {
        assert_eq!(shown(0, 1369), (0, 1369));
        assert_eq!(shown(700, 1369), (700, 1369));
        assert_eq!(shown(1400, 1369), (1400, 1400));
        assert_eq!(percent(0, 1369), 0);
        assert_eq!(percent(685, 1369), 50);
        assert_eq!(percent(1369, 1369), 100);
        assert_eq!(percent(2000, 1369), 100);
        assert_eq!(percent(5, 0), 0);
    }

    #[test]
    fn the_expected_total_comes_from_the_newest_complete_log_of_the_same_profile() {
        let kernels = tempfile::tempdir().unwrap();
        let folder = |name: &str, log: Option<&str>, built: bool| {
            let dir = kernels.path().join(name);
            std::fs::create_dir_all(dir.join("linux/arch/x86/boot")).unwrap();
            if built {
                std::fs::write(dir.join(super::super::READY_STAMP), "").unwrap();
                std::fs::write(dir.join("linux/arch/x86/boot/bzImage"), "").unwrap();
            }
            if let Some(log) = log {
                std::fs::write(dir.join("build.log"), log).unwrap();
            }
            dir
        };
        let building = folder("6.12.117-lean-0000000000000003", None, false);
        // Nothing to learn from: the constant.
        assert_eq!(
            expected(kernels.path(), Profile::Lean, &building),
            Expected {
                total: Profile::Lean.expected_objects(),
                from: None
            }
        );
        // A debug log, an unfinished lean log and a lean log without objects do not count.
        folder("6.12.117-debug-0000000000000001", Some(EXCERPT), true);
        folder("6.12.117-lean-0000000000000004", Some(EXCERPT), false);
        let empty = folder("6.12.117-lean-0000000000000005", Some("  AR x.a\n"), true);
        assert_eq!(
            expected(kernels.path(), Profile::Lean, &building).from,
            None
        );
        let done = folder("6.12.117-lean-0000000000000002", Some(EXCERPT), true);
        // The log without objects is the newest: the one before it counts.
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(empty.join("build.log"))
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert_eq!(
            expected(kernels.path(), Profile::Lean, &building),
            Expected {
                total: 28,
                from: Some(done.join("build.log"))
            }
        );
        assert_eq!(
            expected(kernels.path(), Profile::Debug, &building).total,
            28
        );
    }
}
