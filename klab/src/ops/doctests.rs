//! `kernel doctests`: boot the lab kernel that has them (the debug profile's, or the
//! `--kernel-tree`) with KUnit on and count the Rust doctests' KTAP. Reported as one verdict,
//! `kernel/doctests`.

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::build::SourceRoot;
use crate::events::{Event, Step, StepKind, VerdictEvent};
use crate::judge::ktap;
use crate::kernel::profile::Profile;
use crate::paths::RunLabel;
use crate::run::pipeline::Start;
use crate::run::tasks;
use crate::run::Workspace;
use crate::vm::console::FaultWatch;
use crate::vm::session::VmSession;

/// Boots the lab kernel with KUnit enabled and reads the doctests' KTAP from the kernel log.
/// The lean kernel has no KUnit: the debug profile's kernel is booted (built first if need be)
/// whatever profile the command was given.
pub fn doctests(ws: &Workspace) -> Result<bool> {
    let started = Instant::now();
    let kernel = ws.kernel_of(Profile::DOCTESTS)?;
    // Its own image (no lab files), so a concurrent `check --solution` keeps its own.
    let source = SourceRoot {
        label: RunLabel::own("doctests"),
        dir: ws.paths.templates.clone(),
    };
    let staged = ws.stage(&kernel, source, vec![], Start::Booted)?;
    let mut image = staged.launch.cold;
    image.kunit = true;
    let step = Step::start(
        ws.reporter(),
        StepKind::Vm,
        "booting with KUnit on (the kernel crate's doctests run at boot)",
    );
    let run_dir = ws.paths.out.join("runs/doctests");
    let console_log = run_dir.join("console.log");
    let mut vm = VmSession::boot(&image, &run_dir, tasks::BOOT_TIMEOUT)
        .map_err(|e| anyhow::anyhow!("{e}; see {}", console_log.display()))?;
    // `quiet` keeps KTAP (KERN_INFO) off the boot console: read it from the kernel log.
    let log = vm
        .run_checked("dmesg", Duration::from_secs(30))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let console: Vec<String> = log.output.lines().map(str::to_owned).collect();
    let mut watch = FaultWatch::default();
    console.iter().for_each(|line| watch.feed(line));
    let fault = vm.take_fault().or_else(|| watch.take());
    vm.shutdown();
    step.done();
    let results = ktap::results(console.iter().map(String::as_str));
    let (suites, passed, failed, skipped, names) = ktap::summary(&results);
    ws.reporter().note(format!(
        "kunit: {suites} suite(s), {passed} passed, {failed} failed, {skipped} skipped"
    ));
    let mut problems: Vec<String> = names.iter().map(|n| format!("not ok: {n}")).collect();
    if let Some(fault) = &fault {
        problems.push(format!(
            "the kernel reported a {} during the tests:",
            fault.kind.describe()
        ));
        problems.extend(fault.excerpt.iter().take(20).map(|l| format!("| {l}")));
    }
    if suites == 0 {
        problems.push(
            "no KTAP output: is CONFIG_KUNIT with CONFIG_RUST_KERNEL_DOCTESTS in the kernel \
             (kernel/kunit.config)?"
                .into(),
        );
    }
    let ok = problems.is_empty() && failed == 0;
    ws.reporter().report(Event::Verdict(VerdictEvent {
        task: "kernel/doctests".into(),
        status: if ok { "PASS" } else { "FAIL" }.into(),
        duration_secs: started.elapsed().as_secs_f64(),
        warnings: vec![],
        explanation: problems.join("\n"),
        console_log: Some(ws.paths.show(&console_log)),
        mismatch: None,
    }));
    Ok(ok)
}
