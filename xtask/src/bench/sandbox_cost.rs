//! `bench --sandbox` (and a line of `bench`): what the build sandbox costs on a task build.
//! The same task is built from an empty stage and after an edit, alternately in the sandbox
//! and without it, and the medians are compared; the floor is the bare sandbox (`true`).

use std::time::{Duration, Instant};

use anyhow::Result;
use klab::lab::selection::select;

use klab::build::sandbox::{Job, Limits, Policy, Sandbox};
use klab::build::{self, SourceRoot};
use klab::events::secs;
use klab::run::Workspace;

const ROUNDS: usize = 5;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// One line per task: cold and edit builds with and without the sandbox.
pub fn sandbox_cost(ctx: &Workspace, tasks: &[&str]) -> Result<Vec<String>> {
    let kernel = ctx.kernel()?;
    let isolated = Sandbox::probe(&ctx.sh, Policy::Required, ctx.reporter())?;
    let bare = Sandbox::probe(&ctx.sh, Policy::Off, ctx.reporter())?;
    let mut lines = Vec::new();
    let scratch = tempfile::tempdir()?;
    let empty = Job {
        program: "true",
        args: vec![],
        writable: Some(scratch.path()),
        readable: vec![],
    };
    let mut floor = Vec::new();
    for _ in 0..ROUNDS {
        floor.push(isolated.run(&empty, &Limits::tool())?.elapsed);
    }
    lines.push(format!(
        "sandbox start and end (bwrap + setpriv + prlimit running `true`): {:.1} ms",
        median(floor).as_secs_f64() * 1e3
    ));
    let labs = klab::lab::manifest::discover(&ctx.paths.labs)?;
    for task in tasks {
        let sel = select(&labs, &[task.to_string()], None)?;
        let Some(sel) = sel.into_iter().next() else {
            continue;
        };
        let mut times: [[Vec<Duration>; 2]; 2] = Default::default();
        // ABBA order: neither way always goes first after the other's build.
        for round in 0..ROUNDS * 2 {
            let (which, sandbox) = match (round % 2) ^ ((round / 2) % 2) {
                0 => (0, &isolated),
                _ => (1, &bare),
            };
            let source = SourceRoot {
                label: klab::paths::RunLabel::own(format!("bench-sandbox-{which}")),
                dir: ctx.paths.templates.clone(),
            };
            let stage = ctx.paths.work.join("stage").join(&source.label);
            let _ = std::fs::remove_dir_all(&stage);
            let t = Instant::now();
            build::build_task(sandbox, &ctx.paths, &kernel, &source, &sel)?
                .map_err(|m| anyhow::anyhow!("{task} did not build: {m}"))?;
            times[which][0].push(t.elapsed());
            // An edit: the staged module sources change, so kbuild recompiles them.
            let task_stage = stage.join(&sel.lab.name).join(&sel.task.name);
            let _ = std::fs::remove_file(task_stage.join(".klab-built"));
            for module in &sel.task.modules {
                for source in module.source_paths(&task_stage) {
                    let file = task_stage.join(source);
                    if let Ok(mut text) = std::fs::read_to_string(&file) {
                        text.push_str("\n// edited by klab bench\n");
                        std::fs::write(&file, text)?;
                    }
                }
            }
            let t = Instant::now();
            build::build_task(sandbox, &ctx.paths, &kernel, &source, &sel)?
                .map_err(|m| anyhow::anyhow!("{task} did not build: {m}"))?;
            times[which][1].push(t.elapsed());
            let _ = std::fs::remove_dir_all(&stage);
        }
        let [[cold_in, edit_in], [cold_out, edit_out]] = times.map(|t| t.map(median));
        let pct = |a: Duration, b: Duration| {
            (a.as_secs_f64() - b.as_secs_f64()) / b.as_secs_f64().max(1e-9) * 100.0
        };
        lines.push(format!(
            "{task:<28} cold build {} sandboxed vs {} bare ({:+.0}%); edit {} vs {} ({:+.0}%)",
            secs(cold_in),
            secs(cold_out),
            pct(cold_in, cold_out),
            secs(edit_in),
            secs(edit_out),
            pct(edit_in, edit_out),
        ));
    }
    Ok(lines)
}
