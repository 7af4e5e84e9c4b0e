//! Kernel reports into the student's file and line.
//!
//! A report names code as `function+0x95/0x1000 [module]` (a module's function, its offset
//! and size, the module). Given a resolver that maps such a frame to `file:line` (the harness
//! reads the task's own `.ko` and its debug info), the excerpt a student sees gets the place
//! in their source beside each frame of their module.

use std::sync::OnceLock;

use regex::Regex;

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

fn frame_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"([A-Za-z_][A-Za-z0-9_.$]*)\+0x([0-9a-f]+)/0x[0-9a-f]+ \[([A-Za-z0-9_]+)\]")
            .expect("valid regex")
    })
}

/// The module frames named on a report line, in order.
pub fn module_frames(line: &str) -> Vec<ModuleFrame> {
    let exact = line.contains("RIP:");
    frame_re()
        .captures_iter(line)
        .filter_map(|c| {
            Some(ModuleFrame {
                function: c[1].to_owned(),
                offset: u64::from_str_radix(&c[2], 16).ok()?,
                module: c[3].to_owned(),
                exact,
            })
        })
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
}
