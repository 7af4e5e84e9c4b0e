//! `boot`: the selected tasks' files in a VM, with a shell for a person (`--interactive`) or
//! booted to its prompt and asked `uname`.

use anyhow::{Context, Result};
use xshell::cmd;

use crate::progress::Step;
use crate::run::tasks;
use crate::run::Workspace;
use crate::vm::qemu::{qemu_args, ShellPort};
use crate::vm::session::VmSession;

pub fn boot(ctx: &Workspace, select: &[String], solution: bool, interactive: bool) -> Result<bool> {
    let (_, _, launch) = super::check::build_and_copy(ctx, select, solution, Some("boot"))?;
    let image = launch.cold;
    if interactive {
        eprintln!("==> booting ({}); in the guest: cd /lab/<lab>/<task>; leave with `poweroff` or Ctrl-a x", image.accel.name());
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
    let step = Step::start(format!(
        "booting the VM ({}) to its shell prompt",
        image.accel.name()
    ));
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
