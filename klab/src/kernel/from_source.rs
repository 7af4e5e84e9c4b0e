//! Building the lab kernel from Debian's source package: a pristine tree from
//! [`super::source`], `kernel/patches/` applied, the profile configured in one Kconfig pass
//! (tinyconfig's fragments and the profile's, every option they set or unset checked; the
//! Rust toolchain explained by `make rustavailable` when Rust did not survive), then
//! `make bzImage modules` with its object count as progress.
//!
//! It writes only into the cache folder it is given and the downloads folder; it never takes
//! the cache's lock (its caller, [`super::cache::ensure`], holds it).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use super::cache::{fragments, patches, BUILD_TIME, READY_STAMP};
use super::make::{run_logged, Counting};
use super::{objects, source, SourceSpec};
use crate::events::{Reporter, Step, StepKind};
use crate::host::run_on_stderr;
use crate::kernel::profile::Profile;
use crate::paths::Paths;

/// How the profile's `.config` is made, in one Kconfig pass where `make tinyconfig` and a
/// merge would take three: `allnoconfig` with tinyconfig's base, then tinyconfig's fragments
/// (the kernel's and x86's) and the profile's merged in that order, then one `olddefconfig`.
/// The same `.config` as `make tinyconfig` + merge + `olddefconfig` for the lean profile
/// (compared when this changed), 7 s sooner. Part of the cache key: a change here rebuilds.
pub const CONFIGURE_RECIPE: &str = "KCONFIG_ALLCONFIG=kernel/configs/tiny-base.config allnoconfig; merge kernel/configs/tiny.config arch/x86/configs/tiny.config <fragments>; olddefconfig";

/// The kernel's own fragments `make tinyconfig` merges, before the profile's.
const TINY_FRAGMENTS: [&str; 2] = ["kernel/configs/tiny.config", "arch/x86/configs/tiny.config"];

/// Writes the profile's `.config` in `tree` ([`CONFIGURE_RECIPE`]) and checks that every
/// option a fragment sets or unsets survived. When `CONFIG_RUST` did not, says why with
/// `make rustavailable` (only then: on the way to a build it is one more `make` run).
fn configure(
    sh: &Shell,
    paths: &Paths,
    profile: Profile,
    tree: &Path,
    reporter: &dyn Reporter,
) -> Result<()> {
    let frags = fragments(paths, profile);
    let step = Step::start(
        reporter,
        StepKind::Kernel,
        format!(
            "configuring the {} profile: tinyconfig + {}",
            profile.name(),
            frags
                .iter()
                .map(|f| paths.show(f))
                .collect::<Vec<_>>()
                .join(" + ")
        ),
    );
    cmd!(sh, "make LLVM=1 allnoconfig")
        .env("KCONFIG_ALLCONFIG", "kernel/configs/tiny-base.config")
        .quiet()
        .ignore_stdout()
        .run()
        .context("make allnoconfig (tinyconfig's base) failed")?;
    let mut merged: Vec<PathBuf> = TINY_FRAGMENTS.iter().map(|f| tree.join(f)).collect();
    merged.extend(frags.iter().cloned());
    cmd!(sh, "scripts/kconfig/merge_config.sh -m .config {merged...}")
        .quiet()
        .ignore_stdout()
        .run()
        .context("merging the configuration fragments failed")?;
    cmd!(sh, "make LLVM=1 olddefconfig")
        .quiet()
        .ignore_stdout()
        .run()
        .context("make olddefconfig failed")?;
    let config_path = tree.join(".config");
    let config = std::fs::read_to_string(&config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;
    if !config.lines().any(|l| l == "CONFIG_RUST=y") {
        explain_no_rust(sh)?;
    }
    let mut texts = Vec::new();
    for frag in &frags {
        texts.push(
            std::fs::read_to_string(frag).with_context(|| format!("reading {}", frag.display()))?,
        );
    }
    if let Some((index, lost)) = lost_option(&config, &texts) {
        bail!(
            "`{lost}` from {} did not survive olddefconfig (a dependency is missing, or another option selects it); see {}",
            paths.show(&frags[index]),
            config_path.display()
        );
    }
    step.done();
    Ok(())
}

/// Fails with what `make rustavailable` says when the toolchain cannot build the kernel's
/// Rust (rust-src, bindgen or the compilers missing or too old).
fn explain_no_rust(sh: &Shell) -> Result<()> {
    let out = cmd!(sh, "make LLVM=1 rustavailable")
        .ignore_status()
        .quiet()
        .output()?;
    if out.status.success() {
        return Ok(());
    }
    bail!(
        "the kernel cannot build Rust with this toolchain:\n{}{}\nrun `cargo xtask setup`, which installs rust-src and bindgen-cli",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// What a fragment line asks of an option: `Some(value)` for `CONFIG_X=value`, `None` for
/// off (`# CONFIG_X is not set`, or `CONFIG_X=n`, which Kconfig writes as not set).
fn wanted(line: &str) -> Option<(&str, Option<&str>)> {
    if let Some((name, value)) = line.split_once('=').filter(|_| line.starts_with("CONFIG_")) {
        return Some((name, (value != "n").then_some(value)));
    }
    let name = line.strip_prefix("# ")?.strip_suffix(" is not set")?;
    name.starts_with("CONFIG_").then_some((name, None))
}

/// The first option the fragments (in merge order: a later line for an option overrides an
/// earlier one, as `merge_config.sh` does) ask for that `config` (the resulting `.config`)
/// does not honour, with the index of the fragment it is in: a value not there as written,
/// or an option asked off that ended up set. An option asked off that Kconfig does not
/// write at all is off (its dependencies are).
pub(super) fn lost_option<'a, S: AsRef<str>>(
    config: &str,
    fragments: &'a [S],
) -> Option<(usize, &'a str)> {
    let mut asked: Vec<(&str, Option<&str>, usize, &str)> = Vec::new();
    for (index, text) in fragments.iter().enumerate() {
        for line in text.as_ref().lines() {
            if let Some((name, value)) = wanted(line) {
                asked.retain(|(n, ..)| *n != name);
                asked.push((name, value, index, line));
            }
        }
    }
    let set: std::collections::HashMap<&str, &str> = config
        .lines()
        .filter_map(|l| l.split_once('=').filter(|_| l.starts_with("CONFIG_")))
        .collect();
    asked
        .into_iter()
        .find(|(name, value, ..)| match value {
            Some(value) => set.get(name) != Some(value),
            None => set.contains_key(name),
        })
        .map(|(_, _, index, line)| (index, line))
}

/// Builds the lab kernel of `profile` into the cache folder `dir` (emptied first), stamped
/// ready last.
pub(super) fn build(
    sh: &Shell,
    paths: &Paths,
    spec: &SourceSpec,
    profile: Profile,
    dir: &Path,
    jobs: usize,
    reporter: &dyn Reporter,
) -> Result<()> {
    // Counted before this folder is emptied (it never holds the log counted: see `expected`).
    let expected = objects::expected(dir.parent().unwrap_or(dir), profile, dir);
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    source::unpack_into(sh, paths, spec, &dir.join("linux"), reporter)?;
    let tree = dir.join("linux");
    let _cwd = sh.push_dir(&tree);

    for patch in patches(paths)? {
        let step = Step::start(
            reporter,
            StepKind::Kernel,
            format!("applying {}", paths.show(&patch)),
        );
        run_on_stderr(cmd!(sh, "patch -p1 --forward --batch -i {patch}")).with_context(|| {
            format!(
                "{} does not apply to {} {}",
                patch.display(),
                spec.package,
                spec.version
            )
        })?;
        step.done();
    }

    configure(sh, paths, profile, &tree, reporter)?;

    let log_path = dir.join("build.log");
    let step = Step::start(reporter, StepKind::Kernel, format!(
        "building the {} lab kernel with {jobs} jobs (6-8 min on 2 idle cores, longer while other work runs; log: {})",
        profile.name(),
        log_path.display()
    ));
    reporter.note(match &expected.from {
        Some(log) => format!(
            "about {} objects to make (as many as {} shows)",
            expected.total,
            log.display()
        ),
        None => format!(
            "about {} objects to make (measured for the {} profile)",
            expected.total,
            profile.name()
        ),
    });
    let goals = [format!("-j{jobs}"), "bzImage".into(), "modules".into()];
    let counting = Counting::Objects {
        expected: expected.total,
    };
    run_logged(sh, &tree, &goals, &log_path, &step, counting).context("the kernel build failed")?;
    // For `bench`, which compares the profiles' kernels.
    let _ = std::fs::write(
        dir.join(BUILD_TIME),
        format!("{:.1}\n", step.elapsed().as_secs_f64()),
    );
    step.done();
    std::fs::write(
        dir.join(READY_STAMP),
        format!("{} {} {}\n", spec.package, spec.version, profile.name()),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::lost_option;

    #[test]
    fn an_option_set_or_unset_by_a_fragment_must_survive() {
        let config = "CONFIG_NET=y\nCONFIG_INET=y\n# CONFIG_IPV6 is not set\nCONFIG_ACPI=y\nCONFIG_LOG_BUF_SHIFT=17\n";
        let kept = "# comment\nCONFIG_NET=y\n# CONFIG_IPV6 is not set\n# CONFIG_PNP is not set\nCONFIG_LOG_BUF_SHIFT=17\nCONFIG_KPROBES=n\n";
        assert_eq!(
            lost_option(config, &[kept]),
            None,
            "=n and an absent option are off"
        );
        assert_eq!(
            lost_option(config, &["CONFIG_NET=y\nCONFIG_KPROBES=y\n"]),
            Some((0, "CONFIG_KPROBES=y"))
        );
        assert_eq!(
            lost_option(config, &["CONFIG_LOG_BUF_SHIFT=14\n"]),
            Some((0, "CONFIG_LOG_BUF_SHIFT=14"))
        );
        assert_eq!(
            lost_option(config, &["CONFIG_NET=y\n", "# CONFIG_ACPI is not set\n"]),
            Some((1, "# CONFIG_ACPI is not set"))
        );
        assert_eq!(
            lost_option(config, &["CONFIG_ACPI=n\n"]),
            Some((0, "CONFIG_ACPI=n"))
        );
    }

    #[test]
    fn a_later_fragment_overrides_an_earlier_one_as_the_merge_does() {
        let config = "CONFIG_SLUB=y\n# CONFIG_SLUB_TINY is not set\n";
        let lean = "CONFIG_SLUB_TINY=y\n";
        let debug = "# CONFIG_SLUB_TINY is not set\n";
        assert_eq!(lost_option(config, &[lean, debug]), None);
        assert_eq!(
            lost_option(config, &[debug, lean]),
            Some((1, "CONFIG_SLUB_TINY=y"))
        );
    }
}
