//! `cargo xtask bench`: per-phase timings (kernel, build, copy, boot, test) for one task and
//! for each whole lab, printed as a table. Builds start from an empty stage (a cold build
//! of the task's modules); the kernel comes from the cache. Every figure comes from the
//! pipeline's own steps (the same code `check` and `grade` run).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use klab::events::{secs, Event, Reporter};
use klab::lab::selection::select;
use klab::run::Workspace;

mod fresh;
mod grading;
mod measure;
mod process;
mod profiles;
mod sandbox_cost;

pub use fresh::fresh;
use grading::{grade_copies, grading};
use measure::{measure, saved_guest, start_to_prompt, Path, Stage};
use profiles::profiles;
pub use sandbox_cost::sandbox_cost;

/// The tasks `bench --sandbox` builds: a Rust module and a C module with a test program.
pub const SANDBOX_TASKS: &[&str] = &["intro/1-2-hello", "networking-c/1-2-netfilter"];

/// How many copies of the networking lab's solutions the table grades.
const GRADED_COPIES: usize = 12;

/// `cargo xtask bench` and its variants (`--grade N`, `--profiles`, `--sandbox`).
pub fn run(
    ws: &Workspace,
    grade: Option<usize>,
    lab: &str,
    profiles_only: bool,
    sandbox_only: bool,
    edit_loop_only: bool,
) -> Result<()> {
    if edit_loop_only {
        let labs = klab::lab::manifest::discover(&ws.paths.labs)?;
        let task = one_task(&labs).context("no lab has a task")?;
        let median = process::check_process(ws, &task, 5)?;
        println!(
            "\n`cargo xtask check {task}` after an edit, the whole process (median of 5): {}",
            secs(median)
        );
        return Ok(());
    }
    if let Some(copies) = grade {
        return grading(ws, lab, copies);
    }
    if profiles_only {
        println!(
            "\nkernel profiles (a task cycle: build + copy + resume + test, on the fast path):"
        );
        profiles(ws)?.iter().for_each(|line| println!("{line}"));
        return Ok(());
    }
    if sandbox_only {
        println!("\nthe build sandbox (median of 5, alternating):");
        sandbox_cost(ws, SANDBOX_TASKS)?
            .iter()
            .for_each(|line| println!("{line}"));
        return Ok(());
    }
    table(ws)
}

/// `bench`: one task (cold build, then an edit) and each whole lab, booted and resumed;
/// then grading throughput both ways. Prints one table.
fn table(ws: &Workspace) -> Result<()> {
    let peak = Arc::new(PeakRss::forwarding(ws.reporter_handle()));
    let ctx = &ws.reporting_to(peak.clone())?;
    let t = Instant::now();
    let kernel = ctx.kernel()?;
    let kernel_time = t.elapsed();
    let accel = klab::vm::accel::resolve(&ctx.paths, &kernel, ctx.reporter());
    let labs = klab::lab::manifest::discover(&ctx.paths.labs)?;

    // The saved guest is made once (per kernel, base and QEMU); its cost is shown apart.
    let t = Instant::now();
    let state = saved_guest(ctx, &kernel)?;
    let save_time = t.elapsed();

    let (boot_to_prompt, resume_to_prompt) = start_to_prompt(ctx, &kernel)?;

    let mut rows = Vec::new();
    if let Some(task) = one_task(&labs) {
        for (label, stage) in [("(cold build)", Stage::Empty), ("(edit)", Stage::Edited)] {
            for path in [Path::Cold, Path::Fast] {
                let name = format!("{task} {label}");
                let sel = select(&labs, std::slice::from_ref(&task), None)?;
                rows.push(measure(ctx, &kernel, &name, sel, path, stage)?);
            }
        }
    }
    for lab in &labs {
        for path in [Path::Cold, Path::Fast] {
            let sel = select(&labs, std::slice::from_ref(&lab.name), None)?;
            rows.push(measure(ctx, &kernel, &lab.name, sel, path, Stage::Empty)?);
        }
    }
    let process = match one_task(&labs) {
        Some(task) => Some((process::check_process(ctx, &task, 5)?, task)),
        None => None,
    };
    let mut grading = Vec::new();
    for jobs in [klab::grade::Jobs::Count(2), klab::grade::Jobs::Auto] {
        grading.push(grade_copies(
            ctx,
            "networking",
            GRADED_COPIES,
            Path::Fast,
            jobs,
        )?);
    }
    let by_profile = profiles(ctx)?;
    let sandbox = sandbox_cost(ctx, SANDBOX_TASKS)?;

    println!();
    println!(
        "klab bench ({}, {} cores; kernel: {} to check the cache)",
        accel.name(),
        num_cpus(),
        secs(kernel_time)
    );
    println!(
        "saved guest: {} ({:.1} MB), made once per kernel, base initramfs and QEMU",
        secs(save_time),
        std::fs::metadata(&state).map(|m| m.len()).unwrap_or(0) as f64 / 1e6
    );
    println!(
        "VM start to a responsive shell (median of 3): boot {}, resume {} (with loading an empty lab)",
        secs(boot_to_prompt),
        secs(resume_to_prompt)
    );
    println!(
        "{:<34} {:<7} {:>7} {:>7} {:>7} {:>7} {:>7}  passed",
        "selection", "VM", "build", "copy", "start", "test", "total"
    );
    for r in &rows {
        let total = r.wall;
        println!(
            "{:<34} {:<7} {:>7} {:>7} {:>7} {:>7} {:>7}  {}/{}",
            r.name,
            r.path.name(),
            secs(r.build),
            secs(r.copy),
            secs(r.start),
            secs(r.test),
            secs(total),
            r.passed,
            r.tasks
        );
    }
    if let Some((median, task)) = process {
        println!(
            "`cargo xtask check {task}` after an edit, the whole process (median of 5): {}",
            secs(median)
        );
    }
    for line in grading {
        println!("{line}");
    }
    println!(
        "peak memory of one VM: {:.0} MiB (QEMU resident set)",
        peak.kb.load(Ordering::Relaxed) as f64 / 1024.0
    );
    println!("\nkernel profiles (a task cycle: build + copy + resume + test, on the fast path):");
    for line in by_profile {
        println!("{line}");
    }
    println!("\nthe build sandbox (median of 5, alternating):");
    for line in sandbox {
        println!("{line}");
    }
    Ok(())
}

/// The task of the one-task rows: the intro lab's first task (the smallest edit-check loop),
/// else the first task there is.
pub(crate) fn one_task(labs: &[klab::lab::manifest::Lab]) -> Option<String> {
    labs.iter()
        .find(|l| l.name == "intro")
        .or(labs.first())
        .and_then(|l| {
            l.manifest
                .tasks
                .first()
                .map(|t| format!("{}/{}", l.name, t.name))
        })
}

fn num_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

pub(crate) use klab::paths::copy_tree;

/// Passes every event on, keeping the largest resident set a stopped VM reported.
struct PeakRss {
    next: Arc<dyn Reporter>,
    kb: AtomicU64,
}

impl PeakRss {
    fn forwarding(next: Arc<dyn Reporter>) -> PeakRss {
        PeakRss {
            next,
            kb: AtomicU64::new(0),
        }
    }
}

impl Reporter for PeakRss {
    fn report(&self, event: Event) {
        if let Event::VmStopped { peak_rss_kb } = event {
            self.kb.fetch_max(peak_rss_kb, Ordering::Relaxed);
        }
        self.next.report(event);
    }
}
