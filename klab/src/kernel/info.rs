//! `cargo xtask kernel info` and `kernel clean`: what the cache holds for this checkout (the
//! source, the profile, its fragments and patches, the folder and whether it is built, the
//! other profile's, the stale ones), and removing it all.
//!
//! Results go out as [`Event::Output`]; it never builds a kernel.

use anyhow::{Context, Result};
use xshell::Shell;

use super::cache::{cache_dir, fragments, is_built, patches};
use super::SourceSpec;
use crate::events::{Event, Reporter};
use crate::kernel::profile::Profile;
use crate::paths::Paths;

/// `cargo xtask kernel info`.
pub fn info(
    sh: &Shell,
    paths: &Paths,
    spec: &SourceSpec,
    profile: Profile,
    reporter: &dyn Reporter,
) -> Result<()> {
    let dir = cache_dir(sh, paths, spec, profile)?;
    let mut lines = Vec::new();
    lines.push(format!("source:   {} {}", spec.package, spec.version));
    lines.push(format!("profile:  {}", profile.name()));
    lines.push(format!(
        "fragment: {}",
        fragments(paths, profile)
            .iter()
            .map(|f| paths.show(f))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    lines.push(format!("patches:  {}", patches(paths)?.len()));
    lines.push(format!("cache:    {}", dir.display()));
    let bzimage = dir.join("linux/arch/x86/boot/bzImage");
    if is_built(&dir) {
        let size = std::fs::metadata(&bzimage)?.len();
        lines.push(format!(
            "state:    built (bzImage {:.1} MB)",
            size as f64 / 1e6
        ));
    } else {
        lines.push(
            "state:    not built (any command builds it; or `cargo xtask kernel build`, or `cargo xtask kernel import PACK`)"
                .to_owned(),
        );
    }
    // The other profile's kernel for this checkout is current too, not stale.
    let other = match profile {
        Profile::Lean => Profile::Debug,
        Profile::Debug => Profile::Lean,
    };
    let other_dir = cache_dir(sh, paths, spec, other)?;
    lines.push(format!(
        "{:<9} {} ({})",
        format!("{}:", other.name()),
        other_dir.display(),
        if is_built(&other_dir) {
            "built"
        } else {
            "not built"
        }
    ));
    let others: Vec<String> = std::fs::read_dir(paths.cache.join("kernel"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| *p != dir && *p != other_dir)
                .map(|p| p.display().to_string())
                .collect()
        })
        .unwrap_or_default();
    if !others.is_empty() {
        lines.push(format!(
            "stale:    {} (removed by `cargo xtask kernel clean`)",
            others.join(", ")
        ));
    }
    output(reporter, &lines);
    Ok(())
}

/// `cargo xtask kernel clean`: removes every cached kernel (both profiles).
pub fn clean(paths: &Paths, reporter: &dyn Reporter) -> Result<()> {
    let dir = paths.cache.join("kernel");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        reporter.output_line(format!("removed {}", dir.display()));
    } else {
        reporter.output_line(format!(
            "nothing to remove: {} does not exist",
            dir.display()
        ));
    }
    Ok(())
}

/// `lines` as the command's result, in one piece.
fn output(reporter: &dyn Reporter, lines: &[String]) {
    reporter.report(Event::Output {
        text: lines.iter().map(|l| format!("{l}\n")).collect(),
    });
}
