//! Kernel reports into the student's file and line.
//!
//! A report names code as `function+0x95/0x1000 [module]` (a module's function, its offset
//! and size, the module). Given a resolver that maps such a frame to `file:line` (the harness
//! reads the task's own `.ko` and its debug info), the excerpt a student sees gets the place
//! in their source beside each frame of their module.
//!
//! The console is the guest's: a frame whose numbers overflow or make no sense
//! (`f+0xffffffffffffffff/0x1 [m]`) is not a frame, an address is computed with checked
//! arithmetic ([`ModuleFrame::address`]), and a line yields at most [`FRAMES_PER_LINE`]
//! frames to look up.

use std::sync::OnceLock;

use regex::Regex;

use crate::vm::limits::FRAMES_PER_LINE;

/// One frame of a report that lies in a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleFrame {
    pub function: String,
    pub offset: u64,
    pub module: String,
    /// The address is where the code was (a `RIP:` line), not a return address: call-trace
    /// entries and KASAN's title (the caller of its check) point just after a call, so they
    /// are looked up one byte earlier.
    pub exact: bool,
}

impl ModuleFrame {
    /// The address to look up, given the value of the frame's function symbol: `value +
    /// offset`, one byte earlier for a return address. `None` when it overflows.
    pub fn address(&self, symbol_value: u64) -> Option<u64> {
        let offset = if self.exact {
            self.offset
        } else {
            self.offset.saturating_sub(1)
        };
        symbol_value.checked_add(offset)
    }
}

fn frame_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"([A-Za-z_][A-Za-z0-9_.$]*)\+0x([0-9a-f]+)/0x([0-9a-f]+) \[([A-Za-z0-9_]+)\]")
            .expect("valid regex")
    })
}

/// The module frames named on a report line, in order, at most [`FRAMES_PER_LINE`]. A frame
/// whose offset or size does not fit in 64 bits, or whose offset lies past its function's
/// size, is left out.
pub fn module_frames(line: &str) -> Vec<ModuleFrame> {
    let exact = line.contains("RIP:");
    frame_re()
        .captures_iter(line)
        .filter_map(|c| {
            let offset = u64::from_str_radix(&c[2], 16).ok()?;
            let size = u64::from_str_radix(&c[3], 16).ok()?;
            // A return address may sit just past a function that ends with a call.
            (offset <= size).then(|| ModuleFrame {
                function: c[1].to_owned(),
                offset,
                module: c[4].to_owned(),
                exact,
            })
        })
        .take(FRAMES_PER_LINE)
        .collect()
}

/// What separates a report line from the place `annotate` found for it.
pub const PLACE_MARK: &str = "  <- ";

/// Appends ` <- file:line` to each excerpt line whose module frame `resolve` can place.
/// Returns whether any line was placed.
pub fn annotate(
    excerpt: &mut [String],
    mut resolve: impl FnMut(&ModuleFrame) -> Option<String>,
) -> bool {
    let mut any = false;
    for line in excerpt.iter_mut() {
        let places: Vec<String> = module_frames(line)
            .iter()
            .filter_map(&mut resolve)
            .collect();
        if !places.is_empty() {
            line.push_str(PLACE_MARK);
            line.push_str(&places.join(", "));
            any = true;
        }
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_found_in_titles_rip_lines_and_call_traces() {
        let title = "[    5.1] BUG: KASAN: slab-use-after-free in uaf_init+0x95/0x1000 [uaf]";
        assert_eq!(
            module_frames(title),
            [ModuleFrame {
                function: "uaf_init".into(),
                offset: 0x95,
                module: "uaf".into(),
                exact: false
            }]
        );
        assert!(module_frames("RIP: 0010:uaf_init+0x95/0x1000 [uaf]")[0].exact);
        let trace = "[    5.2]  _RNvCs1234_5hello11init_module+0x1c/0x40 [hello]";
        let frames = module_frames(trace);
        assert_eq!(frames[0].function, "_RNvCs1234_5hello11init_module");
        assert_eq!(frames[0].offset, 0x1c);
        assert!(!frames[0].exact);
        // Kernel functions (no `[module]`) are not the student's.
        assert!(module_frames("[ 5.3]  do_one_initcall+0x12/0x300").is_empty());
        assert!(module_frames("hello: module loaded").is_empty());
    }

    #[test]
    fn annotate_adds_places_and_leaves_other_lines_alone() {
        let mut excerpt = vec![
            "BUG: KASAN: slab-use-after-free in uaf_init+0x95/0x1000 [uaf]".to_owned(),
            " kasan_report+0x10/0x20".to_owned(),
            " uaf_init+0x95/0x1000 [uaf]".to_owned(),
            " other_init+0x5/0x10 [other]".to_owned(),
        ];
        let placed = annotate(&mut excerpt, |f| {
            (f.module == "uaf").then(|| format!("skels/lab/task/uaf.c:{}", f.offset))
        });
        assert!(placed);
        assert_eq!(
            excerpt[0],
            "BUG: KASAN: slab-use-after-free in uaf_init+0x95/0x1000 [uaf]  <- skels/lab/task/uaf.c:149"
        );
        assert_eq!(excerpt[1], " kasan_report+0x10/0x20");
        assert!(excerpt[2].ends_with("<- skels/lab/task/uaf.c:149"));
        assert_eq!(excerpt[3], " other_init+0x5/0x10 [other]");
        assert!(!annotate(&mut excerpt[1..2], |_| Some("x".into())));
    }

    #[test]
    fn crafted_frames_are_not_placed() {
        for line in [
            "f+0xffffffffffffffff/0x1 [mod]",
            "RIP: 0010:f+0x10/0x8 [mod]",
            "f+0x10000000000000000/0x20000000000000000 [mod]",
            "f+0x1/0x10000000000000000 [mod]",
            "f+0x/0x10 [mod]",
        ] {
            assert!(module_frames(line).is_empty(), "{line}");
            let mut excerpt = vec![line.to_owned()];
            assert!(!annotate(&mut excerpt, |_| Some("x.c:1".into())), "{line}");
            assert_eq!(excerpt, [line]);
        }
        // The largest frame that makes sense is still a frame.
        let max = module_frames("f+0xffffffffffffffff/0xffffffffffffffff [mod]");
        assert_eq!(max[0].offset, u64::MAX);
        // Leading zeros do not overflow.
        assert_eq!(
            module_frames("f+0x000000000000000000000001/0x2 [m]")[0].offset,
            1
        );
    }

    #[test]
    fn addresses_use_checked_arithmetic() {
        let frame = |offset, exact| ModuleFrame {
            function: "f".into(),
            offset,
            module: "m".into(),
            exact,
        };
        assert_eq!(frame(0x95, false).address(0x10), Some(0x10 + 0x94));
        assert_eq!(frame(0x95, true).address(0x10), Some(0x10 + 0x95));
        assert_eq!(frame(0, false).address(0x10), Some(0x10));
        assert_eq!(frame(u64::MAX, true).address(1), None);
        assert_eq!(frame(u64::MAX, false).address(1), Some(u64::MAX));
        assert_eq!(frame(u64::MAX, false).address(2), None);
        assert_eq!(frame(1, true).address(u64::MAX), None);
    }

    #[test]
    fn a_line_full_of_frames_yields_a_few_lookups() {
        let line = " f+0x1/0x2 [m]".repeat(10_000);
        assert_eq!(module_frames(&line).len(), FRAMES_PER_LINE);
        let mut lookups = 0;
        annotate(&mut [line], |_| {
            lookups += 1;
            Some("x.c:1".into())
        });
        assert_eq!(lookups, FRAMES_PER_LINE);
    }
}
