//! `cargo xtask bench`: per-phase timings (kernel, build, copy, boot, test) for one task and
//! for each whole lab, printed as a table. Builds start from an empty stage (a cold build
//! of the task's modules); the kernel comes from the cache.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use klab::lab::selection::{select, Selected};

use klab::build::SourceRoot;
use klab::progress::secs;
use klab::run::tasks::{self as check, SnapshotMode};
use klab::run::Workspace;

mod sandbox_cost;
pub use sandbox_cost::sandbox_cost;

/// The tasks `bench --sandbox` builds: a Rust module and a C module with a test program.
pub const SANDBOX_TASKS: &[&str] = &["intro/1-2-hello", "networking-c/1-2-netfilter"];

/// How the measured VMs start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    /// A fresh boot per VM.
    Cold,
    /// Resumed from the saved guest, the lab's files loaded from the lab disk.
    Fast,
}

impl Path {
    fn name(self) -> &'static str {
        match self {
            Path::Cold => "boot",
            Path::Fast => "resume",
        }
    }
}

struct Row {
    name: String,
    path: Path,
    build: Duration,
    copy: Duration,
    start: Duration,
    test: Duration,
    passed: usize,
    tasks: usize,
}

/// Whether the stage is emptied first (a cold build) or kept (an edit: kbuild rebuilds what
/// changed, after the source was touched).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Empty,
    Edited,
}

/// A scratch copy of the selected tasks' templates, built once, then edited (a comment
/// appended to each module source): what a student's save before `check` looks like.
fn edited_copy(
    ctx: &Workspace,
    kernel: &klab::kernel::KernelTree,
    selected: &[Selected],
) -> Result<SourceRoot> {
    let dir = ctx.paths.out.join("bench-edit-src");
    let _ = std::fs::remove_dir_all(&dir);
    for s in selected {
        let task = |root: &std::path::Path| root.join(&s.lab.name).join(&s.task.name);
        copy_tree(&task(&ctx.paths.templates), &task(&dir))?;
    }
    let source = SourceRoot {
        label: "bench-edit".into(),
        dir: dir.clone(),
    };
    ctx.build_all(kernel, &source, selected.to_vec())?;
    for s in selected {
        let task_dir = dir.join(&s.lab.name).join(&s.task.name);
        for module in &s.task.modules {
            for source in module.source_paths(&task_dir) {
                let file = task_dir.join(source);
                if file.is_file() {
                    let mut text = std::fs::read_to_string(&file)?;
                    text.push_str("\n// edited by klab bench\n");
                    std::fs::write(&file, text)?;
                }
            }
        }
    }
    Ok(source)
}

fn measure(
    ctx: &Workspace,
    kernel: &klab::kernel::KernelTree,
    name: &str,
    selected: Vec<Selected>,
    path: Path,
    stage: Stage,
) -> Result<Row> {
    let source = match stage {
        Stage::Empty => {
            let _ = std::fs::remove_dir_all(ctx.paths.out.join("stage/bench"));
            SourceRoot {
                label: "bench".into(),
                dir: ctx.paths.templates.clone(),
            }
        }
        Stage::Edited => edited_copy(ctx, kernel, &selected)?,
    };
    // As `check` does: on the fast path the VM resumes while the tasks build.
    let early = match path {
        Path::Fast => ctx.resume_early(kernel, &source),
        Path::Cold => None,
    };
    let t = Instant::now();
    let prepared = ctx.build_all(kernel, &source, selected)?;
    let build = t.elapsed();
    let t = Instant::now();
    let files = ctx.copy(&source, &prepared)?;
    let copy = t.elapsed();
    let mut launch = ctx.launch(kernel, &files);
    if path == Path::Cold {
        launch.fast = None;
    } else if launch.fast.is_none() {
        anyhow::bail!("no saved guest to resume (see the warning above)");
    }
    let run_dir = ctx.paths.out.join("runs/bench");
    let t = Instant::now();
    let (mut vm, started) = match early.and_then(klab::vm::launch::Early::finish) {
        Some(vm) => (vm, klab::vm::launch::Started::Restored),
        None => launch
            .start(&run_dir, check::BOOT_TIMEOUT)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("starting the bench VM")?,
    };
    // On the fast path: what is left of the resume once the build is done, plus loading
    // the lab's files.
    let start = t.elapsed();
    if path == Path::Fast && started != klab::vm::launch::Started::Restored {
        anyhow::bail!("the saved guest could not be resumed (see the warning above)");
    }
    let t = Instant::now();
    let mut passed = 0;
    for p in &prepared {
        if !vm.is_alive() {
            vm = launch
                .start(&run_dir, check::BOOT_TIMEOUT)
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .0;
        }
        if check::run_one(
            &mut vm,
            &p.sel,
            &p.params,
            SnapshotMode::Compare,
            kernel.profile,
        )
        .passed()
        {
            passed += 1;
        }
    }
    let test = t.elapsed();
    vm.shutdown();
    Ok(Row {
        name: name.to_owned(),
        path,
        build,
        copy,
        start,
        test,
        passed,
        tasks: prepared.len(),
    })
}

/// `bench --grade N`: grade N copies of a lab's reference solutions with 2 jobs, booting
/// each VM and resuming the saved guest, one after the other.
pub fn grading(ctx: &Workspace, lab: &str, copies: usize) -> Result<()> {
    ctx.kernel()?;
    let mut lines = Vec::new();
    for path in [Path::Cold, Path::Fast] {
        lines.push(grade_copies(ctx, lab, copies, path)?);
    }
    println!();
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

/// Grades `copies` copies of `lab`'s solutions (2 jobs); one line of figures.
fn grade_copies(ctx: &Workspace, lab: &str, copies: usize, path: Path) -> Result<String> {
    let lab = ctx.lab(lab)?;
    let scratch = ctx.paths.out.join("bench-grade");
    let _ = std::fs::remove_dir_all(&scratch);
    let mut submissions = Vec::new();
    for i in 1..=copies {
        let dest = scratch.join("subs").join(format!("copy-{i:03}"));
        copy_tree(&ctx.paths.templates.join(&lab.name), &dest)?;
        submissions.push(dest);
    }
    let opts = klab::grade::GradeOptions {
        lab: lab.name.clone(),
        submissions,
        out: scratch.join("out"),
        jobs: 2,
        shard: None,
        format: klab::grade::Format::Human,
        seed: None,
    };
    // The grader reads KLAB_BOOT through `Workspace::launch`.
    std::env::set_var(
        "KLAB_BOOT",
        if path == Path::Cold {
            "cold"
        } else {
            "snapshot"
        },
    );
    let t = Instant::now();
    let all_full = klab::grade::run(ctx, opts);
    std::env::remove_var("KLAB_BOOT");
    let all_full = all_full?;
    let wall = t.elapsed();
    Ok(format!(
        "grading {copies} x {} ({:<6}, jobs 2): {:>7} wall, {:>5.1} submissions/min, every copy full marks: {}",
        lab.name,
        path.name(),
        secs(wall),
        copies as f64 * 60.0 / wall.as_secs_f64(),
        if all_full { "yes" } else { "no" }
    ))
}

/// `cargo xtask bench` and its variants (`--grade N`, `--profiles`, `--sandbox`).
pub fn run(
    ws: &Workspace,
    grade: Option<usize>,
    lab: &str,
    profiles_only: bool,
    sandbox_only: bool,
) -> Result<()> {
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
fn table(ctx: &Workspace) -> Result<()> {
    let t = Instant::now();
    let kernel = ctx.kernel()?;
    let kernel_time = t.elapsed();
    let accel = klab::vm::accel::resolve(&ctx.paths, &kernel);
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
    let mut grading = Vec::new();
    for path in [Path::Cold, Path::Fast] {
        grading.push(grade_copies(ctx, "networking", 6, path)?);
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
        let total = r.build + r.copy + r.start + r.test;
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
    for line in grading {
        println!("{line}");
    }
    println!(
        "peak memory of one VM: {:.0} MiB (QEMU resident set)",
        klab::vm::session::peak_vm_rss_kb() as f64 / 1024.0
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
fn one_task(labs: &[klab::lab::manifest::Lab]) -> Option<String> {
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
            cycle.push(format!(
                "{} ({}/{} pass)",
                secs(r.build + r.copy + r.start + r.test),
                r.passed,
                r.tasks
            ));
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
fn kernel_build_time(kernel: &klab::kernel::KernelTree) -> Option<Duration> {
    let cache = kernel.dir.parent()?;
    if let Ok(text) = std::fs::read_to_string(cache.join(klab::kernel::BUILD_TIME)) {
        return text.trim().parse::<f64>().ok().map(Duration::from_secs_f64);
    }
    let mtime = |p: std::path::PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let end = mtime(cache.join("build.log"))?;
    end.duration_since(mtime(kernel.dir.join(".config"))?).ok()
}

/// QEMU start to a responsive guest shell, booted and resumed (median of 3 each).
fn start_to_prompt(
    ctx: &Workspace,
    kernel: &klab::kernel::KernelTree,
) -> Result<(Duration, Duration)> {
    let source = SourceRoot {
        label: "bench-start".into(),
        dir: ctx.paths.templates.clone(),
    };
    let files = ctx.copy(&source, &[])?;
    let launch = ctx.launch(kernel, &files);
    let run_dir = ctx.paths.out.join("runs/bench-start");
    let median = |fast: bool| -> Result<Duration> {
        let mut times = Vec::new();
        for _ in 0..3 {
            let mut l = launch.clone();
            if !fast {
                l.fast = None;
            }
            let t = Instant::now();
            let (vm, _) = l
                .start(&run_dir, check::BOOT_TIMEOUT)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            times.push(t.elapsed());
            vm.shutdown();
        }
        times.sort();
        Ok(times[1])
    };
    Ok((median(false)?, median(true)?))
}

/// Makes sure the saved guest exists (timing its creation when it did not).
fn saved_guest(ctx: &Workspace, kernel: &klab::kernel::KernelTree) -> Result<std::path::PathBuf> {
    let source = SourceRoot {
        label: "bench".into(),
        dir: ctx.paths.templates.clone(),
    };
    let files = ctx.copy(&source, &[])?;
    let launch = ctx.launch(kernel, &files);
    launch
        .fast
        .map(|f| f.state)
        .context("no saved guest could be made (see the warning above)")
}

fn num_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Copies the folder `from` (files and subfolders) to `to`.
fn copy_tree(from: &std::path::Path, to: &std::path::Path) -> Result<()> {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry?;
        let dest = to.join(entry.path().strip_prefix(from)?);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest)?;
        } else {
            std::fs::copy(entry.path(), &dest)?;
        }
    }
    Ok(())
}
