//! `bench --grade N`: grading throughput on copies of a lab's reference solutions.

use std::time::Instant;

use anyhow::Result;
use klab::events::secs;
use klab::run::Workspace;

use super::copy_tree;
use super::measure::Path;

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
pub fn grade_copies(ctx: &Workspace, lab: &str, copies: usize, path: Path) -> Result<String> {
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
    let all_full = klab::grade::grade(ctx, &opts);
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
