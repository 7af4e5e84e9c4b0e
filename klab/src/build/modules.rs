//! A task's kernel modules from its stage: up to date, replayed ([`super::replay`]), or a
//! kbuild run (`make M=<stage> modules`, with clippy for Rust), always in the sandbox.
//!
//! Returns the compilers' output of the build that made the modules (their warnings, which
//! the verdict shows as style findings); a build that was not needed returns the output of
//! the one that was, kept in the stage. Never writes outside the stage.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::replay::{self, Inputs, Plan};
use super::sandbox::{Job, Limits, Sandbox};
use super::{failure, kbuild, kernel_folders};
use crate::events::BuildHow;
use crate::lab::manifest::TaskManifest;

/// The compilers' output of the stage's last successful build.
const LOG: &str = ".klab-build-output";

/// Builds the modules of `task` in `stage` against the kernel tree `kdir`; `Ok(Err(message))`
/// when they do not build (the message names the student's files under `shown`).
pub(super) fn build(
    sandbox: &Sandbox,
    kdir: &Path,
    stage: &Path,
    shown: &str,
    task: &TaskManifest,
    limits: &Limits,
) -> Result<std::result::Result<(String, BuildHow), String>> {
    // An `O=` build tree (`--kernel-tree`) includes its source tree through `source`.
    let source_tree = std::fs::canonicalize(kdir.join("source")).ok();
    let readable = kernel_folders(kdir, &source_tree);
    let now = Inputs::read(stage, kdir)?;
    let built = task
        .modules
        .iter()
        .all(|m| stage.join(m.ko_path()).is_file());
    let before = Inputs::load(stage);
    // Another kernel (or no record of the last build): kbuild's own incremental check cannot
    // be trusted across kernel trees (a module's `.mod.o` is not rebuilt when only the
    // kernel's configuration changed, and the module would not load), so the stage's outputs
    // go and the build starts over.
    if before.as_ref().is_none_or(|b| b.kernel != now.kernel) {
        replay::clean_outputs(stage)?;
    }
    let plan = match before {
        Some(before) if built => before.plan(&now),
        _ => Plan::Full,
    };
    match plan {
        // Unchanged sources against the same kernel: the modules built last time stand, and
        // kbuild's own no-op pass (a second or so per task) is skipped.
        Plan::UpToDate => {
            return Ok(Ok((
                std::fs::read_to_string(stage.join(LOG)).unwrap_or_default(),
                BuildHow::UpToDate,
            )));
        }
        Plan::Replay(changed) => {
            let steps = replay::commands(&replay::recorded(stage, kdir), &changed);
            if let Some(steps) = steps {
                if let Some(output) =
                    replay::replay(sandbox, kdir, stage, &readable, &steps, limits)?
                {
                    finished(stage, &now, &output)?;
                    std::fs::write(stage.join(replay::REPLAYED), "")?;
                    return Ok(Ok((output, BuildHow::Replayed)));
                }
            }
        }
        Plan::Full => {}
    }
    let _ = std::fs::remove_file(stage.join(replay::RECORD));
    let _ = std::fs::remove_file(stage.join(replay::REPLAYED));
    let job = Job {
        program: "make",
        args: [
            "-C".into(),
            kdir.as_os_str().to_owned(),
            "LLVM=1".into(),
            // Clippy for the Rust modules (kbuild runs clippy-driver in place of rustc, at
            // about the same cost): its warnings are style findings.
            "CLIPPY=1".into(),
            format!("M={}", stage.display()).into(),
            "-j2".into(),
            "modules".into(),
        ]
        .into(),
        writable: Some(stage),
        readable,
    };
    let done = sandbox.run(&job, limits)?;
    if !done.success {
        let message = kbuild::rewrite_paths(&kbuild::interesting_lines(&done.output), stage, shown);
        return Ok(Err(failure(message, &done, limits)));
    }
    finished(stage, &now, &done.output)?;
    Ok(Ok((done.output, BuildHow::Kbuild)))
}

/// Records a successful build: its inputs (what the next build compares with) and output.
fn finished(stage: &Path, inputs: &Inputs, output: &str) -> Result<()> {
    std::fs::write(stage.join(LOG), output)?;
    inputs.save(stage)
}

/// Whether the stage's modules were last made by a replay rather than by kbuild.
pub fn replayed(stage: &Path) -> bool {
    stage.join(replay::REPLAYED).exists()
}

/// The `.ko` files of `task` in `stage`, or the message naming the one kbuild did not make.
pub(super) fn outputs(
    stage: &Path,
    task: &TaskManifest,
) -> std::result::Result<Vec<(String, PathBuf)>, String> {
    let mut files = Vec::new();
    for module in &task.modules {
        let ko = stage.join(module.ko_path());
        if !ko.exists() {
            return Err(format!(
                "kbuild succeeded but produced no {}",
                module.ko_path()
            ));
        }
        // In the guest every module is beside test.sh, whatever its folder on the host.
        files.push((format!("{}.ko", module.name), ko));
    }
    Ok(files)
}
