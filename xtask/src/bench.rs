//! `cargo xtask bench`: per-phase timings (kernel, build, copy, boot, test) for one task and
//! for each whole lab, printed as a table. Builds start from an empty stage (a cold build
//! of the task's modules); the kernel comes from the cache.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use checker::selection::{select, Selected};
use checker::vm::VmSession;

use crate::build::SourceRoot;
use crate::check::{self, SnapshotMode};
use crate::progress::secs;
use crate::Ctx;

struct Row {
    name: String,
    build: Duration,
    copy: Duration,
    boot: Duration,
    test: Duration,
    passed: usize,
    tasks: usize,
}

fn measure(
    ctx: &Ctx,
    kernel: &crate::kernel::KernelTree,
    name: &str,
    selected: Vec<Selected>,
) -> Result<Row> {
    let source = SourceRoot {
        label: "bench".into(),
        dir: ctx.paths.templates.clone(),
    };
    let _ = std::fs::remove_dir_all(ctx.paths.out.join("stage/bench"));
    let t = Instant::now();
    let prepared = ctx.build_all(kernel, &source, selected)?;
    let build = t.elapsed();
    let t = Instant::now();
    let initrd = ctx.copy(&source, &prepared)?;
    let copy = t.elapsed();
    let image = ctx.image(kernel, initrd);
    let t = Instant::now();
    let run_dir = ctx.paths.out.join("runs/bench");
    let mut vm = VmSession::boot(&image, &run_dir, check::BOOT_TIMEOUT)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("booting the bench VM")?;
    let boot = t.elapsed();
    let t = Instant::now();
    let mut passed = 0;
    for p in &prepared {
        if !vm.is_alive() {
            vm = VmSession::boot(&image, &run_dir, check::BOOT_TIMEOUT)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        if check::run_one(&mut vm, &p.sel, SnapshotMode::Compare).passed() {
            passed += 1;
        }
    }
    let test = t.elapsed();
    vm.shutdown();
    Ok(Row {
        name: name.to_owned(),
        build,
        copy,
        boot,
        test,
        passed,
        tasks: prepared.len(),
    })
}

/// `bench --grade N`: grade N copies of a lab's reference solutions with 2 jobs.
pub fn grading(ctx: &Ctx, lab: &str, copies: usize) -> Result<()> {
    let lab = ctx.lab(lab)?;
    let scratch = ctx.paths.out.join("bench-grade");
    let _ = std::fs::remove_dir_all(&scratch);
    let mut submissions = Vec::new();
    for i in 1..=copies {
        let dest = scratch.join("subs").join(format!("copy-{i:03}"));
        for entry in walkdir::WalkDir::new(ctx.paths.templates.join(&lab.name)) {
            let entry = entry?;
            let rel = entry
                .path()
                .strip_prefix(ctx.paths.templates.join(&lab.name))?;
            if entry.file_type().is_dir() {
                std::fs::create_dir_all(dest.join(rel))?;
            } else {
                std::fs::copy(entry.path(), dest.join(rel))?;
            }
        }
        submissions.push(dest);
    }
    ctx.kernel()?;
    let t = Instant::now();
    let opts = crate::grade::GradeOptions {
        lab: lab.name.clone(),
        submissions,
        out: scratch.join("out"),
        jobs: 2,
        shard: None,
        format: crate::grade::Format::Human,
    };
    let all_full = crate::grade::run(ctx, opts)?;
    let wall = t.elapsed();
    println!();
    println!("klab bench --grade {copies} ({}, jobs 2)", lab.name);
    println!("  wall time:              {}", secs(wall));
    println!(
        "  submissions per minute: {:.1}",
        copies as f64 * 60.0 / wall.as_secs_f64()
    );
    println!(
        "  peak memory of one VM:  {:.0} MiB (QEMU resident set)",
        checker::vm::peak_vm_rss_kb() as f64 / 1024.0
    );
    println!(
        "  every copy graded:      {}",
        if all_full { "yes" } else { "no" }
    );
    Ok(())
}

pub fn run(ctx: &Ctx) -> Result<()> {
    let t = Instant::now();
    let kernel = ctx.kernel()?;
    let kernel_time = t.elapsed();
    let accel = crate::accel::resolve(&ctx.paths, &kernel);
    let labs = checker::manifest::discover(&ctx.paths.labs)?;
    let mut rows = Vec::new();
    let first = labs.first().and_then(|l| {
        l.manifest
            .tasks
            .first()
            .map(|t| format!("{}/{}", l.name, t.name))
    });
    if let Some(task) = first {
        rows.push(measure(
            ctx,
            &kernel,
            &task,
            select(&labs, std::slice::from_ref(&task), None)?,
        )?);
    }
    for lab in &labs {
        rows.push(measure(
            ctx,
            &kernel,
            &lab.name,
            select(&labs, std::slice::from_ref(&lab.name), None)?,
        )?);
    }
    println!();
    println!(
        "klab bench ({}, {} cores; kernel: {} to check the cache)",
        accel.name(),
        num_cpus(),
        secs(kernel_time)
    );
    println!(
        "{:<28} {:>8} {:>8} {:>8} {:>8} {:>8}  passed",
        "selection", "build", "copy", "boot", "test", "total"
    );
    for r in &rows {
        let total = r.build + r.copy + r.boot + r.test;
        println!(
            "{:<28} {:>8} {:>8} {:>8} {:>8} {:>8}  {}/{}",
            r.name,
            secs(r.build),
            secs(r.copy),
            secs(r.boot),
            secs(r.test),
            secs(total),
            r.passed,
            r.tasks
        );
    }
    println!(
        "peak memory of one VM: {:.0} MiB (QEMU resident set)",
        checker::vm::peak_vm_rss_kb() as f64 / 1024.0
    );
    Ok(())
}

fn num_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
