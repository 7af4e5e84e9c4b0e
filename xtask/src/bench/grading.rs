//! `bench --grade N`: grading throughput on copies of a lab's reference solutions, with the
//! CPU utilisation of the run (how far from keeping every core busy).

use std::time::Instant;

use anyhow::{Context, Result};
use klab::events::{secs, BuildHow, Event, Recorder, StepKind};
use klab::grade::Jobs;
use klab::report::SubmissionGrade;
use klab::run::Workspace;

use super::copy_tree;
use super::measure::Path;

/// `bench --grade N`: grade N copies of a lab's reference solutions resumed, with 2 jobs and
/// with `--jobs auto`.
pub fn grading(ctx: &Workspace, lab: &str, copies: usize) -> Result<()> {
    ctx.kernel()?;
    let mut lines = Vec::new();
    for jobs in [Jobs::Count(2), Jobs::Auto] {
        lines.push(grade_copies(ctx, lab, copies, Path::Fast, jobs)?);
    }
    println!();
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

/// Grades `copies` copies of `lab`'s solutions; one line of figures.
pub fn grade_copies(
    ctx: &Workspace,
    lab: &str,
    copies: usize,
    path: Path,
    jobs: Jobs,
) -> Result<String> {
    let lab = ctx.lab(lab)?;
    let scratch = ctx.paths.out.join("bench-grade");
    let _ = std::fs::remove_dir_all(&scratch);
    let mut submissions = Vec::new();
    for i in 1..=copies {
        let dest = scratch.join("subs").join(format!("copy-{i:03}"));
        copy_tree(&ctx.paths.templates.join(&lab.name), &dest)?;
        submissions.push(dest);
    }
    let out = scratch.join("out");
    let opts = klab::grade::GradeOptions {
        lab: lab.name.clone(),
        submissions,
        out: out.clone(),
        jobs,
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
    // The events are kept to tell the seed builds (once per job) from the submissions' builds.
    let recorder = std::sync::Arc::new(Recorder::forwarding(ctx.reporter_handle()));
    let ws = ctx.reporting_to(recorder.clone())?;
    let cpu_before = CpuTimes::now();
    let t = Instant::now();
    let graded = klab::grade::grade(&ws, &opts);
    let wall = t.elapsed();
    let (own, host) = CpuTimes::now().busy_since(&cpu_before, wall);
    std::env::remove_var("KLAB_BOOT");
    graded?;
    let full = full_marks(&out, copies)?;
    let (seeds, seed_secs) = recorder
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::StepFinished {
                kind: StepKind::Build,
                what,
                elapsed_secs,
            } if what.contains("the skeleton") => Some(*elapsed_secs),
            _ => None,
        })
        .fold((0, 0.0), |(n, s), e| (n + 1, s + e));
    let replayed = recorder
        .events()
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::TaskBuilt {
                    how: BuildHow::Replayed,
                    ..
                }
            )
        })
        .count();
    let jobs = match jobs {
        Jobs::Auto => format!("auto={}", jobs.count().min(copies)),
        Jobs::Count(n) => n.to_string(),
    };
    Ok(format!(
        "grading {copies} x {} ({:<6}, jobs {jobs:<6}): {:>7} wall, {:>5.1} submissions/min, CPU: klab {:>3.0}% of the cores (host {:>3.0}%), full marks: {full}/{copies}; {seeds} seed builds ({seed_secs:.1} s summed), {replayed} task builds replayed",
        lab.name,
        path.name(),
        secs(wall),
        copies as f64 * 60.0 / wall.as_secs_f64(),
        own * 100.0,
        host * 100.0,
    ))
}

/// How many of the graded copies in `out` scored every point.
fn full_marks(out: &std::path::Path, copies: usize) -> Result<usize> {
    let mut full = 0;
    for i in 1..=copies {
        let file = out.join(format!("copy-{i:03}")).join("grade.json");
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        let grade: SubmissionGrade =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", file.display()))?;
        if grade.score() == grade.max_score() && !grade.incomplete {
            full += 1;
        }
    }
    Ok(full)
}

/// CPU time counters: this process's (with its waited-for children: builds, QEMU) and the
/// host's (all cores, whatever runs), in clock ticks.
struct CpuTimes {
    own: u64,
    host_busy: u64,
    host_total: u64,
}

/// Ticks per second of `/proc`'s CPU times (`USER_HZ`, 100 on Linux).
const USER_HZ: f64 = 100.0;

impl CpuTimes {
    fn now() -> CpuTimes {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        // After the command name: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
        let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let own = after_name
            .split_whitespace()
            .skip(11)
            .take(4)
            .filter_map(|f| f.parse::<u64>().ok())
            .sum();
        let host = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let fields: Vec<u64> = host
            .lines()
            .find(|l| l.starts_with("cpu "))
            .map(|l| {
                l.split_whitespace()
                    .skip(1)
                    .filter_map(|f| f.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        let host_total: u64 = fields.iter().take(8).sum();
        // idle and iowait are the 4th and 5th fields.
        let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
        CpuTimes {
            own,
            host_busy: host_total - idle,
            host_total,
        }
    }

    /// `(klab's, the host's)` share of all cores' time since `before`, over `wall`.
    fn busy_since(&self, before: &CpuTimes, wall: std::time::Duration) -> (f64, f64) {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let capacity = wall.as_secs_f64() * cores * USER_HZ;
        let own = self.own.saturating_sub(before.own) as f64 / capacity.max(1.0);
        let total = self.host_total.saturating_sub(before.host_total).max(1) as f64;
        let host = self.host_busy.saturating_sub(before.host_busy) as f64 / total;
        (own, host)
    }
}
