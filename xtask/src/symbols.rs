//! Places a kernel report's module frames in the student's source (`file:line`), reading the
//! task's own `.ko` with binutils (`readelf`, `addr2line`), in the sandbox: the `.ko` is built
//! from student input. Modules are built with debug info under the debug profile; without it,
//! frames stay as the kernel printed them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use checker::symbolize::ModuleFrame;

use crate::sandbox::{Job, Limits, Sandbox};

/// A module's symbol table: name → (section name, value).
type Symbols = HashMap<String, (String, u64)>;

/// Resolves frames of one task's modules.
pub struct Resolver {
    sandbox: Sandbox,
    /// Module name → its `.ko` in the stage.
    modules: HashMap<String, PathBuf>,
    symbols: HashMap<String, Option<Symbols>>,
    /// The stage folder, shown to the student as their task folder.
    stage: PathBuf,
    shown: String,
}

impl Resolver {
    /// `files`: what the task put in the guest (its `.ko` files among them).
    pub fn new(sandbox: &Sandbox, files: &[(String, PathBuf)], shown: String) -> Option<Resolver> {
        let modules: HashMap<String, PathBuf> = files
            .iter()
            .filter_map(|(name, path)| {
                // The kernel names a module with `-` as `_`.
                let module = name.strip_suffix(".ko")?.replace('-', "_");
                Some((module, path.clone()))
            })
            .collect();
        let stage = modules.values().next()?.parent()?.to_path_buf();
        Some(Resolver {
            sandbox: sandbox.clone(),
            modules,
            symbols: HashMap::new(),
            stage,
            shown,
        })
    }

    /// `file:line` of a frame in one of the task's modules, in the student's folder.
    pub fn place(&mut self, frame: &ModuleFrame) -> Option<String> {
        let ko = self.modules.get(&frame.module)?.clone();
        if !self.symbols.contains_key(&frame.module) {
            let table = symbol_table(&self.sandbox, &ko);
            self.symbols.insert(frame.module.clone(), table);
        }
        let (section, value) = self
            .symbols
            .get(&frame.module)?
            .as_ref()?
            .get(&frame.function)?;
        let offset = if frame.exact {
            frame.offset
        } else {
            frame.offset.saturating_sub(1)
        };
        let address = format!("{:#x}", value.checked_add(offset)?);
        let out = tool(
            &self.sandbox,
            &ko,
            "addr2line",
            &[
                "-e".as_ref(),
                ko.as_os_str(),
                "-j".as_ref(),
                section.as_ref(),
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
        Some(checker::kbuild::rewrite_paths(
            place,
            &self.stage,
            &self.shown,
        ))
    }
}

/// Function symbols of a relocatable module: their section and offset in it.
fn symbol_table(sandbox: &Sandbox, ko: &Path) -> Option<Symbols> {
    let sections = tool(sandbox, ko, "readelf", &["-SW".as_ref(), ko.as_os_str()])?;
    let mut names: HashMap<String, String> = HashMap::new();
    for line in sections.lines() {
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
    let symbols = tool(sandbox, ko, "readelf", &["-sW".as_ref(), ko.as_os_str()])?;
    let mut table = Symbols::new();
    for line in symbols.lines() {
        // `    12: 0000000000000010    64 FUNC    LOCAL  DEFAULT    2 uaf_init`
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 8 || fields[3] != "FUNC" {
            continue;
        }
        let (Ok(value), Some(section)) = (u64::from_str_radix(fields[1], 16), names.get(fields[6]))
        else {
            continue;
        };
        table.insert(fields[7].to_owned(), (section.clone(), value));
    }
    Some(table)
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
