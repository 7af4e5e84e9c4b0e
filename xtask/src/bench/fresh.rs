//! `bench --fresh`: a fresh machine's way to its first verdict, run for real in scratch
//! folders and timed from the run's own events. The README's first command
//! (`cargo xtask check --solution`) starts with an empty cargo home and target folder (cargo
//! fetches and compiles xtask as on a fresh clone), no `bindgen` on PATH (setup installs
//! bindgen-cli into the scratch cargo home), and an empty klab cache (the kernel source is
//! downloaded, unpacked, configured and built; the guest tools and the saved guest are made).
//! Only the Debian packages and the Rust toolchain are there already: apt's part is not in
//! the figure.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use klab::events::{secs, Event};
use klab::run::Workspace;

/// The target the issue set for a fresh machine's first verdict.
const TARGET: Duration = Duration::from_secs(6 * 60);

/// One event of the run and when it arrived, since the command started.
struct Timed {
    at: Duration,
    event: Event,
}

/// What in the environment would change what is measured: a kernel tree or profile given
/// (no kernel build), another boot mode or accelerator, a compiler wrapper or flags (not a
/// fresh compile).
const SKEWING_ENV: &[&str] = &[
    "LABS",
    "KLAB_KERNEL_TREE",
    "KLAB_KERNEL_PROFILE",
    "KLAB_BOOT",
    "KLAB_ACCEL",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
];

/// Runs the README's first command on a fresh-machine setup in a scratch folder under
/// `target/klab` (on disk, as a clone's would be; a few GB) and prints where the time went.
/// `--fresh` is long (minutes: it builds a kernel) and wants an idle machine. The scratch
/// folder is removed when the command passed, kept (and named) when it failed.
pub fn fresh(ws: &Workspace) -> Result<()> {
    std::fs::create_dir_all(&ws.paths.out)?;
    remove_earlier_scratch(&ws.paths.out);
    let scratch = tempfile::Builder::new()
        .prefix(SCRATCH_PREFIX)
        .tempdir_in(&ws.paths.out)
        .with_context(|| format!("creating a scratch folder in {}", ws.paths.out.display()))?;
    let dir = scratch.path();
    let cargo_home = dir.join("cargo-home");
    let path = path_without(
        "bindgen",
        &std::env::var_os("PATH").unwrap_or_default(),
        &dir.join("bin"),
    )?;
    let path = std::env::join_paths(
        std::iter::once(cargo_home.join("bin")).chain(std::env::split_paths(&path)),
    )?;
    println!(
        "fresh machine to the first verdict, in {} (cargo home, target folder and klab cache empty; no bindgen on PATH)",
        dir.display()
    );
    let started = Instant::now();
    let mut command = Command::new("cargo");
    command
        .args(["xtask", "--message-format", "json", "check", "--solution"])
        .current_dir(&ws.paths.root)
        .env("PATH", &path)
        .env("CARGO_HOME", &cargo_home)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .env("KLAB_CACHE_DIR", dir.join("cache"));
    for name in SKEWING_ENV {
        command.env_remove(name);
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("stderr.log")).context("creating the stderr log")?)
        .spawn()
        .context("starting cargo xtask check --solution")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut events = Vec::new();
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        let at = started.elapsed();
        if let Ok(event) = serde_json::from_str::<Event>(&line) {
            if let Event::StepFinished { what, .. } = &event {
                eprintln!("[{}] {what}", secs(at));
            }
            events.push(Timed { at, event });
        }
    }
    let status = child
        .wait()
        .context("waiting for cargo xtask check --solution")?;
    let total = started.elapsed();
    for line in breakdown(&events, total, status.success()) {
        println!("{line}");
    }
    if status.success() {
        return Ok(());
    }
    let log = std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(30).collect();
    let kept = scratch.keep();
    anyhow::bail!(
        "cargo xtask check --solution failed ({status}); its stderr ends with:\n{}\nthe scratch folder is kept for a look: {} (remove it when done)",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        kept.display()
    )
}

/// The scratch folders' name prefix.
const SCRATCH_PREFIX: &str = "bench-fresh-";

/// Removes the scratch folders earlier runs left (interrupted, or kept after a failure).
fn remove_earlier_scratch(out: &Path) {
    let Ok(entries) = std::fs::read_dir(out) else {
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(SCRATCH_PREFIX)
        {
            eprintln!(
                "removing an earlier run's scratch folder {}",
                entry.path().display()
            );
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// `path` with every folder holding `program` replaced by `shadow`: a folder of links to
/// everything else in it (the rustup proxies stay; `program` is gone).
fn path_without(program: &str, path: &std::ffi::OsStr, shadow: &Path) -> Result<PathBuf> {
    let mut folders = Vec::new();
    for folder in std::env::split_paths(path) {
        if !folder.join(program).exists() {
            folders.push(folder);
            continue;
        }
        std::fs::create_dir_all(shadow)?;
        for entry in std::fs::read_dir(&folder)?.filter_map(|e| e.ok()) {
            let link = shadow.join(entry.file_name());
            if entry.file_name() != program && !link.exists() {
                std::os::unix::fs::symlink(entry.path(), &link)
                    .with_context(|| format!("linking {}", link.display()))?;
            }
        }
        folders.push(shadow.to_path_buf());
    }
    Ok(PathBuf::from(std::env::join_paths(folders)?))
}

/// The printed figures: compiling xtask (until its first event), each finished step with when
/// it ended, the first and last verdict, against [`TARGET`].
fn breakdown(events: &[Timed], total: Duration, passed: bool) -> Vec<String> {
    let mut lines = vec![format!("{:<78} {:>8} {:>9}", "step", "took", "ended at")];
    if let Some(first) = events.first() {
        lines.push(format!(
            "{:<78} {:>8} {:>9}",
            "compiling xtask (cargo fetching and building it, as on a fresh clone)",
            secs(first.at),
            secs(first.at)
        ));
    }
    for timed in events {
        if let Event::StepFinished {
            what, elapsed_secs, ..
        } = &timed.event
        {
            let what: String = what.chars().take(78).collect();
            lines.push(format!(
                "{what:<78} {:>8} {:>9}",
                secs(Duration::from_secs_f64(*elapsed_secs)),
                secs(timed.at)
            ));
        }
    }
    let verdicts: Vec<(Duration, &str)> = events
        .iter()
        .filter_map(|t| match &t.event {
            Event::Verdict(v) => Some((t.at, v.status.as_str())),
            _ => None,
        })
        .collect();
    let pass = verdicts.iter().filter(|(_, s)| *s == "PASS").count();
    match verdicts.first() {
        Some((first, _)) => lines.push(format!(
            "first verdict after {} (target {}: {}); last after {}; {pass} of {} PASS; the command took {} ({})",
            secs(*first),
            secs(TARGET),
            if *first <= TARGET { "met" } else { "not met" },
            secs(verdicts.last().map(|v| v.0).unwrap_or_default()),
            verdicts.len(),
            secs(total),
            if passed { "exit 0" } else { "failed" }
        )),
        None => lines.push(format!(
            "no verdict: the command failed after {}",
            secs(total)
        )),
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_without_a_program_keeps_the_rest_of_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let tools = dir.path().join("tools");
        std::fs::create_dir_all(&tools).unwrap();
        for name in ["bindgen", "cargo"] {
            std::fs::write(tools.join(name), "").unwrap();
        }
        let other = dir.path().join("other");
        std::fs::create_dir_all(&other).unwrap();
        let path = std::env::join_paths([&other, &tools]).unwrap();
        let shadow = dir.path().join("shadow");
        let result = path_without("bindgen", &path, &shadow).unwrap();
        let folders: Vec<PathBuf> = std::env::split_paths(&result).collect();
        assert_eq!(folders, [other, shadow.clone()]);
        assert!(shadow.join("cargo").exists());
        assert!(!shadow.join("bindgen").exists());
    }

    #[test]
    fn the_breakdown_names_the_first_verdict_against_the_target() {
        let step = |at: u64, what: &str, took: f64| Timed {
            at: Duration::from_secs(at),
            event: Event::StepFinished {
                kind: klab::events::StepKind::Kernel,
                what: what.into(),
                elapsed_secs: took,
            },
        };
        let verdict = |at: u64, status: &str| Timed {
            at: Duration::from_secs(at),
            event: Event::Verdict(klab::events::VerdictEvent {
                task: "intro/1-2-hello".into(),
                status: status.into(),
                duration_secs: 1.0,
                warnings: vec![],
                explanation: String::new(),
                console_log: None,
                mismatch: None,
            }),
        };
        let events = [
            step(90, "installing bindgen-cli", 60.0),
            step(300, "building the lean lab kernel", 200.0),
            verdict(330, "PASS"),
            verdict(340, "FAIL"),
        ];
        let lines = breakdown(&events, Duration::from_secs(345), false);
        assert!(
            lines[1].starts_with("compiling xtask") && lines[1].contains("90.0 s"),
            "{lines:?}"
        );
        let last = lines.last().unwrap();
        assert!(last.contains("met") && !last.contains("not met"), "{last}");
        assert!(
            last.contains("1 of 2 PASS") && last.contains("failed"),
            "{last}"
        );
    }
}
