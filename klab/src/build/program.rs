//! A task's test programs: each compiled static (`cc -static`, [`super::PROGRAM_CFLAGS`]) in
//! the sandbox, from its staged sources and include folders; an up-to-date binary is kept.
//!
//! It never runs the binary it builds (the guest does) and never compiles outside the sandbox.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::kbuild;
use super::sandbox::{Job, Limits, Sandbox};
use super::{failure, PROGRAM_CFLAGS};
use crate::lab::manifest::Program;

/// One program's build: its binary, or the message to show the student.
type ProgramOutcome = std::result::Result<PathBuf, String>;

/// Builds one test program static, in the sandbox; `Ok(Err(message))` is a build failure.
pub(super) fn build_program(
    sandbox: &Sandbox,
    stage: &Path,
    shown: &str,
    program: &Program,
    limits: &Limits,
) -> Result<ProgramOutcome> {
    for source in &program.sources {
        if !stage.join(source).is_file() {
            return Ok(Err(format!(
                "{shown}/{source} is missing (the lab manifest lists it as a source of program `{}`)",
                program.name
            )));
        }
    }
    let binary = stage.join(format!("{}.klab-program", program.name));
    // The stage rewrites a file only when it changed: a binary newer than every source and
    // every header in its include folders is already built.
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let headers = program.include.iter().flat_map(|dir| {
        walkdir::WalkDir::new(stage.join(dir))
            .into_iter()
            .filter_map(|e| e.ok())
            .map(|e| e.into_path())
    });
    let inputs: Vec<PathBuf> = program
        .sources
        .iter()
        .map(|s| stage.join(s))
        .chain(headers)
        .collect();
    let built = mtime(&binary);
    if built.is_some() && inputs.iter().all(|p| mtime(p) <= built) {
        return Ok(Ok(binary));
    }
    let mut args: Vec<std::ffi::OsString> = vec!["-static".into()];
    args.extend(PROGRAM_CFLAGS.iter().map(Into::into));
    for dir in &program.include {
        args.push(format!("-I{}", stage.join(dir).display()).into());
    }
    args.extend(["-o".into(), binary.clone().into()]);
    args.extend(program.sources.iter().map(|s| stage.join(s).into()));
    args.extend(program.libs.iter().map(|lib| format!("-l{lib}").into()));
    let job = Job {
        program: "cc",
        args,
        writable: Some(stage),
        readable: vec![],
    };
    let done = sandbox.run(&job, limits)?;
    if !done.success {
        let message = kbuild::rewrite_paths(&done.output, stage, shown);
        return Ok(Err(failure(message, &done, limits)));
    }
    Ok(Ok(binary))
}
