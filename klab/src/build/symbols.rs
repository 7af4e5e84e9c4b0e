//! Places a kernel report's module frames in the student's source (`file:line`), reading the
//! task's own `.ko` with binutils (`readelf`, `addr2line`), in the sandbox: the `.ko` is built
//! from student input. Modules are built with debug info under both profiles (line tables under
//! `lean`, see `Profile::module_debug_info`); a `.ko` without it leaves frames as the kernel
//! printed them.
//!
//! Frames come from the guest's console, so their numbers are hostile: an address is
//! computed with checked arithmetic, and a frame past its function's size is not placed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::judge::symbolize::ModuleFrame;

use crate::build::sandbox::{Job, Limits, Sandbox};

/// A function symbol of a module: its section's name, its value (offset in the section) and
/// its size when readelf gave one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Symbol {
    section: String,
    value: u64,
    size: Option<u64>,
}

/// A module's function symbols by name.
type Symbols = HashMap<String, Symbol>;

/// Resolves frames of one task's modules.
pub struct Resolver {
    sandbox: Sandbox,
    /// Module name → its `.ko` in the stage.
    modules: HashMap<String, PathBuf>,
    symbols: HashMap<String, Option<Symbols>>,
    /// The stage folder, shown to the student as their task folder.
    stage: PathBuf,
    shown: String,
    /// Past it, frames stay as the kernel printed them: a report of many crafted frames must
    /// not hold the grader in lookups (each is a sandboxed binutils run).
    deadline: std::time::Instant,
}

/// How long placing the frames of one report may take in all.
const PLACING_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

impl Resolver {
    /// `files`: what the task put in the guest (its `.ko` files among them); `stage`: the
    /// staged task folder they were built in, shown as `shown`.
    pub fn new(
        sandbox: &Sandbox,
        files: &[(String, PathBuf)],
        stage: &Path,
        shown: String,
    ) -> Option<Resolver> {
        let modules: HashMap<String, PathBuf> = files
            .iter()
            .filter_map(|(name, path)| {
                // The kernel names a module with `-` as `_`.
                let module = name.strip_suffix(".ko")?.replace('-', "_");
                Some((module, path.clone()))
            })
            .collect();
        if modules.is_empty() {
            return None;
        }
        let stage = stage.to_path_buf();
        Some(Resolver {
            sandbox: sandbox.clone(),
            modules,
            symbols: HashMap::new(),
            stage,
            shown,
            deadline: std::time::Instant::now() + PLACING_BUDGET,
        })
    }

    /// `file:line` of a frame in one of the task's modules, in the student's folder.
    pub fn place(&mut self, frame: &ModuleFrame) -> Option<String> {
        if std::time::Instant::now() >= self.deadline {
            return None;
        }
        let ko = self.modules.get(&frame.module)?.clone();
        if !self.symbols.contains_key(&frame.module) {
            let table = symbol_table(&self.sandbox, &ko);
            self.symbols.insert(frame.module.clone(), table);
        }
        let symbol = self
            .symbols
            .get(&frame.module)?
            .as_ref()?
            .get(&frame.function)?;
        let address = format!("{:#x}", lookup_address(symbol, frame)?);
        let out = tool(
            &self.sandbox,
            &ko,
            "addr2line",
            &[
                "-e".as_ref(),
                ko.as_os_str(),
                "-j".as_ref(),
                symbol.section.as_ref(),
                "-i".as_ref(),
                address.as_ref(),
            ],
        )?;
        // With inlining, the innermost place comes first; prefer one in the student's files.
        let places: Vec<&str> = out
            .lines()
            .map(|l| l.split(" (discriminator").next().unwrap_or(l).trim())
            .filter(|l| !l.starts_with("??") && !l.ends_with(":?") && !l.ends_with(":0"))
            .collect();
        let stage = self.stage.to_string_lossy().into_owned();
        let place = places
            .iter()
            .find(|p| p.starts_with(&stage))
            .or(places.first())?;
        Some(crate::build::kbuild::rewrite_paths(
            place,
            &self.stage,
            &self.shown,
        ))
    }
}

/// Where to look `frame` up in its function `symbol`: `None` when the frame lies past the
/// function (its size, when known) or the address overflows.
fn lookup_address(symbol: &Symbol, frame: &ModuleFrame) -> Option<u64> {
    if symbol.size.is_some_and(|size| frame.offset > size) {
        return None;
    }
    frame.address(symbol.value)
}

/// Function symbols of a relocatable module: their section and offset in it.
fn symbol_table(sandbox: &Sandbox, ko: &Path) -> Option<Symbols> {
    let sections = tool(sandbox, ko, "readelf", &["-SW".as_ref(), ko.as_os_str()])?;
    let symbols = tool(sandbox, ko, "readelf", &["-sW".as_ref(), ko.as_os_str()])?;
    Some(parse_symbols(&symbols, &parse_sections(&sections)))
}

/// Section index → name, from `readelf -SW`.
fn parse_sections(text: &str) -> HashMap<String, String> {
    let mut names = HashMap::new();
    for line in text.lines() {
        // `  [ 2] .text  PROGBITS  0000… …`
        let Some((index, rest)) = line
            .trim_start()
            .strip_prefix('[')
            .and_then(|l| l.split_once(']'))
        else {
            continue;
        };
        if let Some(name) = rest.split_whitespace().next() {
            names.insert(index.trim().to_owned(), name.to_owned());
        }
    }
    names
}

/// Function symbols from `readelf -sW`; a line whose numbers do not parse is skipped.
fn parse_symbols(text: &str, sections: &HashMap<String, String>) -> Symbols {
    let mut table = Symbols::new();
    for line in text.lines() {
        // `    12: 0000000000000010    64 FUNC    LOCAL  DEFAULT    2 uaf_init`
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 8 || fields[3] != "FUNC" {
            continue;
        }
        let (Ok(value), Some(section)) =
            (u64::from_str_radix(fields[1], 16), sections.get(fields[6]))
        else {
            continue;
        };
        // readelf prints a size in decimal, or in hex with `0x` when it is large.
        let size = match fields[2].strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => fields[2].parse().ok(),
        };
        table.insert(
            fields[7].to_owned(),
            Symbol {
                section: section.clone(),
                value,
                size,
            },
        );
    }
    table
}

/// A binutils tool's output over `ko`, run in the sandbox that sees only the `.ko`'s folder.
fn tool(sandbox: &Sandbox, ko: &Path, program: &str, args: &[&std::ffi::OsStr]) -> Option<String> {
    let job = Job {
        program,
        args: args.iter().map(|a| a.to_os_string()).collect(),
        writable: None,
        readable: vec![ko.parent()?],
    };
    let done = sandbox.run(&job, &Limits::tool()).ok()?;
    // The job's stderr is interleaved: drop the tool's own complaints.
    let own = format!("{program}:");
    let kept: Vec<&str> = done
        .output
        .lines()
        .filter(|l| !l.starts_with(&own))
        .collect();
    done.success.then(|| kept.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECTIONS: &str =
        "  [ 0]                   NULL            0000000000000000 000000 000000 00      0   0  0
  [ 2] .text             PROGBITS        0000000000000000 000040 000123 00  AX  0   0 16
  [ 5] .init.text        PROGBITS        0000000000000000 000200 000040 00  AX  0   0 16
";

    const SYMBOLS: &str = "   Num:    Value          Size Type    Bind   Vis      Ndx Name
    12: 0000000000000010    64 FUNC    LOCAL  DEFAULT    2 uaf_work
    13: 0000000000000000 0x40000 FUNC    GLOBAL DEFAULT    5 init_module
    14: ffffffffffffffff    16 FUNC    LOCAL  DEFAULT    2 at_the_top
    15: 10000000000000000    16 FUNC    LOCAL  DEFAULT    2 too_wide
    16: 0000000000000020    16 OBJECT  LOCAL  DEFAULT    2 not_code
    17: 0000000000000030    16 FUNC    LOCAL  DEFAULT   99 no_section
";

    fn table() -> Symbols {
        parse_symbols(SYMBOLS, &parse_sections(SECTIONS))
    }

    fn frame(line: &str) -> ModuleFrame {
        crate::judge::symbolize::module_frames(line)
            .pop()
            .expect("a frame")
    }

    #[test]
    fn readelf_output_parses_and_bad_numbers_are_skipped() {
        let table = table();
        assert_eq!(
            table["uaf_work"],
            Symbol {
                section: ".text".into(),
                value: 0x10,
                size: Some(64)
            }
        );
        assert_eq!(table["init_module"].size, Some(0x40000));
        assert_eq!(table["at_the_top"].value, u64::MAX);
        for skipped in ["too_wide", "not_code", "no_section"] {
            assert!(!table.contains_key(skipped), "{skipped}");
        }
    }

    #[test]
    fn frames_map_to_addresses_in_their_function() {
        let table = table();
        // A return address is looked up one byte earlier; a RIP is exact.
        assert_eq!(
            lookup_address(&table["uaf_work"], &frame(" uaf_work+0x8/0x40 [m]")),
            Some(0x17)
        );
        assert_eq!(
            lookup_address(
                &table["uaf_work"],
                &frame("RIP: 0010:uaf_work+0x8/0x40 [m]")
            ),
            Some(0x18)
        );
        // The end of the function (a call as its last instruction) is still in it.
        assert_eq!(
            lookup_address(&table["uaf_work"], &frame(" uaf_work+0x40/0x40 [m]")),
            Some(0x4f)
        );
    }

    #[test]
    fn crafted_frames_are_not_placed_and_never_overflow() {
        let table = table();
        // Past the function's size (64), whatever the frame claims its size is.
        let past = frame(" uaf_work+0xffffffffffffffff/0xffffffffffffffff [m]");
        assert_eq!(lookup_address(&table["uaf_work"], &past), None);
        assert_eq!(
            lookup_address(&table["uaf_work"], &frame(" uaf_work+0x41/0x1000 [m]")),
            None
        );
        // A symbol at the top of the address space: value + offset would overflow.
        let top = frame("RIP: 0010:at_the_top+0x2/0x10 [m]");
        assert_eq!(lookup_address(&table["at_the_top"], &top), None);
        // The frame from the issue is not even a frame (its offset is past its size).
        assert!(
            crate::judge::symbolize::module_frames("func+0xffffffffffffffff/0x1 [mod]").is_empty()
        );
        // A symbol without a known size still gets checked arithmetic.
        let unsized_symbol = Symbol {
            section: ".text".into(),
            value: u64::MAX - 1,
            size: None,
        };
        assert_eq!(
            lookup_address(&unsized_symbol, &frame("RIP: 0010:f+0x5/0x10 [m]")),
            None
        );
    }
}
