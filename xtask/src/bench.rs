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
    Ok(())
}

fn num_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
