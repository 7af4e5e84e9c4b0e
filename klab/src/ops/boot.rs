//! `boot`: the selected tasks' files in a VM, with a shell for a person (`--interactive`) or
//! booted to its prompt and asked `uname`.

use anyhow::{Context, Result};
use xshell::cmd;

use crate::events::{Step, StepKind};
use crate::run::pipeline::Start;
use crate::run::tasks;
use crate::run::Workspace;
use crate::vm::qemu::{qemu_args, ShellPort};
use crate::vm::session::VmSession;

/// What to boot.
#[derive(Debug, Clone)]
pub struct BootOptions {
    pub select: Vec<String>,
    pub solution: bool,
    /// A shell on the terminal for a person, instead of a check that the guest answers.
    pub interactive: bool,
}

pub fn boot(ctx: &Workspace, options: &BootOptions) -> Result<bool> {
    let selected = ctx.select(&options.select)?;
    let kernel = ctx.kernel()?;
    // Its own stage and image, so a student's VM never races a running `check`.
    let mut source = ctx.source(options.solution);
    source.label = source.label.for_boot();
    let staged = ctx.stage(&kernel, source, selected, Start::Booted)?;
    let image = staged.launch.cold;
    if options.interactive {
        ctx.reporter().note(format!(
            "booting ({}); in the guest: cd /lab/<lab>/<task>; leave with `poweroff` or Ctrl-a x",
            image.accel.name()
        ));
        let args = qemu_args(&image, &ShellPort::Interactive);
        let qemu = &image.qemu;
        // QEMU must own the terminal (raw mode, Ctrl-a escapes): hand it our stdin as is.
        let mut command: std::process::Command = cmd!(ctx.sh, "{qemu} {args...}").into();
        let status = command
            .stdin(std::process::Stdio::inherit())
            .status()
            .context("starting QEMU")?;
        return Ok(status.success());
    }
    let step = Step::start(
        ctx.reporter(),
        StepKind::Vm,
        format!(
            "booting the VM ({}) to its shell prompt",
            image.accel.name()
        ),
    );
    let run_dir = ctx.paths.out.join("runs/boot");
    let mut vm = VmSession::boot(&image, &run_dir, tasks::BOOT_TIMEOUT)
        .map_err(|e| anyhow::anyhow!("{e}; see {}", run_dir.join("console.log").display()))?;
    let uname = vm
        .run("uname -r; ls /lab", std::time::Duration::from_secs(10))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    step.tick(&format!(
        "guest says: {}",
        uname
            .output
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    ));
    vm.shutdown();
    step.done();
    Ok(true)
}
