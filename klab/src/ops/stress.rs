//! `cargo xtask stress`: load and unload each selected task's modules many times in one VM,
//! through the task's `stress.sh` (instructor-written, gets the cycle count as `$1`), and
//! show that nothing leaks: no kernel report in the log, no socket left in /proc/net/tcp or
//! /proc/net/udp, no module left loaded.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::vm::console::FaultWatch;
use crate::vm::session::VmSession;
use anyhow::{Context, Result};

use crate::events::{Event, VerdictEvent};
use crate::run::pipeline::Start;
use crate::run::tasks;
use crate::run::Workspace;

/// Sockets someone still holds in /proc/net/{tcp,udp}: every entry but TIME_WAIT (state 06),
/// which the kernel keeps for a while after a clean close and which belongs to no one.
fn socket_count(vm: &mut VmSession, table: &str) -> Result<usize> {
    let out = vm
        .run_checked(&format!("cat /proc/net/{table}"), Duration::from_secs(15))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(held_sockets(&out.output))
}

fn held_sockets(table: &str) -> usize {
    table
        .lines()
        .skip(1)
        .filter(|l| {
            l.split_whitespace()
                .nth(3)
                .is_some_and(|state| state != "06")
        })
        .count()
}

pub fn run(ctx: &Workspace, select: &[String], solution: bool, cycles: u32) -> Result<bool> {
    let selected = ctx.select(select)?;
    let selected: Vec<_> = selected
        .into_iter()
        .filter(|s| s.lab.stress_script(s.task).is_file())
        .collect();
    if selected.is_empty() {
        anyhow::bail!("none of the selected tasks has a stress.sh (labs/<lab>/<task>/stress.sh)");
    }
    let kernel = ctx.kernel()?;
    // Its own stage and image: a `check` running beside it keeps its own. The stress
    // scripts travel with the tasks' files.
    let mut source = ctx.source(solution);
    source.label = source.label.prefixed("stress");
    let staged = ctx.stage(&kernel, source, selected, Start::Booted)?;
    if let Some(failed) = staged.tasks.iter().find(|p| p.built.is_err()) {
        anyhow::bail!("{} does not build (see its output above)", failed.sel.id());
    }
    let with_scripts = &staged.tasks;
    let image = &staged.launch.cold;
    let run_dir = ctx.paths.out.join("runs/stress");
    let mut vm = VmSession::boot(image, &run_dir, tasks::BOOT_TIMEOUT)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("booting the stress VM")?;
    let mut all_ok = true;
    for p in with_scripts {
        let id = p.sel.id();
        let started = Instant::now();
        let tcp = socket_count(&mut vm, "tcp")?;
        let udp = socket_count(&mut vm, "udp")?;
        vm.run_checked("dmesg -c >/dev/null", Duration::from_secs(15))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let limit = Duration::from_secs(p.sel.task.timeout_secs.max(30) * 4 + u64::from(cycles));
        let env = p.params.env_prefix();
        let script = vm.run(
            &format!("cd /lab/{id} && {env}sh ./stress.sh {cycles}"),
            limit,
        );
        let mut problems = Vec::new();
        match script {
            Ok(out) if out.status == 0 => {}
            Ok(out) => problems.push(format!(
                "stress.sh exited with {}: {}",
                out.status,
                out.output.trim()
            )),
            Err(e) => {
                problems.push(format!("{e}"));
                ctx.reporter()
                    .report(stress_verdict(ctx, &id, started, &problems, &run_dir));
                return Ok(false);
            }
        }
        let log = vm
            .run_checked("dmesg", Duration::from_secs(15))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut watch = FaultWatch::default();
        log.output.lines().for_each(|l| watch.feed(l));
        if let Some(fault) = vm.take_fault().or_else(|| watch.take()) {
            problems.push(format!(
                "{}: {}",
                fault.kind.describe(),
                fault.excerpt.first().cloned().unwrap_or_default()
            ));
        }
        let (tcp_after, udp_after) = (socket_count(&mut vm, "tcp")?, socket_count(&mut vm, "udp")?);
        if tcp_after > tcp || udp_after > udp {
            problems.push(format!(
                "sockets leaked: tcp {tcp} -> {tcp_after}, udp {udp} -> {udp_after}"
            ));
        }
        let modules = vm
            .run_checked("cat /proc/modules", Duration::from_secs(15))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if !modules.output.trim().is_empty() {
            problems.push(format!("modules still loaded: {}", modules.output.trim()));
        }
        if problems.is_empty() {
            ctx.reporter().note(format!(
                "{id}: {cycles} load/unload cycles; no kernel report, tcp {tcp} -> {tcp_after}, udp {udp} -> {udp_after} sockets"
            ));
        }
        all_ok &= problems.is_empty();
        ctx.reporter()
            .report(stress_verdict(ctx, &id, started, &problems, &run_dir));
    }
    vm.shutdown();
    Ok(all_ok)
}

/// A task's stress result, reported as a verdict: PASS, or FAIL with its problems.
fn stress_verdict(
    ws: &Workspace,
    id: &str,
    started: Instant,
    problems: &[String],
    run_dir: &Path,
) -> Event {
    Event::Verdict(VerdictEvent {
        task: id.to_owned(),
        status: if problems.is_empty() { "PASS" } else { "FAIL" }.into(),
        duration_secs: started.elapsed().as_secs_f64(),
        warnings: vec![],
        explanation: problems.join("\n"),
        console_log: Some(ws.paths.show(&run_dir.join("console.log"))),
        mismatch: None,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn time_wait_entries_are_not_held_sockets() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue\n   0: 0100007F:EA60 00000000:0000 0A 00000000:00000000\n   1: 0100007F:9C40 0100007F:EA60 06 00000000:00000000\n";
        assert_eq!(super::held_sockets(table), 1);
        assert_eq!(super::held_sockets("header only\n"), 0);
    }
}
