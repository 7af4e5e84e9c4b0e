//! `bench --profiles`: the lean and the debug kernel side by side.

use std::time::Duration;

use anyhow::{Context, Result};
use klab::events::secs;
use klab::kernel::KernelTree;
use klab::lab::selection::select;
use klab::run::Workspace;

use super::measure::{measure, saved_guest, start_to_prompt, Path, Stage};
use super::one_task;

/// `bench --profiles` (and the end of `bench`): the lean and the debug kernel side by side:
/// their build time (as recorded when each was built), image size, VM start to a prompt and
/// one task's check cycle, cold and after an edit, on the fast path. Each profile's
/// kernel is built first if it is not cached.
pub fn profiles(ctx: &Workspace) -> Result<Vec<String>> {
    let labs = klab::lab::manifest::discover(&ctx.paths.labs)?;
    let task = one_task(&labs).context("no lab has a task")?;
    let mut lines = vec![format!(
        "{:<8} {:>12} {:>8} {:>8} {:>8} {:>22} {:>22}",
        "profile",
        "kernel build",
        "bzImage",
        "boot",
        "resume",
        format!("{task} cold"),
        format!("{task} edit")
    )];
    for profile in klab::kernel::profile::Profile::ALL {
        let kernel = ctx.kernel_of(profile)?;
        let built = kernel_build_time(&kernel)
            .map(secs)
            .unwrap_or_else(|| "not recorded".into());
        let image = std::fs::metadata(&kernel.bzimage)
            .map(|m| m.len())
            .unwrap_or(0);
        saved_guest(ctx, &kernel)?;
        let (boot, resume) = start_to_prompt(ctx, &kernel)?;
        let mut cycle = Vec::new();
        for stage in [Stage::Empty, Stage::Edited] {
            let sel = select(&labs, std::slice::from_ref(&task), None)?;
            let r = measure(ctx, &kernel, &task, sel, Path::Fast, stage)?;
            cycle.push(format!("{} ({}/{} pass)", secs(r.wall), r.passed, r.tasks));
        }
        lines.push(format!(
            "{:<8} {:>12} {:>8} {:>8} {:>8} {:>22} {:>22}",
            profile.name(),
            built,
            format!("{:.1} MB", image as f64 / 1e6),
            secs(boot),
            secs(resume),
            cycle[0],
            cycle[1]
        ));
    }
    Ok(lines)
}

/// How long `make` took for a cached kernel: as recorded by the build, else (kernels built
/// before klab recorded it) from the build log's last write after `.config`'s.
fn kernel_build_time(kernel: &KernelTree) -> Option<Duration> {
    let cache = kernel.dir.parent()?;
    if let Ok(text) = std::fs::read_to_string(cache.join(klab::kernel::BUILD_TIME)) {
        return text.trim().parse::<f64>().ok().map(Duration::from_secs_f64);
    }
    let mtime = |p: std::path::PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let end = mtime(cache.join("build.log"))?;
    end.duration_since(mtime(kernel.dir.join(".config"))?).ok()
}
