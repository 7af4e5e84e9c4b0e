//! `kernel doctests`: boot the lab kernel with KUnit on and count the Rust doctests' KTAP.

use anyhow::Result;

use crate::build::SourceRoot;
use crate::progress::Step;
use crate::run::tasks;
use crate::run::Workspace;

/// Boots the lab kernel with KUnit enabled and reads the doctests' KTAP from the console.
pub fn doctests(ctx: &Workspace) -> Result<bool> {
    let kernel = ctx.kernel()?;
    // Its own image (no lab files), so a concurrent `check --solution` keeps its own.
    let source = SourceRoot {
        label: "doctests".into(),
        dir: ctx.paths.templates.clone(),
    };
    let files = ctx.copy(&source, &[])?;
    let mut image = ctx.image(&kernel, files.initrd);
    image.kunit = true;
    let step = Step::start("booting with KUnit on (the kernel crate's doctests run at boot)");
    let run_dir = ctx.paths.out.join("runs/doctests");
    let mut vm = crate::vm::session::VmSession::boot(&image, &run_dir, tasks::BOOT_TIMEOUT)
        .map_err(|e| anyhow::anyhow!("{e}; see {}", run_dir.join("console.log").display()))?;
    // `quiet` keeps KTAP (KERN_INFO) off the boot console: read it from the kernel log.
    let log = vm
        .run_checked("dmesg", std::time::Duration::from_secs(30))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let console: Vec<String> = log.output.lines().map(str::to_owned).collect();
    let mut watch = crate::vm::console::FaultWatch::default();
    console.iter().for_each(|line| watch.feed(line));
    let fault = vm.take_fault().or_else(|| watch.take());
    vm.shutdown();
    step.done();
    let results = crate::judge::ktap::results(console.iter().map(String::as_str));
    let (suites, passed, failed, skipped, names) = crate::judge::ktap::summary(&results);
    println!("kunit: {suites} suite(s), {passed} passed, {failed} failed, {skipped} skipped");
    for name in &names {
        println!("  not ok: {name}");
    }
    if let Some(fault) = fault {
        println!(
            "  the kernel reported a {} during the tests:",
            fault.kind.describe()
        );
        fault
            .excerpt
            .iter()
            .take(20)
            .for_each(|l| println!("  | {l}"));
        return Ok(false);
    }
    if suites == 0 {
        println!("  no KTAP output: is CONFIG_KUNIT with CONFIG_RUST_KERNEL_DOCTESTS in the kernel? (see {})", run_dir.join("console.log").display());
        return Ok(false);
    }
    Ok(failed == 0)
}
