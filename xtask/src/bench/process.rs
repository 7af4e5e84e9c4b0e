//! The edit loop as a student runs it: the whole `cargo xtask check LAB/TASK` process after a
//! save (cargo's own start, klab's probes, the build, the VM, the verdict), median of 5.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use klab::run::Workspace;

use super::copy_tree;

/// Times `cargo xtask --skels-dir D check TASK` after an edit of TASK's module sources, where D
/// holds the reference solution of TASK (so that the verdict is a PASS): median of `runs`,
/// after one untimed run that builds it.
pub fn check_process(ctx: &Workspace, task: &str, runs: usize) -> Result<Duration> {
    let (lab_name, task_name) = task.split_once('/').context("LAB/TASK")?;
    let lab = ctx.lab(lab_name)?;
    let manifest = lab
        .manifest
        .tasks
        .iter()
        .find(|t| t.name == task_name)
        .with_context(|| format!("no task {task}"))?;
    let skels = ctx.paths.out.join("bench-process-skels");
    let _ = std::fs::remove_dir_all(&skels);
    let task_dir = skels.join(lab_name).join(task_name);
    copy_tree(
        &ctx.paths.templates.join(lab_name).join(task_name),
        &task_dir,
    )?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let check = || -> Result<Duration> {
        let t = Instant::now();
        let out = Command::new(&cargo)
            .args(["xtask", "--skels-dir"])
            .arg(&skels)
            .args(["check", task])
            .current_dir(&ctx.paths.root)
            .env_remove("LABS")
            .output()
            .context("running cargo xtask check")?;
        let elapsed = t.elapsed();
        if !out.status.success() {
            bail!(
                "cargo xtask check {task} failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(elapsed)
    };
    check()?;
    let mut times = Vec::new();
    for i in 0..runs {
        for module in &manifest.modules {
            for source in module.source_paths(&task_dir) {
                let file = task_dir.join(source);
                let mut text = std::fs::read_to_string(&file)?;
                text.push_str(&format!("\n// edit {i} by klab bench\n"));
                std::fs::write(&file, text)?;
            }
        }
        times.push(check()?);
    }
    times.sort();
    Ok(times[times.len() / 2])
}
